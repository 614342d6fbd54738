"""The cluster.exe dialect: command lines for legacy clusters (Windows 2000-2008) and reading their text.

Every line is made by :mod:`clusterlib.wire.cmdline` (the one place that quotes), so a name
cmd.exe quoting cannot carry raises :class:`~clusterlib.errors.UnsafeName` while the command
is being *built*, before anything reaches the transport. Answers are read with the text layer's
parsers; output they do not understand raises ParseError with the text, never a half-read
snapshot. A failed run maps through :func:`clusterlib.wire.cluster_text.parse_error` (the exit code is
the Win32 code, reference 2.6 [V]).

Round trips. cluster.exe has no "everything" command, so a snapshot needs several commands:
``/ver`` (cluster name), ``node`` (states), ``node /prop`` (versions of *every* node in one
table: with no node name cluster.exe lists all nodes, CGenericModuleCmd::AllProperties in the
Windows Server 2003 source, [P]), ``group`` and ``/quorum`` (quorum type, see
:func:`quorum_type_of`). They are chained on ONE cmd.exe line with
``&``, separated by ``echo`` markers, so a snapshot is one round trip whatever the cluster's
size. Chaining is safe because every name on the line is inside double quotes and the text
layer refuses ``&``, ``|``, ``<``, ``>``, ``^``, ``%``, ``!`` and ``"`` in names (and their
best-fit look-alikes); the chained commands are fixed words otherwise. A chained line's exit
code is the last command's (an ``echo``), so errors are read from stderr instead, by the
``(0x........)`` insert of ``System error N has occurred (0x...).``, which a localized
cluster.exe keeps: errors are classified by number only, never by English words (reference 2.6
and section 7). ``owners=True`` then needs one ``/listowners`` per group
(preferred owners) and per resource (possible owners): those go on a second chained line,
split into more lines only when one would pass cmd.exe's 8191-character limit. So:

* ``snapshot()``: 1 round trip; ``snapshot(owners=True)``: 2 (+1 per ~8000 characters of
  ``/listowners`` commands, about 150 groups and resources).
* ``read_node``: 1 (status and properties chained); ``read_group``: 1, with owners 2.
* pause, resume, move, set/delete a private property: 1 each; a pause with drain first checks
  every name the drain's moves need (1 more, see :meth:`ClusterExeDialect.check_drain`).

What cluster.exe cannot say (and the snapshot therefore leaves at its default): drain status
(there is no drain), group priority (Windows Server 2012+), node weights and the functional
level; the quorum type only as "DiskOnly" or unknown. The core group is the quorum resource's
group (``/quorum`` names the resource, the ``res`` listing its group, [P]), not a name: Windows
localizes "Cluster Group". When ``/quorum`` cannot say, the group named "Cluster Group" is taken.

Names. The listing prints names padded in fixed columns and raw: long names with blanks are
split where the row re-renders exactly (with the group names settling resource rows), a name
with a line break is read whole and refused for commands, and leading/trailing blanks cannot be
seen, so a name given exactly by the caller is kept exactly (see ``docs/legacy-clusters.md``).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Sequence
from typing import NoReturn

from attrs import frozen

from clusterlib.dialects.base import Capabilities, Command, NamedDialect
from clusterlib.errors import (
    ClusterRefused,
    NotSimulated,
    NotSupported,
    ParseError,
    UnsafeName,
    not_found,
)
from clusterlib.model import (
    ClusterSnapshot,
    GroupInfo,
    GroupType,
    NodeInfo,
    OSVersion,
    ResourceInfo,
    ServiceVersion,
)
from clusterlib.transports.base import Transport
from clusterlib.wire import CmdLine, CmdResult, Pipeline
from clusterlib.wire import cluster_text as cx
from clusterlib.wire import cmdline as cl

log = logging.getLogger("clusterlib")

__all__ = ["CAPABILITIES", "CORE_GROUP", "MAX_LINE", "ClusterExeDialect", "PauseLine",
           "detect_clusterexe", "quorum_resource_of"]

CAPABILITIES = Capabilities(dialect="clusterexe", drain=False, failback=False,
                            functional_level=False, private_properties=True)

#: Longest line sent. cmd.exe accepts 8191 characters (Microsoft KB 830473); the margin covers
#: the ``cmd.exe /c`` WinRS puts in front.
MAX_LINE = 8000

_MARK = "===clusterlib-part-{}==="
_MARK_LINE = re.compile(r"===clusterlib-part-(\d+)===")

#: The name Windows gives the core group (the one holding the cluster name and quorum).
CORE_GROUP = "Cluster Group"

# Private property values go as Name="value"; a value cmd.exe quoting cannot carry (JSON with
# double quotes, say) is stored base64-encoded behind this prefix and decoded on read.
_ENCODED = "clusterlib-b64:"


@frozen
class PauseLine(CmdLine):
    """``node "N" /pause`` with what it is for: with ``drain``, :meth:`ClusterExeDialect.execute`
    checks every name the drain's moves will need before the line is sent."""

    node: str = ""
    drain: bool = False


