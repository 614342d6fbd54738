"""What the upgrade's phases share: the run context (cluster, journal, events, lock fence) and its stops."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from clusterlib.cluster import Cluster
from clusterlib.model import ClusterSnapshot, GroupInfo, NodeInfo, NodeState
from clusterlib.retry import WaitPolicy, wait_for
from clusterlib.upgrade import lock as locks
from clusterlib.upgrade.actions import UpgradeAction
from clusterlib.upgrade.errors import JournalWriteFailed, LockLost
from clusterlib.upgrade.events import (
    EventBus,
    GroupMoved,
    Retry,
    UpgradeEvent,
    WaitingForOperator,
    Warning,
    utc_now,
)
from clusterlib.upgrade.journal import Journal
from clusterlib.upgrade.options import UpgradeOptions
from clusterlib.upgrade.report import Report
from clusterlib.upgrade.state import (
    AuditRecord,
    MoveRecord,
    NodeVersions,
    RetryRecord,
    RunState,
    StepRecord,
)

T = TypeVar("T")

#: Node states that count as back in the cluster, and as out of it (down, joining, unknown).
BACK = (NodeState.Up, NodeState.Paused)
OUT = (NodeState.Down, NodeState.Joining, NodeState.Unknown)

# (preferred owners (None: not read), possible owners, anti-affinity) of one group
Owners = tuple[tuple[str, ...] | None, tuple[str, ...], tuple[str, ...]]


class Stop(Exception):
    """Stop the run here; the cluster is in the state ``message`` describes."""

    def __init__(self, message: str, *, node: str | None = None, group: str | None = None,
                 phase: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.group = group
        self.phase = phase


class JournalFailed(Stop):
    """The journal could not be written (ENOSPC, a read-only disk, ...): stop before anything
    else changes, since a step the journal cannot record must not run."""

    def __init__(self, path: Path | None, exc: OSError | JournalWriteFailed) -> None:
        super().__init__(f"cannot write the journal {path}: {exc}. Stopped safely before the"
                         " next change; the journal file keeps the state of its last successful"
                         " write (the step after it is re-checked on resume). Free space or fix"
                         " the file system, then resume.")
        self.path = path


class NodeFailed(Exception):
    """This node failed but is back and safe; counts against max_failed_nodes."""


class MoveFailed(Exception):
    """A move ended badly; the message says where the group is now."""

    def __init__(self, message: str, group: str) -> None:
        super().__init__(message)
        self.group = group


class DrainTrouble(Exception):
    """One drain attempt failed in a way another attempt may fix."""

    def __init__(self, message: str, group: str | None = None) -> None:
        super().__init__(message)
        self.group = group


def versions_of(info: NodeInfo) -> NodeVersions:
    """A node's versions and state as the journal records them (nodes_before, nodes_after)."""
    return NodeVersions(highest=str(info.highest_version) if info.highest_version else None,
                        lowest=str(info.lowest_version) if info.lowest_version else None,
                        os=str(info.os_version) if info.os_version else None,
                        state=info.state.name)


def same(a: str | None, b: str | None) -> bool:
    """Node and group names compare case-insensitively, as the cluster compares them."""
    return (a or "").lower() == (b or "").lower()


