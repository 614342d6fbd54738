"""Upgrade commands (upgrade plan/run/resume/report, lock show/break, demo): thin calls into the engine.

Ctrl-C during a run asks the engine to stop at the next step boundary (the cluster is never
left mid-move); a second Ctrl-C interrupts at once. Either way the journal is kept and the exact
``clusterlib upgrade resume`` command is printed; a safe stop exits 4.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clusterlib_cli.options import Target, connection_options

if TYPE_CHECKING:
    import clusterlib

UPGRADE_PANEL = "Upgrade"
SIM_DEFAULT_COMMAND = r"D:\setup.exe /unattend"  # the simulator's node shell runs any line as the installer

CommandOpt = Annotated[str | None, typer.Option(
    "--command", help="The installer command line run on each drained node (cmd.exe, on the"
    " node itself). Default on the simulator: a stand-in installer.", rich_help_panel=UPGRADE_PANEL)]
ManualOpt = Annotated[bool, typer.Option(
    "--manual", help="A person upgrades each node: the run waits, drained, until you confirm at"
    " the prompt.", rich_help_panel=UPGRADE_PANEL)]
OrderOpt = Annotated[str | None, typer.Option(
    "--order", help="Comma-separated node order (default: fewest groups first).",
    rich_help_panel=UPGRADE_PANEL)]
VersionOpt = Annotated[str | None, typer.Option(
    "--target-version", help="Cluster-service version the upgraded nodes must report, as"
    " HIGHEST or HIGHEST/LOWEST (e.g. 9.3/8.9600). Default on the simulator: its upgrade release.",
    rich_help_panel=UPGRADE_PANEL)]
FailbackOpt = Annotated[str, typer.Option(
    "--failback", help="end: groups go back to their original owners after the last node;"
    " each: after every node.", rich_help_panel=UPGRADE_PANEL)]
MaxFailedOpt = Annotated[int, typer.Option(
    "--max-failed-nodes", min=0, help="Nodes that may fail (left safe) before the run stops.",
    rich_help_panel=UPGRADE_PANEL)]
ValidationOpt = Annotated[str | None, typer.Option(
    "--validation-group", help="Group moved onto each upgraded node to prove it works ('auto':"
    " the lowest-priority group; 'none' to skip).", rich_help_panel=UPGRADE_PANEL)]
LevelOpt = Annotated[bool, typer.Option(
    "--raise-functional-level", help="Update-ClusterFunctionalLevel at the end (irreversible).",
    rich_help_panel=UPGRADE_PANEL)]
JournalOpt = Annotated[Path | None, typer.Option(
    "--journal", dir_okay=False, help="Where to write the run journal (default:"
    " ./clusterlib-upgrade-CLUSTER-TIMESTAMP.json).", rich_help_panel=UPGRADE_PANEL)]
NotifyOpt = Annotated[str | None, typer.Option(
    "--notify", metavar="URL", help="POST each phase event and the summary as JSON (Slack/Teams"
    " incoming-webhook shape) to URL; never blocks or fails the run.", rich_help_panel="Output")]
HtmlOpt = Annotated[Path | None, typer.Option(
    "--html", dir_okay=False, help="Also write the report as a self-contained HTML file.",
    rich_help_panel="Output")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.",
                                       rich_help_panel="Output")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _upgrade_api() -> Any:
    try:
        import clusterlib.upgrade as api
    except ImportError as exc:  # pragma: no cover - only while the engine is being written
        from clusterlib import NotSupported

        raise NotSupported(f"the rolling-upgrade engine is not in this build ({exc})") from exc
    if not hasattr(api, "RollingUpgrade"):
        from clusterlib import NotSupported

        raise NotSupported("the rolling-upgrade engine (clusterlib.upgrade.RollingUpgrade) is not"
                           " in this build yet")
    return api


@contextlib.contextmanager
def _connected(target: Target, sim: Any = None) -> Iterator[clusterlib.Cluster]:
    from clusterlib_cli.options import open_cluster

    cluster = open_cluster(target, sim)
    try:
        yield cluster
    finally:
        cluster.close()


def _action(api: Any, target: Target, command: str | None, manual: bool) -> Any:
    if manual and command:
        raise typer.BadParameter("give --command or --manual, not both", param_hint="'--manual'")
    if manual:
        def ask(node: str, prompt: str) -> bool:
            if not sys.stdin.isatty():
                return False
            return typer.confirm(f"{prompt} Done, and did it succeed?", default=False, err=True)

        return api.ManualAction("Upgrade {node} now (it is drained and paused), then confirm.",
                                ask=ask)
    if command:
        return api.RemoteCommand(command)
    if target.is_sim:
        return api.RemoteCommand(SIM_DEFAULT_COMMAND)
    raise typer.BadParameter("say how to upgrade each node: --command LINE or --manual",
                             param_hint="'--command'")


def _options(api: Any, cluster: Any, target: Target, *, order: str | None,
             target_version: str | None, failback: str, max_failed_nodes: int,
             validation_group: str | None, raise_functional_level: bool) -> Any:
    if failback not in ("end", "each"):
        raise typer.BadParameter("--failback is 'end' or 'each'", param_hint="'--failback'")
    version: Any = target_version
    if version is None and target.is_sim:
        sim = getattr(cluster.transport, "sim", None)
        version = getattr(sim, "upgrade_to", None)  # a Release: TargetVersion.parse reads it
    kwargs: dict[str, Any] = {"failback": failback, "max_failed_nodes": max_failed_nodes,
                              "raise_functional_level": raise_functional_level}
    if order:
        kwargs["order"] = tuple(n.strip() for n in order.split(",") if n.strip())
    if version is not None:
        kwargs["target"] = version
    if validation_group is not None:
        kwargs["validation_group"] = None if validation_group.lower() == "none" else validation_group
    return api.UpgradeOptions(**kwargs)


def _default_journal(cluster_name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / f"clusterlib-upgrade-{cluster_name}-{stamp}.json"


def _resume_hint(journal: Path | str, target: Target) -> str:
    import shlex

    return shlex.join(["clusterlib", "upgrade", "resume", str(journal), *target.sim_args()])


# --- plan ------------------------------------------------------------------------------------------

@connection_options
def upgrade_plan(
    target: Target,
    command: CommandOpt = None,
    manual: ManualOpt = False,
    order: OrderOpt = None,
    target_version: VersionOpt = None,
    failback: FailbackOpt = "end",
    max_failed_nodes: MaxFailedOpt = 0,
    validation_group: ValidationOpt = None,
    raise_functional_level: LevelOpt = False,
    json: JsonOpt = False,
) -> None:
    """Dry run: the preflight checks, the steps in order and the exact commands. Changes nothing."""
    from clusterlib_cli import render

    api = _upgrade_api()
    action = _action(api, target, command, manual)  # a usage error needs no connection
    with _connected(target) as cluster:
        upgrade = api.RollingUpgrade(
            cluster, action=action,
            options=_options(api, cluster, target, order=order, target_version=target_version,
                             failback=failback, max_failed_nodes=max_failed_nodes,
                             validation_group=validation_group,
                             raise_functional_level=raise_functional_level))
        plan = upgrade.plan()
        render.out(plan.to_json() if json else plan.to_text())
        if not plan.ok:
            raise typer.Exit(render.REFUSED)  # a preflight check failed: documented exit 1


# --- run / resume ------------------------------------------------------------------------------------

class StopAtBoundary(BaseException):
    """Raised from our PhaseFinished subscriber after Ctrl-C: the engine has just journaled the
    step as finished, so the run ends exactly between two steps. A BaseException on purpose:
    the engine's event bus contains a subscriber's ordinary exceptions, and this one must get
    through it to end the run."""


class _StopOnInterrupt:
    """First Ctrl-C: stop at the next step boundary. Second: interrupt at once (the journal
    still resumes it: every step is journaled before it starts)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: Any) -> None:
        from clusterlib_cli import render

        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        render.warn("Ctrl-C: stopping after the current step (Ctrl-C again to interrupt now)")

    def on_upgrade_event(self, event: Any) -> None:
        if self.requested and type(event).__name__ in ("PhaseFinished", "RunStarted"):
            raise StopAtBoundary


