"""Upgrade commands (upgrade plan/run/resume/report, lock show/break, demo): thin calls into the engine.

Ctrl-C or SIGTERM during a run asks the engine to stop at the next step boundary (the cluster is
never left mid-move); a second one interrupts at once, and the engine journals the step's real
end. Either way the report is printed with the exact ``clusterlib upgrade resume`` command that
works (every connection option but the secrets), and a safe stop exits 4. A run on a fresh
embedded simulator cannot be resumed (its cluster lived in the process): the CLI says so and
how to rehearse a resume against ``clusterlib sim serve`` instead of printing a command that
would resume against a different, fresh cluster.
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

from clusterlib_cli.options import PASSWORD_ENV, Target, connection_options

if TYPE_CHECKING:
    import clusterlib

UPGRADE_PANEL = "Upgrade"
#: The stand-in installers of a simulated run (the simulator's default installer pattern takes
#: both): Windows 2000/2003 media start winnt32.exe from i386, later media setup.exe.
SIM_DEFAULT_COMMAND = r"D:\setup.exe /unattend"
SIM_LEGACY_COMMAND = r"D:\i386\winnt32.exe /unattend"

CommandOpt = Annotated[str | None, typer.Option(
    "--command", help="The installer command line run on each drained node (cmd.exe, on the"
    " node itself). Default on the simulator: a stand-in installer.", rich_help_panel=UPGRADE_PANEL)]
ManualOpt = Annotated[bool, typer.Option(
    "--manual", help="A person upgrades each node: the run waits, drained, until you confirm at"
    " the prompt.", rich_help_panel=UPGRADE_PANEL)]
OrderOpt = Annotated[str | None, typer.Option(
    "--order", help="Comma-separated node order (default: node ID order, node 1 first).",
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
ForceDrainOpt = Annotated[bool, typer.Option(
    "--force-drain", help="Force each drain (Suspend-ClusterNode -ForceDrain; -ForceEvacuation on"
    " 2012; CAU -ForcePauseAndDrain): a group that cannot move safely is STOPPED and moved as a"
    " failed role, and the node is paused anyway. Refused where the cluster has no forced drain"
    " (2008 R2, cluster.exe). Asks for its own confirmation.", rich_help_panel=UPGRADE_PANEL)]
FORCE_DRAIN_TEXT = ("--force-drain: each drain is forced (Suspend-ClusterNode -ForceDrain). A group"
                    " that cannot be moved safely is STOPPED and moved as a failed role, and the"
                    " node is paused anyway. clusterlib then moves such a group back where it was"
                    " Online or stops the run; the run is at best DEGRADED (exit 5).")
JournalOpt = Annotated[Path | None, typer.Option(
    "--journal", dir_okay=False, help="Where to write the run journal (default:"
    " ./clusterlib-upgrade-CLUSTER-TIMESTAMP.json).", rich_help_panel=UPGRADE_PANEL)]
NotifyOpt = Annotated[str | None, typer.Option(
    "--notify", metavar="URL", help="POST each phase event and the summary as JSON (Slack/Teams"
    " incoming-webhook shape) to URL; never blocks or fails the run.", rich_help_panel="Output")]
NotifyOnOpt = Annotated[str | None, typer.Option(
    "--notify-on", metavar="KINDS", help="Which messages --notify sends, comma-separated: start,"
    " step (each phase), warn (warnings, retries, waits for you), stop (the summary of a run that"
    " did not complete), finish (the final summary: outcome, placement, downtime, report path);"
    " default all.", rich_help_panel="Output")]
HtmlOpt = Annotated[Path | None, typer.Option(
    "--html", dir_okay=False, help="Also write the report as a self-contained HTML file.",
    rich_help_panel="Output")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.",
                                       rich_help_panel="Output")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Print what would be done (the exact commands) and change nothing.")]
POLICY_PANEL = "Run policies"
RetriesOpt = Annotated[int | None, typer.Option(
    "--max-retries-per-node", min=0, help="Retries of a node's failed step before the node"
    " counts as failed (CAU MaxRetriesPerNode; library default 1).", rich_help_panel=POLICY_PANEL)]
DrainTimeoutOpt = Annotated[float | None, typer.Option(
    "--drain-timeout", min=1, help="Seconds a node's drain may take (library default 1800).",
    rich_help_panel=POLICY_PANEL)]
RebootTimeoutOpt = Annotated[float | None, typer.Option(
    "--reboot-timeout", min=1, help="Seconds a node may take to go down and come back after its"
    " installer (library default 3600).", rich_help_panel=POLICY_PANEL)]
RejoinTimeoutOpt = Annotated[float | None, typer.Option(
    "--rejoin-timeout", min=1, help="Seconds a resumed node may take to be Up again (library"
    " default 900).", rich_help_panel=POLICY_PANEL)]
MoveTimeoutOpt = Annotated[float | None, typer.Option(
    "--move-timeout", min=1, help="Seconds one group may take to be Online on its new node"
    " (default 300). A connection policy, not journaled: give it again to resume.",
    rich_help_panel=POLICY_PANEL)]
RequireAllOpt = Annotated[bool, typer.Option(
    "--require-all-nodes-online/--allow-nodes-offline", help="Refuse to start unless every node"
    " is Up (the default; CAU RequireAllNodesOnline).", rich_help_panel=POLICY_PANEL)]
StopAfterOpt = Annotated[float | None, typer.Option(
    "--stop-after", min=1, metavar="SECONDS", help="Stop safely at the next step boundary once"
    " the run has taken this long (CAU StopAfter); resume later.", rich_help_panel=POLICY_PANEL)]
WarnAfterOpt = Annotated[float | None, typer.Option(
    "--warn-after", min=1, metavar="SECONDS", help="Warn once the run has taken this long (CAU"
    " WarnAfter).", rich_help_panel=POLICY_PANEL)]
PreUpdateOpt = Annotated[str | None, typer.Option(
    "--pre-update", metavar="LINE", help="A command run on each drained node before its installer"
    " (CAU PreUpdateScript); a failure stops the run safely.", rich_help_panel=POLICY_PANEL)]
VerifyOpt = Annotated[str | None, typer.Option(
    "--verify", metavar="LINE", help="A command run on each upgraded node before groups return"
    " to it (CAU PostUpdateScript); a failure stops the run safely.", rich_help_panel=POLICY_PANEL)]


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


def _check_action_options(target: Target, command: str | None, manual: bool) -> None:
    """Usage errors that need no connection."""
    if manual and command:
        raise typer.BadParameter("give --command or --manual, not both", param_hint="'--manual'")
    if not manual and not command and not target.is_sim:
        raise typer.BadParameter("say how to upgrade each node: --command LINE or --manual",
                                 param_hint="'--command'")


def sim_command(sim: Any) -> str:
    """The stand-in installer line for a simulated cluster (by the release it upgrades to)."""
    release = getattr(getattr(sim, "upgrade_to", None), "key", None) or str(
        getattr(sim, "upgrade_to", "") or "")
    return SIM_LEGACY_COMMAND if str(release).upper() in ("2000", "2003") else SIM_DEFAULT_COMMAND


def _command_action(api: Any, cluster: Any, line: str) -> Any:
    """The action for an installer line: the library's choice for this cluster (WMI from the
    management host for nodes without WinRM, e.g. Windows 2000; WinRM on the node otherwise)."""
    factory = getattr(api, "default_action", None)
    if factory is None:
        return api.RemoteCommand(line)
    return factory(line, cluster.snapshot())


def _action(api: Any, target: Target, cluster: Any, command: str | None, manual: bool) -> Any:
    _check_action_options(target, command, manual)
    if manual:
        def ask(node: str, prompt: str) -> bool:
            if not sys.stdin.isatty():
                return False
            return typer.confirm(f"{_visible(prompt)} Done, and did it succeed?",
                                 default=False, err=True)

        return api.ManualAction("Upgrade {node} now (it is drained and paused), then confirm.",
                                ask=ask)
    if command:
        return _command_action(api, cluster, command)
    return _command_action(api, cluster, sim_command(getattr(cluster.transport, "sim", None)))


def _visible(text: str) -> str:
    from clusterlib_cli import render

    return render.visible(text)


def _options(api: Any, cluster: Any, target: Target, *, order: str | None,
             target_version: str | None, failback: str, max_failed_nodes: int,
             validation_group: str | None, raise_functional_level: bool,
             policies: dict[str, Any] | None = None) -> Any:
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
    for name, value in (policies or {}).items():
        if value is not None:
            kwargs[name] = value
    return api.UpgradeOptions(**kwargs)


def _policies(retries: int | None, drain_timeout: float | None, reboot_timeout: float | None,
              require_all: bool, rejoin_timeout: float | None = None) -> dict[str, Any]:
    """The run-policy options under the library's UpgradeOptions field names."""
    return {"retries_per_node": retries, "drain_timeout": drain_timeout,
            "reboot_timeout": reboot_timeout, "require_all_up": require_all,
            "rejoin_timeout": rejoin_timeout}


