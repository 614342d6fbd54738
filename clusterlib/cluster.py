"""Live handles (Cluster, Node, Group) that act and answer with fresh snapshots; and connect()."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from clusterlib.dialects.base import Capabilities, Dialect
from clusterlib.errors import (
    ClusterError,
    ClusterRefused,
    NotSupported,
    PreconditionFailed,
    TransientClusterError,
    WaitTimeout,
)
from clusterlib.model import (
    ClusterSnapshot,
    DrainStatus,
    GroupInfo,
    GroupState,
    NodeInfo,
    NodeState,
    expected_state,
)
from clusterlib.placement import best_node, evacuation_plan
from clusterlib.retry import DEFAULT_POLICIES, Policies, retry_call, wait_for
from clusterlib.transports.base import Transport

if TYPE_CHECKING:
    from clusterlib.sim.simcluster import SimCluster

log = logging.getLogger("clusterlib")

#: Listener signature: (event name, details). Events: "move", "retry", "pause", "resume".
Listener = Callable[[str, dict[str, Any]], None]

#: Resume-ClusterNode's -Failback values (not the upgrade's failback option, upgrade.options).
RESUME_FAILBACK_VALUES = ("NoFailback", "Immediate", "Policy")


class Cluster:
    """A connected cluster. Get one with ``clusterlib.connect(...)``."""

    def __init__(self, transport: Transport, dialect: Dialect, *,
                 policies: Policies = DEFAULT_POLICIES, time_scale: float | None = None) -> None:
        self.transport = transport
        #: How this cluster is driven: the dialect object that builds and sends the commands
        #: (its ``name``, and ``str()`` of it, is the label; see ``dialect_name``).
        self.dialect = dialect
        self.policies = policies
        self.time_scale = float(time_scale if time_scale is not None
                                else getattr(transport, "time_scale", 1.0) or 1.0)
        self.listeners: list[Listener] = []
        self._name: str | None = None

    # ---- identity ----

    @property
    def dialect_name(self) -> str:
        """How this cluster is driven: "powershell", "powershell-nodrain" or "clusterexe"."""
        return self.dialect.name

    @property
    def capabilities(self) -> Capabilities:
        return self.dialect.capabilities

    @property
    def commands(self) -> Dialect:
        """Deprecated: the dialect object is ``Cluster.dialect``."""
        warnings.warn("Cluster.commands is deprecated: use Cluster.dialect (the dialect object)",
                      DeprecationWarning, stacklevel=2)
        return self.dialect

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = self.snapshot().name
        return self._name

    def __repr__(self) -> str:
        name = self._name or "?"
        return f"<Cluster {name!r} via {self.transport.endpoint} ({self.dialect_name})>"

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- events ----

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event, details)`` for moves, retries, pauses and resumes.
        Returns a function that unsubscribes."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    def _emit(self, event: str, **details: Any) -> None:
        for listener in list(self.listeners):
            try:
                listener(event, details)
            except Exception:  # a broken subscriber must never break an action in flight
                log.exception("event listener failed on %s", event)

    # ---- reads ----

    def snapshot(self, *, owners: bool = False) -> ClusterSnapshot:
        """Nodes, groups, states, owners and versions in one round trip. ``owners=True`` adds
        preferred and possible owners (still one round trip, a larger one)."""
        snap = self.dialect.snapshot(owners=owners)
        self._name = snap.name
        return snap

    def nodes(self) -> list[Node]:
        snap = self.snapshot()
        return [Node(self, n.name, n) for n in snap.nodes]

    def groups(self) -> list[Group]:
        snap = self.snapshot()
        return [Group(self, g.name, g) for g in snap.groups]

    def node(self, name: str) -> Node:
        """The node called ``name`` (case-insensitive); NodeNotFound lists the valid names."""
        info = self.snapshot().node(name)
        return Node(self, info.name, info)

    def group(self, name: str) -> Group:
        """The group called ``name`` (case-insensitive); GroupNotFound lists the valid names."""
        info = self.snapshot().group(name)
        return Group(self, info.name, info)

    # ---- cluster-wide actions ----

    def update_functional_level(self, *, what_if: bool = False) -> ClusterSnapshot:
        """Update-ClusterFunctionalLevel (irreversible). Refused unless every node is Up (not
        paused) and all run the same cluster-service version (reference 1.11)."""
        if not self.capabilities.functional_level:
            raise NotSupported("this cluster has no functional level to raise (Windows Server"
                               " 2016 and later only)")
        snap = self.snapshot()
        not_up = [f"{n.name} is {n.state.name}" for n in snap.nodes if n.state is not NodeState.Up]
        if not_up:
            raise PreconditionFailed("every node must be Up to raise the functional level: "
                                     + ", ".join(not_up))
        versions = {str(n.highest_version) for n in snap.nodes}
        if len(versions) > 1:
            raise PreconditionFailed("nodes run different cluster-service versions ("
                                     + ", ".join(sorted(versions)) + "); upgrade them all first")
        self.dialect.execute(self.dialect.functional_level_command(what_if=what_if))
        return self.snapshot()

    # ---- shared helpers for the handles ----

    def _wait(self, read: Callable[[], Any], done: Callable[[Any], bool], which: str,
              what: str, failed: Callable[[Any], str | None] | None = None) -> Any:
        policy = getattr(self.policies, which)
        return wait_for(read, done, policy, what=what, scale=self.time_scale, failed=failed,
                        clock=self.policies.clock)


_InfoT = TypeVar("_InfoT", NodeInfo, GroupInfo)


class _Handle(Generic[_InfoT]):
    """A live handle: its cluster, its object's name, and what it last read of the object."""

    def __init__(self, cluster: Cluster, name: str, info: _InfoT | None = None) -> None:
        self.cluster = cluster
        self.name = name
        self._info: _InfoT | None = info

    def _read(self) -> _InfoT:
        raise NotImplementedError

    def info(self) -> _InfoT:
        """A fresh read of this object (one round trip)."""
        info = self._info = self._read()
        return info