def _phase_timeouts(options: Any) -> dict[str, float]:
    return {"drain": options.drain_timeout, "action": options.action_timeout,
            "reboot": options.reboot_timeout, "verify": options.rejoin_timeout}


def _drive(upgrade: Any, cluster: Any, target: Target, *, journal: Path, notify: str | None,
           html: Path | None, json: bool, resume: bool) -> None:
    """Run (or resume) with progress, webhook and safe Ctrl-C, then present the report."""
    from clusterlib_cli import render
    from clusterlib_cli.notify import Notifier
    from clusterlib_cli.progress import Progress

    progress = Progress(f"{'Resuming' if resume else 'Rolling'} upgrade of {cluster.name}",
                        time_scale=cluster.time_scale)
    progress.timeouts = _phase_timeouts(upgrade.options)
    notifier = Notifier(notify) if notify else None
    stopper = _StopOnInterrupt()
    unsubscribe = [upgrade.subscribe(progress.on_upgrade_event),
                   cluster.subscribe(progress.on_cluster_event)]
    if notifier is not None:
        unsubscribe.append(upgrade.subscribe(notifier.on_upgrade_event))
    unsubscribe.append(upgrade.subscribe(stopper.on_upgrade_event))  # last: others see the event
    report: Any = None
    failure: BaseException | None = None
    hint = _resume_hint(journal, target)
    try:
        with stopper, progress:
            report = upgrade.run()
    except StopAtBoundary:
        report = upgrade.report()
        failure = StopAtBoundary()
    except KeyboardInterrupt:
        render.info(f"interrupted mid-step; the journal is kept. Resume with: {hint}")
        raise
    except Exception as exc:
        report = getattr(exc, "report", None)
        failure = exc
        raise
    finally:
        for stop in unsubscribe:
            stop()
        if notifier is not None:
            outcome = ("stopped (Ctrl-C)" if isinstance(failure, StopAtBoundary)
                       else getattr(report, "outcome", "failed"))
            notifier.send(f"clusterlib: upgrade of {cluster.name}: {outcome}",
                          {"outcome": outcome, "journal": str(journal)})
            notifier.close()
            problem = notifier.summary()
            if problem:
                render.warn(problem)
        if html is not None and report is not None:
            from clusterlib.html import report_document

            html.write_text(report_document(report), encoding="utf-8")
            render.info(f"HTML report written to {html}")
        if report is not None:
            render.out("")
            render.out(report.to_json() if json else report.to_text())
        if failure is not None and report is not None and getattr(report, "outcome", "") != "completed":
            render.info(f"Resume with: {hint}")
    if isinstance(failure, StopAtBoundary):
        render.info("stopped safely between two steps at your request")
        raise typer.Exit(4)


