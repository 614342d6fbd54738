"""HTML views of the rolling upgrade: the plan table, the run report (notebook and file) and its timeline.

Plans and reports are read through their JSON (``to_json()``, or the dict itself), the
documented surface, so this module never reaches into the engine's internals. Drawn with the
standard library only (``html.escape`` and an inline SVG built by hand): no script, no font, no
network, so the report file can be mailed as is. The shared pieces (escaping, the scoped style,
tables, durations) come from :mod:`clusterlib.html`, one floor down.
"""

from __future__ import annotations

import datetime
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen

from clusterlib.html import _as_doc, _e, _human, _state, _table, _wrap

__all__ = [
    "label_width",
    "plan_html",
    "report_document",
    "report_html",
    "timeline_bars",
    "timeline_downtime",
    "timeline_svg",
]


# --- plans -------------------------------------------------------------------------------------------

def plan_html(plan: Any) -> str:
    """A rolling-upgrade plan (anything with ``to_json()``): steps in order, with their commands."""
    return _wrap(_plan_body(_as_doc(plan)))


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


# --- reports -----------------------------------------------------------------------------------------

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
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _seconds(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f}"


def _report_body(doc: Mapping[str, Any]) -> str:
    """The report's sections in the order an auditor reads them."""
    sections = (_report_head, _summary_section, _nodes_section, _timeline_section, _steps_section,
                _moves_section, _availability_section, _placement_section, _notes_section)
    return "".join(section(doc) for section in sections)


def _report_head(doc: Mapping[str, Any]) -> str:
    outcome = str(doc.get("outcome") or "?")
    parts = [f"<h3>Rolling upgrade of {_e(doc.get('cluster'))}: {_state(outcome)}</h3>",
             f"<p>{_e(doc.get('message'))}</p>",
             f'<div class="dim">run {_e(doc.get("run_id"))}'
             + (f" &middot; journal <code>{_e(doc.get('journal'))}</code>" if doc.get("journal")
                else "") + "</div>",
             _header_table(doc)]
    stopped = doc.get("stopped_at")
    if stopped:
        parts.append("<p><b>Stopped at:</b> " + _e(_short({k: v for k, v in stopped.items() if v}))
                     + "</p>")
    return "".join(parts)


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


def _summary_section(doc: Mapping[str, Any]) -> str:
    summary = [f"{len(doc.get('moves') or [])} group moves",
               f"{len(doc.get('retries') or [])} retries",
               f"{len(doc.get('misplaced') or {})} groups off their original owner"]
    phase_seconds = doc.get("phase_seconds") or {}
    if phase_seconds:
        summary.append("phase time: " + ", ".join(f"{k} {float(v):.0f} s"
                                                   for k, v in phase_seconds.items()))
    return "<h4>Summary</h4><div>" + " &middot; ".join(_e(x) for x in summary) + "</div>"


def _nodes_section(doc: Mapping[str, Any]) -> str:
    rows = []
    for name, info in (doc.get("nodes") or {}).items():
        # The report's own verdict (a failed version check is "failed", never "done"); a
        # document from an older report without it falls back to the failed flag.
        result = str(info.get("result") or ("failed" if info.get("failed") else
                                             "upgraded" if info.get("after") else "-"))
        rows.append([f"<b>{_e(name)}</b>", _e(_ver(info.get("before"))),
                     _e(_ver(info.get("after"))), _state(result)])
    return ("<h4>Nodes: versions before and after</h4>"
            + _table(["Node", "Before", "After", "Result"], rows))


def _timeline_section(doc: Mapping[str, Any]) -> str:
    steps = list(doc.get("steps") or [])
    parts = []
    bars = timeline_bars(steps)
    if bars:
        origin = _origin(steps)
        down = timeline_downtime(doc, origin, steps) if origin is not None else {}
        parts.append("<h4>Timeline</h4>" + timeline_svg(bars, origin=origin, downtime=down))
    phase_rows = _phase_rows(steps)
    if phase_rows:
        parts.append("<h4>Time per phase</h4>" + _table(
            ["Phase", "Steps", "Total", "Longest", "Longest on"], phase_rows))
    return "".join(parts)


