"""The fleet report: one row per cluster (outcome, duration, downtime, versions), as JSON, text and HTML.

The HTML index is one self-contained file (no scripts, fonts or network) linking each cluster's
own report (``<name>.html`` next to it, written by the run).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from clusterlib.fleet.journal import journal_path, read_journal

#: Statuses that end a cluster's part of the fleet run (a resume keeps them as they are).
FINAL_STATUSES = ("completed", "already-upgraded", "degraded", "incomplete")
#: Statuses counted against max_failed_clusters: a run started and did not end "completed".
#: A failed preflight or an unreachable cluster changed nothing and is reported, not counted.
BUDGET_STATUSES = ("stopped", "failed", "refused", "degraded", "incomplete")
OK_STATUSES = ("completed", "already-upgraded")


def versions_of_snapshot(snap: Any) -> tuple[str, ...]:
    """The distinct cluster-service and OS versions of a snapshot's nodes, e.g. ``9.3 (OS
    10.0.14393)``."""
    seen: dict[str, None] = {}
    for n in snap.nodes:
        seen[_version(n.highest_version, n.os_version)] = None
    return tuple(seen)


def versions_of_report(report: Any, which: str) -> tuple[str, ...]:
    """The same from a Report's ``nodes`` (``which``: "before" or "after")."""
    seen: dict[str, None] = {}
    for info in (report.nodes or {}).values():
        v = info.get(which) or {}
        if v:
            seen[_version(v.get("highest"), v.get("os"))] = None
    return tuple(seen)


def _version(highest: Any, os_version: Any) -> str:
    return f"{highest if highest is not None else '?'}" + (f" (OS {os_version})"
                                                          if os_version else "")


@dataclass
class ClusterResult:
    """One cluster's part of a fleet run.

    ``status``: completed, already-upgraded (changed nothing), degraded, incomplete (engine
    outcomes), stopped (safely, resumable), failed, refused (lock held), preflight-failed,
    unreachable, not-started, running (only in a journal of a run that was killed).
    ``downtime_seconds``: the time the cluster's groups were not Online (their moves included);
    ``outage_seconds``: the part beyond what their moves needed (Report.availability "excess").
    """

    name: str
    status: str
    message: str = ""
    tags: tuple[str, ...] = ()
    wave: int | None = None
    simulated: bool = False
    journal: str | None = None
    report_html: str | None = None
    started: str | None = None
    finished: str | None = None
    seconds: float | None = None
    downtime_seconds: float | None = None
    outage_seconds: float | None = None
    versions_before: tuple[str, ...] = ()
    versions_after: tuple[str, ...] = ()
    failed_checks: tuple[str, ...] = field(default=())
    stopped_at: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    @property
    def changed(self) -> bool:
        """Whether this run may have changed the cluster (anything that started an upgrade)."""
        return self.status not in ("already-upgraded", "preflight-failed", "unreachable",
                                   "not-started")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("tags", "versions_before", "versions_after", "failed_checks"):
            data[key] = list(data[key])
        data["ok"] = self.ok
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClusterResult:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("tags", "versions_before", "versions_after", "failed_checks"):
            kwargs[key] = tuple(kwargs.get(key) or ())
        return cls(**kwargs)

    @classmethod
    def from_plan(cls, plan: Any, status: str, message: str, entry: Any) -> ClusterResult:
        before = tuple(plan.versions_before)
        return cls(name=plan.name, status=status, message=message, tags=tuple(entry.tags),
                   simulated=entry.simulated, versions_before=before,
                   versions_after=before if status == "already-upgraded" else (),
                   failed_checks=tuple(plan.failed_checks), seconds=0.0,
                   downtime_seconds=0.0 if status == "already-upgraded" else None)

    def with_report(self, report: Any, html_name: str | None) -> ClusterResult:
        avail = report.availability or {}
        downtime = sum(float(a.get("seconds") or 0.0) for a in avail.values())
        outage = sum(float(a.get("excess") or 0.0) for a in avail.values())
        return replace(self, report_html=html_name, downtime_seconds=downtime,
                       outage_seconds=outage,
                       versions_before=versions_of_report(report, "before") or self.versions_before,
                       versions_after=versions_of_report(report, "after"),
                       stopped_at=report.stopped_at)