@connection_options
def upgrade_run(
    target: Target,
    command: CommandOpt = None,
    manual: ManualOpt = False,
    order: OrderOpt = None,
    target_version: VersionOpt = None,
    failback: FailbackOpt = "end",
    max_failed_nodes: MaxFailedOpt = 0,
    validation_group: ValidationOpt = None,
    raise_functional_level: LevelOpt = False,
    journal: JournalOpt = None,
    notify: NotifyOpt = None,
    html: HtmlOpt = None,
    yes: YesOpt = False,
    json: JsonOpt = False,
) -> None:
    """Run a rolling upgrade: node by node drain, upgrade, reboot, verify, resume; then failback."""
    from clusterlib_cli import render

    api = _upgrade_api()
    action = _action(api, target, command, manual)  # a usage error needs no connection
    with _connected(target) as cluster:
        path = journal or _default_journal(cluster.name)
        upgrade = api.RollingUpgrade(
            cluster, action=action, journal=path,
            options=_options(api, cluster, target, order=order, target_version=target_version,
                             failback=failback, max_failed_nodes=max_failed_nodes,
                             validation_group=validation_group,
                             raise_functional_level=raise_functional_level))
        plan = upgrade.plan()
        if not plan.ok:
            render.out(plan.to_text())
            raise api.PreflightFailed(plan.failed_checks)
        render.confirm(f"Upgrade every node of {cluster.name} ({' -> '.join(plan.order)}),"
                       f" journal {path}?", yes=yes)
        _drive(upgrade, cluster, target, journal=path, notify=notify, html=html, json=json,
               resume=False)


@connection_options
def upgrade_resume(
    journal: Annotated[Path, typer.Argument(dir_okay=False, help="The run's journal file.")],
    target: Target,
    command: CommandOpt = None,
    notify: NotifyOpt = None,
    html: HtmlOpt = None,
    yes: YesOpt = False,
    json: JsonOpt = False,
) -> None:
    """Continue a stopped or interrupted run from its journal."""
    from clusterlib_cli import render

    api = _upgrade_api()
    with _connected(target) as cluster:
        kwargs: dict[str, Any] = {"journal": journal}
        if command:
            kwargs["action"] = api.RemoteCommand(command)
        upgrade = api.RollingUpgrade.from_journal(cluster, **kwargs)
        render.confirm(f"Resume the upgrade of {cluster.name} from {journal}?", yes=yes)
        _drive(upgrade, cluster, target, journal=journal, notify=notify, html=html, json=json,
               resume=True)


def upgrade_report(
    journal: Annotated[Path, typer.Argument(dir_okay=False, help="The run's journal file.")],
    html: HtmlOpt = None,
    json: JsonOpt = False,
) -> None:
    """The report of a run, from its journal (no cluster needed)."""
    from clusterlib_cli import render

    api = _upgrade_api()
    report = api.Report.from_journal(journal)
    if html is not None:
        from clusterlib.html import report_document

        html.write_text(report_document(report), encoding="utf-8")
        render.info(f"HTML report written to {html}")
    render.out(report.to_json() if json else report.to_text())


