"""The Typer app: each command a typed signature plus one library call; errors -> exit codes in one place.

Where things live: the shared connection options and their validation in ``options``, all output
and the error -> exit-code mapping in ``render``, the live display in ``progress``, webhooks in
``notify``. Library modules are imported inside the commands, so ``clusterlib --help`` imports
neither clusterlib, the simulator, pypsrp nor rich's table machinery.
"""

from __future__ import annotations

import contextlib
import enum
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from clusterlib_cli.options import SIM_LAYOUTS_HELP, Failback, Target, connection_options

if TYPE_CHECKING:
    import clusterlib
    from clusterlib_cli.progress import Progress


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

            exc.message = render.visible_lines(render.scrub(exc.message))
            raise
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            from clusterlib_cli import render

            render.info("interrupted; the last command may or may not have reached the cluster")
            raise typer.Exit(render.INTERRUPTED) from None
        except Exception as exc:
            from clusterlib_cli import render

            raise typer.Exit(render.present_error(exc)) from None


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
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="Print the clusterlib version and exit.")] = False) -> None:
    """Drive Microsoft failover clusters over WinRM: status, drains, moves and rolling upgrades.
    Every command that needs a cluster takes --host (or CLUSTERLIB_HOST, or --profile), or --sim
    LAYOUT for the embedded simulator; `clusterlib demo` tries it all on the simulator."""

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document (fields in"
                                       " docs/cli.md) instead of tables.", rich_help_panel="Output")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation before"
                                      " changing the cluster.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the exact commands that would"
                                         " be sent and change nothing.")]


# --- shared plumbing -------------------------------------------------------------------------------

@contextlib.contextmanager
def _connected(target: Target) -> Iterator[clusterlib.Cluster]:
    from clusterlib_cli.options import open_cluster

    cluster = open_cluster(target)
    try:
        yield cluster
    finally:
        cluster.close()


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


@app.command()
@connection_options
def status(target: Target, json: JsonOpt = False, output: OutputOpt = None) -> None:
    """Nodes, groups, owners, states, versions, dialect and a health verdict."""
    from clusterlib_cli import render

    fmt = _format(json, output)
    if fmt is Output.csv:
        raise typer.BadParameter("status is nodes and groups together; for CSV use `clusterlib"
                                 " nodes -o csv` or `clusterlib groups -o csv`",
                                 param_hint="'--output'")
    with _connected(target) as cluster:
        snap = cluster.snapshot(owners=True)
        if fmt in (Output.json, Output.yaml):
            doc = render.mark(render.status_doc(snap, dialect=cluster.dialect,
                                                endpoint=cluster.transport.endpoint), target)
            (render.emit_json if fmt is Output.json else render.emit_yaml)(doc)
        else:
            render.sim_banner(target)
            render.print_status(snap, dialect=cluster.dialect, endpoint=cluster.transport.endpoint)


@app.command()
@connection_options
def nodes(target: Target, json: JsonOpt = False, output: OutputOpt = None) -> None:
    """The nodes: state, drain status, OS and cluster-service versions."""
    from clusterlib_cli import render

    fmt = _format(json, output)
    with _connected(target) as cluster:
        snap = cluster.snapshot()
        if fmt in (Output.json, Output.yaml):
            doc = render.mark(render.nodes_doc(snap), target)
            (render.emit_json if fmt is Output.json else render.emit_yaml)(doc)
        elif fmt is Output.csv:
            render.emit_csv([render.node_doc(n, snap) for n in snap.nodes], target)
        else:
            render.sim_banner(target)
            render.print_nodes(snap)


@app.command()
@connection_options
def groups(target: Target, json: JsonOpt = False, output: OutputOpt = None) -> None:
    """The groups: state, owner, type, priority and preferred owners."""
    from clusterlib_cli import render

    fmt = _format(json, output)
    with _connected(target) as cluster:
        snap = cluster.snapshot(owners=True)
        if fmt in (Output.json, Output.yaml):
            doc = render.mark(render.groups_doc(snap), target)
            (render.emit_json if fmt is Output.json else render.emit_yaml)(doc)
        elif fmt is Output.csv:
            render.emit_csv([render.group_doc(g) for g in snap.groups], target)
        else:
            render.sim_banner(target)
            render.print_groups(snap)


# --- actions -------------------------------------------------------------------------------------------

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

    d = cluster.commands
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

def _finish_action(action: str, subject: str, before: clusterlib.ClusterSnapshot,
                   after: clusterlib.ClusterSnapshot, progress: Progress, summary: str,
                   json: bool, target: Target) -> None:
    from clusterlib_cli import render

    if json:
        render.emit_json(render.mark(render.action_doc(action, subject, before, after,
                                                       progress.events), target))
    else:
        render.sim_banner(target)
        render.print_action(summary, before, after)


