"""The live progress display: which node, which phase, elapsed vs the phase timeout, fed by library events.

It is a subscriber, nothing more: ``Cluster.subscribe`` (moves, retries, pauses, resumes) and the
upgrade's typed events both land in ``Progress.on_cluster_event`` / ``Progress.on_upgrade_event``.
On a terminal it is a rich Live panel on stderr (stdout stays clean for --json); otherwise one
plain line per event, so logs and CI output stay readable.

Elapsed time is shown in the cluster's seconds: a simulated cluster runs ``time_scale`` times
faster than the wall clock, and its timeouts are stated in its own seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clusterlib_cli import render

if TYPE_CHECKING:
    from clusterlib_cli.render import RenderContext


@dataclass
class Phase:
    node: str
    phase: str
    started: float  # time.monotonic()
    timeout: float | None  # cluster seconds
    done: bool = False
    outcome: str = ""


@dataclass
class _State:
    rows: dict[str, Phase] = field(default_factory=dict)
    current: Phase | None = None
    lines: list[str] = field(default_factory=list)


class Progress:
    """A context manager that shows progress until it exits. Thread-safe: events may arrive
    from the library's worker threads, so the invocation's output context (``ui``: secrets
    to scrub, consoles) is held here rather than looked up."""

    def __init__(self, title: str, *, time_scale: float = 1.0, live: bool | None = None,
                 keep_lines: int = 8, ui: RenderContext | None = None) -> None:
        self.title = title
        self.ui = ui if ui is not None else render.current()
        self.scale = time_scale if time_scale > 0 else 1.0
        self.live_mode = sys.stderr.isatty() if live is None else live
        self.keep = keep_lines
        self.events: list[dict[str, Any]] = []
        self._state = _State()
        self._lock = threading.Lock()
        self._live: Any = None
        self._started = time.monotonic()
        #: phase name -> timeout in cluster seconds, shown next to the elapsed time
        self.timeouts: dict[str, float] = {}
        #: step id -> (position from 1, the plan's estimate in cluster seconds), see set_plan
        self._steps: dict[str, tuple[int, float]] = {}
        self._step_note = ""

    def set_plan(self, plan: Any) -> None:
        """Number the steps ("step 3 of 14") and estimate the time left from the plan's
        per-step estimates (``Plan.steps``: ``id`` and ``expected_seconds``)."""
        steps = list(getattr(plan, "steps", None) or [])
        self._steps = {str(getattr(st, "id", i)): (i + 1, float(getattr(st, "expected_seconds", 0)
                                                                 or 0))
                       for i, st in enumerate(steps)}

    def step_note(self, step_id: str) -> str:
        """"step n of N, ~T left (estimate)" for a step of the plan ("" when unknown)."""
        found = self._steps.get(step_id)
        if found is None:
            return ""
        position = found[0]
        left = sum(est for pos, est in self._steps.values() if pos >= position)
        return f"step {position} of {len(self._steps)}, ~{_duration(left)} left (estimate)"

    # ---- lifecycle ----

    def __enter__(self) -> Progress:
        if self.live_mode:
            from rich.live import Live

            self._live = Live(self, console=self.ui.console(stderr=True), refresh_per_second=8,
                              transient=False, redirect_stdout=False, redirect_stderr=False)
            self._live.__enter__()
        else:
            self.ui.info(self.title)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._state.current is not None and not self._state.current.done:
                self._state.current.done = True
                self._state.current.outcome = "interrupted" if exc[0] else "done"
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    # ---- feeding ----

    def phase(self, node: str, phase: str, timeout: float | None = None) -> None:
        """Start a phase the command itself knows about (e.g. "drain" before a pause)."""
        with self._lock:
            self._start(node, phase, timeout)
        self._line(f"{node}: {phase}" + (f" (timeout {timeout:g} s)" if timeout else ""))

    def finish(self, outcome: str = "done") -> None:
        with self._lock:
            cur = self._state.current
            if cur is not None:
                cur.done, cur.outcome = True, outcome

    def _start(self, node: str, phase: str, timeout: float | None) -> None:
        prev = self._state.rows.get(node)
        if prev is not None and not prev.done and prev.phase != phase:
            prev.done, prev.outcome = True, "done"
        if prev is not None and prev.phase == phase and not prev.done:
            if timeout is not None:
                prev.timeout = timeout
            self._state.current = prev
            return
        ph = Phase(node=node, phase=phase, started=time.monotonic(), timeout=timeout)
        self._state.rows[node] = ph
        self._state.current = ph

    def on_cluster_event(self, event: str, details: dict[str, Any]) -> None:
        """Listener for ``Cluster.subscribe``."""
        record = {"event": event, **details}
        self.events.append(record)
        self._line(describe_cluster_event(event, details))

    def on_upgrade_event(self, event: Any) -> None:
        """Listener for the upgrade's typed events (``to_dict()`` with ``type``, ``node``,
        ``phase``, ``status`` and a human ``text``)."""
        doc = event.to_dict() if hasattr(event, "to_dict") else dict(event)
        self.events.append(doc)
        kind = str(doc.get("type") or "")
        phase = doc.get("phase")
        node = str(doc.get("node") or "cluster")
        if kind == "PhaseStarted" and phase:
            timeout = doc.get("timeout")
            with self._lock:
                self._start(node, str(phase), float(timeout) if isinstance(timeout, (int, float))
                            else self.timeouts.get(str(phase)))
                self._step_note = self.step_note(str(doc.get("step") or ""))
            if self._step_note:
                self._line(f"{doc.get('text') or kind} ({self._step_note})")
                return
        elif kind == "PhaseFinished" and phase:
            with self._lock:
                row = self._state.rows.get(node)
                if row is not None and row.phase == phase:
                    row.done, row.outcome = True, str(doc.get("status") or "done")
        if kind == "GroupMoved":
            return  # the cluster's own "move" event already printed this move
        self._line(str(doc.get("text") or kind))

    def _line(self, text: str) -> None:
        stamp = time.monotonic() - self._started
        # Names in event text come from the cluster: shown, never interpreted by the terminal.
        line = f"[{stamp:6.1f}s] {render.visible(self.ui.scrub(text))}"
        if self.live_mode:
            with self._lock:
                self._state.lines.append(line)
                del self._state.lines[:-self.keep]
            if self._live is not None:
                self._live.refresh()
        else:
            self.ui.info(line)

    # ---- drawing (rich calls this on every refresh, so elapsed time keeps moving) ----

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            rows = list(self._state.rows.values())
            lines = list(self._state.lines)
        title = self.title + (f": {self._step_note}" if self._step_note else "")
        table = Table(title=Text(render.visible(title)), title_justify="left", expand=False)
        for col in ("Node", "Phase", "Elapsed", "Timeout", ""):
            table.add_column(col)
        now = time.monotonic()
        for ph in rows:
            elapsed = (now - ph.started) * self.scale
            timeout = f"{ph.timeout:g} s" if ph.timeout else "-"
            mark: Any = (Text(render.visible(ph.outcome or "done"), style="green") if ph.done
                         else Spinner("dots", style="cyan"))
            table.add_row(Text(render.visible(ph.node)), Text(render.visible(ph.phase)),
                          f"{elapsed:.0f} s", timeout, mark)
        footer = Text("\n".join(lines), style="dim")
        note = Text(f"(simulated time, x{self.scale:g})", style="dim") if self.scale != 1 else Text("")
        return Group(table, note, footer)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def describe_cluster_event(event: str, d: Mapping[str, Any]) -> str:
    """One human line for a ``Cluster.subscribe`` event."""
    if event == "move":
        back = " (rolled back)" if d.get("rollback") else ""
        tries = f", {d.get('attempts')} attempts" if (d.get("attempts") or 1) > 1 else ""
        return (f"moved {d.get('group')}: {d.get('source')} -> {d.get('target')},"
                f" {d.get('state')}{tries}{back}")
    if event == "retry":
        return (f"retrying move of {d.get('group')} to {d.get('target')} (attempt"
                f" {d.get('attempt')} failed: {d.get('error')})")
    if event == "pause":
        return f"paused {d.get('node')}" + (", draining" if d.get("drain") else "")
    if event == "paused":
        return f"{d.get('node')} paused and drained"
    if event == "resume":
        return f"resumed {d.get('node')} (failback {d.get('failback')})"
    return f"{event}: " + ", ".join(f"{k}={v}" for k, v in d.items())
