"""The Typer app: each command a typed signature plus one library call; errors -> exit codes in one place.

Where things live: option declarations and the decorators that expand bundles of them in
``options`` (connection), ``upgrade_args`` (upgrades); the Target and its validation in ``target``,
profiles in ``profiles``, passwords in ``passwords``, opening the cluster in ``connect``; all output
and the invocation's output context in ``render``, the records' documents and tables in ``views``,
exit codes and the one-line form of a failure in ``failures``; the live display in ``progress``;
a run's drive (stops, report, resume command) in ``upgrade_drive``; webhooks in ``notify``.
Library modules are imported inside the commands, so ``clusterlib --help`` imports neither
clusterlib, the simulator, pypsrp nor rich's table machinery.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from clusterlib_cli.connect import connected
from clusterlib_cli.options import (
    SIM_LAYOUTS_HELP,
    DryRunOpt,
    Failback,
    JsonOpt,
    YesOpt,
    connection_options,
    option_bundle,
)
from clusterlib_cli.target import Target

if TYPE_CHECKING:
    import clusterlib
    from clusterlib_cli.progress import Progress
    from clusterlib_cli.render import RenderContext


class _App(TyperGroup):
    """The one place where exceptions become messages and exit codes (compare twine's main).

    Nested command groups run inside this ``invoke``, so every command of every sub-app is
    covered; Typer's own usage errors (exit 2) pass through untouched.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.BadParameter as exc:
            # A usage message can quote a journal's action line or a cluster's names: shown
            # escaped like every other line (Typer prints it as is).
            from clusterlib_cli import render

            exc.message = render.visible_lines(_ui(ctx).scrub(exc.message))
            raise
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            from clusterlib_cli import render

            _ui(ctx).info("interrupted; the last command may or may not have reached the cluster")
            raise typer.Exit(render.INTERRUPTED) from None
        except Exception as exc:
            raise typer.Exit(_ui(ctx).present_error(exc)) from None


def _ui(ctx: Any) -> RenderContext:
    """The invocation's output context (made by the app's callback; a fresh one if the error
    came before it ran)."""
    from clusterlib_cli.render import RenderContext

    found = ctx.find_object(RenderContext)
    return found if found is not None else RenderContext()


def _typer(name: str | None = None, help: str | None = None, *,
           completion: bool = False) -> typer.Typer:
    return typer.Typer(name=name, help=help, cls=_App, no_args_is_help=True,
                       pretty_exceptions_show_locals=False, add_completion=completion,
                       rich_markup_mode=None)


app = _typer(help="Drive Microsoft failover clusters over WinRM: status, drains, moves and"
             " rolling upgrades. Every command that needs a cluster takes --host (or"
             " CLUSTERLIB_HOST, or --profile), or --sim LAYOUT for the embedded simulator;"
             " `clusterlib demo` tries it all on the simulator.", completion=True)
node_app = _typer("node", "Pause (drain) and resume nodes.")
group_app = _typer("group", "Move groups between nodes.")
upgrade_app = _typer("upgrade", "Plan, run, resume and report rolling upgrades.")
lock_app = _typer("lock", "Show or break the cluster's upgrade lock.")
sim_app = _typer("sim", "The embedded simulator.")
for _sub in (node_app, group_app, upgrade_app, lock_app, sim_app):
    app.add_typer(_sub)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("clusterlib")
        except PackageNotFoundError:  # run from a source tree without installing
            text = "unknown (not installed)"
        typer.echo(f"clusterlib {text} (Python {sys.version.split()[0]})")
        raise typer.Exit(0)


@app.callback()
def _main(ctx: typer.Context, version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="Print the clusterlib version and exit.")] = False) -> None:
    """Drive Microsoft failover clusters over WinRM: status, drains, moves and rolling upgrades.
    Every command that needs a cluster takes --host (or CLUSTERLIB_HOST, or --profile), or --sim
    LAYOUT for the embedded simulator; `clusterlib demo` tries it all on the simulator."""
    from clusterlib_cli import render

    render.begin(ctx)  # this invocation's output state (--debug, secrets, consoles): ctx.obj

# --- shared plumbing -------------------------------------------------------------------------------

def _progress(cluster: clusterlib.Cluster, title: str) -> Progress:
    from clusterlib_cli.progress import Progress

    return Progress(title, time_scale=cluster.time_scale)


# --- reads -------------------------------------------------------------------------------------------

class Output(str, enum.Enum):
    table = "table"
    json = "json"
    yaml = "yaml"
    csv = "csv"


