"""The upgrade and lock commands (plan, run, resume, report, history, lock show/break, demo): engine calls.

The options they share live in ``upgrade_args``; driving a run (progress, safe stops, the report,
the resume command and the exit code) in ``upgrade_drive``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clusterlib_cli.connect import connected
from clusterlib_cli.options import DryRunOpt, JsonOpt, YesOpt, connection_options
from clusterlib_cli.target import Target
from clusterlib_cli.upgrade_args import (
    FORCE_DRAIN_TEXT,
    UPGRADE_PANEL,
    HtmlOpt,
    JournalOpt,
    ManualOpt,
    PreUpdateOpt,
    RunReporting,
    StopAfterOpt,
    UpgradeArgs,
    VerifyOpt,
    WarnAfterOpt,
    command_action,
    make_action,
    reporting_options,
    sim_command,
    upgrade_options,
)
from clusterlib_cli.upgrade_drive import drive

if TYPE_CHECKING:
    from clusterlib.upgrade import Plan

NO_REPORTING = RunReporting()  # the placeholder @reporting_options replaces

__all__ = ["register"]


def _default_journal(cluster_name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / f"clusterlib-upgrade-{cluster_name}-{stamp}.json"


def _show_plan(plan: Plan, target: Target, json: bool) -> None:
    from clusterlib_cli import render

    if json:
        render.out(render.mark_json_text(plan.to_json(), target))
    else:
        render.sim_banner(target)
        render.out(plan.to_text())


# --- plan and run ---------------------------------------------------------------------------------

@connection_options
@upgrade_options
def upgrade_plan(target: Target, upgrade: UpgradeArgs, json: JsonOpt = False) -> None:
    """Dry run: the preflight checks, the steps in order and the exact commands. Changes nothing."""
    from clusterlib.upgrade import RollingUpgrade
    from clusterlib_cli import render

    upgrade.check(target)  # a usage error needs no connection
    with connected(target) as cluster:
        upgrade.apply_move_timeout(cluster)
        plan = RollingUpgrade(cluster, action=upgrade.action(target, cluster),
                              options=upgrade.upgrade_options(target, cluster)).plan()
        _show_plan(plan, target, json)
        if not plan.ok:
            raise typer.Exit(render.REFUSED)  # a preflight check failed: documented exit 1


@connection_options
@upgrade_options
@reporting_options
def upgrade_run(
    target: Target,
    upgrade: UpgradeArgs,
    stop_after: StopAfterOpt = None,
    warn_after: WarnAfterOpt = None,
    pre_update: PreUpdateOpt = None,
    verify: VerifyOpt = None,
    journal: JournalOpt = None,
    reporting: RunReporting = NO_REPORTING,
    dry_run: DryRunOpt = False,
) -> None:
    """Run a rolling upgrade: node by node drain, upgrade, reboot, verify, resume; then failback."""
    from clusterlib.upgrade import PreflightFailed, RollingUpgrade
    from clusterlib_cli import render

    upgrade.check(target)  # usage errors need no connection
    reporting.categories()
    with connected(target) as cluster:
        upgrade.apply_move_timeout(cluster)
        path = journal or _default_journal(cluster.name)
        options = upgrade.upgrade_options(target, cluster)
        engine = RollingUpgrade(cluster, action=upgrade.action(target, cluster),
                                journal=None if dry_run else path, options=options,
                                pre_update=pre_update, verify=verify)
        plan = engine.plan()
        if dry_run:
            _show_plan(plan, target, reporting.json)
            render.info("--dry-run: nothing was changed (no lock, no journal); the commands above"
                        " are what a run would send")
            if not plan.ok:
                raise typer.Exit(render.REFUSED)
            return
        if not plan.ok:
            render.out(plan.to_text())
            raise PreflightFailed(plan.failed_checks)
        _confirm_run(cluster.name, plan, path, force_drain=upgrade.force_drain,
                     yes=reporting.yes)
        drive(engine, cluster, target, path, reporting, resume=False, stop_after=stop_after,
              warn_after=warn_after, plan=plan)


def _confirm_run(cluster: str, plan: Plan, journal: Path, *, force_drain: bool, yes: bool) -> None:
    from clusterlib_cli import render

    if force_drain:
        # Loud, and its own question: it lets the cluster stop groups (CAU's
        # -ForcePauseAndDrain). --yes answers it too, but the warning is always shown.
        render.warn(FORCE_DRAIN_TEXT)
        render.confirm(f"Force-drain every node of {cluster}, stopping any group that"
                       " cannot move safely?", yes=yes)
    render.confirm(f"Upgrade every node of {cluster} ({' -> '.join(plan.order)}),"
                   f" journal {journal}?", yes=yes)


# --- resume ---------------------------------------------------------------------------------------

def describe_action(doc: Any) -> str:
    """One line for a journal's recorded action (``to_dict()`` form)."""
    if not isinstance(doc, dict):
        return "unknown"
    kind = str(doc.get("kind") or "unknown")
    if doc.get("secret"):
        return f"{kind}: a secret command line (not recorded)"
    if kind in ("remote-command", "wmic"):
        where = "on each node over WinRM" if kind == "remote-command" else \
            "started on each node through WMI from the management host"
        return f"command {doc.get('line')!r} ({where})"
    if kind == "powershell":
        params = " ".join(f"-{k} {v!r}" for k, v in doc.get("params") or [])
        return f"PowerShell {doc.get('cmdlet')} {params}".rstrip()
    return kind