def _with_move_timeout(cluster: clusterlib.Cluster, seconds: float | None) -> None:
    """``--move-timeout``: how long the handles wait for a moved group to be Online (the
    cluster's move wait policy; the engine's moves go through the same handles)."""
    if seconds is not None:
        import attrs

        policies = cluster.policies
        cluster.policies = attrs.evolve(policies, move_wait=attrs.evolve(policies.move_wait,
                                                                         timeout=seconds))


def _default_journal(cluster_name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / f"clusterlib-upgrade-{cluster_name}-{stamp}.json"


def action_args(action: Any) -> list[str]:
    """The options a resume needs to name this run's action: ``--command LINE`` (it must match
    the recorded line), ``--manual``, or nothing (a secret line: the caller supplies it)."""
    doc = action.to_dict() if hasattr(action, "to_dict") else {}
    if doc.get("kind") == "manual":
        return ["--manual"]
    if doc.get("kind") in ("remote-command", "wmic") and not doc.get("secret") and doc.get("line"):
        return ["--command", str(doc["line"])]
    return []


def resume_command(journal: Path | str, target: Target, extra: list[str] | None = None) -> str:
    """The exact command that resumes this run (never with a secret in it): the journal's
    absolute path, every connection option, and the action options the resume must match."""
    import shlex

    path = Path(journal).expanduser().absolute()
    return shlex.join(["clusterlib", "upgrade", "resume", str(path), *target.connection_args(),
                       *(extra or [])])


def resume_lines(journal: Path | str, target: Target, extra: list[str] | None = None) -> list[str]:
    """What to print after a stop: the command that works, or why there is none."""
    import shlex

    if target.is_sim:
        serve = shlex.join(["clusterlib", "sim", "serve", "--sim", target.layout, "--ssl"])
        return [f"This run was on a fresh embedded simulator (--sim {target.layout}): its cluster"
                " lived in this process and is gone, so it cannot be resumed (a new --sim would"
                " be a different, unchanged cluster).",
                f"To rehearse stop and resume, serve a simulator ({serve}), run the upgrade"
                " against it with the --host options it prints, and resume with the same"
                " options: clusterlib upgrade resume JOURNAL --host ..."]
    text = f"Resume with: {resume_command(journal, target, extra)}"
    if target.user and not target.password_stdin:
        text += f"   (password from ${PASSWORD_ENV}, or asked at the prompt)"
    return [text]


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
    max_retries_per_node: RetriesOpt = None,
    drain_timeout: DrainTimeoutOpt = None,
    reboot_timeout: RebootTimeoutOpt = None,
    rejoin_timeout: RejoinTimeoutOpt = None,
    move_timeout: MoveTimeoutOpt = None,
    require_all_nodes_online: RequireAllOpt = True,
    force_drain: ForceDrainOpt = False,
    json: JsonOpt = False,
) -> None:
    """Dry run: the preflight checks, the steps in order and the exact commands. Changes nothing."""
    from clusterlib_cli import render

    api = _upgrade_api()
    _check_action_options(target, command, manual)  # a usage error needs no connection
    with _connected(target) as cluster:
        _with_move_timeout(cluster, move_timeout)
        upgrade = api.RollingUpgrade(
            cluster, action=_action(api, target, cluster, command, manual),
            options=_options(api, cluster, target, order=order, target_version=target_version,
                             failback=failback, max_failed_nodes=max_failed_nodes,
                             validation_group=validation_group,
                             raise_functional_level=raise_functional_level,
                             policies={**_policies(max_retries_per_node, drain_timeout,
                                                   reboot_timeout, require_all_nodes_online,
                                                   rejoin_timeout),
                                       "force_drain": force_drain or None}))
        plan = upgrade.plan()
        if json:
            render.out(render.mark_json_text(plan.to_json(), target))
        else:
            render.sim_banner(target)
            render.out(plan.to_text())
        if not plan.ok:
            raise typer.Exit(render.REFUSED)  # a preflight check failed: documented exit 1