@dataclass
class FleetReport:
    """The whole fleet run. ``outcome``: completed (every cluster completed or was already
    upgraded), incomplete (some did not, within the budget), stopped (at your request;
    resumable), budget-exceeded (more than max_failed_clusters failed; the rest did not start),
    refused (all_or_nothing and a preflight failed; nothing changed)."""

    outcome: str
    clusters: list[ClusterResult]
    started: str | None = None
    finished: str | None = None
    seconds: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    journal_dir: str | None = None
    simulated: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == "completed"

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.clusters)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.clusters:
            out[c.status] = out.get(c.status, 0) + 1
        return out

    def summary(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts().items()))
        return f"fleet {self.outcome}: {counts}" + (" (SIMULATED)" if self.simulated else "")

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "ok": self.ok, "simulated": self.simulated,
                "started": self.started, "finished": self.finished, "seconds": self.seconds,
                "options": dict(self.options), "journal_dir": self.journal_dir,
                "counts": self.counts(), "clusters": [c.to_dict() for c in self.clusters]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_journal(cls, journal_dir: str | os.PathLike[str]) -> FleetReport:
        """The report of a fleet run from its journal folder (also of a run still going or
        killed: its clusters show their last recorded status)."""
        body = read_journal(journal_path(journal_dir))
        clusters = [ClusterResult.from_dict(c) for c in body.get("clusters", {}).values()]
        return cls(outcome=str(body.get("state")), clusters=clusters, started=body.get("started"),
                   finished=body.get("updated"), options=body.get("options") or {},
                   journal_dir=str(journal_dir), simulated=any(c.simulated for c in clusters))

    def to_text(self) -> str:
        lines = []
        if self.simulated:
            lines.append("SIMULATED: simulated clusters are embedded simulators")
        lines.append(self.summary())
        lines.append(f"{'cluster':<24} {'status':<17} {'time':>8} {'down':>8}  versions")
        for c in self.clusters:
            lines.append(f"{c.name:<24} {c.status:<17} {_secs(c.seconds):>8}"
                         f" {_secs(c.downtime_seconds):>8}  {_arrow(c)}"
                         + (" SIMULATED" if c.simulated else ""))
            if c.message and not c.ok:
                lines.append(f"    {c.message}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def to_html(self) -> str:
        """One self-contained HTML page: no scripts, fonts or network."""
        title = "clusterlib fleet report" + (" (SIMULATED)" if self.simulated else "")
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
                f"<h1>{_e(title)}</h1>{self._body()}</body></html>\n")

    def _repr_html_(self) -> str:
        return f"<div class=\"clusterlib-fleet\"><style>{_CSS}</style>{self._body()}</div>"

    def _body(self) -> str:
        head = (f"<p class=\"{'good' if self.ok else 'bad'}\"><b>{_e(self.outcome.upper())}</b>"
                f" {_e(self.summary())}</p><p>started {_e(self.started or '-')}, finished"
                f" {_e(self.finished or '-')}; options {_e(json.dumps(dict(self.options)))}</p>")
        rows = []
        for c in self.clusters:
            link = (f"<a href=\"{_e(c.report_html)}\">report</a>" if c.report_html else "")
            cls = "good" if c.ok else ("warn" if c.status in ("running", "not-started") else "bad")
            rows.append(
                f"<tr><td>{_e(c.name)}{' <i>SIMULATED</i>' if c.simulated else ''}</td>"
                f"<td class=\"{cls}\">{_e(c.status)}</td><td>{_e(_secs(c.seconds))}</td>"
                f"<td>{_e(_secs(c.downtime_seconds))}</td><td>{_e(_secs(c.outage_seconds))}</td>"
                f"<td>{_e(', '.join(c.versions_before) or '-')}</td>"
                f"<td>{_e(', '.join(c.versions_after) or '-')}</td>"
                f"<td>{_e(', '.join(c.tags))}</td><td>{link}</td><td>{_e(c.message)}</td></tr>")
        return (head + "<table><thead><tr><th>cluster</th><th>outcome</th><th>duration</th>"
                "<th>downtime</th><th>outage</th><th>versions before</th><th>versions after</th>"
                "<th>tags</th><th>report</th><th>message</th></tr></thead><tbody>"
                + "".join(rows) + "</tbody></table>")

    def write(self, folder: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
        """Write ``fleet-report.json`` and ``index.html`` into ``folder`` (default: the journal
        folder, where the clusters' own reports are); returns both paths."""
        out = Path(folder or self.journal_dir or ".")
        out.mkdir(parents=True, exist_ok=True)
        js, index = out / "fleet-report.json", out / "index.html"
        js.write_text(self.to_json(), encoding="utf-8")
        index.write_text(self.to_html(), encoding="utf-8")
        return js, index


_CSS = ("body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:left;vertical-align:top}.good{color:#060}.bad{color:#a00}"
        ".warn{color:#a60}")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    return f"{value / 60:.1f}m"


def _arrow(c: ClusterResult) -> str:
    before = ", ".join(c.versions_before) or "?"
    after = ", ".join(c.versions_after) or "?"
    return before if before == after else f"{before} -> {after}"