def recorded_action(journal: Path) -> dict[str, Any]:
    """The action the journal recorded, read through the journal module's trust checks."""
    from clusterlib.upgrade.journal import recorded_action as read

    return read(journal)


def _confirm_recorded_action(journal: Path, command: str | None, manual: bool = False) -> None:
    """Never run what a journal file says without the caller agreeing to exactly that: the
    file may have been edited and re-sealed by someone else. --command must match the recorded
    line, or a person confirms it at the terminal."""
    from clusterlib_cli import render

    doc = recorded_action(journal)
    shown = describe_action(doc)
    render.info(f"The journal's recorded action: {shown}")
    line = doc.get("line") if isinstance(doc, dict) else None
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if manual:
        if kind != "manual":
            raise typer.BadParameter(f"the journal {journal} records the action {shown}, not a"
                                     " manual upgrade; nothing was done", param_hint="'--manual'")
        return  # a person upgrades each node and confirms: nothing runs by itself
    if command is not None:
        if line is not None and not (isinstance(doc, dict) and doc.get("secret")) \
                and line != command:
            raise typer.BadParameter(
                f"the journal {journal} records the action {line!r}, not {command!r}; nothing"
                " was done. Pass the recorded line if it is the one you mean, or start a new run",
                param_hint="'--command'")
        return  # matches (or a secret line only the caller knows: theirs is the one used)
    if not sys.stdin.isatty():
        hint = f"--command {shlex_quote(line)}" if isinstance(line, str) and line else "--command"
        raise typer.BadParameter(
            f"the journal {journal} records the action {shown}; to run it, pass {hint} (it must"
            " match) or resume at a terminal to confirm it", param_hint="'--command'")
    if not typer.confirm(f"Run {render.visible(shown)} on the remaining nodes?", default=False,
                         err=True):
        render.info("Nothing was changed.")
        raise typer.Exit(render.REFUSED)


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