# --- run / resume ------------------------------------------------------------------------------------

class StopAtBoundary(BaseException):
    """Raised from our PhaseFinished subscriber after Ctrl-C when the engine has no
    ``request_stop``: the engine has just journaled the step as finished, so the run ends
    exactly between two steps. A BaseException on purpose: the engine's event bus contains a
    subscriber's ordinary exceptions, and this one must get through it to end the run."""


_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class _StopOnInterrupt:
    """First Ctrl-C or SIGTERM: stop at the next step boundary. Second: interrupt at once (the
    engine journals the interrupted step's real end; resume re-checks it).

    SIGTERM (what ``kill``, systemd and container runtimes send) is handled exactly like Ctrl-C:
    its default action would end the process mid-step without a journal entry or a report.
    """

    def __init__(self, upgrade: Any = None) -> None:
        self.requested = False
        self.by: str | None = None
        self._upgrade = upgrade
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        from clusterlib_cli import render

        name = _SIGNAL_NAMES.get(signal.Signals(signum), f"signal {signum}")
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.by = name
        stop = getattr(self._upgrade, "request_stop", None)
        if stop is not None:
            stop()
        render.warn(f"{name}: stopping after the current step ({name} again to interrupt now)")

    def on_upgrade_event(self, event: Any) -> None:
        if not self.requested or hasattr(self._upgrade, "request_stop"):
            return  # the engine stops itself at its next boundary
        if type(event).__name__ in ("PhaseFinished", "RunStarted"):
            raise StopAtBoundary


