"""The upgrade commands' options, declared once, and what they become: the action and UpgradeOptions.

``upgrade plan`` and ``upgrade run`` take the same options for how each node is upgraded and how
the run behaves; they are the fields of :class:`UpgradeArgs`, which ``@upgrade_options`` expands
into the command's signature (as ``@connection_options`` does for the connection).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clusterlib_cli.options import OUTPUT_PANEL, JsonOpt, YesOpt, option_bundle

if TYPE_CHECKING:
    import clusterlib
    from clusterlib.sim import SimCluster
    from clusterlib.upgrade import UpgradeAction, UpgradeOptions
    from clusterlib_cli.target import Target

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
    "--failback", help="end: groups go back to their original owners by the end (a finished"
    " node's while a later node installs); each: after every node.", rich_help_panel=UPGRADE_PANEL)]
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
DrainAheadOpt = Annotated[bool, typer.Option(
    "--drain-ahead", help="While a node installs, move the next node's groups away too, so its"
    " drain finds nothing and its installer starts at once (shorter runs). Meanwhile the other"
    " N-2 nodes carry every group; the emptied node stays Up. Skipped on 3 nodes or fewer.",
    rich_help_panel=UPGRADE_PANEL)]
FORCE_DRAIN_TEXT = ("--force-drain: each drain is forced (Suspend-ClusterNode -ForceDrain). A group"
                    " that cannot be moved safely is STOPPED and moved as a failed role, and the"
                    " node is paused anyway. clusterlib then moves such a group back where it was"
                    " Online or stops the run; the run is at best DEGRADED (exit 5).")
JournalOpt = Annotated[Path | None, typer.Option(
    "--journal", dir_okay=False, help="Where to write the run journal (default:"
    " ./clusterlib-upgrade-CLUSTER-TIMESTAMP.json).", rich_help_panel=UPGRADE_PANEL)]
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



@dataclass(frozen=True)
class UpgradeArgs:
    """The options ``upgrade plan`` and ``upgrade run`` share: how each node is upgraded
    (--command or --manual), the run's options and its policies."""

    command: str | None = None
    manual: bool = False
    order: str | None = None
    target_version: str | None = None
    failback: str = "end"
    max_failed_nodes: int = 0
    validation_group: str | None = None
    raise_functional_level: bool = False
    max_retries_per_node: int | None = None
    drain_timeout: float | None = None
    reboot_timeout: float | None = None
    rejoin_timeout: float | None = None
    move_timeout: float | None = None
    require_all_nodes_online: bool = True
    force_drain: bool = False
    drain_ahead: bool = False

    def check(self, target: Target) -> None:
        """Usage errors that need no connection."""
        check_action_options(target, self.command, self.manual)

    def action(self, target: Target, cluster: clusterlib.Cluster) -> UpgradeAction:
        """What upgrades each node: --manual, --command, or the simulator's stand-in installer."""
        return make_action(target, cluster, self.command, self.manual)

    def upgrade_options(self, target: Target, cluster: clusterlib.Cluster) -> UpgradeOptions:
        """The engine's UpgradeOptions (the library's defaults where an option was not given;
        on the simulator the target version defaults to its upgrade release)."""
        from clusterlib.upgrade import UpgradeOptions

        if self.failback not in ("end", "each"):
            raise typer.BadParameter("--failback is 'end' or 'each'", param_hint="'--failback'")
        version: Any = self.target_version
        if version is None and target.is_sim:
            sim = simulator_of(cluster)
            version = sim.upgrade_to if sim is not None else None  # TargetVersion.parse reads it
        kwargs: dict[str, Any] = {"failback": self.failback,
                                  "max_failed_nodes": self.max_failed_nodes,
                                  "raise_functional_level": self.raise_functional_level}
        if self.order:
            kwargs["order"] = tuple(n.strip() for n in self.order.split(",") if n.strip())
        if version is not None:
            kwargs["target"] = version
        if self.validation_group is not None:
            kwargs["validation_group"] = (None if self.validation_group.lower() == "none"
                                          else self.validation_group)
        policies = {"retries_per_node": self.max_retries_per_node,
                    "drain_timeout": self.drain_timeout, "reboot_timeout": self.reboot_timeout,
                    "require_all_up": self.require_all_nodes_online,
                    "rejoin_timeout": self.rejoin_timeout, "force_drain": self.force_drain or None,
                    "drain_ahead": self.drain_ahead or None}
        kwargs.update({name: value for name, value in policies.items() if value is not None})
        return UpgradeOptions(**kwargs)

    def apply_move_timeout(self, cluster: clusterlib.Cluster) -> None:
        """``--move-timeout``: how long the handles wait for a moved group to be Online (the
        cluster's move wait policy; the engine's moves go through the same handles)."""
        if self.move_timeout is not None:
            import attrs

            policies = cluster.policies
            cluster.policies = attrs.evolve(policies, move_wait=attrs.evolve(
                policies.move_wait, timeout=self.move_timeout))