@connection_options
@reporting_options
def upgrade_resume(
    journal: Annotated[Path, typer.Argument(dir_okay=False, help="The run's journal file.")],
    target: Target,
    command: Annotated[str | None, typer.Option(
        "--command", help="The installer command line: must match the one the journal recorded"
        " (shown before anything runs); without it you are asked to confirm the recorded one.",
        rich_help_panel=UPGRADE_PANEL)] = None,
    manual: ManualOpt = False,
    resend_action: Annotated[list[str] | None, typer.Option(
        "--resend-action", metavar="NODE", help="A node whose unconfirmed upgrade action you"
        " have checked never started: send it once more (repeatable). Without it, an action"
        " whose start cannot be ruled out is never sent twice.",
        rich_help_panel=UPGRADE_PANEL)] = None,
    reporting: RunReporting = NO_REPORTING,
) -> None:
    """Continue a stopped or interrupted run from its journal."""
    from clusterlib.upgrade import RollingUpgrade
    from clusterlib_cli import render

    reporting.categories()  # usage errors need no connection
    if not journal.exists():
        raise typer.BadParameter(f"{journal}: no such journal file", param_hint="'JOURNAL'")
    with connected(target) as cluster:
        if manual and command:
            raise typer.BadParameter("give --command or --manual, not both",
                                     param_hint="'--manual'")
        action = (command_action(cluster, command) if command
                  else make_action(target, cluster, None, True) if manual else None)
        resend = _resend_nodes(journal, resend_action or [])
        upgrade = RollingUpgrade.from_journal(cluster, journal=journal, action=action,
                                              resend_action=resend)
        _confirm_recorded_action(journal, command, manual)
        render.confirm(f"Resume the upgrade of {cluster.name} from {journal}?", yes=reporting.yes)
        drive(upgrade, cluster, target, journal, reporting, resume=True)


def _resend_nodes(journal: Path, names: list[str]) -> list[str]:
    """The --resend-action names, each a node of the journal's run (else a usage error naming
    the run's nodes)."""
    from clusterlib.upgrade.journal import read_state

    if not names:
        return []
    order = [str(n) for n in read_state(journal).plan["order"]]
    known = {n.lower(): n for n in order}
    unknown = [n for n in names if n.lower() not in known]
    if unknown:
        raise typer.BadParameter(f"{', '.join(unknown)}: not a node of this run (its nodes:"
                                 f" {', '.join(order)})", param_hint="'--resend-action'")
    return [known[n.lower()] for n in names]


# --- report, history, lock ------------------------------------------------------------------------

def upgrade_report(
    journal: Annotated[Path, typer.Argument(dir_okay=False, help="The run's journal file.")],
    html: HtmlOpt = None,
    json: JsonOpt = False,
) -> None:
    """The report of a run, from its journal (no cluster needed)."""
    from clusterlib.upgrade import Report
    from clusterlib_cli import render
    from clusterlib_cli.upgrade_drive import write_html

    if not journal.exists():
        raise typer.BadParameter(f"{journal}: no such journal file", param_hint="'JOURNAL'")
    report = Report.from_journal(journal)
    if html is not None:
        write_html(html, report, None)
    render.out(report.to_json() if json else report.to_text())


def upgrade_history(
    folder: Annotated[Path, typer.Argument(file_okay=False, help="The folder holding the run"
                                           " journals (default: the current one).")] = Path("."),
    last: Annotated[int | None, typer.Option("--last", min=1, help="Only the N newest runs.")]
    = None,
    html: Annotated[Path | None, typer.Option(
        "--html", file_okay=False, help="Write index.html and one report page per run into this"
        " folder.", rich_help_panel="Output")] = None,
    json: JsonOpt = False,
) -> None:
    """The runs recorded in a folder of journals, newest first (no cluster needed)."""
    from clusterlib_cli import history, render

    if not folder.is_dir():
        raise typer.BadParameter(f"{folder}: no such folder", param_hint="'FOLDER'")
    entries = history.collect(folder)[:last]
    if html is not None:
        index = history.write_html(entries, folder, html)
        render.info(f"HTML index written to {index}")
    render.out(history.to_json(entries, folder) if json else history.to_text(entries, folder))


# --- lock ----------------------------------------------------------------------------------------------

@connection_options
def lock_show(target: Target, json: JsonOpt = False) -> None:
    """Who holds the cluster's upgrade lock, if anyone."""
    from clusterlib.upgrade import read_lock
    from clusterlib_cli import render

    with connected(target) as cluster:
        lock = read_lock(cluster)
        if json:
            render.emit_json(render.mark({"schema": "clusterlib.lock/1", "cluster": cluster.name,
                                          "locked": lock is not None,
                                          "lock": lock.to_dict() if lock is not None else None},
                                         target))
        else:
            render.sim_banner(target)
            render.out(f"{cluster.name}: " + (f"locked by {lock.describe()}" if lock else "not locked"))