def _phase_timeouts(options: Any) -> dict[str, float]:
    return {"drain": options.drain_timeout, "action": options.action_timeout,
            "reboot": options.reboot_timeout, "verify": options.rejoin_timeout}


def journal_failure(exc: BaseException | None) -> tuple[str, str] | None:
    """(file, reason) when ``exc`` or its cause is a failed journal write, else None.

    The engine reports it as ``JournalWriteFailed`` (with ``path``), or as a stop caused by an
    ``OSError``; a bare ``OSError`` naming a file is recognised too, so a full disk is never
    presented as an "unexpected OSError"."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ in ("JournalWriteFailed", "JournalTakenOver"):
            reason = str(exc)
            if exc.__cause__ is not None and isinstance(exc.__cause__, OSError):
                reason = exc.__cause__.strerror or str(exc.__cause__)
            return str(getattr(exc, "path", None) or "the journal"), reason
        if isinstance(exc, OSError) and (exc.filename or type(exc) is OSError):
            return str(exc.filename or "the journal"), exc.strerror or str(exc)
        exc = exc.__cause__ or exc.__context__
    return None


def _write_html(html: Path, report: Any, target: Target | None) -> None:
    import os

    from clusterlib_cli import render

    # 0600 like the journal: a report names nodes, groups and command lines.
    fd = os.open(str(html), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)  # O_CREAT's mode does not apply to an existing file
        fh.write(render.html_report(report, target))
    render.info(f"HTML report written to {html}")


def _print_report(report: Any, target: Target, json: bool) -> None:
    from clusterlib_cli import render

    render.out("")
    if json:
        render.out(render.mark_json_text(report.to_json(), target))
    else:
        render.sim_banner(target)
        render.out(report.to_text())


def final_summary(cluster: str, report: Any, outcome: str, journal: Path, html: Path | None,
                  target: Target) -> tuple[str, dict[str, Any]]:
    """The webhook's last message: outcome, groups off their original owner, each group's
    downtime, and where the journal and the report are."""
    doc: dict[str, Any] = {}
    if report is not None:
        import json as json_module

        try:
            doc = json_module.loads(report.to_json())
        except (TypeError, ValueError):
            doc = {}
    misplaced = doc.get("misplaced") or {}
    availability = doc.get("availability") or {}
    downtime: dict[str, Any] = {}
    if isinstance(availability, dict):
        groups = availability.get("groups", availability)
        if isinstance(groups, dict):
            for name, value in groups.items():
                total = (value.get("seconds", value.get("total")) if isinstance(value, dict)
                         else value)
                if isinstance(total, (int, float)):
                    downtime[str(name)] = round(float(total), 1)
    fields = {"outcome": outcome, "cluster": cluster, "message": doc.get("message"),
              "misplaced": misplaced, "downtime_seconds": downtime,
              "journal": str(Path(journal).absolute()),
              "report_html": str(Path(html).absolute()) if html is not None else None,
              "simulated": target.is_sim}
    worst = max(downtime.items(), key=lambda kv: kv[1], default=None)
    parts = [f"clusterlib: upgrade of {cluster}: {outcome.upper()}"]
    if doc.get("message"):
        parts.append(str(doc["message"]))
    parts.append(f"{len(misplaced)} group(s) off their original owner" if misplaced
                 else "every group on its original owner" if doc else "placement unknown")
    if worst is not None:
        parts.append(f"longest downtime {worst[0]} {worst[1]:g} s")
    if html is not None:
        parts.append(f"report {Path(html).absolute()}")
    if target.is_sim:
        parts.insert(0, "SIMULATED")
    return "; ".join(parts), fields


def _drive(upgrade: Any, cluster: Any, target: Target, *, journal: Path, notify: str | None,
           html: Path | None, json: bool, resume: bool, stop_after: float | None = None,
           warn_after: float | None = None, notify_on: frozenset[str] | None = None,
           plan: Any = None) -> None:
    """Run (or resume) with progress, webhook and safe Ctrl-C/SIGTERM, then present the truth:
    the report (whatever the outcome), where the run stopped, and the resume command."""
    from clusterlib_cli import render
    from clusterlib_cli.notify import Notifier
    from clusterlib_cli.progress import Progress

    progress = Progress(f"{'Resuming' if resume else 'Rolling'} upgrade of {cluster.name}",
                        time_scale=cluster.time_scale)
    progress.timeouts = _phase_timeouts(upgrade.options)
    if plan is not None:
        progress.set_plan(plan)
    notifier = Notifier(notify, categories=notify_on) if notify else None
    stopper = _StopOnInterrupt(upgrade)
    unsubscribe = [upgrade.subscribe(progress.on_upgrade_event),
                   cluster.subscribe(progress.on_cluster_event)]
    if notifier is not None:
        unsubscribe.append(upgrade.subscribe(notifier.on_upgrade_event))
    unsubscribe.append(upgrade.subscribe(stopper.on_upgrade_event))  # last: others see the event
    timers = _deadline_timers(upgrade, stopper, stop_after=stop_after, warn_after=warn_after)
    report: Any = None
    failure: BaseException | None = None
    try:
        with stopper, progress:
            report = upgrade.run()
    except StopAtBoundary as exc:
        report = upgrade.report()
        failure = exc
    except KeyboardInterrupt as exc:
        failure = exc
        report = _safe_report(upgrade)
    except Exception as exc:
        report = getattr(exc, "report", None) or _safe_report(upgrade)
        failure = exc
    finally:
        for timer in timers:
            timer.cancel()
        for stop in unsubscribe:
            stop()
    written = journal_failure(failure)
    stopped_by_us = stopper.requested and (
        isinstance(failure, StopAtBoundary) or _is_stop(failure))
    html_written = False
    if html is not None and report is not None:
        try:
            _write_html(html, report, target)
            html_written = True
        except OSError as exc:
            render.warn(f"could not write the HTML report {html}: {exc.strerror or exc}")
    if notifier is not None:
        outcome = (f"stopped ({stopper.by})" if stopped_by_us
                   else getattr(report, "outcome", None) or "failed")
        if notifier.wants_summary(outcome == "completed"):
            text, fields = final_summary(cluster.name, report, outcome, journal,
                                         html if html_written else None, target)
            notifier.send(text, fields)
        notifier.close()
        problem = notifier.summary()
        if problem:
            render.warn(problem)
    if report is not None:
        _print_report(report, target, json)
    if failure is None:
        code = render.exit_code_for_report(report)
        if code == render.FINISHED_WITH_PROBLEMS:
            # Every step ran but the report is not a clean completion: never exit 0 for it.
            render.info(f"the run finished {str(report.outcome).upper()}, not completed (see the"
                        f" report above); exit {code}")
            raise typer.Exit(code)
        return
    if written is not None and report is None and not Path(journal).exists():
        # The engine writes the journal before it takes the lock or changes anything.
        render.usage_line(f"the run's journal {written[0]} could not be created ({written[1]});"
                          " the run did not start and nothing was changed. Free space or fix the"
                          " file system (or choose another --journal), then run it again.")
        raise typer.Exit(render.REFUSED)
    outcome = str(getattr(report, "outcome", "") or "")
    if type(failure).__name__ == "LockLost":
        # Fenced out: another holder took the lock (a resume while this process was frozen, or
        # a broken lock). Resuming from here would fight it; say who holds the cluster now.
        holder = getattr(failure, "holder", None)
        describe = getattr(holder, "describe", None)
        who = describe() if callable(describe) else "nobody (the lock was removed)"
        render.info(f"This run no longer holds the cluster's upgrade lock; it now belongs to"
                    f" {render.visible(str(who))}. Nothing more was sent. Check that run before"
                    " resuming this journal.")
    elif outcome != "completed":
        for text in resume_lines(journal, target, action_args(upgrade.action)):
            render.info(text)
    if written is not None:
        path, reason = written
        render.usage_line(f"the run's journal {path} could not be written ({reason}).")
        then = ("then resume with the command above" if not target.is_sim
                else "(a run on a fresh simulator cannot be resumed, see above)")
        if _is_stop(failure):
            render.info("The run stopped safely before its next change: the cluster is as the"
                        f" report above shows. Free space or fix the file system, {then}.")
        else:
            render.info("The run stopped at once. See where every node and group is with: "
                        + _status_command(target) + f"; free space or fix the file system, {then}.")
        raise typer.Exit(render.STOPPED)
    if stopped_by_us:
        render.info(f"stopped safely between two steps at your request ({stopper.by}); exit 4")
        raise typer.Exit(render.STOPPED)
    if isinstance(failure, KeyboardInterrupt):
        # Not "safely": a step was cut short. The cluster may still finish what it was asked
        # (a move, a drain); the report above is what the run knew when it was interrupted.
        render.info(f"interrupted mid-step ({stopper.by or 'Ctrl-C'} twice): the journal records"
                    " where that step was, and the resume re-checks it against the live cluster"
                    " before going on; check the cluster with: " + _status_command(target)
                    + "; exit 4")
        raise typer.Exit(render.STOPPED)
    raise failure


def _is_stop(exc: BaseException | None) -> bool:
    from clusterlib_cli import render

    return exc is not None and render._is_resumable_stop(exc)


def _safe_report(upgrade: Any) -> Any:
    try:
        return upgrade.report()
    except Exception:  # no journal yet: nothing to report
        return None


def _status_command(target: Target) -> str:
    import shlex

    return shlex.join(["clusterlib", "status", *target.connection_args()])


def _deadline_timers(upgrade: Any, stopper: _StopOnInterrupt, *, stop_after: float | None,
                     warn_after: float | None) -> list[threading.Timer]:
    """--stop-after: stop at the next boundary once the run has taken that long (wall seconds,
    as CAU's StopAfter); --warn-after: say so once (CAU's WarnAfter)."""
    from clusterlib_cli import render

    timers: list[threading.Timer] = []
    if stop_after is not None:
        def stop() -> None:
            render.warn(f"--stop-after {stop_after:g} s reached: stopping after the current step")
            stopper.requested, stopper.by = True, "--stop-after"
            request = getattr(upgrade, "request_stop", None)
            if request is not None:
                request()

        timers.append(threading.Timer(stop_after, stop))
    if warn_after is not None:
        timers.append(threading.Timer(warn_after, render.warn, args=(
            f"--warn-after {warn_after:g} s: the run is taking longer than expected",)))
    for timer in timers:
        timer.daemon = True
        timer.start()
    return timers


def _run_kwargs(api: Any, *, pre_update: str | None, verify: str | None) -> dict[str, Any]:
    """--pre-update/--verify as the engine's hooks, when this build has them."""
    import inspect

    wanted = {"pre_update": pre_update, "verify": verify}
    wanted = {k: v for k, v in wanted.items() if v is not None}
    if not wanted:
        return {}
    params = inspect.signature(api.RollingUpgrade).parameters
    missing = [k for k in wanted if k not in params]
    if missing:
        from clusterlib import NotSupported

        raise NotSupported(f"{', '.join('--' + m.replace('_', '-') for m in missing)}: this"
                           " build's upgrade engine has no such hook")
    return wanted


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
    max_retries_per_node: RetriesOpt = None,
    drain_timeout: DrainTimeoutOpt = None,
    reboot_timeout: RebootTimeoutOpt = None,
    rejoin_timeout: RejoinTimeoutOpt = None,
    move_timeout: MoveTimeoutOpt = None,
    require_all_nodes_online: RequireAllOpt = True,
    force_drain: ForceDrainOpt = False,
    stop_after: StopAfterOpt = None,
    warn_after: WarnAfterOpt = None,
    pre_update: PreUpdateOpt = None,
    verify: VerifyOpt = None,
    journal: JournalOpt = None,
    notify: NotifyOpt = None,
    notify_on: NotifyOnOpt = None,
    html: HtmlOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    json: JsonOpt = False,
) -> None:
    """Run a rolling upgrade: node by node drain, upgrade, reboot, verify, resume; then failback."""
    from clusterlib_cli import render

    api = _upgrade_api()
    _check_action_options(target, command, manual)  # usage errors need no connection
    categories = _check_notify(notify, notify_on)
    hooks = _run_kwargs(api, pre_update=pre_update, verify=verify)
    with _connected(target) as cluster:
        _with_move_timeout(cluster, move_timeout)
        path = journal or _default_journal(cluster.name)
        options = _options(api, cluster, target, order=order, target_version=target_version,
                           failback=failback, max_failed_nodes=max_failed_nodes,
                           validation_group=validation_group,
                           raise_functional_level=raise_functional_level,
                           policies={**_policies(max_retries_per_node, drain_timeout,
                                                 reboot_timeout, require_all_nodes_online,
                                                 rejoin_timeout),
                                     "force_drain": force_drain or None})
        action = _action(api, target, cluster, command, manual)
        if dry_run:
            upgrade = api.RollingUpgrade(cluster, action=action, options=options, **hooks)
            plan = upgrade.plan()
            if json:
                render.out(render.mark_json_text(plan.to_json(), target))
            else:
                render.sim_banner(target)
                render.out(plan.to_text())
            render.info("--dry-run: nothing was changed (no lock, no journal); the commands above"
                        " are what a run would send")
            if not plan.ok:
                raise typer.Exit(render.REFUSED)
            return
        upgrade = api.RollingUpgrade(cluster, action=action, journal=path, options=options,
                                     **hooks)
        plan = upgrade.plan()
        if not plan.ok:
            render.out(plan.to_text())
            raise api.PreflightFailed(plan.failed_checks)
        if force_drain:
            # Loud, and its own question: it lets the cluster stop groups (CAU's
            # -ForcePauseAndDrain). --yes answers it too, but the warning is always shown.
            render.warn(FORCE_DRAIN_TEXT)
            render.confirm(f"Force-drain every node of {cluster.name}, stopping any group that"
                           " cannot move safely?", yes=yes)
        render.confirm(f"Upgrade every node of {cluster.name} ({' -> '.join(plan.order)}),"
                       f" journal {path}?", yes=yes)
        _drive(upgrade, cluster, target, journal=path, notify=notify, html=html, json=json,
               resume=False, stop_after=stop_after, warn_after=warn_after,
               notify_on=categories, plan=plan)