def _steps_section(doc: Mapping[str, Any]) -> str:
    rows = [[_e(s.get("node") or "cluster"), _e(s.get("kind")),
             _state(s.get("result_text") or s.get("status")), _e(_seconds(s.get("seconds"))),
             _e(s.get("attempts", "")), _e(s.get("message") or "")]
            for s in doc.get("steps") or []]
    return "<h4>Steps</h4>" + _table(["Node", "Phase", "Status", "Seconds", "Attempts", "Note"],
                                     rows)


def _moves_section(doc: Mapping[str, Any]) -> str:
    moves = list(doc.get("moves") or [])
    rows = [[_e(m.get("group")), _e(m.get("source")), _e(m.get("target")),
             _state(m.get("state") or ""), _e(m.get("purpose") or m.get("phase") or ""),
             _e(m.get("attempts", "")), _e(_seconds(m.get("seconds")))] for m in moves]
    out = f"<h4>Moves ({len(moves)})</h4>" + _table(
        ["Group", "From", "To", "State", "Why", "Attempts", "Seconds"], rows)
    retries = list(doc.get("retries") or [])
    if retries:
        retry_rows = [[_e(r.get("node") or ""), _e(r.get("phase") or ""), _e(r.get("group") or ""),
                       _e(r.get("attempt", "")), _e(r.get("error") or "")] for r in retries]
        out += (f"<h4>Retries ({len(retries)})</h4>"
                + _table(["Node", "Phase", "Group", "Attempt", "Error"], retry_rows))
    return out


def _availability_section(doc: Mapping[str, Any]) -> str:
    availability = doc.get("availability") or {}
    if not availability:
        return ""
    rows = [[_e(g), _e(f"{float(a['seconds']):.1f}"), _e(f"{float(a['moves']):.1f}"),
             _state("outage" if float(a["excess"]) > 0 else "ok"),
             _e(f"{float(a['excess']):.1f}"),
             _e(", ".join(f"{k} {float(v):.1f}" for k, v in a["by_phase"].items()))]
            for g, a in availability.items()]
    return "<h4>Availability (seconds not Online)</h4>" + _table(
        ["Group", "Down", "Moves needed", "", "Beyond moves", "By phase"], rows)


def _placement_section(doc: Mapping[str, Any]) -> str:
    out = ""
    if not doc.get("final_placement") and doc.get("outcome") != "running":
        out += "<p><b>Placement:</b> not read at the end of the run; see the warnings</p>"
    misplaced = doc.get("misplaced") or {}
    if misplaced:
        rows = [[_e(g), _e(v[0]), _e(v[1])] for g, v in misplaced.items()]
        out += ("<h4>Groups not on their original owner</h4>"
                + _table(["Group", "Was on", "Now on"], rows))
    return out


def _notes_section(doc: Mapping[str, Any]) -> str:
    parts = []
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


# --- the timeline ------------------------------------------------------------------------------------

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


# The chart's text is drawn in the monospace font so its width has an honest upper bound that the
# server can check (there is no script in the file to measure it): every common monospace face
# advances each character by at most 0.602 em (DejaVu Sans Mono and Menlo 0.602, Liberation Mono
# and Courier New 0.600, Consolas 0.55); East Asian wide characters take two cells.
_FONT = 11
_EM_BOUND = 0.62
_MONO = "DejaVu Sans Mono,Menlo,Consolas,Liberation Mono,Courier New,monospace"
_LONGEST_LABEL = 32  # node and group labels beyond this are shortened (full name in the tooltip)
_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
            "#9c755f", "#bab0ac")
_ROW_H, _TOP, _G_ROW = 22, 34, 14


def label_width(text: str, size: float = _FONT) -> float:
    """An upper bound on ``text``'s width in pixels in the timeline's font at ``size`` px."""
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