class Node(_Handle[NodeInfo]):
    """A live handle on one node. Actions return a fresh ClusterSnapshot."""

    def __repr__(self) -> str:
        state = self._info.state.name if self._info else "?"
        return f"<Node {self.name!r} {state}>"

    def _read(self) -> NodeInfo:
        return self.cluster.dialect.read_node(self.name)

    @property
    def state(self) -> NodeState:
        return self.info().state

    def groups(self) -> list[Group]:
        snap = self.cluster.snapshot()
        return [Group(self.cluster, g.name, g) for g in snap.groups_on(self.name)]

    def pause(self, drain: bool = True, *, force: bool = False) -> ClusterSnapshot:
        """Pause the node; with ``drain`` move every group it owns (core group included) to other
        nodes first-come by priority. On clusters whose Suspend-ClusterNode has no -Drain
        (Windows Server 2008 R2, cluster.exe) clusterlib pauses, then moves each group itself.

        ``force`` (CAU's -ForcePauseAndDrain): ``-ForceDrain`` (2012 R2+; ``-ForceEvacuation`` on
        2012): a workload that cannot be moved safely is stopped and moved as a failed role, and
        the node is paused anyway. Refused (NotSupported, nothing sent) where the release has
        neither switch, or without ``drain``.

        Refused before anything is sent when the node is not Up/Paused, when no other node is Up,
        or when a group on it has no other node that may own it.
        """
        c = self.cluster
        if force and (not drain or c.capabilities.force_drain is None):
            raise NotSupported(
                f"cannot force-drain {self.name}: " + (
                    "force applies to a drain only (drain=True)" if not drain else
                    "this cluster's Suspend-ClusterNode has neither -ForceDrain (Windows Server"
                    " 2012 R2 and later) nor -ForceEvacuation (2012); nothing was sent"))
        snap = c.snapshot(owners=drain)
        me = snap.node(self.name)
        if me.state not in (NodeState.Up, NodeState.Paused):
            raise PreconditionFailed(f"node {me.name} is {me.state.name}; only an Up node can be"
                                     " paused")
        others = [n.name for n in snap.up_nodes if n.name != me.name]
        if not others:
            raise PreconditionFailed(
                f"pausing {me.name} would leave no Up node in cluster {snap.name}"
                f" (node states: {', '.join(f'{n.name}={n.state.name}' for n in snap.nodes)})")
        if drain:
            _targets, stuck = evacuation_plan(snap, me.name)
            if stuck:
                raise PreconditionFailed(
                    f"cannot drain {me.name}: no other Up node may own {', '.join(stuck)}"
                    f" (Up nodes: {', '.join(others)}); fix the possible owners first")
        started = time.monotonic()
        d = c.dialect
        d.execute(d.pause_command(me.name, drain=drain, force=True) if force
                  else d.pause_command(me.name, drain=drain))
        c._emit("pause", node=me.name, drain=drain)
        if drain and c.capabilities.drain:
            node = c._wait(lambda: d.read_node(me.name),
                           lambda n: n.drain_status is not DrainStatus.InProgress,
                           "drain_wait", f"drain of {me.name}")
            if node.drain_status is DrainStatus.Failed or node.state is not NodeState.Paused:
                left = [g.name for g in c.snapshot().groups_on(me.name) if not g.is_core]
                raise ClusterRefused(
                    f"drain of {me.name} failed (node is {node.state.name}, drain"
                    f" {node.drain_status.name}); groups still on it: {', '.join(left) or 'none'}")
        if drain:
            # Whatever the cluster left (the core group, or every group where the cluster
            # cannot drain), clusterlib moves itself.
            self._evacuate()
        c._emit("paused", node=me.name, seconds=time.monotonic() - started)
        return c.snapshot()

    def _evacuate(self) -> None:
        c = self.cluster
        snap = c.snapshot(owners=True)
        targets, stuck = evacuation_plan(snap, self.name)
        if stuck:
            raise ClusterRefused(f"{self.name} still owns {', '.join(stuck)} and no Up node may"
                                 " take them")
        for gname, target in targets.items():
            # The snapshot just read is the group's state and its owners, and the plan chose
            # an Up node that may own it: no per-group re-read before the move.
            g = snap.group(gname)
            if (g.owner or "").lower() == target.lower() and g.state is not GroupState.Failed:
                continue
            Group(c, gname)._move_known(g, target)

    def resume(self, failback: str = "NoFailback") -> ClusterSnapshot:
        """Resume a paused node. ``failback``: NoFailback (default: groups stay where they are),
        Immediate (drained groups come back now) or Policy (per the groups' failback settings).
        Where the cluster has no -Failback, clusterlib moves back the groups whose first
        preferred owner is this node."""
        mode = _failback_mode(failback)
        c = self.cluster
        snap = c.snapshot()
        me = snap.node(self.name)
        if me.state is not NodeState.Paused:
            raise PreconditionFailed(f"node {me.name} is {me.state.name}, not Paused; only a paused"
                                     " node can be resumed")
        d = c.dialect
        d.execute(d.resume_command(me.name, failback=mode))
        c._emit("resume", node=me.name, failback=mode)
        node = c._wait(lambda: d.read_node(me.name), lambda n: n.state is NodeState.Up,
                       "node_wait", f"resume of {me.name}")
        self._info = node
        if mode != "NoFailback" and not c.capabilities.failback:
            snap = c.snapshot(owners=True)
            for g in snap.groups:
                if (g.preferred_owners and g.preferred_owners[0].lower() == me.name.lower()
                        and (g.owner or "").lower() != me.name.lower()):
                    Group(c, g.name).move_to(me.name)
        return c.snapshot()


