"""HTML views: `_repr_html_` renderers, live notebook progress, and the self-contained report file.

Everything here returns strings built with the standard library only (``html.escape`` and an
inline SVG drawn by hand), so notebooks and report files need no network and the install stays
small. Each renderer wraps its output in ``<div class="clusterlib">`` with one scoped ``<style>``,
so several objects in one notebook do not fight over CSS.

Records are read through their public attributes (and plans/reports through ``to_json()``), so
this module never reaches into the upgrade engine's internals.
"""

from __future__ import annotations

import html
import importlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clusterlib.model import ClusterSnapshot, GroupInfo, NodeInfo

__all__ = [
    "Html",
    "NotebookProgress",
    "group_html",
    "groups_html",
    "label_width",
    "node_html",
    "nodes_html",
    "plan_html",
    "report_document",
    "report_html",
    "snapshot_html",
    "timeline_bars",
    "timeline_downtime",
    "timeline_svg",
]

_CSS = """
.clusterlib{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:13px;color:#222}
.clusterlib table{border-collapse:collapse;margin:4px 0 10px 0}
.clusterlib th,.clusterlib td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
.clusterlib th{background:#f3f4f6}
.clusterlib .ok{color:#0a7d28;font-weight:600}.clusterlib .bad{color:#b3261e;font-weight:600}
.clusterlib .warn{color:#9a6700}.clusterlib .dim{color:#888}
.clusterlib code{font-family:ui-monospace,Consolas,monospace;font-size:12px}
.clusterlib h3,.clusterlib h4{margin:6px 0}
"""

_GOOD = {"Up", "Online", "done", "completed", "ok", "Completed", "ran", "upgraded"}
_WARN = {"Paused", "Pending", "PartialOnline", "Joining", "skipped", "running", "InProgress",
         "skipped: already done"}
_BAD = {"Down", "Failed", "Unknown", "failed", "stopped", "not upgraded", "degraded", "incomplete", "outage",
        "interrupted"}


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _state(name: object) -> str:
    text = str(name)
    cls = "ok" if text in _GOOD else "warn" if text in _WARN else "bad" if text in _BAD else ""
    return f'<span class="{cls}">{_e(text)}</span>' if cls else _e(text)