OutputOpt = Annotated[Output | None, typer.Option(
    "--output", "-o", case_sensitive=False, help="table (for people), json (the documented"
    " fields), yaml (the same document) or csv (one row per record, the JSON field names as"
    " the header).",
    rich_help_panel="Output")]


def _format(json: bool, output: Output | None) -> Output:
    if json and output not in (None, Output.json):
        raise typer.BadParameter("--json means --output json; give one of them",
                                 param_hint="'--output'")
    return Output.json if json else (output or Output.table)


def _emit_document(fmt: Output, doc: dict[str, Any], target: Target) -> bool:
    """Print ``doc`` when the format is a document (JSON, YAML); False for the other formats."""
    from clusterlib_cli import render

    if fmt not in (Output.json, Output.yaml):
        return False
    (render.emit_json if fmt is Output.json else render.emit_yaml)(render.mark(doc, target))
    return True


@app.command()
@connection_options
def status(target: Target, json: JsonOpt = False, output: OutputOpt = None) -> None:
    """Nodes, groups, owners, states, versions, dialect and a health verdict."""
    from clusterlib_cli import render, views

    fmt = _format(json, output)
    if fmt is Output.csv:
        raise typer.BadParameter("status is nodes and groups together; for CSV use `clusterlib"
                                 " nodes -o csv` or `clusterlib groups -o csv`",
                                 param_hint="'--output'")
    with connected(target) as cluster:
        snap = cluster.snapshot(owners=True)
        dialect, endpoint = cluster.dialect_name, cluster.transport.endpoint
        if not _emit_document(fmt, views.status_doc(snap, dialect=dialect, endpoint=endpoint),
                              target):
            render.sim_banner(target)
            views.print_status(snap, dialect=dialect, endpoint=endpoint)


@app.command()
@connection_options
def nodes(target: Target, json: JsonOpt = False, output: OutputOpt = None) -> None:
    """The nodes: state, drain status, OS and cluster-service versions."""
    from clusterlib_cli import render, views

    fmt = _format(json, output)
    with connected(target) as cluster:
        snap = cluster.snapshot()
        if _emit_document(fmt, views.nodes_doc(snap), target):
            return
        if fmt is Output.csv:
            render.emit_csv([views.node_doc(n, snap) for n in snap.nodes], target)
        else:
            render.sim_banner(target)
            views.print_nodes(snap)


@app.command()
@connection_options
def groups(target: Target, json: JsonOpt = False, output: OutputOpt = None) -> None:
    """The groups: state, owner, type, priority and preferred owners."""
    from clusterlib_cli import render, views

    fmt = _format(json, output)
    with connected(target) as cluster:
        snap = cluster.snapshot(owners=True)
        if _emit_document(fmt, views.groups_doc(snap), target):
            return
        if fmt is Output.csv:
            render.emit_csv([views.group_doc(g) for g in snap.groups], target)
        else:
            render.sim_banner(target)
            views.print_groups(snap)


# --- actions -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChangeFlags:
    """The options every command that changes the cluster takes: --dry-run, --yes, --json."""

    dry_run: bool = False
    yes: bool = False
    json: bool = False


change_options = option_bundle("flags", ChangeFlags, {
    "dry_run": (DryRunOpt, False), "yes": (YesOpt, False), "json": (JsonOpt, False)})


@dataclass(frozen=True)
class _Change:
    """One handle operation as ``node pause``, ``node resume`` and ``group move`` present it."""

    verb: str  # the JSON document's "action"
    subject: str  # the node's or group's own spelling of its name
    commands: Callable[[], list[str]]  # --dry-run: what would be sent
    question: str  # the confirmation
    title: str  # the progress display's title
    phase: str
    timeout: float | None
    run: Callable[[], clusterlib.ClusterSnapshot]
    summary: Callable[[clusterlib.ClusterSnapshot], str]


def _perform(target: Target, flags: ChangeFlags,
             prepare: Callable[[clusterlib.Cluster, clusterlib.ClusterSnapshot], _Change], *,
             owners: bool = False) -> None:
    """Connect, read, then --dry-run's commands, or confirm, run with progress and present the
    placement changes (one skeleton for every single-object change)."""
    from clusterlib_cli import render, views

    with connected(target) as cluster:
        before = cluster.snapshot(owners=owners)
        change = prepare(cluster, before)  # an unknown name fails here, listing the valid ones
        if flags.dry_run:
            _dry_run(target, f"{change.verb} {change.subject}", change.commands(), flags.json)
            return
        render.confirm(change.question, yes=flags.yes)
        progress = _progress(cluster, change.title)
        unsubscribe = cluster.subscribe(progress.on_cluster_event)
        try:
            with progress:
                progress.phase(change.subject, change.phase, change.timeout)
                snap = change.run()
                progress.finish()
        finally:
            unsubscribe()
        if flags.json:
            render.emit_json(render.mark(views.action_doc(
                change.verb, change.subject, before, snap, progress.events), target))
        else:
            render.sim_banner(target)
            views.print_action(change.summary(snap), before, snap)


