"""The simulator's cluster.exe: reads a command line, calls the model, prints what cluster.exe prints.

Thin, like the PowerShell host (compare moto's ``responses.py``): the line is split the way
cluster.exe's own lexer splits it (:func:`clusterlib.wire.cmdline.split_line`, never ``eval``),
the model does the work, and the text layer's printers produce the output, so the dialect's
parsers read exactly the layout the printers write. Every call is logged as
``sim.log("call", "cluster.exe", argv=[...], line=...)`` with the tokens as cluster.exe
received them, so tests can check that a name arrived byte for byte.

Behaviour taken from cluster.exe's Windows Server 2003 source (public code index, see
``clusterlib.wire.cluster_text``'s docstring) and marked [P] there: ``node /prop`` with no node lists
every node's properties in one table; ``/moveto`` to the node that already owns the group just
prints its status; a ``/wait`` that runs out is not an error (ERROR_IO_PENDING becomes success).
Where the documentation and the source disagree (no ``/wait`` on ``/move``: 20 s in the Windows
Server 2003 help, INFINITE in the source), the documented 20 s is used.

Commands the dialect does not send fail loudly as "not simulated" (exit code 1), never silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from clusterlib.errors import ParseError
from clusterlib.model import GroupInfo, NodeInfo
from clusterlib.sim import locale as sim_locale
from clusterlib.wire import CmdResult
from clusterlib.wire import cluster_text as cx
from clusterlib.wire import cmdline as cl

if TYPE_CHECKING:
    from clusterlib.sim.simcluster import SimCluster

__all__ = ["NOT_RECOGNIZED", "run_cluster_exe"]

#: What cmd.exe prints when there is no cluster.exe on the path (Windows Server 2012 and later
#: without the Failover Cluster Command Interface feature); exit code 9009.
NOT_RECOGNIZED = ("'cluster.exe' is not recognized as an internal or external command,\r\n"
                  "operable program or batch file.\r\n")

VENDOR = "Microsoft(R) Cluster service"

# Default /wait for /move[to] (Windows Server 2003 help, reference 2.3 [V]).
DEFAULT_MOVE_WAIT = 20.0


class _Fail(Exception):
    """A cluster.exe failure: Win32 code, plus whatever was printed to stdout before it."""

    def __init__(self, code: int, stdout: str = "") -> None:
        self.code = code
        self.stdout = stdout
        super().__init__(code)


class _NotSimulated(Exception):
    pass


# Option words and the shortest abbreviation cluster.exe accepts for each (Windows Server 2003
# help: /stat[us], /prop[erties], /priv[properties], /ver[sion], /move[to]; the rest are written
# out in full in every source seen, so only the full word is accepted).
_OPTIONS: dict[str, str] = {
    "status": "stat",
    "properties": "prop",
    "privproperties": "priv",
    "version": "ver",
    "pause": "pause",
    "resume": "resume",
    "listowners": "listowners",
    "moveto": "moveto",
    "move": "move",
    "wait": "wait",
    "usedefault": "usedefault",
    "cluster": "cluster",
    "quorumresource": "quorum",
}


def _option(word: str) -> str | None:
    low = word.lower()
    if low in _OPTIONS:
        return low
    for full, shortest in _OPTIONS.items():
        if full.startswith(low) and len(low) >= len(shortest):
            return full
    return None


class _Opt:
    """One ``/word[:value]`` token, its value kept whole (names arrive quoted, so a ',' or ':'
    inside one never splits it, as in cluster.exe's lexer)."""

    def __init__(self, token: str) -> None:
        body = token[1:]
        word, sep, value = body.partition(":")
        self.raw = token
        self.word = word
        self.name = _option(word)
        self.value: str | None = value if sep else None


def run_cluster_exe(sim: SimCluster, line: str) -> CmdResult:
    """Run one cluster.exe command line against ``sim``; stdout/stderr/exit code as cluster.exe."""
    if not sim.cluster_exe:
        from clusterlib.sim.cmdshell import _first_word, not_recognized

        sim.log("call", "cmd", line=line, missing="cluster.exe")
        # cmd.exe names the word as typed: 'cluster' for "cluster ...", 'cluster.exe' for
        # "cluster.exe ...".
        return not_recognized(_first_word(line)[0])
    try:
        tokens = _lex(line)
    except ParseError:
        sim.log("call", "cluster.exe", argv=[], line=line)
        # cluster.exe's lexer: MSG_MISSING_QUOTE, then the help text; exit code inferred [U].
        return CmdResult(stdout="", stderr="Closing quote not found.\r\n", exit_code=87)
    argv = [t.value for t in tokens[1:]]
    sim.log("call", "cluster.exe", argv=argv, line=line)
    try:
        return CmdResult(stdout=_dispatch(sim, tokens[1:]), stderr="", exit_code=0)
    except _Fail as fail:
        # The error text is in the cluster's UI language; the exit code and the "(0x...)" insert
        # are the same in every language.
        return CmdResult(stdout=fail.stdout, stderr=sim_locale.format_error(fail.code, sim.language),
                         exit_code=fail.code)
    except _NotSimulated as exc:
        return CmdResult(stdout="", stderr=f"not simulated: cluster.exe {exc}\r\n", exit_code=1)


class _Token(str):
    """A token as cluster.exe's lexer reads it (quotes removed), remembering whether it was an
    option: only a token that *starts* with '/' outside quotes is one (cmdline.cpp), so
    ``"/evict"`` is a name."""

    option: bool

    def __new__(cls, value: str, option: bool) -> _Token:
        token = super().__new__(cls, value)
        token.option = option
        return token

    @property
    def value(self) -> str:
        return str(self)


def _lex(line: str) -> list[_Token]:
    raw: list[str] = []
    current = ""
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch in " \t" and not quoted:
            if current:
                raw.append(current)
            current = ""
            continue
        current += ch
    if current:
        raw.append(current)
    # split_line does the unquoting (and refuses an unclosed quote) exactly as cluster.exe.
    return [_Token(cl.split_line(r)[0] if r != '""' else "", r.startswith("/")) for r in raw]


# ---------------------------------------------------------------------------------------------
# Dispatch
# ---------------------------------------------------------------------------------------------

_OBJECTS = {"node": "node", "group": "group", "res": "resource", "resource": "resource"}
# Real cluster.exe commands the dialect never sends: recognised (never taken for a cluster's
# name), then refused as not simulated.
_UNSIMULATED = {"network", "net", "netinterface", "netint", "resourcetype", "restype", "type"}


def _dispatch(sim: SimCluster, argv: Sequence[_Token]) -> str:
    from clusterlib.sim.simcluster import SimError

    args = list(argv)
    cluster_name: str | None = None
    # cluster [[/cluster:]ClusterName] <command> ...: a leading word that is neither a command
    # nor an option is the cluster's name (Windows Server 2003 help).
    if args and args[0].option and _option(args[0][1:].partition(":")[0]) == "cluster":
        cluster_name = args.pop(0).value.partition(":")[2]
    elif (args and not args[0].option and args[0].lower() not in _OBJECTS
          and args[0].lower() not in _UNSIMULATED):
        cluster_name = args.pop(0).value
    try:
        _open_cluster(sim, cluster_name)
        if not args:
            raise _NotSimulated("without a command (prints the help)")
        head = args[0]
        if head.option:
            return _cluster_command(sim, [_Opt(a) if a.option else a.value for a in args])
        kind = _OBJECTS.get(head.lower())
        if kind is None:
            raise _NotSimulated(f"command {head!r}")
        rest = args[1:]
        name: str | None = None
        if rest and not rest[0].option:
            name = rest.pop(0).value
        opts: list[_Opt] = []
        for a in rest:
            if not a.option:
                raise _NotSimulated(f"{kind} parameter {a!r} (property lists only follow /priv)")
            opts.append(_Opt(a))
        for o in opts:
            if o.name is None:
                raise _NotSimulated(f"option {o.raw!r}")
        handler = {"node": _node, "group": _group, "resource": _resource}[kind]
        return handler(sim, name, opts)
    except SimError as err:
        raise _Fail(err.code) from err


def _open_cluster(sim: SimCluster, name: str | None) -> None:
    from clusterlib.sim.simcluster import SimError

    sim.advance()
    if name is not None and name.lower() not in (sim.name.lower(), "."):
        # OpenCluster on a name nobody answers to: the RPC bind fails (reference 1.13).
        raise SimError(1722)
    sim._ensure_up()


def _only(opts: list[_Opt], *allowed: str) -> None:
    for o in opts:
        if o.name not in allowed:
            raise _NotSimulated(f"option {o.raw!r} in this position")


def _node_info(sim: SimCluster, name: str) -> NodeInfo:
    real = sim.node(name).name
    return next(n for n in sim.snapshot().nodes if n.name == real)


def _group_info(sim: SimCluster, name: str) -> GroupInfo:
    real = sim.group(name).name
    return next(g for g in sim.snapshot().groups if g.name == real)


def _node_props(sim: SimCluster, name: str) -> dict[str, str | int]:
    node = sim.node(name)
    # Node common properties, read-only ones included, in the order of the cluster service's
    # property table (NmpNodeROCommonProperties, Windows Server 2003 source, [P]).
    return {
        "Description": "",
        "NodeName": node.name,
        **node.version_props(),
    }


def _all_node_props(sim: SimCluster) -> str:
    """``node /prop`` with no node: one caption and header, then every node's rows
    (CGenericModuleCmd::AllProperties; caption "Listing properties for all nodes:" from the
    message table, [P])."""
    rows: list[str] = []
    head: list[str] = []
    for node in sim.nodes.values():
        text = cx.format_props(node.name, _node_props(sim, node.name), kind="node")
        lines = text.split("\r\n")
        dash = next(i for i, ln in enumerate(lines) if ln.startswith("--"))
        head = lines[dash - 1 : dash + 1]
        rows += [ln for ln in lines[dash + 1 :] if ln]
    if not head:
        empty = cx.format_props("", {}, kind="node").split("\r\n")
        dash = next(i for i, ln in enumerate(empty) if ln.startswith("--"))
        head = empty[dash - 1 : dash + 1]
    return "\r\n".join(["Listing properties for all nodes:", "", *head, *rows, ""]) + "\r\n"


def _node(sim: SimCluster, name: str | None, opts: list[_Opt]) -> str:
    if not opts:
        return cx.format_node(_node_info(sim, name)) if name else cx.format_nodes(
            sim.snapshot().nodes)
    if len(opts) > 1:
        raise _NotSimulated("more than one option on a node")
    opt = opts[0]
    _only(opts, "status", "properties", "pause", "resume")
    if opt.value is not None:
        raise _NotSimulated(f"a value on {opt.raw!r}")
    if opt.name == "status":
        return cx.format_node(_node_info(sim, name)) if name else cx.format_nodes(
            sim.snapshot().nodes)
    if opt.name == "properties":
        if name is None:
            return _all_node_props(sim)
        return cx.format_props(sim.node(name).name, _node_props(sim, name), kind="node")
    if name is None:
        # cluster.exe pauses the local computer; the simulated endpoint has no such node.
        raise _NotSimulated(f"node {opt.raw} without a node name")
    action: Callable[[str], object] = sim.pause_node if opt.name == "pause" else sim.resume_node
    printer = cx.format_pausing if opt.name == "pause" else cx.format_resuming
    _node_info(sim, name)  # OpenModule first: an unknown node prints nothing (5042)
    from clusterlib.sim.simcluster import SimError

    try:
        action(name)
    except SimError as err:
        # PauseNode/ResumeNode print the caption and the node's row whatever the outcome.
        raise _Fail(err.code, stdout=printer(_node_info(sim, name))) from err
    return printer(_node_info(sim, name))


def _group(sim: SimCluster, name: str | None, opts: list[_Opt]) -> str:
    if name is None:
        _only(opts, "status")
        return cx.format_groups(sim.snapshot().groups)
    if not opts:
        return cx.format_group(_group_info(sim, name))
    first = opts[0]
    if first.name in ("status", "listowners", "properties"):
        if len(opts) > 1 or first.value is not None:
            raise _NotSimulated(f"extra options after {first.raw!r}")
        if first.name == "status":
            return cx.format_group(_group_info(sim, name))
        group = sim.group(name)
        if first.name == "listowners":
            return cx.format_owners("group", group.name, group.preferred_owners)
        return cx.format_props(group.name, {"Description": "", "PersistentState": 1
                                            if group.persistent_state.name == "Online" else 0,
                                            "FailoverThreshold": 10, "FailoverPeriod": 6,
                                            "AutoFailbackType": 0}, kind="group")
    if first.name in ("moveto", "move"):
        wait: float | None = DEFAULT_MOVE_WAIT
        for extra in opts[1:]:
            if extra.name != "wait":
                raise _NotSimulated(f"option {extra.raw!r} after {first.raw!r}")
            if extra.value is None:
                wait = None  # /wait with no timeout: until the group settles (Windows 2000 help)
            else:
                try:
                    wait = float(int(extra.value))
                except ValueError:
                    raise _NotSimulated(f"/wait value {extra.value!r}") from None
        group = sim.group(name)
        target = first.value or None
        moved = sim.move_group(group.name, target, wait=wait)
        return cx.format_moving(_group_info(sim, moved.name))
    raise _NotSimulated(f"group option {first.raw!r}")


def _resource(sim: SimCluster, name: str | None, opts: list[_Opt]) -> str:
    from clusterlib.sim.simcluster import SimError

    if name is None:
        _only(opts, "status")
        return cx.format_resources(sim.snapshot().resources)
    if len(opts) == 1 and opts[0].name == "listowners" and opts[0].value is None:
        for group in sim.groups.values():
            for res in group.resources:
                if res.name.lower() == name.lower():
                    # No explicit list means every node may own it, and cluster.exe lists them.
                    owners = res.possible_owners or [n.name for n in sim.nodes.values()]
                    return cx.format_owners("resource", res.name, owners)
        raise SimError(5007)
    raise _NotSimulated(f"resource {' '.join(o.raw for o in opts) or '(status of one)'}")


def _cluster_command(sim: SimCluster, args: list[_Opt | str]) -> str:
    first = args[0]
    assert isinstance(first, _Opt)
    if first.name == "version" and len(args) == 1 and first.value is None:
        return _version(sim)
    if first.name == "quorumresource" and len(args) == 1 and first.value is None:
        return _quorum(sim)
    if first.name == "privproperties":
        rest = args[1:]
        if first.value is None and not rest:
            return cx.format_props(sim.name, dict(sim.private_props), kind="cluster",
                                   private=True)
        if first.value is not None:
            # /priv:Name[,Name...] /usedefault deletes private properties (TechNet cc776201).
            if len(rest) != 1 or not isinstance(rest[0], _Opt) or rest[0].name != "usedefault":
                raise _NotSimulated(f"{first.raw} without /usedefault")
            for key in first.value.split(","):
                if sim.private_props.pop(key, None) is not None:
                    sim.log("private-prop-deleted", key)
            return ""
        for item in rest:
            if not isinstance(item, str) or "=" not in item:
                raise _NotSimulated(f"/priv item {getattr(item, 'raw', item)!r}")
            key, _, value = item.partition("=")
            stored: str | int = value
            if value.lower().endswith(":dword"):
                stored = int(value[: -len(":dword")], 0)
            sim.private_props[key] = stored
            sim.log("private-prop-set", key)
        return ""
    raise _NotSimulated(f"option {first.raw!r}")


def _quorum(sim: SimCluster) -> str:
    """``cluster /quorum``: MSG_QUORUM_RESOURCE from cluster.exe's message table ([P], no
    capture): header, dashes 20/40/12, one row ``%-20s %-40s %d``. A disk quorum shows the
    quorum log folder on the quorum disk (Q:\\MSCS\\ by default); the simulator has no quorum
    resource of its own, so the names are the Windows defaults."""
    if sim.quorum_type == "DiskOnly":
        name, device = "Disk Q:", "Q:\\MSCS\\"
    elif sim.witness:
        name, device = "File Share Witness", "\\\\WITNESS\\clusterlib"
    else:
        name, device = "Majority Node Set", ""
    # The quorum resource lives in the core group, and clients find the core group through it
    # (its name is localized): name a resource the core group really holds, a disk first.
    core = next((g for g in sim.groups.values() if g.is_core and g.resources), None)
    if core is not None and not any(r.name == name for r in core.resources):
        name = next((r.name for r in core.resources if r.type == "Physical Disk"),
                    core.resources[0].name)
    return "\r\n".join([
        "Quorum Resource Name Device                                   Max Log Size",
        "-------------------- ---------------------------------------- ------------",
        f"{name:<20} {device:<40} 4096",
        "",
    ]) + "\r\n"


def _version(sim: SimCluster) -> str:
    # The node answering is the endpoint's host: the first node that is a member right now.
    answering = next((n for n in sim.nodes.values() if n.state.name in ("Up", "Paused")),
                     next(iter(sim.nodes.values())))
    os = answering.release.os
    return cx.format_version(cx.ClusterExeVersion(cluster_name=sim.name, major=os.major,
                                                  minor=os.minor, build=os.build, csd=os.csd,
                                                  vendor=VENDOR))