class Group(_Handle[GroupInfo]):
    """A live handle on one group. Actions return a fresh ClusterSnapshot."""

    def __repr__(self) -> str:
        if self._info is None:
            return f"<Group {self.name!r}>"
        return f"<Group {self.name!r} {self._info.state.name} on {self._info.owner}>"

    def _read(self) -> GroupInfo:
        return self.cluster.dialect.read_group(self.name)

    @property
    def state(self) -> GroupState:
        return self.info().state

    @property
    def owner(self) -> str | None:
        return self.info().owner

    def move(self, to: Node | str | None = None) -> ClusterSnapshot:
        """Move the group to ``to`` (a Node or node name; None = the best other node) and wait,
        bounded, until it is back in its pre-move state there (Online stays Online, Offline stays
        Offline). Busy/locked/slow groups are retried per ``policies.move_retry``; each retry
        re-reads the group first, so a move already under way is never sent twice.

        If the group fails to come online on the target, it is moved back to where it was and
        ClusterRefused says so. Refused before sending when the target is not Up or may not own
        the group.
        """
        self.move_to(to)
        return self.cluster.snapshot()

    def move_to(self, to: Node | str | None = None) -> GroupInfo:
        """``move()`` without the closing snapshot: returns the group as it ends up. For callers
        that move many groups (a drain, a redistribution) and read the cluster once at the end."""
        c = self.cluster
        target_name = to.name if isinstance(to, Node) else to
        if target_name is None:
            # The best node needs every node and group: one snapshot is the whole read.
            snap = c.snapshot(owners=True)
            g = snap.group(self.name)
            target_name = best_node(snap, g, exclude=[g.owner] if g.owner else [])
            if target_name is None:
                raise PreconditionFailed(f"no other Up node may own group {g.name}")
            target = snap.node(target_name)
        else:
            # The group, its owners and the target's state in one read (NotFound for either name).
            g, found = c.dialect.read_move(self.name, target_name)
            assert found is not None  # a target was named
            target = found
        if target.state is not NodeState.Up:
            why = ("a paused node accepts no groups" if target.state is NodeState.Paused
                   else "groups can only move to an Up node")
            raise PreconditionFailed(f"cannot move {g.name} to {target.name}: {target.name} is"
                                     f" {target.state.name} ({why})")
        if not g.can_be_owned_by(target.name):
            raise PreconditionFailed(
                f"cannot move {g.name} to {target.name}: it is not a possible owner (possible"
                f" owners: {', '.join(g.possible_owners)})")
        if (g.owner or "").lower() == target.name.lower() and g.state is not GroupState.Failed:
            return g
        return self._move_known(g, target.name)

    def _move_known(self, g: GroupInfo, target: str) -> GroupInfo:
        """Move ``g`` (as just read, target already checked) and announce it: the move (which
        waits itself) and one confirming read."""
        c = self.cluster
        expected = expected_state(g)
        started = time.monotonic()
        # The group just read is the pre-move state: no re-read before the move, and the
        # move's own confirming read is the group as it ends up.
        attempts = self.move_prechecked(target, expected, known=g)
        final = self._info if self._info is not None else c.dialect.read_group(g.name)
        c._emit("move", group=g.name, source=g.owner, target=target, state=final.state.name,
                attempts=attempts, seconds=time.monotonic() - started)
        return final

    def move_prechecked(self, target: str, expected: GroupState, *,
                        known: GroupInfo | None = None) -> int:
        """The retrying, rolling-back move with none of ``move_to``'s reads and checks: for a
        caller that has already checked the target from its own snapshot (the upgrade engine
        moves hundreds of groups from one read). Waits until the group is ``expected`` on
        ``target``; returns the number of attempts. Same retry, no-blind-resend and roll-back
        guarantees as ``move``.

        ``known``: the group as the caller has just read it. The first attempt then sends the
        move without reading the group again, so a move is the Move-ClusterGroup (which waits
        for the group itself, ``-Wait``) and one confirming read; every retry still re-reads
        the group before it re-sends. The confirmed group is left in ``self._info``."""
        c = self.cluster
        d = c.dialect
        attempts = 0
        self._info = None

        def on_target(info: GroupInfo) -> bool:
            return (info.owner or "").lower() == target.lower()

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            # A retry re-reads the group first, so a move already under way is never re-sent.
            current = known if attempts == 1 and known is not None else d.read_group(self.name)
            in_flight = on_target(current) and current.state is GroupState.Pending
            if not (on_target(current) and current.state is expected) and not in_flight:
                d.execute(d.move_command(self.name, target,
                                         wait=int(c.policies.move_wait.timeout)))
            try:
                self._info = c._wait(
                    lambda: d.read_group(self.name),
                    lambda i: on_target(i) and i.state is expected, "move_wait",
                    f"{self.name} {expected.name} on {target}",
                    failed=lambda i: "Failed" if on_target(i) and i.state is GroupState.Failed
                    else None)
            except WaitTimeout as exc:
                if str(exc).endswith(": Failed"):
                    raise _OnlineFailed(self.name, target) from exc
                raise

        def on_retry(n: int, exc: BaseException) -> None:
            c._emit("retry", group=self.name, target=target, attempt=n, error=str(exc))

        source_before = known if known is not None else d.read_group(self.name)
        try:
            retry_call(attempt, c.policies.move_retry, what=f"move of {self.name} to {target}",
                       scale=c.time_scale, on_retry=on_retry,
                       retry_on=(TransientClusterError, WaitTimeout), clock=c.policies.clock)
        except (_OnlineFailed, ClusterRefused) as exc:
            online_failed = isinstance(exc, _OnlineFailed) or exc.win32_code == 5018
            if not online_failed:
                raise
            raise self.roll_back(source_before, target) from exc
        return attempts

    def roll_back(self, before: GroupInfo, target: str) -> ClusterRefused:
        """The group went Failed on ``target``: put it back where ``before`` shows it. Returns
        (does not raise) the error a failed ``move`` raises, saying where the group is now."""
        where = self._roll_back(before, target)
        return ClusterRefused(f"group {self.name} failed to come online on {target}; {where}",
                              win32_code=5018, command=f"move {self.name} to {target}")

    def _roll_back(self, before: GroupInfo, target: str) -> str:
        """The group failed on the target: put it back where it was. Returns what happened."""
        c = self.cluster
        d = c.dialect
        source = before.owner
        if not source or source.lower() == target.lower():
            return "it stays where it is"
        try:
            d.execute(d.move_command(self.name, source, wait=int(c.policies.move_wait.timeout)))
            c._wait(lambda: d.read_group(self.name),
                    lambda i: (i.owner or "").lower() == source.lower()
                    and i.state is not GroupState.Pending, "move_wait",
                    f"return of {self.name} to {source}")
            state = d.read_group(self.name).state.name
            c._emit("move", group=self.name, source=target, target=source, rollback=True,
                    state=state, attempts=1, seconds=0.0)
            return f"it was moved back to {source} and is {state} there"
        except ClusterError as exc:
            log.error("could not return %s to %s after it failed on %s: %s", self.name, source,
                      target, exc)
            return f"returning it to {source} failed too ({exc}); it needs attention"


