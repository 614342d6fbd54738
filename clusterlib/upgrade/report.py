"""The run report: versions before/after, phase timings, retries, moves, final placement, outcome."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from clusterlib.upgrade.state import Availability, MoveRecord, Record, RunState, migrate_v1


@frozen
class Report:
    """Everything that happened in one run, built from its journal (the single source of truth),
    so ``Report.from_journal(path)`` gives the same report after the fact."""

    run_id: str
    cluster: str
    #: "completed" (every node proven on the target, every group home in its state, no group
    #: down beyond its moves), "degraded" (every step done, but a group was down longer than its
    #: moves needed), "incomplete" (every step done, but nodes failed within max_failed_nodes
    #: and are not upgraded), "stopped", "refused" or "running".
    outcome: str
    message: str
    journal: str | None
    nodes: dict[str, dict[str, Any]]  # node -> {"before": {...}, "after": {...}, "failed": bool}
    steps: tuple[dict[str, Any], ...]
    moves: tuple[dict[str, Any], ...]
    retries: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]
    original_placement: dict[str, str | None]
    final_placement: dict[str, str | None]
    stopped_at: dict[str, Any] | None
    functional_level: dict[str, Any]
    audit: tuple[dict[str, Any], ...] = ()
    #: group -> {"seconds", "moves", "excess", "by_phase", "episodes"}: see availability_of().
    availability: dict[str, dict[str, Any]] = field(factory=dict)
    #: The target adopted from the first upgraded node when the run had none (or None).
    adopted_target: dict[str, Any] | None = None
    #: When the run started and when its journal was last written once it ended (None while it
    #: runs): ISO 8601 with the time zone, as the journal records them (UTC).
    started: str | None = None
    finished: str | None = None
    #: Who ran it: user@host of the process that created the journal.
    operator: str | None = None
    #: The clusterlib version that created the journal (None: not recorded by older versions).
    clusterlib_version: str | None = None
    #: The run's exact options and upgrade action, as the journal records them.
    options: dict[str, Any] = field(factory=dict)
    action: dict[str, Any] = field(factory=dict)
    #: What the run was connected to: {"kind": "sim" | "winrm" | ..., "target": endpoint}
    #: (None: a journal written before it was recorded).
    endpoint: dict[str, Any] | None = None

    @classmethod
    def from_state(cls, state: RunState, journal: str | None) -> Report:
        """The report of a run's recorded state (``journal``: the file it came from, if any)."""
        nodes: dict[str, dict[str, Any]] = {}
        for name, before in state.nodes_before.items():
            after = state.nodes_after.get(name)
            nodes[name] = {"before": before.to_dict(), "after": after.to_dict() if after else None,
                           "failed": name in state.failed_nodes}
        return cls(run_id=state.run_id, cluster=state.cluster,
                   outcome=state.outcome or "running", message=state.message,
                   journal=journal, nodes=nodes, steps=tuple(s.to_dict() for s in state.steps),
                   moves=tuple(m.to_dict() for m in state.moves),
                   retries=tuple(r.to_dict() for r in state.retries),
                   warnings=tuple(state.warnings),
                   original_placement=dict(state.original_placement),
                   final_placement=dict(state.final_placement),
                   stopped_at=_dict_of(state.stopped_at),
                   functional_level=dict(state.functional_level),
                   audit=tuple(a.to_dict() for a in state.audit),
                   availability=availability_of(state),
                   adopted_target=_dict_of(state.adopted_target),
                   started=state.created, finished=state.updated if state.outcome else None,
                   operator=state.owner, clusterlib_version=state.clusterlib_version,
                   options=dict(state.options), action=dict(state.action),
                   endpoint=_dict_of(state.endpoint))

    @classmethod
    def from_body(cls, body: RunState | Mapping[str, Any], journal: str | None) -> Report:
        """The report of a journal body: a RunState, or its JSON form (checked as a load checks
        it; a version-1 body is migrated first)."""
        return cls.from_state(_state_of(body), journal)

    @classmethod
    def from_journal(cls, path: str | os.PathLike[str]) -> Report:
        """The report of the run recorded in ``path`` (checked like a resume checks it)."""
        from clusterlib.upgrade.journal import read_state

        return cls.from_state(read_state(Path(path)), str(path))

    # ---- derived ----

    @property
    def ok(self) -> bool:
        return self.outcome == "completed"

    @property
    def simulated(self) -> bool:
        """Whether the run was against the in-process simulator (no real cluster changed)."""
        return bool(self.endpoint) and (self.endpoint or {}).get("kind") == "sim"

    @property
    def misplaced(self) -> dict[str, tuple[str | None, str | None]]:
        """Groups not on their original owner: group -> (original, final)."""
        return {g: (o, self.final_placement.get(g)) for g, o in self.original_placement.items()
                if self.final_placement and (self.final_placement.get(g) or "").lower()
                != (o or "").lower()}

    def node_result(self, name: str) -> str:
        """"failed" (the run failed the node, or one of its steps failed: a version check that
        refused the node is a failure, never "done"), "upgraded" (its version check passed, in
        this or an earlier session), "stopped" (the run stopped at this node) or "not upgraded"."""
        info = self.nodes.get(name) or {}
        own = [s for s in self.steps if (s.get("node") or "").lower() == name.lower()]
        if info.get("failed") or any(s.get("status") == "failed" for s in own):
            return "failed"
        verify = [s for s in own if s.get("kind") == "verify"]
        if verify and all(s.get("status") == "done" for s in verify):
            return "upgraded"
        if not verify and info.get("after") and self.outcome == "completed":
            return "upgraded"
        if self.stopped_at and (self.stopped_at.get("node") or "").lower() == name.lower():
            return "stopped"
        return "not upgraded"

    def header(self) -> dict[str, Any]:
        """What an auditor files with the report: when (with the time zone), who, where, which
        clusterlib, and with exactly which options."""
        return {"started": self.started, "finished": self.finished,
                "duration_seconds": _span(self.started, self.finished),
                "operator": self.operator, "cluster": self.cluster,
                "clusterlib_version": self.clusterlib_version, "options": self.options,
                "action": self.action}

    def phase_seconds(self) -> dict[str, float]:
        """Total seconds per phase kind (drain, action, reboot, ...)."""
        out: dict[str, float] = {}
        for s in self.steps:
            if s.get("seconds") is not None:
                out[s["kind"]] = out.get(s["kind"], 0.0) + float(s["seconds"])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "cluster": self.cluster, "outcome": self.outcome,
                "message": self.message, "journal": self.journal, **self.header(),
                "nodes": {n: {**i, "result": self.node_result(n)} for n, i in self.nodes.items()},
                "steps": [{**st, "result_text": self.step_result(st)} for st in self.steps],
                "moves": list(self.moves),
                "retries": list(self.retries), "warnings": list(self.warnings),
                "original_placement": self.original_placement,
                "final_placement": self.final_placement, "stopped_at": self.stopped_at,
                "functional_level": self.functional_level, "audit": list(self.audit),
                "availability": self.availability, "adopted_target": self.adopted_target,
                "phase_seconds": self.phase_seconds(),
                "misplaced": {g: list(v) for g, v in self.misplaced.items()},
                "endpoint": self.endpoint, "simulated": self.simulated}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_text(self) -> str:
        lines = [f"Rolling upgrade of {self.cluster} (run {self.run_id}): {self.outcome.upper()}",
                 self.message, ""]
        if self.simulated:
            lines.insert(1, _SIMULATED)
        lines += _header_lines(self.header())
        if self.stopped_at:
            lines.append("Stopped at: " + ", ".join(f"{k} {v}" for k, v in self.stopped_at.items()
                                                     if v))
        lines += ["", f"{'node':<12} {'before':<34} {'after':<34} result"]
        for name, info in self.nodes.items():
            result = self.node_result(name)
            lines.append(f"{name:<12} {_ver(info['before']):<34} {_ver(info['after']):<34}"
                         f" {result.upper() if result == 'failed' else result}")
        results = [self.step_result(st) for st in self.steps]
        counts: dict[str, int] = {}
        for res in results:
            key = (res if not res.startswith("skipped: ") or res == "skipped: already done"
                   else "skipped")
            counts[key] = counts.get(key, 0) + 1
        lines += ["", "Steps: " + ", ".join(f"{v} {k}" for k, v in counts.items())]
        for st, shown in zip(self.steps, results, strict=True):
            if shown != "ran":
                lines.append(f"  {st['id']}: {shown}")
        lines += ["", "Phase time (s): " + ", ".join(f"{k} {v:.1f}"
                                                      for k, v in self.phase_seconds().items())]
        lines.append(f"Group moves: {len(self.moves)}; retries: {len(self.retries)}")
        for r in self.retries[:20]:
            lines.append(f"  retry {r.get('node') or ''} {r.get('phase') or ''}"
                         f" {r.get('group') or ''}: {r.get('error')}")
        mis = self.misplaced
        if not self.final_placement:
            lines.append("Placement: not read at the end of the run (see the warnings);"
                         " nothing is known about where the groups are")
        else:
            lines.append("Placement" + (" (read at the stop)" if self.outcome == "stopped" else "")
                         + ": " + ("every group is on its original owner" if not mis else
                                   f"{len(mis)} group(s) not on their original owner"))
        for g, (o, f) in list(mis.items())[:20]:
            lines.append(f"  {g}: was on {o}, now on {f}")
        lines += self._availability_lines()
        if self.functional_level:
            lines.append("Functional level: " + ", ".join(f"{k} {v}" for k, v in
                                                          self.functional_level.items()))
        for w in self.warnings:
            lines.append(f"warning: {w}")
        for a in self.audit:
            lines.append(f"audit: {a.get('text', a)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _availability_lines(self) -> list[str]:
        if not self.availability:
            return []
        out = ["Availability (cluster seconds each group was not Online; moves = the time its"
               " own moves needed):"]
        for g, a in self.availability.items():
            flag = "  OUTAGE" if a["excess"] > 0 else ""
            phases = ", ".join(f"{k} {v:.1f}" for k, v in a["by_phase"].items())
            out.append(f"  {g}: {a['seconds']:.1f}s (moves {a['moves']:.1f}s, beyond moves"
                       f" {a['excess']:.1f}s){flag}" + (f"; by phase: {phases}" if phases else ""))
        return out

    def step_result(self, step: Mapping[str, Any]) -> str:
        """"ran" (in this or an earlier session), "skipped: already done", "skipped: <why>",
        "failed", "interrupted" or "pending"."""
        result = step.get("result")
        if result == "already done":
            return "skipped: already done"
        if result == "skipped" or (result is None and step["status"] == "skipped"):
            return f"skipped: {step.get('message') or 'no reason recorded'}"
        if result is None:
            return "ran" if step["status"] == "done" else str(step["status"])
        return str(result)

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(n)}</td><td>{e(_ver(i['before']))}</td><td>{e(_ver(i['after']))}</td>"
            f"<td>{e(self.node_result(n))}</td></tr>" for n, i in self.nodes.items())
        steps = "".join(
            f"<tr><td>{e(s.get('node') or 'cluster')}</td><td>{e(s['kind'])}</td>"
            f"<td>{e(self.step_result(s))}</td><td>{_secs(s)}</td>"
            f"<td>{e(s.get('message') or '')}</td></tr>" for s in self.steps)
        return (f"<div>{'<p><b>' + e(_SIMULATED) + '</b></p>' if self.simulated else ''}"
                f"<b>Rolling upgrade of {e(self.cluster)}: {e(self.outcome)}</b>"
                f"<p>{e(self.message)}</p>"
                f"<p>{'<br>'.join(e(line) for line in _header_lines(self.header()))}</p>"
                f"<table><tr><th>node</th><th>before</th><th>after</th><th></th></tr>{rows}</table>"
                f"<table><tr><th>node</th><th>step</th><th>status</th><th>s</th><th>note</th></tr>"
                f"{steps}</table><p>{len(self.moves)} moves, {len(self.retries)} retries,"
                f" {len(self.misplaced)} groups off their original owner</p></div>")


