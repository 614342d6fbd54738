"""Where an upgrade's wall time goes: the cluster's busy time against the client's calls, on one clock.

The endpoint process reports the simulator's clock and its physical events (moves, installs);
the client records each call it sends and each sleep of its main thread, on ``time.monotonic``,
which on Linux is the same clock in both processes. Converted to simulated seconds:

- *busy*: the union of the intervals in which the cluster was doing physical work: a group
  moving (``move-start`` + the move's duration), a node between ``upgrade-start`` and
  ``joined``;
- *idle*: the rest of the run: nothing physical under way, the cluster waits for the client.
  Each idle second is charged to what the client was doing then: a call (by its first cmdlet,
  see ``_common.first_word``), a sleep between polls, or neither (the client's own work:
  journal saves, parsing, planning);
- *work*: busy minus late, the physical work of the moves and installs the engine chose; the
  overhead is everything else over it (``overhead_pct``), ``idle_pct`` the idle part alone;
- *late*: how much longer each node's install, reboot and join took than the simulator's
  durations (``install_window + restarts x reboot_time + join_time``). The simulator applies a
  due transition only when a call next advances its clock, so a chain of transitions runs
  late by the gaps between calls; a real node would not wait for the client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, SupportsIndex

from _common import first_word

from clusterlib.wire import CmdLine, CmdResult, Pipeline, PSResult

Span = tuple[float, float, str]


class CallRecorder:
    """A transport wrapper recording every call as (start, end, first word), monotonic seconds."""

    def __init__(self, inner: Any, spans: list[Span]) -> None:
        self.inner = inner
        self.spans = spans

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _timed(self, send: Callable[[Any], Any], call: Pipeline | CmdLine) -> Any:
        t0 = time.monotonic()
        try:
            return send(call)
        finally:
            self.spans.append((t0, time.monotonic(), first_word(call)))

    def run_pipeline(self, pipeline: Pipeline) -> PSResult:
        return self._timed(self.inner.run_pipeline, pipeline)  # type: ignore[no-any-return]

    def run_cmd(self, line: CmdLine) -> CmdResult:
        return self._timed(self.inner.run_cmd, line)  # type: ignore[no-any-return]

    def for_node(self, node: str) -> CallRecorder:
        return CallRecorder(self.inner.for_node(node), self.spans)

    def close(self) -> None:
        self.inner.close()


@contextmanager
def recording_sleeps(spans: list[Span]) -> Iterator[None]:
    """Within the block, every ``time.sleep`` of the calling thread is recorded as "(sleep)"."""
    real = time.sleep
    me = threading.get_ident()

    def sleep(seconds: float | SupportsIndex) -> None:
        t0 = time.monotonic()
        real(seconds)
        if threading.get_ident() == me:
            spans.append((t0, time.monotonic(), "(sleep)"))

    time.sleep = sleep
    try:
        yield
    finally:
        time.sleep = real


def _union(intervals: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _gaps(busy: list[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    gaps, at = [], start
    for a, b in busy:
        if a > at:
            gaps.append((at, min(a, end)))
        at = max(at, b)
    if at < end:
        gaps.append((at, end))
    return [(a, b) for a, b in gaps if b > a]


def _overlap(a: float, b: float, c: float, d: float) -> float:
    return max(0.0, min(b, d) - max(a, c))


def breakdown(timeline: dict[str, Any], spans: list[Span], start: float, end: float
              ) -> dict[str, Any]:
    """Busy, idle (charged to calls, sleeps and the client's own work) and late, in simulated
    seconds, for a run between monotonic ``start`` and ``end`` (module docstring)."""
    speed, t0, offset = (float(timeline[k]) for k in ("speed", "t0", "offset"))

    def sim(mono: float) -> float:
        return (mono - t0) * speed + offset

    s0, s1 = sim(start), sim(end)
    action = timeline["action_s"]
    intervals: list[tuple[float, float, str]] = []
    late, began = 0.0, {}
    for t, kind, subject, *reason in timeline["events"]:
        if kind == "move-start":
            why = reason[0] if reason and reason[0] else "move"
            intervals.append((t, t + timeline["move_time"], f"moves ({why})"))
        elif kind == "upgrade-start":
            began[subject] = t
        elif kind == "joined" and subject in began:
            t_began = began.pop(subject)
            intervals.append((t_began, t, "install+reboot+join"))
            late += max(0.0, t - t_began - action)
    inside = [(max(a, s0), min(b, s1), what) for a, b, what in intervals if b > s0 and a < s1]
    busy = _union([(a, b) for a, b, _ in inside])
    # Each kind's own union: they overlap (a failover during a reboot), so they add up to more
    # than busy; what they say is how long each kind of work kept the cluster busy.
    by_kind = {what: round(sum(b - a for a, b in _union([(a, b) for a, b, w in inside
                                                          if w == what])), 1)
               for what in sorted({w for _, _, w in inside})}
    gaps = _gaps(busy, s0, s1)
    charged: dict[str, float] = {}
    ordered = sorted((sim(m0), sim(m1), word) for m0, m1, word in spans)
    for a, b in gaps:
        covered, upto = 0.0, a
        # In start order, each instant charged once: a retry's back-off sleep inside a call
        # belongs to the call.
        for c, d, word in ordered:
            if c >= b:
                break
            part = _overlap(upto, b, c, d)
            if part:
                charged[word] = charged.get(word, 0.0) + part
                covered += part
                upto = max(upto, min(d, b))
        own = "(client's own work)"
        charged[own] = charged.get(own, 0.0) + max(0.0, (b - a) - covered)
    idle = sum(b - a for a, b in gaps)
    work = sum(b - a for a, b in busy) - late  # the physical work, at the simulator's durations
    return {"total_sim_s": round(s1 - s0, 1), "busy_sim_s": round(work + late, 1),
            "idle_sim_s": round(idle, 1), "late_sim_s": round(late, 1),
            "work_sim_s": round(work, 1),
            # Over the physical work the engine chose: everything else (idle and late), and
            # idle alone (what it would be if the simulator ran chained transitions on time).
            "overhead_pct": round(100 * (s1 - s0 - work) / work, 2) if work > 0 else None,
            "idle_pct": round(100 * idle / work, 2) if work > 0 else None,
            "busy_by_kind": by_kind,
            "idle_by_activity": {k: round(v, 1) for k, v in sorted(charged.items(),
                                                                   key=lambda kv: -kv[1])}}


def describe(result: dict[str, Any]) -> str:
    parts = ", ".join(f"{k} {v:g}" for k, v in list(result["idle_by_activity"].items())[:7])
    kinds = ", ".join(f"{k} {v:g}" for k, v in result["busy_by_kind"].items())
    return (f"timeline (sim s): total {result['total_sim_s']:g} = busy {result['busy_sim_s']:g}"
            f" ({kinds}) + idle {result['idle_sim_s']:g}; idle spent in: {parts}; installs ran late by"
            f" {result['late_sim_s']:g} in all (the simulator's lazy clock); overhead over the"
            f" physical work ({result['work_sim_s']:g}): {result['overhead_pct']}%, idle alone"
            f" {result['idle_pct']}%")