def _check_notify(notify: str | None, notify_on: str | None = None) -> frozenset[str]:
    from clusterlib_cli.notify import parse_categories

    if notify is not None and not notify.lower().startswith(("http://", "https://")):
        raise typer.BadParameter(f"{notify!r} is not an http(s) URL (e.g."
                                 " https://hooks.example.com/...)", param_hint="'--notify'")
    if notify_on is not None and notify is None:
        raise typer.BadParameter("--notify-on chooses what --notify URL sends; give --notify",
                                 param_hint="'--notify-on'")
    try:
        return parse_categories(notify_on)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--notify-on'") from None


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


def recorded_action(api: Any, journal: Path) -> Any:
    """The action the journal recorded, read through the journal module's trust checks
    (``clusterlib.upgrade.journal.recorded_action``; the loaded body where it is absent)."""
    from clusterlib.upgrade import journal as journal_module

    reader = getattr(journal_module, "recorded_action", None)
    if reader is not None:
        return reader(journal)
    return api.Journal.load(journal).body.get("action")


def _confirm_recorded_action(api: Any, journal: Path, command: str | None,
                             manual: bool = False) -> None:
    """Never run what a journal file says without the caller agreeing to exactly that: the
    file may have been edited and re-sealed by someone else. --command must match the recorded
    line, or a person confirms it at the terminal."""
    from clusterlib_cli import render

    doc = recorded_action(api, journal)
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
def upgrade_resume(
    journal: Annotated[Path, typer.Argument(dir_okay=False, help="The run's journal file.")],
    target: Target,
    command: Annotated[str | None, typer.Option(
        "--command", help="The installer command line: must match the one the journal recorded"
        " (shown before anything runs); without it you are asked to confirm the recorded one.",
        rich_help_panel=UPGRADE_PANEL)] = None,
    manual: ManualOpt = False,
    notify: NotifyOpt = None,
    notify_on: NotifyOnOpt = None,
    html: HtmlOpt = None,
    yes: YesOpt = False,
    json: JsonOpt = False,
) -> None:
    """Continue a stopped or interrupted run from its journal."""
    from clusterlib_cli import render

    api = _upgrade_api()
    categories = _check_notify(notify, notify_on)
    if not journal.exists():
        raise typer.BadParameter(f"{journal}: no such journal file", param_hint="'JOURNAL'")
    with _connected(target) as cluster:
        if manual and command:
            raise typer.BadParameter("give --command or --manual, not both",
                                     param_hint="'--manual'")
        kwargs: dict[str, Any] = {"journal": journal}
        if command:
            kwargs["action"] = _command_action(api, cluster, command)
        elif manual:
            kwargs["action"] = _action(api, target, cluster, None, True)
        upgrade = api.RollingUpgrade.from_journal(cluster, **kwargs)
        _confirm_recorded_action(api, journal, command, manual)
        render.confirm(f"Resume the upgrade of {cluster.name} from {journal}?", yes=yes)
        _drive(upgrade, cluster, target, journal=journal, notify=notify, html=html, json=json,
               resume=True, notify_on=categories)