class _OnlineFailed(ClusterError):
    """Internal: the group reached the target but went Failed there (not worth retrying)."""

    def __init__(self, group: str, target: str) -> None:
        super().__init__(f"group {group} failed to come online on {target}")


def _failback_mode(value: str) -> str:
    for mode in RESUME_FAILBACK_VALUES:
        if mode.lower() == str(value).lower().replace("-", "").replace("_", ""):
            return mode
    raise ValueError(f"failback must be one of {', '.join(RESUME_FAILBACK_VALUES)}, not {value!r}")


def connect(target: str | SimCluster | Transport, *, dialect: str = "auto",
            cluster: str | None = None, policies: Policies | None = None,
            time_scale: float | None = None, **options: Any) -> Cluster:
    """Connect to a cluster and decide once how to drive it.

    ``target``: a host name (a cluster node or a management host with the tools; WinRM options
    such as username, password, auth, ssl, port, cert_validation, connect_timeout,
    read_timeout, call_timeout, operation_timeout, max_response_bytes, max_message_bytes,
    max_depth, retry and allow_cleartext_basic go in ``options``; see docs/connecting.md), a
    ``clusterlib.sim.SimCluster`` (in-process), or any object implementing the Transport
    protocol.
    ``dialect``: "auto" (detect), "powershell" or "clusterexe".
    ``cluster``: the cluster to address when it differs from the host's own (-Cluster, /cluster:).
    """
    transport = _transport_for(target, cluster=cluster, **options)
    try:
        chosen = _choose_dialect(transport, dialect, cluster)
    except BaseException:
        transport.close()
        raise
    return Cluster(transport, chosen, policies=policies or DEFAULT_POLICIES, time_scale=time_scale)