def _wrap(body: str) -> str:
    return f'<div class="clusterlib"><style>{_CSS}</style>{body}</div>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Cells are already-escaped HTML."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Html:
    """A ready HTML string that notebooks display as HTML (``Html(report_html(report))``),
    without importing IPython."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


# --- snapshot records ------------------------------------------------------------------------------

def _node_rows(nodes: Iterable[NodeInfo], snap: ClusterSnapshot | None) -> list[list[str]]:
    rows = []
    for n in nodes:
        groups = [g.name for g in snap.groups_on(n.name)] if snap is not None else None
        row = [f"<b>{_e(n.name)}</b>", _state(n.state.name), _e(n.drain_status.name),
               _e(n.os_version or "?"), _e(n.highest_version or "?")]
        if groups is not None:
            row.append(_e(", ".join(groups)) or '<span class="dim">none</span>')
        rows.append(row)
    return rows


def _group_rows(groups: Iterable[GroupInfo]) -> list[list[str]]:
    return [[f"<b>{_e(g.name)}</b>" + (' <span class="dim">(core)</span>' if g.is_core else ""),
             _state(g.state.name), _e(g.owner or "-"), _e(g.group_type.name),
             _unknown(g.priority),
             _unknown(None if g.preferred_owners is None else ", ".join(g.preferred_owners) or "-")]
            for g in groups]


def _unknown(value: object) -> str:
    """A value that was not read shows "unknown", never a made-up default or "none"."""
    return '<span class="dim">unknown</span>' if value is None else _e(value)


_NODE_HEAD = ["Node", "State", "Drain", "OS", "Cluster service"]
_GROUP_HEAD = ["Group", "State", "Owner", "Type", "Priority", "Preferred owners"]


def nodes_html(nodes: Iterable[NodeInfo], snap: ClusterSnapshot | None = None) -> str:
    return _wrap(_table(_NODE_HEAD + (["Groups"] if snap is not None else []),
                        _node_rows(nodes, snap)))


def groups_html(groups: Iterable[GroupInfo]) -> str:
    return _wrap(_table(_GROUP_HEAD, _group_rows(groups)))


def node_html(node: NodeInfo) -> str:
    """One node (``NodeInfo``; for a live ``Node`` handle pass its last-read info)."""
    return nodes_html([node])


def group_html(group: GroupInfo) -> str:
    """One group (``GroupInfo``; for a live ``Group`` handle pass its last-read info)."""
    return groups_html([group])


def snapshot_html(snap: ClusterSnapshot) -> str:
    """A cluster snapshot: health verdict, versions, quorum, then nodes and groups."""
    health = snap.health()
    verdict = ('<span class="ok">healthy</span>' if health.ok else
               '<span class="bad">unhealthy</span>: ' + _e("; ".join(health.problems)))
    versions = sorted({str(n.highest_version) for n in snap.nodes if n.highest_version})
    facts = [f"cluster service {_e(', '.join(versions) or '?')}"
             + (' <span class="warn">(mixed versions)</span>' if snap.mixed_version else "")]
    if snap.functional_level is not None:
        facts.append(f"functional level {_e(snap.functional_level)}")
    if snap.quorum_type:
        facts.append(f"quorum {_e(snap.quorum_type)}" + (" (dynamic)" if snap.dynamic_quorum else ""))
    if snap.dialect:
        facts.append(f"dialect {_e(snap.dialect)}")
    body = (f"<h3>{_e(snap.name)}: {verdict}</h3><div>{' &middot; '.join(facts)}</div>"
            f"<h4>Nodes</h4>{_table([*_NODE_HEAD, 'Groups'], _node_rows(snap.nodes, snap))}"
            f"<h4>Groups</h4>{_table(_GROUP_HEAD, _group_rows(snap.groups))}")
    return _wrap(body)


# --- plans and reports (read through their JSON, the documented surface) -----------------------------

def _as_doc(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        return dict(obj)
    raw = obj.to_json()
    return dict(json.loads(raw) if isinstance(raw, (str, bytes)) else raw)


def plan_html(plan: Any) -> str:
    """A rolling-upgrade plan (anything with ``to_json()``): steps in order, with their commands."""
    doc = _as_doc(plan)
    return _wrap(_plan_body(doc))


def _plan_body(doc: Mapping[str, Any]) -> str:
    steps = doc.get("steps") or []
    rows = []
    for i, step in enumerate(steps, 1):
        commands = step.get("commands") or []
        cmd_html = "<br>".join(f"<code>{_e(c)}</code>" for c in commands) or '<span class="dim">-</span>'
        rows.append([_e(i), _e(step.get("node") or ""), _e(step.get("phase") or step.get("kind")),
                     _e(step.get("description") or step.get("text") or ""), cmd_html])
    title = f"Plan for {_e(doc.get('cluster', '?'))}"
    extra = []
    for key in ("action", "target_version", "order"):
        if doc.get(key):
            extra.append(f"{_e(key.replace('_', ' '))}: {_e(_short(doc[key]))}")
    return (f"<h3>{title}</h3><div>{' &middot; '.join(extra)}</div>"
            + _table(["#", "Node", "Phase", "What", "Commands"], rows))


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def report_html(report: Any) -> str:
    """A run's report (anything with ``to_json()``) for a notebook cell."""
    return _wrap(_report_body(_as_doc(report)))


def report_document(report: Any, *, title: str | None = None) -> str:
    """A complete, self-contained HTML file for a report: no scripts, no fonts, no network."""
    doc = _as_doc(report)
    name = title or f"clusterlib upgrade report: {doc.get('cluster', '')}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(name)}</title></head><body>{_wrap(_report_body(doc))}</body></html>\n")


def _ver(info: Any) -> str:
    if not info:
        return "-"
    if isinstance(info, Mapping):
        return f"{info.get('highest') or '?'} ({info.get('os') or '?'})"
    return str(info)