_SIMULATED = "SIMULATED: this run was against the in-process simulator; no real cluster changed"


def availability_of(body: RunState | Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each group Online at the start: ``moves`` (cluster seconds of its successful moves: the
    downtime a move needs), ``excess`` (seconds it was seen down beyond that, between the engine's
    reads or from a failed move's start), ``seconds`` (their sum), ``by_phase`` ("NODE phase" ->
    seconds) and ``episodes`` (each time it was down beyond a move)."""
    state = _state_of(body)
    out: dict[str, dict[str, Any]] = {}
    timed: dict[str, list[MoveRecord]] = {}  # each group's moves, in order: one pass, not one per group
    for m in state.moves:
        if m.state == "Online" and m.purpose not in ("recovery", "rollback"):
            timed.setdefault(m.group, []).append(m)
    for g, status in state.original_states.items():
        if status != "Online":
            continue
        rec = state.availability.get(g) or Availability()
        by_phase: dict[str, float] = {}
        moves = 0.0
        for m in timed.get(g, ()):
            label = " ".join(x for x in (m.node, m.phase) if x) or "run"
            by_phase[label] = round(by_phase.get(label, 0.0) + float(m.seconds), 3)
            moves += float(m.seconds)
        for label, secs in rec.by_phase.items():
            by_phase[label] = round(by_phase.get(label, 0.0) + float(secs), 3)
        excess = float(rec.excess)
        out[g] = {"seconds": round(moves + excess, 3), "moves": round(moves, 3),
                  "excess": round(excess, 3), "by_phase": by_phase,
                  "episodes": [e.to_dict() for e in rec.episodes]}
    return out


def _state_of(body: RunState | Mapping[str, Any]) -> RunState:
    if isinstance(body, RunState):
        return body
    return RunState.from_dict(migrate_v1(body))


def _dict_of(record: Record | None) -> dict[str, Any] | None:
    return record.to_dict() if record is not None else None


def _when(stamp: str | None) -> str:
    """An ISO 8601 stamp shown with its zone spelled out ("+00:00" is UTC)."""
    if not stamp:
        return "unknown"
    import datetime

    try:
        moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if moment.utcoffset() is None:
        return f"{stamp} (time zone not recorded)"
    zone = "UTC" if moment.utcoffset() == datetime.timedelta(0) else moment.strftime("UTC%z")
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S')} {zone}"


def _span(start: str | None, end: str | None) -> float | None:
    import datetime

    if not start or not end:
        return None
    try:
        a = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.datetime.fromisoformat(end.replace("Z", "+00:00"))
        return round((b - a).total_seconds(), 3)
    except (ValueError, TypeError):
        return None


def _header_lines(head: Mapping[str, Any]) -> list[str]:
    """The auditor's header as text lines (shared by the text and HTML renderers)."""
    dur = head.get("duration_seconds")
    lines = [f"Started:    {_when(head.get('started'))}",
             f"Finished:   {_when(head.get('finished')) if head.get('finished') else 'not finished'}"
             + (f" ({_duration(dur)})" if dur is not None else ""),
             f"Operator:   {head.get('operator') or 'unknown'}",
             f"Cluster:    {head.get('cluster')}",
             f"clusterlib: {head.get('clusterlib_version') or 'unknown (not recorded)'}"]
    opts = head.get("options") or {}
    lines.append("Options:    " + (json.dumps(opts, sort_keys=True) if opts else "not recorded"))
    action = head.get("action") or {}
    if action:
        lines.append("Action:     " + json.dumps(action, sort_keys=True))
    return lines


def _duration(seconds: float) -> str:
    whole = round(seconds)
    d, rest = divmod(whole, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{d}d " if d else "") + f"{h:d}:{m:02d}:{s:02d}"


def _secs(step: Mapping[str, Any]) -> str:
    value = step.get("seconds")
    return "" if value is None else f"{float(value):.1f}"


def _ver(info: Mapping[str, Any] | None) -> str:
    if not info:
        return "-"
    return f"{info.get('highest') or '?'} ({info.get('os') or '?'})"