def _transport_for(target: Any, cluster: str | None, **options: Any) -> Transport:
    from clusterlib.sim.simcluster import SimCluster

    if isinstance(target, SimCluster):
        if options:
            raise TypeError(f"options {sorted(options)} do not apply to a simulated cluster")
        from clusterlib.sim.transport import InProcessTransport

        return InProcessTransport(target)
    if isinstance(target, str):
        if not target.strip():
            raise ValueError("connect() needs a host name, a SimCluster or a transport")
        try:
            from clusterlib.transports.winrm import WinRMTransport
        except ImportError as exc:  # pragma: no cover - only without the WinRM transport module
            raise NotSupported(f"the WinRM transport is not available: {exc}") from exc
        return WinRMTransport(target, cluster=cluster, **options)
    if isinstance(target, Transport):
        if options:
            raise TypeError(f"options {sorted(options)} do not apply to a ready-made transport")
        return target
    raise TypeError(f"cannot connect to {type(target).__name__}: give a host name, a SimCluster"
                    " or a transport")


def _choose_dialect(transport: Transport, dialect: str, cluster: str | None) -> Dialect:
    from clusterlib.dialects import choose

    return choose(transport, dialect, cluster)


def __getattr__(name: str) -> Any:
    if name == "FAILBACK_MODES":
        warnings.warn("clusterlib.cluster.FAILBACK_MODES is now RESUME_FAILBACK_VALUES",
                      DeprecationWarning, stacklevel=2)
        return RESUME_FAILBACK_VALUES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- an action and the read that follows it: one round trip where the dialect can ----