def _prefix(cluster: str | None) -> tuple[str, cl.Switch | None]:
    return cl.PROGRAM, (cl.Switch("cluster", cl.ClusterName(cluster)) if cluster else None)


def _raise_for(result: CmdResult, command: str, *, chained: bool = False) -> None:
    """Map a finished run to the exception tree (nothing when it succeeded)."""
    if "not simulated" in result.stderr:
        raise NotSimulated(f"{result.stderr.strip()} [command: {command}]")
    # cmd.exe's exit code for "not recognized" (9009) is the same in every language; its words
    # are not.
    if result.exit_code == 9009:
        raise NotSupported("cluster.exe is not installed on this endpoint (Windows Server 2012 and"
                           " later need the Failover Cluster Command Interface feature)",
                           win32_code=None, command=command)
    code = result.exit_code
    if chained:
        # The line's exit code is the last echo's: what failed is only in the error text, read
        # from its language-neutral "(0x........)" insert.
        codes = cx.error_codes(result.stderr)
        code = codes[0] if codes else (1 if result.stderr.strip() else 0)
    error = cx.parse_error(result.stdout, result.stderr, code, command=command)
    if error is not None:
        raise error


def _chain(commands: Sequence[str]) -> list[tuple[str, list[int]]]:
    """``commands`` chained with ``&``, each followed by its ``echo`` marker, on as few lines of
    at most MAX_LINE characters as they fit: (line, the indexes of the commands on it)."""
    lines: list[tuple[str, list[int]]] = []
    for i, command in enumerate(commands):
        piece = f"{command} & echo {_MARK.format(i)}"
        if lines and len(lines[-1][0]) + 3 + len(piece) <= MAX_LINE:
            lines[-1] = (f"{lines[-1][0]} & {piece}", [*lines[-1][1], i])
        else:
            lines.append((piece, [i]))
    return lines