def _parse_time(value: Any) -> float | None:
    import datetime

    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def timeline_bars(steps: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Bars for ``timeline_svg`` from report steps (their ``started``/``finished`` timestamps);
    steps that never started are left out, a running one ends at the latest known instant."""
    timed = [(s, _parse_time(s.get("started")), _parse_time(s.get("finished"))) for s in steps]
    starts = [t0 for _s, t0, _t1 in timed if t0 is not None]
    if not starts:
        return []
    origin = min(starts)
    latest = max([t for _s, a, b in timed for t in (a, b) if t is not None])
    bars = []
    for step, t0, t1 in timed:
        if t0 is None:
            continue
        bars.append({"node": step.get("node") or "cluster", "phase": step.get("kind") or "",
                     "start": t0 - origin, "end": (t1 if t1 is not None else latest) - origin,
                     "status": step.get("status") or "", "seconds": step.get("seconds")})
    return bars


def _header_table(doc: Mapping[str, Any]) -> str:
    """The auditor's header: when (with the time zone), who, where, which clusterlib, and the
    exact options and action the run was given."""
    from clusterlib.upgrade.report import _duration, _when

    dur = doc.get("duration_seconds")
    finished = _when(doc.get("finished")) if doc.get("finished") else "not finished"
    opts = doc.get("options") or {}
    action = doc.get("action") or {}
    rows = [["Started", _e(_when(doc.get("started")))],
            ["Finished", _e(finished + (f" ({_duration(float(dur))})" if dur is not None else ""))],
            ["Operator", _e(doc.get("operator") or "unknown")],
            ["Cluster", _e(doc.get("cluster"))],
            ["clusterlib", _e(doc.get("clusterlib_version") or "unknown (not recorded)")],
            ["Options", f"<code>{_e(json.dumps(opts, sort_keys=True))}</code>" if opts
             else "not recorded"]]
    if action:
        rows.append(["Action", f"<code>{_e(json.dumps(action, sort_keys=True))}</code>"])
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="header">{body}</table>'


def _report_body(doc: Mapping[str, Any]) -> str:
    outcome = str(doc.get("outcome") or "?")
    parts = [f"<h3>Rolling upgrade of {_e(doc.get('cluster'))}: {_state(outcome)}</h3>",
             f"<p>{_e(doc.get('message'))}</p>",
             f'<div class="dim">run {_e(doc.get("run_id"))}'
             + (f" &middot; journal <code>{_e(doc.get('journal'))}</code>" if doc.get("journal")
                else "") + "</div>"]
    parts.append(_header_table(doc))
    stopped = doc.get("stopped_at")
    if stopped:
        parts.append("<p><b>Stopped at:</b> " + _e(_short({k: v for k, v in stopped.items() if v}))
                     + "</p>")
    moves = list(doc.get("moves") or [])
    retries = list(doc.get("retries") or [])
    misplaced = doc.get("misplaced") or {}
    phase_seconds = doc.get("phase_seconds") or {}
    summary = [f"{len(moves)} group moves", f"{len(retries)} retries",
               f"{len(misplaced)} groups off their original owner"]
    if phase_seconds:
        summary.append("phase time: " + ", ".join(f"{k} {float(v):.0f} s"
                                                   for k, v in phase_seconds.items()))
    parts.append("<h4>Summary</h4><div>" + " &middot; ".join(_e(x) for x in summary) + "</div>")

    node_rows = []
    for name, info in (doc.get("nodes") or {}).items():
        # The report's own verdict (a failed version check is "failed", never "done"); a
        # document from an older report without it falls back to the failed flag.
        result = str(info.get("result") or ("failed" if info.get("failed") else
                                             "upgraded" if info.get("after") else "-"))
        node_rows.append([f"<b>{_e(name)}</b>", _e(_ver(info.get("before"))),
                          _e(_ver(info.get("after"))), _state(result)])
    parts.append("<h4>Nodes: versions before and after</h4>"
                 + _table(["Node", "Before", "After", "Result"], node_rows))

    steps_list = list(doc.get("steps") or [])
    bars = timeline_bars(steps_list)
    if bars:
        origin = _origin(steps_list)
        down = timeline_downtime(doc, origin, steps_list) if origin is not None else {}
        parts.append("<h4>Timeline</h4>" + timeline_svg(bars, origin=origin, downtime=down))
    phase_rows = _phase_rows(steps_list)
    if phase_rows:
        parts.append("<h4>Time per phase</h4>" + _table(
            ["Phase", "Steps", "Total", "Longest", "Longest on"], phase_rows))
    step_rows = [[_e(s.get("node") or "cluster"), _e(s.get("kind")),
                  _state(s.get("result_text") or s.get("status")),
                  _e("" if s.get("seconds") is None else f"{float(s['seconds']):.1f}"),
                  _e(s.get("attempts", "")), _e(s.get("message") or "")]
                 for s in doc.get("steps") or []]
    parts.append("<h4>Steps</h4>" + _table(["Node", "Phase", "Status", "Seconds", "Attempts",
                                            "Note"], step_rows))
    move_rows = [[_e(m.get("group")), _e(m.get("source")), _e(m.get("target")),
                  _state(m.get("state") or ""), _e(m.get("purpose") or m.get("phase") or ""),
                  _e(m.get("attempts", "")),
                  _e("" if m.get("seconds") is None else f"{float(m['seconds']):.1f}")]
                 for m in moves]
    parts.append(f"<h4>Moves ({len(moves)})</h4>" + _table(
        ["Group", "From", "To", "State", "Why", "Attempts", "Seconds"], move_rows))
    if retries:
        retry_rows = [[_e(r.get("node") or ""), _e(r.get("phase") or ""), _e(r.get("group") or ""),
                       _e(r.get("attempt", "")), _e(r.get("error") or "")] for r in retries]
        parts.append(f"<h4>Retries ({len(retries)})</h4>"
                     + _table(["Node", "Phase", "Group", "Attempt", "Error"], retry_rows))
    availability = doc.get("availability") or {}
    if availability:
        rows = [[_e(g), _e(f"{float(a['seconds']):.1f}"), _e(f"{float(a['moves']):.1f}"),
                 _state("outage" if float(a["excess"]) > 0 else "ok"),
                 _e(f"{float(a['excess']):.1f}"),
                 _e(", ".join(f"{k} {float(v):.1f}" for k, v in a["by_phase"].items()))]
                for g, a in availability.items()]
        parts.append("<h4>Availability (seconds not Online)</h4>" + _table(
            ["Group", "Down", "Moves needed", "", "Beyond moves", "By phase"], rows))
    if not doc.get("final_placement") and doc.get("outcome") != "running":
        parts.append("<p><b>Placement:</b> not read at the end of the run; see the warnings</p>")
    if misplaced:
        rows = [[_e(g), _e(v[0]), _e(v[1])] for g, v in misplaced.items()]
        parts.append("<h4>Groups not on their original owner</h4>"
                     + _table(["Group", "Was on", "Now on"], rows))
    level = doc.get("functional_level") or {}
    if level:
        parts.append("<h4>Functional level</h4><div>" + _e(_short(level)) + "</div>")
    warnings = list(doc.get("warnings") or [])
    if warnings:
        parts.append("<h4>Warnings</h4><ul>" + "".join(f"<li>{_e(w)}</li>" for w in warnings)
                     + "</ul>")
    audit = list(doc.get("audit") or [])
    if audit:
        parts.append("<h4>Audit</h4><ul>" + "".join(
            f"<li>{_e(a.get('text', a) if isinstance(a, Mapping) else a)}</li>" for a in audit)
            + "</ul>")
    return "".join(parts)


# The chart's text is drawn in the monospace font so its width has an honest upper bound that the
# server can check (there is no script in the file to measure it): every common monospace face
# advances each character by at most 0.602 em (DejaVu Sans Mono and Menlo 0.602, Liberation Mono
# and Courier New 0.600, Consolas 0.55); East Asian wide characters take two cells.
_FONT = 11
_EM_BOUND = 0.62
_MONO = "DejaVu Sans Mono,Menlo,Consolas,Liberation Mono,Courier New,monospace"
_LONGEST_LABEL = 32  # node and group labels beyond this are shortened (full name in the tooltip)


def label_width(text: str, size: float = _FONT) -> float:
    """An upper bound on ``text``'s width in pixels in the timeline's font at ``size`` px."""
    import unicodedata

    cells = sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
    return cells * _EM_BOUND * size


def _fit(text: str, limit: int = _LONGEST_LABEL) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _tip(name: str) -> str:
    """The full name as a tooltip, only where the label had to be shortened."""
    return f"<title>{_e(name)}</title>" if _fit(name) != name else ""


def _origin(steps: Iterable[Mapping[str, Any]]) -> float | None:
    starts = [t for t in (_parse_time(s.get("started")) for s in steps) if t is not None]
    return min(starts) if starts else None


def _phase_rows(steps: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """Per phase: how many steps took time, their total and the longest (cluster seconds)."""
    totals: dict[str, list[Any]] = {}
    for s in steps:
        if s.get("seconds") is None:
            continue
        secs = float(s["seconds"])
        row = totals.setdefault(str(s.get("kind") or ""), [0, 0.0, -1.0, ""])
        row[0] += 1
        row[1] += secs
        if secs > row[2]:
            row[2], row[3] = secs, str(s.get("node") or "cluster")
    return [[_e(k), _e(n), _e(_human(total)), _e(_human(longest)), _e(on)]
            for k, (n, total, longest, on) in totals.items()]


def _human(seconds: float) -> str:
    """A duration an admin reads at a glance: 4.2 s, 3 min 05 s, 2 h 14 min, 1 d 03 h."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600:02d} h"


def timeline_downtime(doc: Mapping[str, Any], origin: float,
                      steps: Sequence[Mapping[str, Any]] = ()) -> dict[str, list[tuple[float, float]]]:
    """Each group's time not Online, as (start, end) seconds from ``origin`` (the run's first step
    start): the downtime episodes the engine recorded, and the moves it made (a move's group is
    down while it moves; a move records when it ended and how many cluster seconds it took).

    Cluster seconds become wall-clock seconds through the run's own ratio of step seconds to step
    wall time (1 on a real cluster; the simulator's speed factor otherwise)."""
    ratios = []
    for s in steps:
        t0, t1 = _parse_time(s.get("started")), _parse_time(s.get("finished"))
        if t0 is not None and t1 is not None and t1 > t0 and s.get("seconds"):
            ratios.append(float(s["seconds"]) / (t1 - t0))
    scale = sorted(ratios)[len(ratios) // 2] if ratios else 1.0
    out: dict[str, list[tuple[float, float]]] = {}
    for m in doc.get("moves") or []:
        end = _parse_time(m.get("at"))
        if end is None or m.get("state") != "Online" or m.get("purpose") in ("recovery",
                                                                              "rollback"):
            continue
        secs = float(m.get("seconds") or 0.0) / (scale or 1.0)
        out.setdefault(str(m.get("group")), []).append((max(0.0, end - secs - origin),
                                                        end - origin))
    latest = max([t for s in steps for t in (_parse_time(s.get("started")),
                                             _parse_time(s.get("finished"))) if t is not None]
                 or [origin])
    for g, a in (doc.get("availability") or {}).items():
        for ep in a.get("episodes") or []:
            t0 = _parse_time(ep.get("from"))
            if t0 is None:
                continue
            t1 = _parse_time(ep.get("to"))
            out.setdefault(str(g), []).append((t0 - origin, (t1 if t1 is not None else latest)
                                               - origin))
    return {g: sorted(v) for g, v in out.items()}


# Tick steps an admin reads: seconds, minutes, hours, days (and no 7-second or 40-minute steps).
_STEPS: tuple[float, ...] = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,  # simulated runs: milliseconds
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
          86400, 172800, 604800)


def _ticks(origin: float | None, total: float, plot_w: float) -> list[tuple[float, str]]:
    """(seconds from origin, label): wall-clock times (UTC, what the journal records) aligned to
    round instants when ``origin`` is known, elapsed times otherwise; as many as fit unclipped."""
    import datetime

    def label(t: float, step: float) -> str:
        if origin is None:
            return "+" + _human(t).replace(" ", "") if t else "0"
        moment = datetime.datetime.fromtimestamp(origin + t, datetime.timezone.utc)
        if step < 1:  # a simulated run (or a very short one): milliseconds
            return moment.strftime("%H:%M:%S.%f")[:12]
        if step >= 86400:
            return moment.strftime("%d %b")
        crosses = total + (origin % 86400) >= 86400
        if step >= 3600 and crosses:
            return moment.strftime("%d %b %H:%M")
        return moment.strftime("%H:%M:%S" if step < 60 else "%H:%M")

    for step in _STEPS:
        if step * 60 < total:  # more than 60 ticks could never fit anyway
            continue
        base = origin or 0.0
        first = (-(base % step)) % step  # the first round instant at or after the start
        marks = []
        i = 0
        while first + i * step <= total + 1e-9:
            marks.append((first + i * step, label(first + i * step, step)))
            i += 1
        widest = max((label_width(text) for _t, text in marks), default=0.0)
        if marks and len(marks) * (widest + 14) <= plot_w * 1.0 and (
                plot_w * step / max(total, 1e-9) >= widest + 14):
            return marks
    return [(0.0, label(0.0, _STEPS[-1]))]


def timeline_svg(bars: Sequence[Mapping[str, Any]], *, width: int = 900,
                 origin: float | None = None,
                 downtime: Mapping[str, Sequence[tuple[float, float]]] | None = None) -> str:
    """Nodes as rows, phases as bars; below them each group's time not Online, in red.

    ``bars``: dicts with ``node``, ``phase``, ``start`` and ``end`` (seconds from the run's start)
    and optional ``status``. ``origin``: the run's start (epoch seconds) for wall-clock ticks in
    UTC; without it the ticks show elapsed time. ``downtime``: group -> (start, end) seconds.
    Every text's extent is bounded by ``label_width`` and kept inside the drawing."""
    if not bars:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    down = {g: list(v) for g, v in (downtime or {}).items() if v}
    nodes: list[str] = []
    for b in bars:
        if str(b["node"]) not in nodes:
            nodes.append(str(b["node"]))
    ends = [float(b["end"]) for b in bars] + [e for v in down.values() for _s, e in v]
    total = max(ends) or 1.0
    labels = [_fit(n) for n in nodes] + [_fit(g) for g in down]
    label_w = int(max(label_width(t) for t in labels) + 16)
    label_w = max(label_w, int(label_width("UTC") + 16))
    plot_w = width - label_w - 12
    row_h, top, g_row = 22, 34, 14
    palette = ["#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
               "#9c755f", "#bab0ac"]
    phases: list[str] = []
    seconds: dict[str, float] = {}
    for b in bars:
        phase = str(b.get("phase") or "")
        if phase not in phases:
            phases.append(phase)
        # the step's own (cluster) seconds where known, so the legend matches the phase table
        # also for a simulated run whose wall clock ran faster
        took = b.get("seconds")
        seconds[phase] = seconds.get(phase, 0.0) + (
            float(took) if took is not None else float(b["end"]) - float(b["start"]))
    nodes_end = top + row_h * len(nodes)
    groups_top = nodes_end + (24 if down else 0)
    groups_end = groups_top + g_row * len(down)
    # The legend: phase swatches with each phase's total time, wrapped to the drawing's width.
    entries = [(palette[i % 9], f"{p or 'step'} {_human(seconds[p])}") for i, p in
               enumerate(phases)] + [("#e15759", "failed")] + (
        [("#d62728", "group not Online")] if down else [])
    legend: list[tuple[float, int, str, str]] = []
    lx, line = 4.0, 0
    for color, text in entries:
        w = 14 + label_width(text) + 16
        if lx + w > width - 4 and lx > 4:
            lx, line = 4.0, line + 1
        legend.append((lx, line, color, text))
        lx += w
    legend_top = groups_end + 12
    height = int(legend_top + 16 * (line + 1) + 6)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
             f' viewBox="0 0 {width} {height}" font-family="{_MONO}" font-size="{_FONT}"'
             ' role="img" aria-label="timeline">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>']

    def x_of(t: float) -> float:
        return label_w + plot_w * t / total

    axis = "UTC" if origin is not None else "elapsed"
    parts.append(f'<text x="4" y="{top - 14}" fill="#666">{axis}</text>')
    for t, text in _ticks(origin, total, plot_w):
        x = x_of(t)
        w = label_width(text)
        left = min(max(x - w / 2, label_w - w / 2), width - 4 - w)
        parts.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{groups_end}"'
                     ' stroke="#e5e7eb"/>')
        parts.append(f'<text x="{left:.1f}" y="{top - 14}" fill="#444">{_e(text)}</text>')
    for i, node in enumerate(nodes):
        y = top + i * row_h
        parts.append(f'<text x="4" y="{y + 15}">{_tip(node)}{_e(_fit(node))}</text>')
        parts.append(f'<line x1="{label_w}" y1="{y + row_h}" x2="{width - 12}" y2="{y + row_h}"'
                     ' stroke="#eee"/>')
    for b in bars:
        phase = str(b.get("phase") or "")
        color = "#e15759" if b.get("status") == "failed" else palette[phases.index(phase) % 9]
        x = x_of(float(b["start"]))
        w = max(1.5, plot_w * (float(b["end"]) - float(b["start"])) / total)
        y = top + nodes.index(str(b["node"])) * row_h + 4
        took = b.get("seconds")
        span = float(took) if took is not None else float(b["end"]) - float(b["start"])
        tip = f"{b['node']} {phase}: {_human(span)}" + (
            f" ({b['status']})" if b.get("status") else "")
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 8}" rx="2"'
                     f' fill="{color}"><title>{_e(tip)}</title></rect>')
    if down:
        parts.append(f'<text x="4" y="{nodes_end + 17}" fill="#666">groups not Online</text>')
    for i, (group, spans) in enumerate(down.items()):
        y = groups_top + i * g_row
        parts.append(f'<text x="4" y="{y + 11}" font-size="{_FONT - 1}">{_tip(group)}'
                     f'{_e(_fit(group))}</text>')
        for a, b_ in spans:
            x = x_of(a)
            w = max(1.5, plot_w * (b_ - a) / total)
            parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{g_row - 5}"'
                         f' fill="#d62728"><title>{_e(group)}: not Online for'
                         f' {_e(_human(b_ - a))}</title></rect>')
    for x, ln, color, text in legend:
        y = legend_top + 16 * ln
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{x + 14:.1f}" y="{y + 9}">{_e(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)



