"""``clusterlib upgrade history``: every run journal in a folder, newest first (like Get-CauReport -Last).

Each journal is read with the same checks a resume applies (``read_state``); a file that is a
journal but cannot be trusted is listed as refused with the reason, never silently dropped, and
a file that is no journal at all is left out. ``--html DIR`` writes an index page and one report
page per run, each self-contained and mode 0600 like the journals.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MARKER = b'"schema":"clusterlib.upgrade.journal"'


@dataclass(frozen=True)
class Entry:
    path: Path
    run_id: str | None = None
    cluster: str | None = None
    outcome: str | None = None
    started: str | None = None
    updated: str | None = None
    nodes: tuple[str, ...] = ()
    message: str = ""
    refused: str | None = None  # why the journal was not trusted
    report: Any = None

    @property
    def simulated(self) -> bool:
        """The run was against the in-process simulator (the journal's recorded endpoint)."""
        return getattr(self.report, "simulated", False) is True

    def to_dict(self) -> dict[str, Any]:
        return {"journal": str(self.path), "run_id": self.run_id, "cluster": self.cluster,
                "outcome": self.outcome, "started": self.started, "updated": self.updated,
                "nodes": list(self.nodes), "message": self.message, "refused": self.refused,
                "simulated": self.simulated}


def _looks_like_journal(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(256)
    except OSError:
        return False
    return _MARKER in head.replace(b" ", b"")


def collect(folder: Path) -> list[Entry]:
    """The journals in ``folder`` (not recursive), newest first by their own timestamps."""
    from clusterlib.errors import ClusterError
    from clusterlib.upgrade import Report
    from clusterlib.upgrade.journal import read_state

    entries: list[Entry] = []
    for path in sorted(folder.glob("*.json")):
        if not path.is_file() or not _looks_like_journal(path):
            continue
        try:
            state = read_state(path)
            report = Report.from_state(state, str(path))
        except (ClusterError, OSError, ValueError, KeyError, TypeError) as exc:
            entries.append(Entry(path=path, refused=str(exc) or type(exc).__name__,
                                 updated=_mtime(path)))
            continue
        entries.append(Entry(
            path=path, run_id=state.run_id, cluster=state.cluster,
            outcome=state.outcome or "running or interrupted", started=state.created,
            updated=state.updated, nodes=tuple(state.nodes_before), message=state.message,
            report=report))
    entries.sort(key=lambda e: e.updated or "", reverse=True)
    return entries


def _mtime(path: Path) -> str | None:
    import datetime

    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).isoformat(
        timespec="seconds")


def to_json(entries: list[Entry], folder: Path) -> str:
    return json.dumps({"schema": "clusterlib.history/1", "folder": str(folder.absolute()),
                       "runs": [e.to_dict() for e in entries]}, indent=2)


def to_text(entries: list[Entry], folder: Path) -> str:
    if not entries:
        return f"no run journals in {folder}"
    lines = [f"{'updated':30} {'cluster':12} {'run':12} {'outcome':24} journal"]
    for e in entries:
        if e.refused is not None:
            lines.append(f"{e.updated or '?':30} {'?':12} {'?':12} {'REFUSED':24} {e.path}:"
                         f" {e.refused}")
            continue
        lines.append(f"{e.updated or '?':30} {e.cluster or '?':12} {e.run_id or '?':12}"
                     f" {_outcome(e):24} {e.path}")
    return "\n".join(lines)


def _outcome(e: Entry) -> str:
    return (e.outcome or "?").upper() + (" (SIMULATED)" if e.simulated else "")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)


def write_html(entries: list[Entry], folder: Path, out_dir: Path) -> Path:
    """``index.html`` (one row per run, linking each run's report page) plus the pages."""
    from html import escape

    from clusterlib_cli.render import html_report

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for e in entries:
        if e.refused is not None or e.report is None:
            rows.append(f"<tr><td>{escape(e.updated or '?')}</td><td>?</td><td>?</td>"
                        f"<td>REFUSED</td><td><code>{escape(str(e.path))}</code>:"
                        f" {escape(e.refused or '')}</td></tr>")
            continue
        # The run id names the file: only if it is a plain token (a journal is data, not a path).
        token = e.run_id or ""
        page = (f"report-{token}.html" if token and len(token) <= 64
                and all(c.isascii() and (c.isalnum() or c in "-_") for c in token)
                else f"report-{len(rows) + 1}.html")
        _write_private(out_dir / page, html_report(e.report, None))  # SIMULATED banner too
        rows.append(f"<tr><td>{escape(e.updated or '?')}</td><td>{escape(e.cluster or '?')}</td>"
                    f"<td><a href=\"{escape(page)}\">{escape(e.run_id or '?')}</a></td>"
                    f"<td>{escape(_outcome(e))}</td>"
                    f"<td><code>{escape(str(e.path))}</code></td></tr>")
    index = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>clusterlib"
             f" upgrade history: {escape(str(folder))}</title><style>body{{font-family:sans-serif}}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
             "text-align:left}</style></head><body>"
             f"<h2>Rolling upgrades in {escape(str(folder.absolute()))}</h2>"
             "<table><tr><th>updated (UTC)</th><th>cluster</th><th>run</th><th>outcome</th>"
             "<th>journal</th></tr>" + "".join(rows) + "</table></body></html>\n")
    target = out_dir / "index.html"
    _write_private(target, index)
    return target