class ClusterExeDialect(NamedDialect):
    """Drives a cluster through cluster.exe command lines (see the module docstring)."""

    def __init__(self, transport: Transport, cluster: str | None = None) -> None:
        self.transport = transport
        self.capabilities = CAPABILITIES
        self.cluster_name = cluster
        if cluster is not None:
            cl.check_name(cluster, "cluster name")
        self._last: ClusterSnapshot | None = None
        # The core group's name as the last snapshot found it (from the quorum resource).
        self._core: str | None = None

    def __repr__(self) -> str:
        return f"<ClusterExeDialect {self.transport.endpoint}>"

    # ---- building ----

    def _line(self, *parts: cl.Part | None) -> str:
        return cl.build_line(*_prefix(self.cluster_name), *parts)

    def _run(self, line: str, *, idempotent: bool) -> CmdResult:
        result = self.transport.run_cmd(CmdLine(line, idempotent=idempotent))
        _raise_for(result, line)
        return result

    def read_chain(self, commands: Sequence[str]) -> list[str]:
        """Run read-only commands chained with ``&`` (as few lines as fit), return each one's
        stdout. Any failure raises; so does output without every marker."""
        outputs: list[str] = []
        for line, wanted in _chain(commands):
            result = self.transport.run_cmd(CmdLine(line, idempotent=True))
            _raise_for(result, line, chained=True)
            parts = self._split(result.stdout, wanted, line)
            outputs.extend(parts)
        return outputs

    @staticmethod
    def _split(stdout: str, wanted: list[int], line: str) -> list[str]:
        parts: list[str] = []
        chunk: list[str] = []
        expected = iter(wanted)
        for raw in stdout.replace("\r\n", "\n").split("\n"):
            m = _MARK_LINE.fullmatch(raw.strip())
            if m is not None:
                if int(m.group(1)) != next(expected, None):
                    raise ParseError(f"cluster.exe output out of order [command: {line}]", stdout)
                parts.append("\r\n".join(chunk) + "\r\n")
                chunk = []
            else:
                chunk.append(raw)
        if len(parts) != len(wanted) or any(ln.strip() for ln in chunk):
            raise ParseError(f"cluster.exe output is missing parts [command: {line}]", stdout)
        return parts

    # ---- reads ----

    def _snapshot_lines(self) -> list[str]:
        return [
            self._line("/ver"),
            self._line("node"),
            self._line("node", "/prop"),
            self._line("group"),
            self._line("/quorum"),
            self._line("res"),
        ]

    def snapshot(self, *, owners: bool = False) -> ClusterSnapshot:
        base = self._snapshot_lines()
        outs, codes = self._read_tolerant(base)
        return self._snapshot_from(base, outs, codes, owners=owners)

    def _snapshot_from(self, base: list[str], outs: list[str], codes: list[int], *,
                       owners: bool) -> ClusterSnapshot:
        """The snapshot from the parts of ``base`` (``_snapshot_lines``) and their codes."""
        if codes:
            # Only /quorum (and, without owners, res) may fail: the core group and quorum type
            # then fall back (see _quorum_and_core). Anything else fails the snapshot.
            optional = {4} if owners else {4, 5}
            if any(not outs[i].strip() for i in range(len(base)) if i not in optional) or (
                    not any(not outs[i].strip() for i in optional)):
                _raise_code(codes[0], command=" & ".join(base))
            log.warning("cluster.exe snapshot: %s failed (Win32 %s); core group and quorum"
                        " type by fallback", " and ".join(base[i] for i in sorted(optional)
                                                          if not outs[i].strip()), codes[0])
        version = cx.parse_version(outs[0])
        nodes = cx.parse_nodes(outs[1])
        props = props_by_object(outs[2], [n.name for n in nodes])
        nodes = [_with_versions(n, props.get(n.name.lower(), {})) for n in nodes]
        node_names = [n.name for n in nodes]
        groups = cx.parse_groups(outs[3], nodes=node_names)
        group_names = [g.name for g in groups]
        resources: list[ResourceInfo] = []
        try:
            resources = (cx.parse_resources(outs[5], groups=group_names, nodes=node_names)
                         if outs[5].strip() else [])
        except ParseError:
            if owners:
                raise
            # Only the core group needs the resources here: fall back to its default name.
            log.warning("cluster.exe resource listing unreadable; core group found by name")
        quorum_type, core = _quorum_and_core(outs[4], resources, group_names)
        preferred: dict[str, tuple[str, ...]] = {}
        possible: dict[str, tuple[str, ...]] = {}
        if owners:
            preferred, possible = self._owners(groups, resources, [n.name for n in nodes])
        snap = ClusterSnapshot(
            name=version.cluster_name,
            nodes=tuple(nodes),
            groups=tuple(_group(g, preferred.get(g.name.lower()) if owners else None,
                                possible.get(g.name.lower(), ()), core) for g in groups),
            resources=tuple(resources) if owners else (),
            functional_level=None,
            dialect=self.capabilities.label,
            quorum_type=quorum_type,
        )
        self._last = snap
        self._core = core
        return snap

    def _owners(self, groups: Sequence[GroupInfo], resources: Sequence[ResourceInfo],
                node_names: Sequence[str]) -> tuple[dict[str, tuple[str, ...]],
                                                    dict[str, tuple[str, ...]]]:
        """Preferred owners per group and possible owners per group (the intersection over its
        resources), keyed by lower-case group name. Objects whose names cmd.exe quoting cannot
        carry are skipped with a warning (their owners stay unknown, i.e. unrestricted)."""
        commands: list[str] = []
        asks: list[tuple[str, str, str]] = []  # (kind, object name, group name)
        wanted = [("group", g.name, g.name) for g in groups] + [
            ("resource", r.name, r.group) for r in resources]
        for kind, name, group in wanted:
            line = self._listowners(kind, name)
            if line is not None:
                commands.append(line)
                asks.append((kind, name, group))
        outs, codes = self._read_tolerant(commands) if commands else ([], [])
        # A name as listed that cluster.exe does not find (the real one has blanks the listing
        # cannot show) leaves that object's owners unknown; any other failure is raised.
        other = [c for c in codes if c not in (5007, 5013)]
        if other:
            _raise_code(other[0])
        preferred: dict[str, tuple[str, ...]] = {}
        possible: dict[str, list[str]] = {}
        for (kind, name, group), text in zip(asks, outs, strict=True):
            if not text.strip():
                log.warning("owners of %s %r not read: cluster.exe does not find it by its"
                            " listed name", kind, name)
                continue
            listed = cx.parse_owners(text, nodes=node_names)
            key = group.lower()
            if kind == "group":
                preferred[key] = tuple(listed)
            elif key in possible:
                keep = {n.lower() for n in listed}
                possible[key] = [n for n in possible[key] if n.lower() in keep]
            else:
                possible[key] = listed
        everyone = {n.lower() for n in node_names}
        # Every node possible is the same as no restriction (as the PowerShell dialect reads it).
        return preferred, {k: tuple(v) for k, v in possible.items()
                           if {n.lower() for n in v} != everyone}

    def _listowners(self, kind: str, name: str) -> str | None:
        """``group "name" /listowners`` (preferred owners) or ``res "name" /listowners``
        (possible owners); None, with a warning, for a name cmd.exe quoting cannot carry (its
        owners then stay unknown, i.e. unrestricted)."""
        try:
            if kind == "group":
                return self._line("group", cl.GroupName(name), "/listowners")
            return self._line("res", cl.ResourceName(name), "/listowners")
        except UnsafeName as exc:
            what = "preferred owners of %r" if kind == "group" else "possible owners of resource %r"
            log.warning(what + " not read: %s", name, exc)
            return None

    def _group_lines(self, name: str, *, owners: bool) -> list[str]:
        group = cl.GroupName(name)
        lines = [self._line("group", group, "/status")]
        if owners:
            lines += [self._line("group", group, "/listowners"), self._line("group"),
                      self._line("res"), self._line("node")]
        return lines

    def _node_lines(self, name: str) -> list[str]:
        node = cl.NodeName(name)
        return [self._line("node", node, "/status"), self._line("node", node, "/prop")]

    def _read_named(self, lines: Sequence[str], group: str | None = None,
                    node: str | None = None) -> list[str]:
        """``read_chain`` for reads of one group and/or one node: a name the cluster does not
        have (Win32 5013, 5042) is a NotFound listing the valid names."""
        try:
            return self.read_chain(lines)
        except ClusterRefused as exc:
            missing = not_found(exc.win32_code, group=group, node=node, listing=self.snapshot)
            if missing is not None:
                raise missing from exc
            raise

    def _group_from(self, outs: Sequence[str], name: str, *, owners: bool,
                    line: str) -> GroupInfo:
        """The group from its ``_group_lines`` answers; with owners, one more round trip reads
        the possible owners of each of its resources."""
        # Node names from the last snapshot let an owner whose name has blanks be read whole.
        known = [n.name for n in self._last.nodes] if self._last is not None else []
        found = cx.parse_groups(outs[0], nodes=known)
        if len(found) != 1:
            raise ParseError(f"expected one group named {name!r} [command: {line}]", outs[0])
        info = _as_asked(found[0], name)
        if not owners:
            return _group(info, None, (), self._core)  # owners not read
        node_names = [n.name for n in cx.parse_nodes(outs[4])]
        preferred = tuple(cx.parse_owners(outs[1], nodes=node_names))
        listed = [g.name for g in cx.parse_groups(outs[2], nodes=node_names)]
        mine = [r for r in cx.parse_resources(outs[3], groups=listed, nodes=node_names)
                if r.group.lower() == info.name.strip().lower()]
        possible: list[str] | None = None
        asks = [ask for r in mine if (ask := self._listowners("resource", r.name)) is not None]
        for text in self.read_chain(asks) if asks else []:
            owners_listed = cx.parse_owners(text, nodes=node_names)
            keep = {n.lower() for n in owners_listed}
            possible = (owners_listed if possible is None
                        else [n for n in possible if n.lower() in keep])
        return _group(info, preferred, tuple(possible or ()), self._core)

    @staticmethod
    def _node_from(status: str, prop: str, name: str, line: str) -> NodeInfo:
        found = cx.parse_nodes(status)
        if len(found) != 1:
            raise ParseError(f"expected one node named {name!r} [command: {line}]", status)
        return _with_versions(found[0], cx.parse_props(prop, object_name=found[0].name))

    def read_group(self, name: str, *, owners: bool = False) -> GroupInfo:
        """One group: 1 round trip; ``owners=True``: 2 (its status, preferred owners, the group,
        resource and node listings chained, then one ``/listowners`` per resource of the group).
        The group listing settles resource rows whose name and group both overflow; the node
        listing lets an owner listing hold node names with blanks.

        cluster.exe finds the group by exactly the name given; its listing cannot show leading
        or trailing blanks, so the name returned keeps the caller's blanks when the row shows the
        same name without them (``"Data "`` stays ``"Data "``, never becomes ``"Data"``)."""
        lines = self._group_lines(name, owners=owners)
        return self._group_from(self._read_named(lines, group=name), name, owners=owners,
                                line=lines[0])

    def read_node(self, name: str) -> NodeInfo:
        lines = self._node_lines(name)
        status, prop = self._read_named(lines, node=name)
        return self._node_from(status, prop, name, lines[0])

    def read_move(self, group: str, target: str | None) -> tuple[GroupInfo, NodeInfo | None]:
        """What a move needs: the group with its owners and the target node's status and
        properties chained on the group's first line, then the group's resources' owners:
        2 round trips (``read_group(owners=True)``'s, the node riding along)."""
        if target is None:
            return self.read_group(group, owners=True), None
        glines, nlines = self._group_lines(group, owners=True), self._node_lines(target)
        outs = self._read_named([*glines, *nlines], group=group, node=target)
        info = self._group_from(outs[:len(glines)], group, owners=True, line=glines[0])
        status, prop = outs[len(glines):]
        return info, self._node_from(status, prop, target, nlines[0])

    # ---- actions (built, then executed) ----

    def pause_command(self, node: str, *, drain: bool, force: bool = False) -> Command:
        if force:
            raise NotSupported(f"cluster.exe has no forced drain: pause {node} without force"
                               " (Suspend-ClusterNode -ForceDrain exists from Windows Server 2012)")
        # cluster.exe has no drain: the handle layer moves the groups itself (capabilities).
        # With drain, execute() first checks every name those moves will need (see there).
        return PauseLine(cl.pause_node_command(node, cluster=self.cluster_name),
                         idempotent=False, node=node, drain=drain)

    def resume_command(self, node: str, *, failback: str | None) -> Command:
        # No -Failback either: the handle layer moves groups back by preferred owner.
        return CmdLine(cl.resume_node_command(node, cluster=self.cluster_name), idempotent=False)

    def move_command(self, group: str, to: str | None, *, wait: int | None) -> Command:
        if to is not None:
            line = cl.move_group_command(group, to, wait_seconds=wait, cluster=self.cluster_name)
        else:
            # /move without a node: the cluster picks the destination (Windows Server 2003 help).
            line = self._line("group", cl.GroupName(group), "/move",
                              cl.Switch("wait", wait) if wait is not None else None)
        return CmdLine(line, idempotent=False)

    def check_drain(self, node: str) -> None:
        """Refuse, before anything changes, a drain whose moves cluster.exe could not make.

        A drain through cluster.exe is a pause followed by one ``/moveto`` per group (there is
        no drain of its own), so every group on ``node`` must be nameable, and named exactly, or
        the node would be left Paused still owning groups. Read-only, 1 round trip (2 when a
        group arrived since the last snapshot): a fresh group and resource listing plus
        ``group "G" /status`` for each group on the node. Refused with UnsafeName (a
        PreconditionFailed) naming the group when

        * its name holds a character cmd.exe quoting cannot carry
          (:func:`~clusterlib.wire.cmdline.check_name`);
        * two groups list under the same name (names that differ only in leading or trailing
          blanks, or in case: the fixed-width listing shows ``Data`` and ``Data `` alike);
        * ``group "G"`` does not answer for that name, or answers with another owner (the real
          name has blanks the listing does not show: moving by the listed name would move
          another group, or none);
        * the resource listing cannot be read (the moves read it), or an Up node that could
          receive the groups has a name cmd.exe quoting cannot carry.
        """
        _DrainCheck(self, node).run()

    def _read_tolerant(self, commands: Sequence[str]) -> tuple[list[str], list[int]]:
        """Like :meth:`read_chain` on one line, but a command that fails leaves its part empty
        instead of raising; returns the parts and the Win32 codes reported on stderr."""
        parts: list[str] = []
        codes: list[int] = []
        for line, wanted in _chain(commands):
            result = self.transport.run_cmd(CmdLine(line, idempotent=True))
            found = cx.error_codes(result.stderr)
            if result.stderr.strip() and not found:
                _raise_for(result, line)
                raise ParseError(f"cluster.exe: unreadable error output [command: {line}]",
                                 result.stderr)
            codes += found
            parts += self._split(result.stdout, wanted, line)
        return parts, codes

    def functional_level_command(self, *, what_if: bool) -> Command:
        raise NotSupported("clusters driven through cluster.exe have no functional level"
                           " (Windows Server 2016 and later only)")

    def execute(self, command: Command) -> None:
        if isinstance(command, Pipeline):
            raise TypeError("the cluster.exe dialect does not send PowerShell pipelines")
        if isinstance(command, PauseLine) and command.drain:
            self.check_drain(command.node)
        result = self.transport.run_cmd(command)
        _raise_for(result, command.describe())

    # ---- private properties of the cluster object (the upgrade lock lives here) ----

    def get_private(self, key: str) -> str | None:
        _check_key(key)
        result = self._run(self._line("/priv"), idempotent=True)
        value = cx.parse_props(result.stdout, object_name=None).get(key)
        if value is None:
            return None
        return self._decode_private(key, value)

    def list_private(self) -> dict[str, str]:
        """Every private property of the cluster object from one ``cluster /priv`` listing."""
        result = self._run(self._line("/priv"), idempotent=True)
        props = cx.parse_props(result.stdout, object_name=None)
        return {k: self._decode_private(k, v) for k, v in props.items()}

    @staticmethod
    def _decode_private(key: str, value: object) -> str:
        text = str(value)
        if text.startswith(_ENCODED):
            try:
                return base64.urlsafe_b64decode(text[len(_ENCODED):].encode("ascii")).decode()
            except (ValueError, UnicodeDecodeError) as exc:
                raise ParseError(f"private property {key}: undecodable value", text) from exc
        return text

    def set_private(self, key: str, value: str) -> None:
        _check_key(key)
        try:
            cl.check_name(value, "property value", allow_empty=True)
            if value.startswith(_ENCODED):
                raise UnsafeName("looks encoded")
            sent = value
        except UnsafeName:
            sent = _ENCODED + base64.urlsafe_b64encode(value.encode()).decode("ascii")
        self._run(cl.set_cluster_private_prop_command(key, sent, cluster=self.cluster_name),
                  idempotent=False)

    def delete_private(self, key: str) -> None:
        _check_key(key)
        # "/priv:Name /usedefault" deletes a private property (TechNet cc776201, [V] for nodes;
        # for the cluster object by analogy, [P]).
        line = self._line(cl.Switch("priv", cl.Name(key)), "/usedefault")
        self._run(line, idempotent=False)

    def snapshot_and_private(self) -> tuple[ClusterSnapshot, dict[str, str]]:
        """A plain snapshot and the private property listing (``list_private``) in one read:
        ``cluster /priv`` chained after the snapshot's lines (one command line more in the
        chain, no extra round trip while the chain fits one line). A failing ``/priv`` fails
        the read with its code, as ``list_private`` would."""
        base = self._snapshot_lines()
        outs, codes = self._read_tolerant([*base, self._line("/priv")])
        snap = self._snapshot_from(base, outs[:len(base)], codes, owners=False)
        if not outs[len(base)].strip():
            # No listing at all (it failed beside a tolerated failure): never read that as
            # "no property"; ask again on its own, which raises with its code.
            return snap, self.list_private()
        props = cx.parse_props(outs[len(base)], object_name=None)
        return snap, {k: self._decode_private(k, v) for k, v in props.items()}