# --- live progress in a notebook -----------------------------------------------------------------

def _in_notebook() -> bool:
    """True inside a Jupyter kernel (a display handle would print a useless repr elsewhere)."""
    try:
        ipython = importlib.import_module("IPython")
    except ImportError:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class NotebookProgress:
    """An upgrade subscriber that keeps one view up to date: "step n of N", the current phase
    and how long it has run, the run's elapsed time, an estimate of the time left from the plan's
    estimates, and a table of nodes (phase, status, time in phase).

    In a Jupyter kernel (JupyterLab, Notebook, VS Code) it updates a single ``IPython.display``
    handle in place, and a background thread re-draws it every ``tick`` seconds while the run is
    on, so the clock moves during a long reboot with no event arriving (display updates only, no
    custom JavaScript). Without IPython it prints one plain line per event, so the same code
    works in a script.

    ``plan``: the run's plan (``upgrade.plan()``, or its ``to_dict()``) for N and the estimates;
    without it the view shows no step count or estimate. ``time_scale``: cluster seconds per
    wall-clock second (``cluster.time_scale``: 1 on a real cluster, the simulator's speed
    otherwise), so times read as the cluster's.
    """

    def __init__(self, title: str = "Rolling upgrade", *, plan: Any = None,
                 time_scale: float = 1.0, tick: float = 1.0) -> None:
        import threading

        self.title = title
        self.rows: dict[str, dict[str, Any]] = {}
        self.last = ""
        self.time_scale = float(time_scale) if time_scale and time_scale > 0 else 1.0
        self.tick = float(tick)
        doc = _as_doc(plan) if plan is not None else {}
        #: (step id, expected cluster seconds) in the plan's order.
        self.plan_steps: list[tuple[str, float]] = [
            (str(s.get("id")), float(s.get("expected_seconds") or 0.0))
            for s in doc.get("steps") or []]
        self.current: tuple[str, str] | None = None  # (step id, label) of the running step
        self.finished: str | None = None  # the run's outcome once it ended
        self._clock = time.monotonic
        self._started: float | None = None
        self._step_since: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._handle: Any = None
        self._display: Any = None
        try:
            # Imported by name: IPython is optional and has no place in clusterlib's dependencies.
            ipy = importlib.import_module("IPython.display")
        except ImportError:
            return
        if _in_notebook():
            self._display = (ipy.display, ipy.HTML)
            self._handle = ipy.display(ipy.HTML(self._render()), display_id=True)

    # ---- the clock ----

    def _cluster_seconds(self, since: float | None) -> float:
        return 0.0 if since is None else max(0.0, self._clock() - since) * self.time_scale

    def step_position(self) -> tuple[int | None, int]:
        """(n, N): the running step's 1-based place in the plan (None if unknown), and N."""
        total = len(self.plan_steps)
        if self.current is None:
            return None, total
        ids = [sid for sid, _e in self.plan_steps]
        return (ids.index(self.current[0]) + 1 if self.current[0] in ids else None), total

    def remaining_seconds(self) -> float | None:
        """Cluster seconds left by the plan's estimates: the steps after the running one, and
        what the running one has left of its own estimate (never below zero). None without a
        plan, or while a step the plan does not know runs (one added on resume)."""
        if not self.plan_steps:
            return None
        if self.finished is not None:
            return 0.0
        if self.current is None:
            return sum(e for _s, e in self.plan_steps)
        n, _total = self.step_position()
        if n is None:
            return None
        own = self.plan_steps[n - 1][1]
        rest = sum(e for _s, e in self.plan_steps[n:])
        return rest + max(0.0, own - self._cluster_seconds(self._step_since))

    def status_line(self) -> str:
        """"step n of N: NODE reboot, 2 min 14 s (expected 5 min 00 s) | elapsed ... | about ...
        left (plan estimates)"; the outcome once the run ended."""
        if self.finished is not None:
            return (f"finished: {self.finished} after "
                    f"{_human(self._cluster_seconds(self._started))}")
        if self._started is None:
            return "waiting for the run to start"
        n, total = self.step_position()
        parts = []
        if self.current is not None:
            where = (f"step {n} of {total}" if n is not None and total
                     else f"step ? of {total}" if total else "step")
            expected = (self.plan_steps[n - 1][1] if n is not None and total else 0.0)
            parts.append(f"{where}: {self.current[1]}, "
                         f"{_human(self._cluster_seconds(self._step_since))}"
                         + (f" (expected {_human(expected)})" if expected else ""))
        parts.append(f"elapsed {_human(self._cluster_seconds(self._started))}")
        left = self.remaining_seconds()
        if left is not None:
            parts.append(f"about {_human(left)} left (plan estimates)")
        return " | ".join(parts)

    # ---- events ----

    def __call__(self, event: Any) -> None:
        doc = event.to_dict() if hasattr(event, "to_dict") else dict(event)
        node, phase = doc.get("node"), doc.get("phase")
        kind = str(doc.get("type") or doc.get("kind") or "")
        with self._lock:
            now = self._clock()
            if self._started is None:
                self._started = now
            if kind in ("phase-started", "PhaseStarted") and doc.get("step"):
                label = " ".join(str(x) for x in (node, phase) if x) or str(doc["step"])
                self.current = (str(doc["step"]), label)
                self._step_since = now
            elif kind in ("run-finished", "RunFinished"):
                self.finished = str(doc.get("outcome") or "finished")
                self.current = None
            if node:
                row = self.rows.setdefault(str(node), {"phase": "", "status": "", "since": now})
                if phase and phase != row["phase"]:
                    row.update(phase=phase, since=now)
                row["status"] = doc.get("status") or ("running" if "started" in kind.lower()
                                                      else row["status"])
            self.last = str(doc.get("text") or doc.get("message") or "")
        if self._handle is not None:
            self.refresh()
            if self.finished is None:
                self.start()
            else:
                self.stop()
        else:
            print(self.last)

    # ---- the display ----

    def refresh(self) -> None:
        """Re-draw the display handle (what the ticker does every ``tick`` seconds)."""
        if self._handle is not None:
            with self._lock:
                markup = self._render()
            self._handle.update(self._display[1](markup))

    def start(self) -> None:
        """Start the ticker (idempotent; events start it in a notebook)."""
        import threading

        if self._ticker is not None or self._handle is None or self.tick <= 0:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(self.tick):
                self.refresh()

        self._ticker = threading.Thread(target=run, name="clusterlib-progress", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        """Stop the ticker (the run ended); the view keeps its last state."""
        self._stop.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None and ticker is not _current_thread():
            ticker.join(timeout=5)

    def _render(self) -> str:
        rows = [[f"<b>{_e(n)}</b>", _e(r["phase"]), _state(r["status"] or "-"),
                 _e(_human(self._cluster_seconds(r["since"])))] for n, r in self.rows.items()]
        return _wrap(f"<h4>{_e(self.title)}</h4><div><b>{_e(self.status_line())}</b></div>"
                     + _table(["Node", "Phase", "Status", "In phase"], rows)
                     + f'<div class="dim">{_e(self.last)}</div>')

    def _repr_html_(self) -> str:
        with self._lock:
            return self._render()


def _current_thread() -> Any:
    import threading

    return threading.current_thread()