def _dry_run(target: Target, what: str, commands: list[str], json: bool) -> None:
    """--dry-run: the exact commands (as the dialect builds them), nothing sent."""
    from clusterlib_cli import render

    if json:
        render.emit_json(render.mark({"schema": "clusterlib.dry-run/1", "action": what,
                                      "commands": commands, "changed": False}, target))
        return
    render.sim_banner(target)
    render.out(f"--dry-run: {what} would send:")
    for line in commands:
        render.out(f"  {line}")
    render.out("Nothing was changed.")


def _pause_commands(cluster: clusterlib.Cluster, snap: clusterlib.ClusterSnapshot, node: str,
                    drain: bool) -> list[str]:
    """What ``Node.pause`` sends, in order: the pause, then the moves clusterlib makes itself
    (every group where the cluster cannot drain, else only the core group), to the nodes the
    placement rules pick now; a later move may pick differently if the cluster changed."""
    from clusterlib.placement import evacuation_plan

    d = cluster.dialect
    lines = [d.pause_command(node, drain=drain).describe()]
    if not drain:
        return lines
    targets, stuck = evacuation_plan(snap, node)
    wait = int(cluster.policies.move_wait.timeout)
    for group, dest in targets.items():
        if not cluster.capabilities.drain or snap.group(group).is_core:
            lines.append(d.move_command(group, dest, wait=wait).describe())
    lines += [f"(refused at run time: no Up node may own {g})" for g in stuck]
    return lines


def _pause_change(cluster: clusterlib.Cluster, before: clusterlib.ClusterSnapshot, name: str,
                  no_drain: bool) -> _Change:
    from clusterlib import Node

    info = before.node(name)
    node = Node(cluster, info.name, info)

    def summary(snap: clusterlib.ClusterSnapshot) -> str:
        left = [g.name for g in snap.groups_on(node.name)]
        return (f"{node.name} is {snap.node(node.name).state.name}; groups on it: "
                f"{', '.join(left) or 'none'}")

    return _Change(
        "pause", info.name, lambda: _pause_commands(cluster, before, info.name, not no_drain),
        f"Pause {node.name}" + ("" if no_drain else " and move its groups away")
        + f" on cluster {cluster.name}?", f"Pausing {node.name}",
        "pause" if no_drain else "drain",
        None if no_drain else cluster.policies.drain_wait.timeout,
        lambda: node.pause(drain=not no_drain), summary)


def _resume_change(cluster: clusterlib.Cluster, before: clusterlib.ClusterSnapshot, name: str,
                   failback: Failback) -> _Change:
    from clusterlib import Node

    info = before.node(name)
    node = Node(cluster, info.name, info)
    return _Change(
        "resume", info.name,
        lambda: [cluster.dialect.resume_command(info.name, failback=failback.value).describe()],
        f"Resume {node.name} (failback {failback.value}) on cluster {cluster.name}?",
        f"Resuming {node.name}", "resume", cluster.policies.node_wait.timeout,
        lambda: node.resume(failback=failback.value),
        lambda snap: f"{node.name} is {snap.node(node.name).state.name}")


def _move_change(cluster: clusterlib.Cluster, before: clusterlib.ClusterSnapshot, name: str,
                 to: str | None) -> _Change:
    from clusterlib import Group

    ginfo = before.group(name)
    group = Group(cluster, ginfo.name, ginfo)
    dest = before.node(to).name if to is not None else None
    wait = cluster.policies.move_wait.timeout

    def summary(snap: clusterlib.ClusterSnapshot) -> str:
        info = snap.group(group.name)
        return f"{info.name} is {info.state.name} on {info.owner}"

    return _Change(
        "move", ginfo.name,
        lambda: [cluster.dialect.move_command(ginfo.name, dest, wait=int(wait)).describe()],
        f"Move {group.name} to {dest or 'the best other node'} on cluster {cluster.name}?",
        f"Moving {group.name}", f"move to {dest or 'best node'}", wait,
        lambda: group.move(dest), summary)