@connection_options
def lock_break(
    target: Target,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded on the cluster).")],
    journal: Annotated[Path | None, typer.Option("--journal", dir_okay=False,
                       help="Also record the break in this run's journal.")] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
) -> None:
    """Remove a stale upgrade lock (audited). Make sure the run that holds it is dead first."""
    from clusterlib_cli import render

    if not reason.strip():
        raise typer.BadParameter("--reason must say why", param_hint="'--reason'")
    from clusterlib.upgrade import break_lock, read_lock

    with connected(target) as cluster:
        render.sim_banner(target)
        lock = read_lock(cluster)
        if lock is None:
            render.out(f"{cluster.name}: not locked; nothing to break")
            return
        if dry_run:
            render.out(f"would break the lock of {lock.describe()} on {cluster.name} (reason:"
                       f" {reason}); --dry-run: nothing was changed")
            return
        render.confirm(f"Break the upgrade lock of {lock.describe()}?", yes=yes)
        break_lock(cluster, reason=reason, journal=journal)
        render.out(f"{cluster.name}: lock of {lock.describe()} broken ({reason})")


# --- demo ----------------------------------------------------------------------------------------------

def demo(
    speed: Annotated[float, typer.Option("--speed", min=0.001, help="Simulated seconds per"
                                         " wall-clock second.")] = 150.0,
    html: HtmlOpt = None,
    journal: Annotated[Path | None, typer.Option(
        "--journal", dir_okay=False, help="Keep the run's journal at this path. Without it the"
        " journal goes to a temporary folder that the demo names and removes at the end.",
        rich_help_panel=UPGRADE_PANEL)] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """The seed's classic rolling upgrade on the embedded simulator: two Windows 2000 nodes to
    Windows Server 2003, node 1 first, the installer started on each node through WMI from the
    management host (Windows 2000 has no WinRM). Nothing real is touched."""
    import shutil
    import tempfile

    from clusterlib_cli import render

    scratch: Path | None = None
    if journal is None:
        scratch = Path(tempfile.mkdtemp(prefix="clusterlib-demo-"))
        path = scratch / "journal.json"
        render.info(f"journal: {path} (a temporary folder, removed when the demo ends; pass"
                    " --journal PATH to keep it)")
    else:
        path = journal
    try:
        _demo_run(speed, path, html, debug)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
            render.info(f"removed the demo's temporary folder {scratch}")


def _demo_run(speed: float, journal: Path, html: Path | None, debug: bool) -> None:
    from clusterlib.upgrade import PreflightFailed, RollingUpgrade, UpgradeOptions
    from clusterlib_cli import render, views
    from clusterlib_cli.target import build_sim, make_target

    target = make_target(sim="classic", speed=speed, debug=debug)
    sim = build_sim(target)
    with connected(target, sim) as cluster:
        snap = cluster.snapshot(owners=True)
        order = tuple(sorted(n.name for n in snap.nodes))  # NODE1 first, as the seed does
        upgrade = RollingUpgrade(cluster, action=command_action(cluster, sim_command(sim)),
                                 journal=journal,
                                 options=UpgradeOptions(target=sim.upgrade_to, order=order))
        plan = upgrade.plan()
        render.sim_banner(target)
        views.print_status(snap, dialect=cluster.dialect_name,
                            endpoint=cluster.transport.endpoint)
        render.out("")
        render.out(plan.to_text())
        render.out("")
        if not plan.ok:
            raise PreflightFailed(plan.failed_checks)
        drive(upgrade, cluster, target, journal, RunReporting(html=html), resume=False,
              plan=plan)
        render.out("")
        views.print_status(cluster.snapshot(owners=True), dialect=cluster.dialect_name,
                            endpoint=cluster.transport.endpoint)


def register(app: typer.Typer, upgrade_app: typer.Typer, lock_app: typer.Typer) -> None:
    upgrade_app.command("plan")(upgrade_plan)
    upgrade_app.command("run")(upgrade_run)
    upgrade_app.command("resume")(upgrade_resume)
    upgrade_app.command("report")(upgrade_report)
    upgrade_app.command("history")(upgrade_history)
    lock_app.command("show")(lock_show)
    lock_app.command("break")(lock_break)
    app.command("demo")(demo)