@node_app.command("pause")
@connection_options
def node_pause(
    name: Annotated[str, typer.Argument(help="The node to pause.")],
    target: Target,
    no_drain: Annotated[bool, typer.Option("--no-drain", help="Pause only: leave its groups"
                                           " where they are.")] = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    json: JsonOpt = False,
) -> None:
    """Pause a node, draining its groups to the other nodes first (unless --no-drain)."""
    import clusterlib
    from clusterlib_cli import render

    with _connected(target) as cluster:
        before = cluster.snapshot(owners=dry_run)
        info = before.node(name)  # an unknown name fails here, listing the valid ones
        if dry_run:
            _dry_run(target, f"pause {info.name}", _pause_commands(cluster, before, info.name,
                                                                   not no_drain), json)
            return
        node = clusterlib.Node(cluster, info.name, info)
        render.confirm(f"Pause {node.name}" + ("" if no_drain else " and move its groups away")
                       + f" on cluster {cluster.name}?", yes=yes)
        progress = _progress(cluster, f"Pausing {node.name}")
        unsubscribe = cluster.subscribe(progress.on_cluster_event)
        try:
            with progress:
                progress.phase(node.name, "pause" if no_drain else "drain",
                               None if no_drain else cluster.policies.drain_wait.timeout)
                snap = node.pause(drain=not no_drain)
                progress.finish()
        finally:
            unsubscribe()
        left = [g.name for g in snap.groups_on(node.name)]
        _finish_action("pause", node.name, before, snap, progress,
                       f"{node.name} is {snap.node(node.name).state.name}; groups on it: "
                       f"{', '.join(left) or 'none'}", json, target)


@node_app.command("resume")
@connection_options
def node_resume(
    name: Annotated[str, typer.Argument(help="The paused node to resume.")],
    target: Target,
    failback: Annotated[Failback, typer.Option("--failback", case_sensitive=False,
                        help="NoFailback: groups stay; Immediate: drained groups come back now;"
                        " Policy: per each group's failback settings.")] = Failback.NoFailback,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    json: JsonOpt = False,
) -> None:
    """Resume a paused node."""
    import clusterlib
    from clusterlib_cli import render

    with _connected(target) as cluster:
        before = cluster.snapshot()
        info = before.node(name)
        if dry_run:
            line = cluster.commands.resume_command(info.name, failback=failback.value).describe()
            _dry_run(target, f"resume {info.name}", [line], json)
            return
        node = clusterlib.Node(cluster, info.name, info)
        render.confirm(f"Resume {node.name} (failback {failback.value}) on cluster"
                       f" {cluster.name}?", yes=yes)
        progress = _progress(cluster, f"Resuming {node.name}")
        unsubscribe = cluster.subscribe(progress.on_cluster_event)
        try:
            with progress:
                progress.phase(node.name, "resume", cluster.policies.node_wait.timeout)
                snap = node.resume(failback=failback.value)
                progress.finish()
        finally:
            unsubscribe()
        _finish_action("resume", node.name, before, snap, progress,
                       f"{node.name} is {snap.node(node.name).state.name}", json, target)


@group_app.command("move")
@connection_options
def group_move(
    name: Annotated[str, typer.Argument(help="The group to move.")],
    target: Target,
    to: Annotated[str | None, typer.Option("--to", help="The node to move it to (default: the"
                                           " best other Up node).")] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    json: JsonOpt = False,
) -> None:
    """Move a group to another node and wait until it is back in its state there."""
    import clusterlib
    from clusterlib_cli import render

    with _connected(target) as cluster:
        before = cluster.snapshot()
        ginfo = before.group(name)
        group = clusterlib.Group(cluster, ginfo.name, ginfo)
        dest = before.node(to).name if to is not None else None
        if dry_run:
            line = cluster.commands.move_command(
                ginfo.name, dest, wait=int(cluster.policies.move_wait.timeout)).describe()
            _dry_run(target, f"move {ginfo.name}", [line], json)
            return
        render.confirm(f"Move {group.name} to {dest or 'the best other node'} on cluster"
                       f" {cluster.name}?", yes=yes)
        progress = _progress(cluster, f"Moving {group.name}")
        unsubscribe = cluster.subscribe(progress.on_cluster_event)
        try:
            with progress:
                progress.phase(group.name, f"move to {dest or 'best node'}",
                               cluster.policies.move_wait.timeout)
                snap = group.move(dest)
                progress.finish()
        finally:
            unsubscribe()
        info = snap.group(group.name)
        _finish_action("move", group.name, before, snap, progress,
                       f"{info.name} is {info.state.name} on {info.owner}", json, target)


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
    from clusterlib_cli import render
    from clusterlib_cli.options import build_sim, make_target

    target = make_target(sim=sim, speed=speed, debug=debug)
    simulated = build_sim(target)
    try:
        from clusterlib.sim.endpoint import serve
    except ImportError as exc:
        from clusterlib import NotSupported

        raise NotSupported("the loopback WinRM endpoint (clusterlib.sim.endpoint) is not in"
                           " this build") from exc
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
