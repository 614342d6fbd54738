"""``clusterlib fleet plan|run|resume|status|report``: parse, one clusterlib.fleet call, render.

Exit codes (docs/cli.md): 0 every cluster completed or was already upgraded; 1 refused
(all-or-nothing preflight) or clusters failed/were skipped; 2 usage (a bad inventory, missing
credentials); 4 stopped and resumable (Ctrl-C/SIGTERM, the failure budget spent, a cluster
stopped safely): `clusterlib fleet resume` continues; 5 every cluster ran but some ended degraded
or incomplete.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clusterlib_cli import render
from clusterlib_cli.options import JsonOpt

if TYPE_CHECKING:
    from clusterlib.fleet import Fleet, FleetReport, Inventory

InventoryArg = Annotated[Path, typer.Argument(metavar="INVENTORY", help="The fleet's inventory"
                                              " (TOML; docs/fleet.md).", dir_okay=False)]
WhereArg = Annotated[Path, typer.Argument(metavar="INVENTORY|JOURNAL_DIR", help="The inventory"
                                          " file, or the fleet's journal folder.")]
JournalDirOpt = Annotated[Path | None, typer.Option(
    "--journal-dir", help="Folder of the fleet journal and each cluster's journal and report"
    " (default: the inventory's journal_dir, else INVENTORY.journals next to it).",
    file_okay=False)]
ParallelOpt = Annotated[int | None, typer.Option(
    "--parallel", min=1, help="Cluster upgrades at once (default: the inventory's, else 5).")]
BudgetOpt = Annotated[int | None, typer.Option(
    "--max-failed-clusters", min=0, help="Clusters that may fail before no further one starts"
    " (default: the inventory's, else 0).")]
WavesOpt = Annotated[str | None, typer.Option(
    "--waves", metavar="TAG,TAG,...", help="Waves by tag, 'rest' for every other cluster, e.g."
    " canary,rest (default: the inventory's, else one wave in inventory order).")]
AllOrNothingOpt = Annotated[bool | None, typer.Option(
    "--all-or-nothing/--skip-failed", help="Refuse the whole fleet when any preflight fails"
    " (default: skip only that cluster).", show_default=False)]
FleetHtmlOpt = Annotated[Path | None, typer.Option(
    "--html", dir_okay=False, help="Also write the HTML index to this file (it links each"
    " cluster's report in the journal folder).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Print every engine event of"
                                          " every cluster, not only its steps.")]


def _load(path: Path) -> Inventory:
    from clusterlib.fleet import InventoryError, load_inventory

    try:
        return load_inventory(path)
    except InventoryError as exc:
        raise typer.BadParameter(str(exc), param_hint="'INVENTORY'") from None


def _passwords(inventory: Inventory) -> dict[str, str]:
    """Missing passwords: asked at a terminal, else a usage error listing every cluster."""
    from clusterlib.fleet import InventoryError

    passwords: dict[str, str] = {}
    for entry in inventory.clusters:
        try:
            found = entry.password() if entry.needs_password() else None
        except InventoryError as exc:
            raise typer.BadParameter(str(exc), param_hint="'INVENTORY'") from None
        if found:
            render.add_secret(found)
    missing = inventory.check_credentials()
    if missing and not sys.stdin.isatty():
        raise typer.BadParameter("missing credentials:\n" + "\n".join(missing),
                                 param_hint="'INVENTORY'")
    for entry in inventory.clusters:
        if entry.missing_credentials(passwords) is not None:
            user, host = entry.connection.get("user"), entry.connection.get("host")
            password = typer.prompt(f"Password for {user}@{host} (cluster {entry.name})",
                                    hide_input=True)
            render.add_secret(password)
            passwords[entry.name] = password
    return passwords


class _Stderr:
    """Progress lines as every other CLI line: secrets scrubbed, control characters shown (names
    from a cluster never drive the terminal). Written from the fleet's worker threads, so it
    holds the invocation's output context instead of looking it up."""

    def __init__(self) -> None:
        self.ui = render.current()

    def write(self, text: str) -> int:
        sys.stderr.write(render.visible_lines(self.ui.scrub(text.rstrip("\n"))) + "\n"
                         if text.strip() else "")
        return len(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _fleet(inventory: Inventory, journal_dir: Path | None, *, resume: bool, verbose: bool,
           **overrides: Any) -> Fleet:
    from clusterlib.fleet import Fleet, FleetError, InventoryError, print_events

    kwargs = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(kwargs.get("waves"), str):
        kwargs["waves"] = [w.strip() for w in kwargs["waves"].split(",") if w.strip()]
    try:
        if resume:
            return Fleet.from_journal(inventory, journal_dir=journal_dir,
                                      passwords=_passwords(inventory),
                                      on_event=print_events(_Stderr(), verbose=verbose), **kwargs)
        return Fleet(inventory, journal_dir=journal_dir, passwords=_passwords(inventory),
                     on_event=print_events(_Stderr(), verbose=verbose), **kwargs)
    except InventoryError as exc:
        raise typer.BadParameter(str(exc), param_hint="'INVENTORY'") from None
    except FleetError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--journal-dir'") from None


def exit_code(report: FleetReport) -> int:
    """The documented exit code of a fleet run (see the module docstring)."""
    statuses = {c.status for c in report.clusters}
    if report.outcome == "completed":
        return render.OK
    if report.outcome == "refused":
        return render.REFUSED
    if report.outcome in ("stopped", "budget-exceeded") or statuses & {"stopped", "not-started",
                                                                       "running"}:
        return render.STOPPED
    if statuses & {"failed", "refused", "preflight-failed", "unreachable"}:
        return render.REFUSED
    return render.FINISHED_WITH_PROBLEMS


def _show(report: FleetReport, json: bool, html: Path | None) -> None:
    js, index = report.write()
    if html is not None:
        html.write_text(report.to_html(), encoding="utf-8")
    if json:
        render.emit_json(report.to_dict())
    else:
        render.out(report.to_text())
        render.info(f"fleet report: {index} (JSON: {js})")


def _run(fleet: Fleet, json: bool, html: Path | None) -> None:
    from clusterlib.fleet import FleetRefused

    stops = {"count": 0}

    def stop(signum: int, frame: object) -> None:
        stops["count"] += 1
        fleet.request_stop()
        name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        # Signal handlers run between bytecodes of the main thread: a plain write is safe here.
        os.write(2, (f"{name}: no further cluster starts; each running cluster stops at its next"
                     " step boundary\n").encode())

    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, stop)
    try:
        report = fleet.run()
    except FleetRefused as exc:
        _show(exc.report, json, html)
        render.info(f"refused, nothing changed: {exc}")
        raise typer.Exit(render.REFUSED) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _show(report, json, html)
    code = exit_code(report)
    if code == render.STOPPED:
        where = f" --journal-dir {fleet.journal_dir}"
        render.info(f"Resume with: clusterlib fleet resume {fleet.inventory.path}{where}")
        if fleet.inventory.simulated:
            render.info("SIMULATED clusters live in this process only: a later command meets"
                        " fresh, unchanged simulators and cannot resume them; serve them with"
                        " `clusterlib sim serve` and list their host/port to rehearse a resume")
    raise typer.Exit(code)