@node_app.command("pause")
@connection_options
@change_options
def node_pause(
    name: Annotated[str, typer.Argument(help="The node to pause.")],
    target: Target,
    no_drain: Annotated[bool, typer.Option("--no-drain", help="Pause only: leave its groups"
                                           " where they are.")] = False,
    flags: ChangeFlags = ChangeFlags(),
) -> None:
    """Pause a node, draining its groups to the other nodes first (unless --no-drain)."""
    _perform(target, flags, lambda cluster, before: _pause_change(cluster, before, name, no_drain),
             owners=flags.dry_run)


@node_app.command("resume")
@connection_options
@change_options
def node_resume(
    name: Annotated[str, typer.Argument(help="The paused node to resume.")],
    target: Target,
    failback: Annotated[Failback, typer.Option("--failback", case_sensitive=False,
                        help="NoFailback: groups stay; Immediate: drained groups come back now;"
                        " Policy: per each group's failback settings.")] = Failback.NoFailback,
    flags: ChangeFlags = ChangeFlags(),
) -> None:
    """Resume a paused node."""
    _perform(target, flags, lambda cluster, before: _resume_change(cluster, before, name, failback))


@group_app.command("move")
@connection_options
@change_options
def group_move(
    name: Annotated[str, typer.Argument(help="The group to move.")],
    target: Target,
    to: Annotated[str | None, typer.Option("--to", help="The node to move it to (default: the"
                                           " best other Up node).")] = None,
    flags: ChangeFlags = ChangeFlags(),
) -> None:
    """Move a group to another node and wait until it is back in its state there."""
    _perform(target, flags, lambda cluster, before: _move_change(cluster, before, name, to))


# --- the simulator -------------------------------------------------------------------------------------

@sim_app.command("serve")
def sim_serve(
    sim: Annotated[str, typer.Option("--sim", metavar="LAYOUT", help="Simulator layout:"
                                     f" {SIM_LAYOUTS_HELP}.")] = "classic",
    speed: Annotated[float | None, typer.Option("--speed", min=0.001, help="Simulated seconds"
                                                " per wall-clock second.")] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on"
                                      " (0: any free port).")] = 0,
    ssl: Annotated[bool, typer.Option("--ssl/--no-ssl", help="Serve HTTPS with a throw-away"
                                      " CA (its bundle path is printed).")] = False,
    user: Annotated[str, typer.Option("--user", help="The user name to accept.")] = "clusterlib",
    password_file: Annotated[Path | None, typer.Option(
        "--password-file", dir_okay=False, help="Write the generated password to this file"
        " (mode 0600) instead of printing it.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Serve a simulated cluster on a loopback WinRM endpoint until Ctrl-C."""
    from clusterlib.sim.endpoint import serve
    from clusterlib_cli import render
    from clusterlib_cli.target import build_sim, make_target

    target = make_target(sim=sim, speed=speed, debug=debug)
    simulated = build_sim(target)
    _claim_stop_signals()  # before the endpoint exists, so no signal can skip its clean-up
    try:
        with serve(simulated, host="127.0.0.1", port=port, username=user, ssl=ssl) as endpoint:
            render.print_serving(endpoint, layout=target.layout, speed=simulated.speed,
                                 password_file=password_file)
            # Registered only now: the one deliberate showing above must not be scrubbed.
            render.add_secret(endpoint.password)
            _wait_forever()
    except KeyboardInterrupt:
        render.info("stopped serving")


def _claim_stop_signals() -> None:
    """Ctrl-C, SIGTERM and SIGHUP all end ``sim serve`` the same clean way (its TLS key folder
    removed), where the default actions of the last two would leave it behind. SIGINT is
    claimed too, since a shell starts background jobs with it ignored."""
    import signal
    import threading

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, stop)


def _wait_forever() -> None:
    import threading

    threading.Event().wait()


# --- upgrades, lock and demo live in their own module (they need the upgrade engine) -------------------

from clusterlib_cli import upgrade_cmds  # noqa: E402  (registers its commands on the sub-apps)

upgrade_cmds.register(app, upgrade_app, lock_app)
from clusterlib_cli import fleet_cmds  # noqa: E402, I001  (the `fleet` sub-app, clusterlib.fleet)
fleet_cmds.register(app)


def run() -> None:
    """Console-script entry point. SIGTERM is handled as Ctrl-C everywhere (an upgrade run then
    stops at its next step boundary; other commands report the interruption), rather than
    ending the process without a word."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    app(prog_name="clusterlib")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())  # type: ignore[func-returns-value]