# --- lock ----------------------------------------------------------------------------------------------

@connection_options
def lock_show(target: Target, json: JsonOpt = False) -> None:
    """Who holds the cluster's upgrade lock, if anyone."""
    from clusterlib_cli import render

    api = _upgrade_api()
    with _connected(target) as cluster:
        lock = api.read_lock(cluster)
        if json:
            render.emit_json({"schema": "clusterlib.lock/1", "cluster": cluster.name,
                              "locked": lock is not None,
                              "lock": lock.to_dict() if lock is not None else None})
        else:
            render.out(f"{cluster.name}: " + (f"locked by {lock.describe()}" if lock else "not locked"))


@connection_options
def lock_break(
    target: Target,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded on the cluster).")],
    journal: Annotated[Path | None, typer.Option("--journal", dir_okay=False,
                       help="Also record the break in this run's journal.")] = None,
    yes: YesOpt = False,
) -> None:
    """Remove a stale upgrade lock (audited). Make sure the run that holds it is dead first."""
    from clusterlib_cli import render

    if not reason.strip():
        raise typer.BadParameter("--reason must say why", param_hint="'--reason'")
    api = _upgrade_api()
    with _connected(target) as cluster:
        lock = api.read_lock(cluster)
        if lock is None:
            render.out(f"{cluster.name}: not locked; nothing to break")
            return
        render.confirm(f"Break the upgrade lock of {lock.describe()}?", yes=yes)
        api.break_lock(cluster, reason=reason, journal=journal)
        render.out(f"{cluster.name}: lock of {lock.describe()} broken ({reason})")


# --- demo ----------------------------------------------------------------------------------------------

def demo(
    speed: Annotated[float, typer.Option("--speed", min=0.001, help="Simulated seconds per"
                                         " wall-clock second.")] = 150.0,
    html: HtmlOpt = None,
    journal: JournalOpt = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """The classic two-node Windows 2000 -> 2003 rolling upgrade, on the embedded simulator."""
    import importlib.util
    import tempfile

    from clusterlib_cli import render
    from clusterlib_cli.options import build_sim, make_target, open_cluster

    api = _upgrade_api()
    path = journal or Path(tempfile.mkdtemp(prefix="clusterlib-demo-")) / "journal.json"
    layouts = ["classic", "classic-2012r2"]
    if importlib.util.find_spec("clusterlib.dialects.clusterexe") is None:
        layouts.pop(0)  # the cluster.exe dialect is what drives Windows 2000
        render.warn("this build has no cluster.exe dialect; the demo uses the classic layout on"
                    " Windows Server 2012 R2 instead")
    for layout in layouts:
        target = make_target(sim=layout, speed=speed, debug=debug)
        sim = build_sim(target)
        cluster = open_cluster(target, sim)
        upgrade = api.RollingUpgrade(cluster, action=api.RemoteCommand(SIM_DEFAULT_COMMAND),
                                     journal=path, options=api.UpgradeOptions(target=sim.upgrade_to))
        plan = upgrade.plan()
        if plan.ok or layout == layouts[-1]:
            break
        # Say so rather than hide it: the Windows 2000 layout should run; this build refuses it.
        render.warn("the Windows 2000 classic layout does not pass preflight in this build ("
                    + "; ".join(f"{c.name}: {c.message}" for c in plan.failed_checks)
                    + "); the demo uses the same layout on Windows Server 2012 R2 instead")
        cluster.close()
    with contextlib.closing(cluster):
        render.print_status(cluster.snapshot(owners=True), dialect=cluster.dialect,
                            endpoint=cluster.transport.endpoint)
        render.out("")
        render.out(plan.to_text())
        render.out("")
        _drive(upgrade, cluster, target, journal=path, notify=None, html=html, json=False,
               resume=False)
        render.out("")
        render.print_status(cluster.snapshot(owners=True), dialect=cluster.dialect,
                            endpoint=cluster.transport.endpoint)


def register(app: typer.Typer, upgrade_app: typer.Typer, lock_app: typer.Typer) -> None:
    upgrade_app.command("plan")(upgrade_plan)
    upgrade_app.command("run")(upgrade_run)
    upgrade_app.command("resume")(upgrade_resume)
    upgrade_app.command("report")(upgrade_report)
    lock_app.command("show")(lock_show)
    lock_app.command("break")(lock_break)
    app.command("demo")(demo)