def fleet_plan(inventory: InventoryArg, journal_dir: JournalDirOpt = None,
               waves: WavesOpt = None, json: JsonOpt = False) -> None:
    """Preflight every cluster of the inventory and show the waves; changes nothing."""
    inv = _load(inventory)
    fleet = _fleet(inv, journal_dir, resume=False, verbose=False, waves=waves)
    plan = fleet.plan()
    if json:
        render.emit_json(plan.to_dict())
    else:
        render.out(plan.to_text())
    raise typer.Exit(render.OK if plan.ok else render.REFUSED)


def fleet_run(inventory: InventoryArg, journal_dir: JournalDirOpt = None,
              parallel: ParallelOpt = None, max_failed_clusters: BudgetOpt = None,
              waves: WavesOpt = None, all_or_nothing: AllOrNothingOpt = None,
              json: JsonOpt = False, html: FleetHtmlOpt = None, verbose: VerboseOpt = False) -> None:
    """Upgrade every cluster: preflight all, then waves, --parallel at a time."""
    inv = _load(inventory)
    fleet = _fleet(inv, journal_dir, resume=False, verbose=verbose, parallel=parallel,
                   max_failed_clusters=max_failed_clusters, waves=waves,
                   all_or_nothing=all_or_nothing)
    _run(fleet, json, html)


def fleet_resume(inventory: InventoryArg, journal_dir: JournalDirOpt = None,
                 parallel: ParallelOpt = None, max_failed_clusters: BudgetOpt = None,
                 json: JsonOpt = False, html: FleetHtmlOpt = None, verbose: VerboseOpt = False) -> None:
    """Continue a fleet run from its journal folder: finished clusters stay as they are, every
    other one resumes its own journal (or starts)."""
    inv = _load(inventory)
    fleet = _fleet(inv, journal_dir, resume=True, verbose=verbose, parallel=parallel,
                   max_failed_clusters=max_failed_clusters)
    _run(fleet, json, html)


def _journal_dir(where: Path) -> Path:
    if where.is_dir():
        return where
    inv = _load(where)
    return inv.journal_dir or where.with_suffix(".journals")


def _recorded(where: Path) -> FleetReport:
    from clusterlib.fleet import FleetError, FleetReport

    try:
        return FleetReport.from_journal(_journal_dir(where))
    except FleetError as exc:
        raise typer.BadParameter(str(exc), param_hint="'INVENTORY|JOURNAL_DIR'") from None


def fleet_status(where: WhereArg, json: JsonOpt = False) -> None:
    """Where every cluster of a fleet run is, from its journal (also while it runs)."""
    report = _recorded(where)
    if json:
        render.emit_json(report.to_dict())
    else:
        render.out(report.to_text())


def fleet_report(where: WhereArg, json: JsonOpt = False, html: FleetHtmlOpt = None) -> None:
    """Write the fleet report (index.html and fleet-report.json in the journal folder)."""
    report = _recorded(where)
    _show(report, json, html)


def register(app: typer.Typer) -> None:
    from clusterlib_cli.main import _typer

    sub = _typer("fleet", "Rolling upgrades of many clusters from one inventory file: plan, run,"
                 " resume, status, report (docs/fleet.md).")
    sub.command("plan")(fleet_plan)
    sub.command("run")(fleet_run)
    sub.command("resume")(fleet_resume)
    sub.command("status")(fleet_status)
    sub.command("report")(fleet_report)
    app.add_typer(sub)