# PowerShell runs the read's statements after the action's in the same pipeline
# (``powershell_dialect.execute_then_read``); cluster.exe sends the action, then reads.

def _ps_module(dialect: Dialect) -> Any:
    """The PowerShell dialect's module when ``dialect`` is one, else None."""
    from clusterlib.dialects import powershell_dialect

    return powershell_dialect if isinstance(dialect, powershell_dialect.PowerShellDialect) else None


def execute_then_snapshot(cluster: Cluster, command: Any) -> ClusterSnapshot:
    """``cluster.dialect.execute(command)``, then a plain snapshot (raises as ``execute`` does;
    when the command fails nothing is read)."""
    d = cluster.dialect
    ps = _ps_module(d)
    if ps is None:
        d.execute(command)
        return cluster.snapshot()
    snap: ClusterSnapshot = ps.execute_then_snapshot(d, command)
    cluster._name = snap.name
    return snap


def execute_then_node(cluster: Cluster, command: Any, node: str) -> NodeInfo:
    """``cluster.dialect.execute(command)``, then ``read_node(node)``."""
    d = cluster.dialect
    ps = _ps_module(d)
    if ps is None:
        d.execute(command)
        return d.read_node(node)
    info: NodeInfo = ps.execute_then_node(d, command, node)
    return info


def move_confirmed(cluster: Cluster, group: str, target: str, expected: GroupState,
                   known: GroupInfo) -> int:
    """``Group(cluster, group).move_prechecked(target, expected, known=known)`` with the move
    and its first confirming read in one round trip where the dialect can (PowerShell:
    Move-ClusterGroup -Wait N, then Get-ClusterGroup). When that read shows the group
    ``expected`` on ``target`` the move is done (one attempt); Failed there, it is returned to
    where ``known`` shows it (the error ``move_prechecked`` raises); still Pending there, it is
    waited for as ``move_prechecked`` waits; anywhere else, or after a refusal worth retrying,
    ``move_prechecked`` goes on from what was read (it re-reads before it re-sends, so a move
    under way is never sent twice). Returns the number of attempts."""
    d = cluster.dialect
    handle = Group(cluster, group)
    ps = _ps_module(d)
    if ps is None:
        return handle.move_prechecked(target, expected, known=known)
    command = d.move_command(group, target, wait=int(cluster.policies.move_wait.timeout))
    try:
        seen: GroupInfo = ps.execute_then_group(d, command, group)
    except TransientClusterError as exc:
        # Busy or locked: retried as move_prechecked retries (it re-reads before it re-sends).
        cluster._emit("retry", group=group, target=target, attempt=1, error=str(exc))
        return 1 + handle.move_prechecked(target, expected)
    except ClusterRefused as exc:
        if exc.win32_code == 5018:  # failed to come online there
            raise handle.roll_back(known, target) from exc
        raise
    there = (seen.owner or "").lower() == target.lower()
    if there and seen.state is expected:
        return 1
    if there and seen.state is GroupState.Failed:
        raise handle.roll_back(known, target)
    if not there:
        return 1 + handle.move_prechecked(target, expected, known=seen)
    # Still Pending there (the -Wait ran out): the retrying move waits on from this read and
    # sends nothing while the move is under way. A failure there is rolled back from where
    # ``known`` shows the group (from ``seen`` it would look like nowhere to go).
    try:
        return handle.move_prechecked(target, expected, known=seen)
    except ClusterRefused as exc:
        if exc.win32_code == 5018:
            raise handle.roll_back(known, target) from exc
        raise