class _DrainCheck:
    """One :meth:`ClusterExeDialect.check_drain`: the node, the last snapshot's view of the
    cluster, and what the read-only probes answered."""

    def __init__(self, dialect: ClusterExeDialect, node: str) -> None:
        self.dialect = dialect
        self.node = node
        self.key = node.lower()
        self.last = dialect._last
        self.known = [n.name for n in self.last.nodes] if self.last is not None else []

    def refuse(self, what: str) -> NoReturn:
        raise UnsafeName(f"cannot drain node {self.node!r} through cluster.exe: {what}. Nothing was"
                         " sent; the node was not paused")

    def run(self) -> None:
        cl.check_name(self.node, "node name")
        self.check_receivers()
        expected, probed = self.probe()
        for name in expected:
            self.check_answer(name, probed.get(name.lower(), ""))

    def names_on(self, groups: Sequence[GroupInfo]) -> list[str]:
        """The node's groups in ``groups``, each nameable on a line and listed once."""
        counts: dict[str, int] = {}
        for g in groups:
            counts[g.name.strip().lower()] = counts.get(g.name.strip().lower(), 0) + 1
        mine = [g.name for g in groups if (g.owner or "").lower() == self.key]
        for name in mine:
            try:
                cl.check_name(name, "group name")
            except UnsafeName as exc:
                self.refuse(f"group {name!r} on it cannot be moved by cluster.exe ({exc})")
            if counts[name.strip().lower()] > 1:
                self.refuse(f"{counts[name.strip().lower()]} groups are listed as {name!r} (their"
                            " names differ only in blanks or case, which cluster.exe's listing"
                            " does not show), so clusterlib cannot tell which one to move")
        return mine

    def check_receivers(self) -> None:
        """Every other Up node, which could receive the groups, can be named on a line."""
        for n in self.last.nodes if self.last is not None else ():
            if n.name.lower() != self.key and n.state.name == "Up":
                try:
                    cl.check_name(n.name, "node name")
                except UnsafeName as exc:
                    self.refuse(f"node {n.name!r}, which could receive its groups, cannot be"
                                f" named on a cluster.exe line ({exc})")

    def probe(self) -> tuple[list[str], dict[str, str]]:
        """A fresh group and resource listing with ``group "G" /status`` for each group the last
        snapshot put on the node, then (a second round trip) for any the fresh listing adds.
        Returns the node's groups by the fresh listing and each one's ``/status`` text."""
        d = self.dialect
        expected = self.names_on(self.last.groups) if self.last is not None else []
        probed: dict[str, str] = {}
        for round_trip in range(2):
            asks = [n for n in expected if n.lower() not in probed]
            commands = [d._line("group"), d._line("res")] if round_trip == 0 else []
            commands += [d._line("group", cl.GroupName(n), "/status") for n in asks]
            if not commands:
                break
            parts, codes = d._read_tolerant(commands)
            answers = parts
            if round_trip == 0:
                listed = cx.parse_groups(parts[0], nodes=self.known)
                try:
                    cx.parse_resources(parts[1], groups=[g.name for g in listed], nodes=self.known)
                except ParseError as exc:
                    self.refuse(f"the resource listing cannot be read ({exc.reason})")
                answers = parts[2:]
            for name, text in zip(asks, answers, strict=True):
                probed[name.lower()] = text
            bad = [c for c in codes if c != 5013]
            if bad:
                _raise_code(bad[0])
            if round_trip == 0:
                expected = self.names_on(listed)
        return expected, probed

    def check_answer(self, name: str, text: str) -> None:
        """``group "name" /status`` answered for that very group, still on the node."""
        try:
            found = cx.parse_groups(text, nodes=self.known) if text.strip() else []
        except ParseError:
            found = []
        if len(found) != 1 or found[0].name.lower() != name.lower():
            self.refuse(f"the group listed as {name!r} on it does not answer to that name"
                        " (its real name has leading or trailing blanks that cluster.exe's"
                        " listing does not show), so clusterlib cannot move it")
        if (found[0].owner or "").lower() != self.key:
            self.refuse(f"group {name!r} answers as owned by {found[0].owner!r}, not by this node"
                        " (it moved while being checked, or the listing showed another group"
                        " under its name); read the cluster again and retry")