def _tick_label(origin: float | None, total: float, t: float, step: float) -> str:
    """A tick's text: the wall-clock time (UTC) when ``origin`` is known, else the elapsed time."""
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


def _ticks(origin: float | None, total: float, plot_w: float) -> list[tuple[float, str]]:
    """(seconds from origin, label): wall-clock times (UTC, what the journal records) aligned to
    round instants when ``origin`` is known, elapsed times otherwise; as many as fit unclipped."""
    for step in _STEPS:
        if step * 60 < total:  # more than 60 ticks could never fit anyway
            continue
        base = origin or 0.0
        first = (-(base % step)) % step  # the first round instant at or after the start
        marks = []
        i = 0
        while first + i * step <= total + 1e-9:
            marks.append((first + i * step, _tick_label(origin, total, first + i * step, step)))
            i += 1
        widest = max((label_width(text) for _t, text in marks), default=0.0)
        if marks and len(marks) * (widest + 14) <= plot_w * 1.0 and (
                plot_w * step / max(total, 1e-9) >= widest + 14):
            return marks
    return [(0.0, _tick_label(origin, total, 0.0, _STEPS[-1]))]


@frozen
class _Layout:
    """Where everything in the timeline goes: rows, the plot's extent, the legend's lines."""

    width: int
    nodes: tuple[str, ...]
    down: dict[str, list[tuple[float, float]]]
    phases: tuple[str, ...]
    total: float
    label_w: int
    legend: tuple[tuple[float, int, str, str], ...]  # (x, line, colour, text)

    @property
    def plot_w(self) -> int:
        return self.width - self.label_w - 12

    @property
    def nodes_end(self) -> int:
        return _TOP + _ROW_H * len(self.nodes)

    @property
    def groups_top(self) -> int:
        return self.nodes_end + (24 if self.down else 0)

    @property
    def groups_end(self) -> int:
        return self.groups_top + _G_ROW * len(self.down)

    @property
    def legend_top(self) -> int:
        return self.groups_end + 12

    @property
    def height(self) -> int:
        lines = max((line for _x, line, _c, _t in self.legend), default=0) + 1
        return int(self.legend_top + 16 * lines + 6)

    def x_of(self, t: float) -> float:
        return self.label_w + self.plot_w * t / self.total

    def colour(self, bar: Mapping[str, Any]) -> str:
        if bar.get("status") == "failed":
            return "#e15759"
        return _PALETTE[self.phases.index(str(bar.get("phase") or "")) % len(_PALETTE)]


def _bar_seconds(bar: Mapping[str, Any]) -> float:
    """The step's own (cluster) seconds where known, so the legend matches the phase table also
    for a simulated run whose wall clock ran faster."""
    took = bar.get("seconds")
    return float(took) if took is not None else float(bar["end"]) - float(bar["start"])


def _layout(bars: Sequence[Mapping[str, Any]], width: int,
            downtime: Mapping[str, Sequence[tuple[float, float]]] | None) -> _Layout:
    down = {g: list(v) for g, v in (downtime or {}).items() if v}
    nodes = tuple(dict.fromkeys(str(b["node"]) for b in bars))
    ends = [float(b["end"]) for b in bars] + [e for v in down.values() for _s, e in v]
    labels = [_fit(n) for n in nodes] + [_fit(g) for g in down]
    label_w = max(int(max(label_width(t) for t in labels) + 16), int(label_width("UTC") + 16))
    seconds: dict[str, float] = {}
    for b in bars:
        phase = str(b.get("phase") or "")
        seconds[phase] = seconds.get(phase, 0.0) + _bar_seconds(b)
    phases = tuple(seconds)
    # The legend: phase swatches with each phase's total time, wrapped to the drawing's width.
    entries = [(_PALETTE[i % len(_PALETTE)], f"{p or 'step'} {_human(seconds[p])}")
               for i, p in enumerate(phases)] + [("#e15759", "failed")] + (
        [("#d62728", "group not Online")] if down else [])
    legend: list[tuple[float, int, str, str]] = []
    lx, line = 4.0, 0
    for colour, text in entries:
        w = 14 + label_width(text) + 16
        if lx + w > width - 4 and lx > 4:
            lx, line = 4.0, line + 1
        legend.append((lx, line, colour, text))
        lx += w
    return _Layout(width=width, nodes=nodes, down=down, phases=phases, total=max(ends) or 1.0,
                   label_w=label_w, legend=tuple(legend))


