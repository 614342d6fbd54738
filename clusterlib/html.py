"""HTML views of the records and handles (`_repr_html_`), shared HTML pieces, and live notebook progress.

Everything here returns strings built with the standard library only (``html.escape``), so
notebooks need no network and the install stays small. Each renderer wraps its output in
``<div class="clusterlib">`` with one scoped ``<style>``, so several objects in one notebook do
not fight over CSS.

Records do not know how they are drawn: this module gives ``NodeInfo``, ``GroupInfo``,
``ClusterSnapshot`` and the ``Cluster``/``Node``/``Group`` handles their ``_repr_html_`` when it
is imported (``import clusterlib`` imports it). The upgrade's plan, report and timeline views
live one floor up, in :mod:`clusterlib.upgrade.report_html`.
"""

from __future__ import annotations

import html
import importlib
import json
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from clusterlib.cluster import Cluster, Group, Node
from clusterlib.model import ClusterSnapshot, GroupInfo, NodeInfo

__all__ = [
    "Html",
    "NotebookProgress",
    "group_html",
    "groups_html",
    "node_html",
    "nodes_html",
    "snapshot_html",
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


# --- shared with the upgrade views (clusterlib.upgrade.report_html) -------------------------------

def _as_doc(obj: Any) -> dict[str, Any]:
    """A plan or report as its JSON document (``to_json()``), or the mapping itself."""
    if isinstance(obj, Mapping):
        return dict(obj)
    raw = obj.to_json()
    return dict(json.loads(raw) if isinstance(raw, (str, bytes)) else raw)


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


# --- notebook reprs, registered here so the records need not know about HTML --------------------------

def _cluster_html(cluster: Cluster) -> str:
    # A notebook shows a cluster by its current state: one snapshot read, as a person expects.
    return snapshot_html(cluster.snapshot())


def _handle_html(render: Callable[[Any], str]) -> Callable[[Node | Group], str]:
    """A handle shows what it already knows: displaying it in a notebook must not hit the wire."""

    def draw(handle: Node | Group) -> str:
        known = handle._info
        return render(known) if known is not None else f"<code>{_e(repr(handle))}</code>"

    return draw


def _register() -> None:
    reprs: tuple[tuple[type, Callable[[Any], str]], ...] = (
        (NodeInfo, node_html), (GroupInfo, group_html), (ClusterSnapshot, snapshot_html),
        (Cluster, _cluster_html), (Node, _handle_html(node_html)),
        (Group, _handle_html(group_html)))
    for cls, render in reprs:
        cls._repr_html_ = render  # type: ignore[attr-defined]


_register()

# The plan, report and timeline views moved to clusterlib.upgrade.report_html (the records' floor
# must not import the upgrade); the old names still resolve here, with a DeprecationWarning.
_MOVED = frozenset({"label_width", "plan_html", "report_document", "report_html", "timeline_bars",
                    "timeline_downtime", "timeline_svg"})


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(f"clusterlib.html.{name} moved to clusterlib.upgrade.report_html.{name}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("clusterlib.upgrade.report_html"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