def _raise_code(code: int, command: str | None = None) -> NoReturn:
    """Raise the mapped error for a Win32 code a chained line reported on stderr."""
    error = cx.parse_error("", cx.format_error(code), code, command=command)
    assert error is not None
    raise error


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_key(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise UnsafeName(f"private property name {key!r} cannot be sent through cluster.exe:"
                         " use letters, digits and '_' (starting with a letter or '_')")


def props_by_object(text: str, names: Sequence[str]) -> dict[str, dict[str, str | int]]:
    """Split a ``node /prop`` listing of every node into ``{lower-case name: {prop: value}}``.

    Each row's object column is matched against the known names (longest first, followed by
    blanks), then that object's rows are read by :func:`clusterlib.wire.cluster_text.parse_props`. A
    row naming no known object raises ParseError.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    dashes = [i for i, ln in enumerate(lines) if re.fullmatch(r"-+(?:[ \t]+-+)*", ln.strip())]
    if len(dashes) != 1 or dashes[0] == 0:
        raise ParseError("cluster.exe property listing: expected one table", text)
    d = dashes[0]
    head = lines[d - 1 : d + 1]
    by_name: dict[str, list[str]] = {}
    ordered = sorted(names, key=len, reverse=True)
    for row in lines[d + 1 :]:
        if not row.strip():
            break
        rest = row[3:]
        owner = next((n for n in ordered if rest.startswith(n)
                      and (len(rest) == len(n) or rest[len(n)] in " \t")), None)
        if owner is None:
            raise ParseError(f"cluster.exe property listing: row for no known node {row!r}", text)
        by_name.setdefault(owner, []).append(row)
    return {n.lower(): cx.parse_props("\r\n".join([*head, *rows, ""]), object_name=n)
            for n, rows in by_name.items()}


_DISK_PATH = re.compile(r"[A-Za-z]:\\")


def quorum_type_of(text: str) -> str:
    """Read ``cluster /quorum`` (MSG_QUORUM_RESOURCE: resource name, device, max log size; layout
    from cluster.exe's message table, [P]) into a snapshot quorum type.

    Windows 2000/2003 keep the quorum log in a folder on the quorum disk (``Q:\\MSCS\\``), so a
    device that is a drive path means the standard disk quorum, "DiskOnly" [P]. Anything else
    (Majority Node Set, a file share witness) is returned as "" (unknown): clusterlib then
    assumes the strict majority rule, the cautious choice.
    """
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
    dash = [i for i, ln in enumerate(lines) if re.fullmatch(r"-+(?: +-+)*", ln.strip())]
    if len(dash) != 1 or len(lines) != dash[0] + 2:
        raise ParseError("cluster.exe quorum listing: expected one row under one table", text)
    widths = [len(run) for run in lines[dash[0]].split()]
    row = lines[dash[0] + 1]
    m = re.fullmatch(r"(.*?)\s+(\d+)\s*", row)
    if m is None or len(widths) != 3:
        raise ParseError(f"cluster.exe quorum listing: unreadable row {row!r}", text)
    device = m.group(1)[widths[0] + 1 :].strip() if len(m.group(1)) > widths[0] else ""
    return "DiskOnly" if _DISK_PATH.match(device) else ""


def _int(props: dict[str, str | int], key: str) -> int | None:
    value = props.get(key)
    return value if isinstance(value, int) else None


def _with_versions(node: NodeInfo, props: dict[str, str | int]) -> NodeInfo:
    import attrs

    major, hi, lo = _int(props, "MajorVersion"), _int(props, "NodeHighestVersion"), _int(
        props, "NodeLowestVersion")
    os_version = None
    if major is not None:
        csd = props.get("CSDVersion", "")
        os_version = OSVersion(major, _int(props, "MinorVersion") or 0,
                               _int(props, "BuildNumber") or 0, csd if isinstance(csd, str) else "")
    return attrs.evolve(node, os_version=os_version,
                        highest_version=ServiceVersion.from_dword(hi) if hi else None,
                        lowest_version=ServiceVersion.from_dword(lo) if lo else None)


def _group(g: GroupInfo, preferred: tuple[str, ...] | None, possible: tuple[str, ...],
           core_name: str | None = None) -> GroupInfo:
    """``preferred`` None: not read. cluster.exe has no group priority (it came with Windows
    Server 2012's Get-ClusterGroup), so the record says None, not a made-up default."""
    import attrs

    core = g.name.lower() == (core_name if core_name is not None else CORE_GROUP).lower()
    return attrs.evolve(g, is_core=core, group_type=GroupType.Cluster if core else g.group_type,
                        preferred_owners=preferred, possible_owners=possible, priority=None)


def detect_clusterexe(transport: Transport, cluster: str | None = None) -> cx.ClusterExeVersion:
    """Probe ``cluster.exe /ver``: the version when cluster.exe answers; NotSupported when the
    endpoint has no cluster.exe; the mapped error when the cluster refuses (e.g. 1722 for a
    cluster name nobody answers to)."""
    line = cl.build_line(*_prefix(cluster), "/ver")
    result = transport.run_cmd(CmdLine(line, idempotent=True))
    if result.exit_code == 1 and "not simulated" in result.stderr and "cluster.exe" in (
            result.stderr):
        raise NotSupported(f"{transport.endpoint} does not answer cluster.exe command lines"
                           f" ({result.stderr.strip()})", command=line)
    _raise_for(result, line)
    return cx.parse_version(result.stdout)


def _as_asked(found: GroupInfo, asked: str) -> GroupInfo:
    """The row cluster.exe printed for ``group "asked"``, with the caller's leading/trailing
    blanks kept: the listing pads names with blanks, so it cannot show them, while cluster.exe
    found the group by exactly ``asked``."""
    import attrs

    if found.name.lower() == asked.strip(" \t").lower() and found.name != asked:
        lead = asked[: len(asked) - len(asked.lstrip(" \t"))]
        trail = asked[len(asked.rstrip(" \t")):]
        return attrs.evolve(found, name=f"{lead}{found.name}{trail}")
    return found


def quorum_resource_of(text: str, resources: Sequence[str]) -> str | None:
    """The quorum resource named by ``cluster /quorum`` (MSG_QUORUM_RESOURCE: resource name
    ``%-20s``, device, max log size; layout from cluster.exe's message table, [P]), matched
    against the cluster's resource names (longest first, so a name that overflows its column
    or contains blanks is read whole). None when the row names no known resource."""
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
    dash = [i for i, ln in enumerate(lines) if re.fullmatch(r"-+(?: +-+)*", ln.strip())]
    if len(dash) != 1 or len(lines) != dash[0] + 2:
        return None
    row = lines[dash[0] + 1]
    for name in sorted(resources, key=len, reverse=True):
        if row.lower().startswith(name.lower()) and row[len(name):len(name) + 1] in (" ", "\t"):
            return name
    return None


def _quorum_and_core(text: str, resources: Sequence[ResourceInfo],
                     groups: Sequence[str]) -> tuple[str, str]:
    """(quorum type, core group name) from ``cluster /quorum`` and the resource listing.

    The core group is the group of the quorum resource (reference section 7 [P]): Windows
    names it "Cluster Group" in English only, a localized cluster names it in its language.
    Fallback, when ``/quorum`` is unreadable or names a resource the listing does not show: the
    group named "Cluster Group" (the English default, [P]), with a warning in the log.
    """
    try:
        quorum_type = quorum_type_of(text)
    except ParseError:
        log.warning("cluster /quorum unreadable; quorum type unknown")
        quorum_type = ""
    name = quorum_resource_of(text, [r.name for r in resources])
    if name is not None:
        group = next(r.group for r in resources if r.name == name)
        real = next((g for g in groups if g.lower() == group.strip().lower()), None)
        if real is not None:
            return quorum_type, real
    log.debug("quorum resource not in the resource listing; core group found by the name %r",
              CORE_GROUP)
    return quorum_type, CORE_GROUP