def _axis(lay: _Layout, origin: float | None) -> list[str]:
    parts = [f'<text x="4" y="{_TOP - 14}" fill="#666">{"UTC" if origin is not None else "elapsed"}'
             "</text>"]
    for t, text in _ticks(origin, lay.total, lay.plot_w):
        x = lay.x_of(t)
        w = label_width(text)
        left = min(max(x - w / 2, lay.label_w - w / 2), lay.width - 4 - w)
        parts.append(f'<line x1="{x:.1f}" y1="{_TOP - 8}" x2="{x:.1f}" y2="{lay.groups_end}"'
                     ' stroke="#e5e7eb"/>')
        parts.append(f'<text x="{left:.1f}" y="{_TOP - 14}" fill="#444">{_e(text)}</text>')
    return parts


def _node_rows(lay: _Layout, bars: Sequence[Mapping[str, Any]]) -> list[str]:
    parts = []
    for i, node in enumerate(lay.nodes):
        y = _TOP + i * _ROW_H
        parts.append(f'<text x="4" y="{y + 15}">{_tip(node)}{_e(_fit(node))}</text>')
        parts.append(f'<line x1="{lay.label_w}" y1="{y + _ROW_H}" x2="{lay.width - 12}"'
                     f' y2="{y + _ROW_H}" stroke="#eee"/>')
    for b in bars:
        phase = str(b.get("phase") or "")
        x = lay.x_of(float(b["start"]))
        w = max(1.5, lay.plot_w * (float(b["end"]) - float(b["start"])) / lay.total)
        y = _TOP + lay.nodes.index(str(b["node"])) * _ROW_H + 4
        tip = f"{b['node']} {phase}: {_human(_bar_seconds(b))}" + (
            f" ({b['status']})" if b.get("status") else "")
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_ROW_H - 8}" rx="2"'
                     f' fill="{lay.colour(b)}"><title>{_e(tip)}</title></rect>')
    return parts


def _downtime_rows(lay: _Layout) -> list[str]:
    parts = []
    if lay.down:
        parts.append(f'<text x="4" y="{lay.nodes_end + 17}" fill="#666">groups not Online</text>')
    for i, (group, spans) in enumerate(lay.down.items()):
        y = lay.groups_top + i * _G_ROW
        parts.append(f'<text x="4" y="{y + 11}" font-size="{_FONT - 1}">{_tip(group)}'
                     f'{_e(_fit(group))}</text>')
        for a, b in spans:
            w = max(1.5, lay.plot_w * (b - a) / lay.total)
            parts.append(f'<rect x="{lay.x_of(a):.1f}" y="{y + 3}" width="{w:.1f}"'
                         f' height="{_G_ROW - 5}" fill="#d62728"><title>{_e(group)}: not Online'
                         f' for {_e(_human(b - a))}</title></rect>')
    return parts


def _legend(lay: _Layout) -> list[str]:
    parts = []
    for x, line, colour, text in lay.legend:
        y = lay.legend_top + 16 * line
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14:.1f}" y="{y + 9}">{_e(text)}</text>')
    return parts


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
    lay = _layout(bars, width, downtime)
    height = lay.height
    return "".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-family="{_MONO}" font-size="{_FONT}"'
        ' role="img" aria-label="timeline">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
        *_axis(lay, origin), *_node_rows(lay, bars), *_downtime_rows(lay), *_legend(lay),
        "</svg>"])