def upgrade_report(
    journal: Annotated[Path, typer.Argument(dir_okay=False, help="The run's journal file.")],
    html: HtmlOpt = None,
    json: JsonOpt = False,
) -> None:
    """The report of a run, from its journal (no cluster needed)."""
    from clusterlib_cli import render

    api = _upgrade_api()
    if not journal.exists():
        raise typer.BadParameter(f"{journal}: no such journal file", param_hint="'JOURNAL'")
    report = api.Report.from_journal(journal)
    if html is not None:
        _write_html(html, report, None)
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
    from clusterlib_cli import render

    api = _upgrade_api()
    with _connected(target) as cluster:
        lock = api.read_lock(cluster)
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
    api = _upgrade_api()
    with _connected(target) as cluster:
        render.sim_banner(target)
        lock = api.read_lock(cluster)
        if lock is None:
            render.out(f"{cluster.name}: not locked; nothing to break")
            return
        if dry_run:
            render.out(f"would break the lock of {lock.describe()} on {cluster.name} (reason:"
                       f" {reason}); --dry-run: nothing was changed")
            return
        render.confirm(f"Break the upgrade lock of {lock.describe()}?", yes=yes)
        api.break_lock(cluster, reason=reason, journal=journal)
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
    from clusterlib_cli.options import build_sim, make_target, open_cluster

    api = _upgrade_api()
    scratch: Path | None = None
    if journal is None:
        scratch = Path(tempfile.mkdtemp(prefix="clusterlib-demo-"))
        path = scratch / "journal.json"
        render.info(f"journal: {path} (a temporary folder, removed when the demo ends; pass"
                    " --journal PATH to keep it)")
    else:
        path = journal
    try:
        target = make_target(sim="classic", speed=speed, debug=debug)
        sim = build_sim(target)
        cluster = open_cluster(target, sim)
        with contextlib.closing(cluster):
            snap = cluster.snapshot(owners=True)
            order = tuple(sorted(n.name for n in snap.nodes))  # NODE1 first, as the seed does
            action = _command_action(api, cluster, sim_command(sim))
            upgrade = api.RollingUpgrade(cluster, action=action, journal=path,
                                         options=api.UpgradeOptions(target=sim.upgrade_to,
                                                                    order=order))
            plan = upgrade.plan()
            render.sim_banner(target)
            render.print_status(snap, dialect=cluster.dialect,
                                endpoint=cluster.transport.endpoint)
            render.out("")
            render.out(plan.to_text())
            render.out("")
            if not plan.ok:
                raise api.PreflightFailed(plan.failed_checks)
            _drive(upgrade, cluster, target, journal=path, notify=None, html=html, json=False,
                   resume=False, plan=plan)
            render.out("")
            render.print_status(cluster.snapshot(owners=True), dialect=cluster.dialect,
                                endpoint=cluster.transport.endpoint)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
            render.info(f"removed the demo's temporary folder {scratch}")


def register(app: typer.Typer, upgrade_app: typer.Typer, lock_app: typer.Typer) -> None:
    upgrade_app.command("plan")(upgrade_plan)
    upgrade_app.command("run")(upgrade_run)
    upgrade_app.command("resume")(upgrade_resume)
    upgrade_app.command("report")(upgrade_report)
    upgrade_app.command("history")(upgrade_history)
    lock_app.command("show")(lock_show)
    lock_app.command("break")(lock_break)
    app.command("demo")(demo)