class RunContext:
    """One run's shared state, handed to every phase: the cluster and its policies, the run's
    options, action and hooks, the journal, the event bus, the lock this run holds (the fence),
    the owner lists read at the start, and which step's time is passing. Phases read and change
    the cluster only through it, so a phase is a plain function of (context, step)."""

    def __init__(self, cluster: Cluster, action: UpgradeAction | None, options: UpgradeOptions,
                 *, run_id: str, pre_update: UpgradeAction | None = None,
                 verify: UpgradeAction | None = None) -> None:
        self.cluster = cluster
        self.action = action
        self.options = options
        self.run_id = run_id
        # Hooks (CAU's pre-/post-update scripts): pre_update runs on the drained node right
        # before the action; verify after the version check, before the node is resumed.
        self.pre_update = pre_update
        self.verify = verify
        self.bus = EventBus()
        self.journal: Journal | None = None
        self.resend: set[str] = set()  # nodes (lower case) whose unconfirmed action may go again
        self.owners: dict[str, Owners] = {}
        self.current: tuple[str | None, str | None] = (None, None)  # (node, phase) running
        # The running step's journal status before this session began it ("running": an
        # earlier session stopped inside it, so what it sent may be under way).
        self.prior_status = "pending"
        self.label = "start"  # the step whose time is passing (for the availability section)
        self.lock: locks.LockInfo | None = None  # this holder's lock (token), for fencing
        self.fenced_at = 0.0
        self.last_save = 0.0
        # The running step's "before" is not yet written (see engine._WRITTEN_BEFORE_SEND).
        self.unsaved = False
        self.recoveries: dict[str, int] = {}
        # The snapshot the availability check took at this step's boundary, when nothing has
        # changed since: the step's phase takes it as its first read instead of reading again.
        self.boundary: ClusterSnapshot | None = None
        # Whether that boundary read also fenced (its lock listing rode in the same round trip,
        # see boundary_snap) with nothing sent since: the step start's fence is then done.
        self.boundary_fenced = False
        # The last boundary read and when (monotonic), and the one a step hands on to the next
        # boundary: a read-only step's boundary read, or the drain's read after its last send
        # (see engine._call, phases.drain and availability.check).
        self.boundary_read: tuple[ClusterSnapshot, float] | None = None
        self.carry: tuple[ClusterSnapshot, float] | None = None
        # The node the reboot wait last read, back, and when (monotonic): the version check
        # that follows at once starts from that read (see engine._quiet and first_node).
        self.back: tuple[str, NodeInfo, float] | None = None

    # ---- the journal ----

    @property
    def state(self) -> RunState:
        """The run's recorded state (the journal's typed record)."""
        assert self.journal is not None
        return self.journal.state

    def save(self) -> None:
        assert self.journal is not None
        try:
            self.journal.save()
        except (OSError, JournalWriteFailed) as exc:
            raise JournalFailed(self.journal.path, exc) from exc
        self.last_save = time.monotonic()
        self.unsaved = False

    def save_before_send(self) -> None:
        """Write the running step's "before" if it is not yet written: the write-ahead rule
        (a step is durably running before anything is sent for it)."""
        if self.unsaved:
            self.save()

    def save_due(self) -> None:
        """Save when the last save is over a second old: moves are facts worth keeping, but not
        worth an fsync each."""
        if time.monotonic() - self.last_save > 1.0:
            self.save()

    def audit(self, text: str) -> None:
        self.state.audit.append(AuditRecord(text=text, at=utc_now()))

    def report(self) -> Report:
        assert self.journal is not None
        path = str(self.journal.path) if self.journal.path is not None else None
        return Report.from_state(self.journal.state, path)

    def mark(self, rec: StepRecord, status: str, message: str, save: bool = True) -> None:
        rec.status = status
        rec.message = message
        rec.finished = utc_now()
        if save:
            self.save()

    # ---- events ----

    def emit(self, event: UpgradeEvent) -> None:
        self.bus.emit(event)

    def warn(self, message: str, *, node: str | None = None, phase: str | None = None) -> None:
        if self.journal is not None:
            self.state.warnings.append(
                " ".join(x for x in (node, phase) if x) + (": " if node or phase else "") + message)
        self.emit(Warning(run_id=self.run_id, node=node, phase=phase, message=message))

    def note_retry(self, node: str, phase: str, attempt: int, error: str,
                   group: str | None = None) -> None:
        self.state.retries.append(RetryRecord(node=node, phase=phase, group=group,
                                              attempt=attempt, error=error, at=utc_now()))
        self.save()
        self.emit(Retry(run_id=self.run_id, node=node, phase=phase, group=group, attempt=attempt,
                        error=error, message=f"retrying {phase} of {node}: {error}"))

    def record_move(self, group: str, source: str | None, target: str, state: str,
                    attempts: int, seconds: float, purpose: str) -> None:
        node, phase = self.current
        self.state.moves.append(MoveRecord(
            group=group, source=source, target=target, state=state, attempts=attempts,
            seconds=round(seconds, 3), purpose=purpose, node=node, phase=phase, at=utc_now()))
        self.emit(GroupMoved(run_id=self.run_id, node=node, phase=phase, group=group,
                             source=source, target=target, state=state, attempts=attempts,
                             seconds=seconds, purpose=purpose,
                             message=f"{group}: {source} -> {target} ({state})"))

    def on_cluster_event(self, name: str, details: dict[str, Any]) -> None:
        """The handles' own events (a move's retry, a rollback), journaled as this step's."""
        node, phase = self.current
        if name == "retry":
            attempt = details.get("attempt")
            if self.journal is not None:
                self.state.retries.append(RetryRecord(
                    node=node, phase=phase, group=details.get("group"),
                    attempt=attempt if isinstance(attempt, int) else None,
                    error=str(details.get("error")), at=utc_now()))
            self.emit(Retry(run_id=self.run_id, node=node, phase=phase,
                            group=details.get("group"), attempt=int(details.get("attempt") or 0),
                            error=str(details.get("error")),
                            message=f"retrying the move of {details.get('group')}:"
                            f" {details.get('error')}"))
        elif name == "move" and details.get("rollback"):
            self.record_move(str(details.get("group")), details.get("source"),
                             str(details.get("target")), str(details.get("state")), 1, 0.0,
                             "rollback")

    def waiting(self, node: str, prompt: str, timeout: float) -> None:
        self.emit(WaitingForOperator(run_id=self.run_id, node=node, phase="action",
                                     prompt=prompt, timeout=timeout,
                                     message=f"waiting for the operator: {prompt}"))

    # ---- the lock fence ----

    def fence(self, *, before_move: bool = False) -> None:
        """Fencing (``lock.check``): stop with LockLost, changing nothing, unless this holder's
        token still holds the lock. At every step start; before a move unless the last check
        was less than ``lock.FENCE_INTERVAL`` seconds ago (a frozen run always re-checks)."""
        if self.lock is None:
            return
        if before_move and time.monotonic() - self.fenced_at < locks.FENCE_INTERVAL:
            return
        if not before_move and self.boundary_fenced:
            # The step boundary's read fenced a moment ago and nothing was sent since.
            self.boundary_fenced = False
            return
        self._fence_with(None)

    def _fence_with(self, listing: dict[str, str] | None) -> None:
        """``lock.check`` on ``listing`` (None: read it now); LockLost names this run's step."""
        assert self.lock is not None
        try:
            locks.check(self.cluster, self.lock, listing)
        except LockLost as lost:
            node, phase = self.current
            raise LockLost(str(lost), holder=lost.holder, report=self.report(),
                           journal=self.journal.path if self.journal else None, node=node,
                           phase=phase) from None
        self.fenced_at = time.monotonic()

    # ---- reads ----

    def remember_owners(self, snapshot: ClusterSnapshot) -> None:
        self.owners = {g.name: (g.preferred_owners, g.possible_owners, g.anti_affinity)
                       for g in snapshot.groups}

    def boundary_snap(self) -> ClusterSnapshot:
        """A step boundary's read: the snapshot (as ``snap``) and, while this run holds the
        lock, its lock listing in the same round trip (``Dialect.snapshot_and_private``),
        checked at once: the fence of the step that starts next (``fence``), and of any
        recovery the availability check makes."""
        if self.lock is None:
            return self.snap()
        snap, listing = self.cluster.dialect.snapshot_and_private()
        self._fence_with(listing)
        return self._merged(snap)

    def snap(self) -> ClusterSnapshot:
        """A plain snapshot with the owner lists read at the start of the run merged in."""
        return self._merged(self.cluster.snapshot())

    def merged(self, snap: ClusterSnapshot) -> ClusterSnapshot:
        """``snap`` (a plain snapshot just read) with the owner lists read at the start merged
        in, as ``snap()`` returns it."""
        return self._merged(snap)

    def _merged(self, snap: ClusterSnapshot) -> ClusterSnapshot:
        groups = []
        for g in snap.groups:
            known = self.owners.get(g.name)
            if known is not None:
                # The constructor, not attrs.evolve: this runs once per group per read (about
                # 330,000 times in a 64-node run) and evolve costs twice as much.
                g = GroupInfo(g.name, g.state, g.owner, g.priority, g.is_core, g.group_type,
                              known[0], known[1], known[2])
            groups.append(g)
        return snap.evolve(groups=tuple(groups))

    def first_snap(self) -> ClusterSnapshot:
        """A phase's first read: the step boundary's snapshot (taken, checked and unchanged
        since, a moment ago), once; otherwise a new one. One read per step boundary, shared by
        the availability check and the phase."""
        snap, self.boundary = self.boundary, None
        return snap if snap is not None else self.snap()

    def first_node(self, name: str) -> NodeInfo:
        """A phase's first read of one node: from the step boundary's snapshot when there is
        one (see first_snap); else, for a step the engine starts without a boundary read
        (engine._quiet), the reboot wait's last read of it; else read."""
        snap, self.boundary = self.boundary, None
        back, self.back = self.back, None
        if snap is not None:
            return snap.node(name)
        if back is not None and same(back[0], name):
            return back[1]
        return self.node(name)

    def node(self, name: str) -> NodeInfo:
        return self.cluster.dialect.read_node(name)

    def wait(self, read: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str,
             failed: Callable[[T], str | None] | None = None, *,
             interval: float | None = None) -> T:
        """Poll ``read`` until ``done`` (``wait_for``), every ``interval`` cluster seconds
        (default ``options.poll_interval``), for at most ``timeout``."""
        every = self.options.poll_interval if interval is None else interval
        policy = WaitPolicy(timeout=timeout, interval=min(every, timeout))
        return wait_for(read, done, policy, what=what, scale=self.cluster.time_scale,
                        failed=failed, clock=self.cluster.policies.clock)

    # ---- versions ----

    def before(self, node: str) -> NodeVersions:
        """``node``'s versions at the start of the run (all None when the journal has none)."""
        return self.state.nodes_before.get(node) or NodeVersions(highest=None, lowest=None,
                                                                 os=None)

    def changed(self, node: str, info: NodeInfo) -> bool:
        """Whether ``node`` runs another version than at the start (cluster service, or the OS
        build and service pack: a service-pack roll changes only those)."""
        v = versions_of(info)
        before = self.before(node)
        return v.highest is not None and (v.highest, v.os) != (before.highest, before.os)

    def upgraded(self, node: str, info: NodeInfo) -> bool:
        """Whether ``info`` proves the node runs what the action installs: the target's
        cluster-service version when one was given; else the version the first upgraded node
        came back with (adopted as the target, see phases.verify); else any change from before."""
        if self.options.target is not None:
            return self.options.target.matches(info.highest_version, info.os_version)
        adopted = self.state.adopted_target
        if adopted:
            v = versions_of(info)
            return (v.highest, v.os) == (adopted.highest, adopted.os)
        return self.changed(node, info)


class ActionSink:
    """What an action sees of the run (see actions.ActionContext)."""

    def __init__(self, run: RunContext, node: str) -> None:
        self._run = run
        self._node = node

    def notify(self, message: str) -> None:
        self._run.warn(message, node=self._node, phase="action")

    def waiting(self, prompt: str, timeout: float) -> None:
        self._run.waiting(self._node, prompt, timeout)