_UPGRADE_OPTIONS: dict[str, Any] = {
    "command": CommandOpt, "manual": ManualOpt, "order": OrderOpt, "target_version": VersionOpt,
    "failback": FailbackOpt, "max_failed_nodes": MaxFailedOpt, "validation_group": ValidationOpt,
    "raise_functional_level": LevelOpt, "max_retries_per_node": RetriesOpt,
    "drain_timeout": DrainTimeoutOpt, "reboot_timeout": RebootTimeoutOpt,
    "rejoin_timeout": RejoinTimeoutOpt, "move_timeout": MoveTimeoutOpt,
    "require_all_nodes_online": RequireAllOpt, "force_drain": ForceDrainOpt,
    "drain_ahead": DrainAheadOpt}

#: ``@upgrade_options``: a command's ``upgrade: UpgradeArgs`` parameter becomes these options.
upgrade_options = option_bundle("upgrade", UpgradeArgs, {
    f.name: (_UPGRADE_OPTIONS[f.name], f.default) for f in dataclasses.fields(UpgradeArgs)})


def check_action_options(target: Target, command: str | None, manual: bool) -> None:
    """--command or --manual, not both; one of them except on the simulator."""
    if manual and command:
        raise typer.BadParameter("give --command or --manual, not both", param_hint="'--manual'")
    if not manual and not command and not target.is_sim:
        raise typer.BadParameter("say how to upgrade each node: --command LINE or --manual",
                                 param_hint="'--command'")


def simulator_of(cluster: clusterlib.Cluster) -> SimCluster | None:
    """The embedded simulator behind ``cluster`` (None for a real one)."""
    sim: SimCluster | None = getattr(cluster.transport, "sim", None)
    return sim


def sim_command(sim: SimCluster | None) -> str:
    """The stand-in installer line for a simulated cluster, by the release it upgrades to:
    Windows 2000 and 2003 (NT 5.x) media start winnt32.exe, later media setup.exe."""
    release = getattr(sim, "upgrade_to", None)
    return SIM_LEGACY_COMMAND if release is not None and release.os.major < 6 \
        else SIM_DEFAULT_COMMAND


def command_action(cluster: clusterlib.Cluster, line: str) -> UpgradeAction:
    """The action for an installer line: the library's choice for this cluster (WMI from the
    management host for nodes without WinRM, e.g. Windows 2000; WinRM on the node otherwise)."""
    from clusterlib.upgrade import default_action

    return default_action(line, cluster.snapshot())


def make_action(target: Target, cluster: clusterlib.Cluster, command: str | None,
                manual: bool) -> UpgradeAction:
    """--manual (a person upgrades each node and confirms at the terminal), --command LINE, or
    on the simulator its stand-in installer."""
    check_action_options(target, command, manual)
    if manual:
        from clusterlib.upgrade import ManualAction
        from clusterlib_cli import render

        def ask(node: str, prompt: str) -> bool:
            if not sys.stdin.isatty():
                return False
            return typer.confirm(f"{render.visible(prompt)} Done, and did it succeed?",
                                 default=False, err=True)

        return ManualAction("Upgrade {node} now (it is drained and paused), then confirm.",
                            ask=ask)
    return command_action(cluster, command or sim_command(simulator_of(cluster)))


def action_args(action: UpgradeAction | None) -> list[str]:
    """The options a resume needs to name this run's action: ``--command LINE`` (it must match
    the recorded line), ``--manual``, or nothing (a secret line: the caller supplies it)."""
    doc = action.to_dict() if action is not None else {}
    if doc.get("kind") == "manual":
        return ["--manual"]
    if doc.get("kind") in ("remote-command", "wmic") and not doc.get("secret") and doc.get("line"):
        return ["--command", str(doc["line"])]
    return []


NotifyOpt = Annotated[str | None, typer.Option(
    "--notify", metavar="URL", help="POST each phase event and the summary as JSON (Slack/Teams"
    " incoming-webhook shape) to URL; never blocks or fails the run.", rich_help_panel=OUTPUT_PANEL)]
NotifyOnOpt = Annotated[str | None, typer.Option(
    "--notify-on", metavar="KINDS", help="Which messages --notify sends, comma-separated: start,"
    " step (each phase), warn (warnings, retries, waits for you), stop (the summary of a run that"
    " did not complete), finish (the final summary: outcome, placement, downtime, report path);"
    " default all.", rich_help_panel=OUTPUT_PANEL)]
HtmlOpt = Annotated[Path | None, typer.Option(
    "--html", dir_okay=False, help="Also write the report as a self-contained HTML file.",
    rich_help_panel=OUTPUT_PANEL)]

@dataclass(frozen=True)
class RunReporting:
    """What ``upgrade run`` and ``upgrade resume`` share besides the connection: where the run's
    results go (--notify, --notify-on, --html, --json) and --yes."""

    notify: str | None = None
    notify_on: str | None = None
    html: Path | None = None
    yes: bool = False
    json: bool = False

    def categories(self) -> frozenset[str]:
        """What --notify sends (--notify-on, parsed); usage errors for a URL that is not http(s)
        or --notify-on without --notify."""
        from clusterlib_cli.notify import parse_categories

        notify, notify_on = self.notify, self.notify_on
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


#: ``@reporting_options``: a command's ``reporting: RunReporting`` parameter becomes these options.
reporting_options = option_bundle("reporting", RunReporting, {
    "notify": (NotifyOpt, None), "notify_on": (NotifyOnOpt, None), "html": (HtmlOpt, None),
    "yes": (YesOpt, False), "json": (JsonOpt, False)})
