"""The upgrade's phases, one plain function each, and the kind -> function table (PHASES) the engine runs.

The phases: drain, action, reboot, verify, resume, failback, validate, redistribute,
functional-level.

Each phase is ``fn(run, step, resumed) -> PhaseResult``: it re-reads the live cluster before it
acts (a resume never trusts the journal's word), changes the cluster only through ``run`` (fenced,
journaled moves; see context.RunContext), and ends by returning ("done" | "already" | "skipped",
message), raising ``Stop`` (the run stops with the cluster in the state the message names) or
``NodeFailed`` (this node failed but is back and safe; counts against max_failed_nodes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import attrs

from clusterlib.cluster import execute_then_snapshot
from clusterlib.errors import ClusterError, ClusterRefused, NotFound, PreconditionFailed, WaitTimeout
from clusterlib.model import (
    ClusterSnapshot,
    DrainStatus,
    GroupInfo,
    GroupState,
    NodeInfo,
    NodeState,
)
from clusterlib.placement import candidate_nodes, evacuation_plan
from clusterlib.upgrade import availability, moves, nodewatch
from clusterlib.upgrade.actions import ActionFailed, ActionUnconfirmed, ManualAction, UpgradeAction
from clusterlib.upgrade.context import (
    BACK,
    OUT,
    ActionSink,
    DrainTrouble,
    JournalFailed,
    MoveFailed,
    NodeFailed,
    RunContext,
    Stop,
    same,
    versions_of,
)
from clusterlib.upgrade.events import utc_now
from clusterlib.upgrade.plan import Step
from clusterlib.upgrade.state import AdoptedTarget, InFlight, NodeVersions, Unconfirmed


class PhaseResult(NamedTuple):
    """How a phase ended: "done", "already" (the live cluster shows its work done) or
    "skipped", and what happened, in words."""

    status: str
    message: str


PhaseFn = Callable[[RunContext, Step, bool], PhaseResult]


def _node_of(step: Step) -> str:
    assert step.node is not None, f"{step.kind} is a node step"
    return step.node


# ---- drain ----

def drain(run: RunContext, step: Step, resumed: bool) -> PhaseResult:
    """Pause and drain the node (only one node is ever out, quorum kept); whatever the cluster
    leaves on it is moved by clusterlib. Ends with the node Paused and empty."""
    n = _node_of(step)
    # "Only one node out" and quorum are decided on what the cluster shows right before the
    # pause: the step boundary's read when nothing came after it, not even the journal's write
    # (this step's "before" is written right before the pause, see
    # engine._WRITTEN_BEFORE_SEND; the fence rode in that read); else a fresh one.
    snap = run.first_snap() if run.unsaved else run.snap()
    if snap.node(n).state in OUT:
        # Only on a resume or after a crash: wait for the node before draining it.
        run.save_before_send()
        nodewatch.wait_back(run, n, seen_down=True)
        snap = run.snap()
    others = [f"{x.name} is {x.state.name}" for x in snap.nodes
              if not same(x.name, n) and x.state is not NodeState.Up]
    if others:
        raise Stop(f"will not pause {n} while another node is not Up ({', '.join(others)}):"
                   " only one node is ever out at a time; nothing was changed on " + n,
                   node=n, phase="drain")
    if not snap.keeps_quorum_without(n) and snap.quorum_type:
        # (An unknown quorum model: preflight already warned; see preflight's quorum check.)
        raise Stop(f"will not pause {n}: taking it down would lose quorum"
                   f" ({snap.quorum_type})", node=n, phase="drain")
    if snap.node(n).state is NodeState.Paused and not snap.groups_on(n):
        return PhaseResult("already", f"{n} is already paused and owns no group")
    attempts = 1 + run.options.retries_per_node
    info: NodeInfo | None = snap.node(n)
    run.save_before_send()
    for attempt in range(1, attempts + 1):
        try:
            last, fresh = _drain_once(run, n, info)
            break
        except (MoveFailed, DrainTrouble) as exc:
            trouble, group = str(exc), exc.group
        if attempt == attempts:
            raise Stop(f"drain of {n} failed: {trouble}. " + nodewatch.node_state_text(run, n),
                       node=n, group=group, phase="drain")
        run.note_retry(n, "drain", attempt, trouble, group)
        info = None  # read again: the attempt changed the node
        if run.node(n).state in OUT:
            nodewatch.wait_back(run, n, seen_down=True)
    # Emptiness was established by _drain_once from its post-drain snapshot and moves; the
    # action re-checks it, and the node's state, on a fresh snapshot right before it starts
    # (the interlock). The node's state here: from that post-drain snapshot (moving a group
    # off a paused node leaves it paused; only this run pauses and resumes it).
    state = last.state
    if state is not NodeState.Paused:
        raise Stop(f"{n} is {state.name} after the drain, not Paused", node=n, phase="drain")
    if fresh is not None and run.current == (n, "drain"):
        # Read after the drain's last send: the upgrade action's boundary may start from it
        # (its fence still reads the lock; see availability.check).
        run.carry = fresh
    return PhaseResult("done", f"{n} paused and empty")


def _drain_once(run: RunContext, n: str, info: NodeInfo | None,
                ) -> tuple[NodeInfo, tuple[ClusterSnapshot, float] | None]:
    """Pause and drain ``n``, then move whatever the cluster left there. On return the node
    is Paused and the snapshot taken after the drain showed nothing else on it. ``info``: the
    node as read a moment ago (None: read it). Returns the node as that snapshot shows it, and
    the snapshot with when it was read when nothing was sent after it (else None)."""
    info = info if info is not None else run.node(n)
    # One snapshot after the pause (Suspend-ClusterNode -Drain -Wait returns once the drain
    # ended), in the pause's own round trip: the drain's outcome, and what it left. Polled
    # only while the drain still runs.
    if not (info.state is NodeState.Paused and info.drain_status is DrainStatus.InProgress):
        snap = _pause(run, n)
    else:
        snap = run.snap()
    read_at = time.monotonic()
    if run.cluster.capabilities.drain:
        if _draining(snap.node(n)):
            _await_drain(run, n)
            snap, read_at = run.snap(), time.monotonic()
        else:
            _drain_verdict(run, n, snap.node(n), snap)
    # Whatever the cluster did not move (the core group; every group where the cluster
    # cannot drain) clusterlib moves, trying each candidate node in turn.
    targets, stuck = evacuation_plan(snap, n)
    if stuck:
        raise Stop(f"cannot finish draining {n}: no other Up node may own {', '.join(stuck)}",
                   node=n, group=stuck[0], phase="drain")
    for gname in targets:
        moves.move_somewhere(run, snap, gname, n)
    return snap.node(n), None if targets else (snap, read_at)


def _draining(info: NodeInfo) -> bool:
    return info.drain_status is DrainStatus.InProgress and info.state not in OUT


def _pause(run: RunContext, n: str) -> ClusterSnapshot:
    """Send the pause with drain (forced when ``force_drain``); the snapshot read right after
    it, in the same round trip where the dialect can (``cluster.execute_then_snapshot``)."""
    d = run.cluster.dialect
    try:
        return run.merged(execute_then_snapshot(
            run.cluster, d.pause_command(n, drain=True, force=True) if run.options.force_drain
            else d.pause_command(n, drain=True)))
    except ClusterRefused as exc:
        raise DrainTrouble(f"the cluster refused to pause {n}: {exc}") from exc
    except PreconditionFailed as exc:
        # Refused before sending (cluster.exe: a group name cmd.exe quoting cannot carry, see
        # ClusterExeDialect.check_drain): retrying cannot help, and the node was not paused.
        # Stop at once naming the group.
        on = [g.name for g in run.cluster.snapshot().groups_on(n)]
        named = [g for g in on if repr(g) in str(exc) or f'"{g}"' in str(exc)]
        raise Stop(f"will not drain {n}: {exc}. Nothing was sent; {n} was not paused and still"
                   " owns its groups" + (f" ({', '.join(on)})" if on else "") + ". Rename the"
                   " group (or move it off with the cluster's own tools), then resume.",
                   node=n, group=named[0] if named else None, phase="drain") from exc


def _await_drain(run: RunContext, n: str) -> None:
    """Wait, bounded by ``drain_timeout``, for the cluster's own drain of ``n`` to end well."""
    try:
        info = run.wait(lambda: run.node(n), lambda x: not _draining(x),
                        run.options.drain_timeout, f"drain of {n}")
    except WaitTimeout as exc:
        raise DrainTrouble(str(exc)) from exc
    _drain_verdict(run, n, info, None)


def _drain_verdict(run: RunContext, n: str, info: NodeInfo, snap: ClusterSnapshot | None) -> None:
    """The cluster's drain of ``n`` has ended (``info``); DrainTrouble unless it ended well.
    ``snap``: read with ``info`` (else what is left on ``n`` is read here)."""
    if info.state in OUT:
        raise DrainTrouble(f"{n} went {info.state.name} during the drain (crashed?); the"
                           " cluster failed its groups over")
    if info.drain_status is DrainStatus.Failed or info.state is not NodeState.Paused:
        on = (snap if snap is not None else run.cluster.snapshot()).groups_on(n)
        left = [g.name for g in on if not g.is_core]
        raise DrainTrouble(f"the cluster's drain of {n} failed (node {info.state.name}, drain"
                           f" {info.drain_status.name}); still on it: {', '.join(left) or 'nothing'}",
                           group=left[0] if left else None)


# ---- action ----

def action(run: RunContext, step: Step, resumed: bool) -> PhaseResult:
    """Send the upgrade action to the drained node, once: never on a node that owns a group or
    while a group Online at the start is down, never again when its start is unconfirmed."""
    n = _node_of(step)
    assert run.action is not None
    # Whether the node is already upgraded, and the interlock below, are decided on what the
    # cluster shows right before the send (a node can restart, or a group land on it, between
    # an older read and the send). The step boundary's read is that read when nothing came
    # after it, not even the journal's write (this step's "before" is written with the send's
    # record, see engine._WRITTEN_BEFORE_SEND); else a fresh one. One snapshot serves both
    # while nothing is sent in between (a re-drain reads again).
    snap = run.first_snap() if run.unsaved else run.snap()
    info = snap.node(n)
    if run.upgraded(n, info):
        return PhaseResult("already", f"{n} already runs {info.highest_version}; not upgraded"
                           " again")
    unconfirmed = run.state.action_unconfirmed
    if run.prior_status == "running" and n in run.state.action_sent and n not in unconfirmed:
        # An earlier session recorded the send (written before it goes) and stopped before the
        # outcome was written: the installer may be running, so its start is unconfirmed.
        unconfirmed[n] = Unconfirmed(at=utc_now(), error="the run stopped after the upgrade"
                                     " action was sent, before its outcome was recorded")
    if n in unconfirmed:
        if n.lower() not in run.resend:
            # An earlier attempt may have started the installer: never send it again.
            return PhaseResult(*nodewatch.await_evidence(run, n, unconfirmed[n].error))
        run.audit(f"upgrade action sent again on {n} at the operator's word (resend_action)")
        del unconfirmed[n]
        run.resend.discard(n.lower())  # once per session
    if info.state in OUT:
        if resumed:
            return PhaseResult("done", f"{n} is {info.state.name}: the action is already under"
                               " way")
        raise Stop(f"{n} is {info.state.name} before the upgrade action", node=n, phase="action")
    if info.state is NodeState.Up:
        # Someone (or a crash and rejoin) resumed it since the drain: drain again first.
        run.warn(f"{n} was Up again before the action; draining it again", node=n,
                 phase="action")
        run.save_before_send()
        drain(run, step, resumed)
        snap = run.snap()
    _interlock(run, step, n, snap)
    if isinstance(run.action, ManualAction):
        run.action.timeout = run.options.action_timeout
    if run.pre_update is not None:
        run.save_before_send()
        run_hook(run, run.pre_update, n, "action")
    return _send_action(run, run.action, n)


def _interlock(run: RunContext, step: Step, n: str, snap: ClusterSnapshot) -> None:
    """Never start an upgrade on a node that owns a group, nor while a group Online at the
    start is down (its recovery may need this node): checked on ``snap``, read by the action
    right before (nothing sent since)."""
    availability.check(run, step, snap)
    owned = snap.groups_on(n)
    if owned:
        raise Stop(f"refusing to start the upgrade action on {n}: it still owns"
                   f" {', '.join(g.name for g in owned)}", node=n, group=owned[0].name,
                   phase="action")


def _send_action(run: RunContext, act: UpgradeAction, n: str) -> PhaseResult:
    """Run the action on ``n``, retrying a reported failure ``retries_per_node`` times."""
    attempts = 1 + run.options.retries_per_node
    unconfirmed = run.state.action_unconfirmed
    for attempt in range(1, attempts + 1):
        # Recorded before it is sent: from here on the node may be mid-upgrade.
        run.state.action_sent[n] = utc_now()
        run.save()
        run.resend.discard(n.lower())  # resend_action means once, never after a send
        try:
            act.run(n, run.cluster, ActionSink(run, n))
            return PhaseResult("done", act.describe(n))
        except ActionUnconfirmed as exc:
            unconfirmed[n] = Unconfirmed(at=utc_now(), error=str(exc))
            run.save()
            return PhaseResult(*nodewatch.await_evidence(run, n, str(exc)))
        except ActionFailed as exc:
            if run.node(n).state in OUT:
                run.warn(f"the action reported failure but {n} is restarting: {exc}", node=n,
                         phase="action")
                return PhaseResult("done", f"action reported failure; {n} is restarting")
            if attempt == attempts:
                raise NodeFailed(f"upgrade action failed on {n} after {attempts} attempt(s):"
                                 f" {exc}") from exc
            run.note_retry(n, "action", attempt, str(exc))
    raise AssertionError("unreachable")


def run_hook(run: RunContext, hook: UpgradeAction, n: str, phase: str) -> None:
    """A pre-update or verification hook: a failure stops the run with ``n`` paused and
    drained (resumable: the hook runs again)."""
    try:
        hook.run(n, run.cluster, ActionSink(run, n))
    except ClusterError as exc:
        what = "pre-update command" if phase == "action" else "verification"
        raise Stop(f"the {what} failed on {n}: {exc}. {n} is paused and owns no group; fix it,"
                   f" then resume with the journal (the {what} runs again).", node=n,
                   phase=phase) from exc


# ---- reboot ----

def reboot(run: RunContext, step: Step, resumed: bool) -> PhaseResult:
    """Wait, bounded by ``reboot_timeout``, for the node to go down and come back."""
    n = _node_of(step)
    assert run.action is not None
    info = run.first_node(n)
    if (n.lower() in run.resend and info.state in BACK and not run.changed(n, info)
            and not run.snap().groups_on(n)):
        # The operator checked that the installer sent earlier is not running (it failed
        # where its exit code cannot be read, e.g. through WMI): send it once more.
        run.state.action_unconfirmed[n] = Unconfirmed(
            at=utc_now(), error="the operator asked to send the action again")
        action(run, Step(id=f"{n}:action", kind="action", node=n, description=""), False)
        info = run.node(n)
    # Only evidence counts as "went down": the node out now, or already on a new version.
    # A resumed step is not evidence: after a crash the installer may still be copying
    # files with the node Up (its install window), and its restart is yet to come. Setup's
    # own restarts keep the node Down (the cluster service does not run), so a node seen
    # down and back is at the end of the install; verify then checks its version. A node
    # this very read sees out counts as seen going down: it may be back before the next poll.
    seen_down = (not run.action.reboots) or info.state in OUT or run.changed(n, info)
    if run.action.reboots and not run.changed(n, info):
        # The node installs and restarts for a while: the groups of the nodes already finished
        # go home meanwhile, off the critical path (the final redistribution is left the rest);
        # with drain_ahead the next node is emptied too, so its drain is off the path as well.
        moves.homecoming(run, n)
        if run.options.drain_ahead:
            moves.drain_ahead(run, n)
    try:
        info = nodewatch.wait_back(run, n, seen_down=seen_down)
    except Stop as stop:
        if run.options.drain_ahead and not isinstance(stop, JournalFailed):
            # The node is out for longer than planned: the groups drained ahead go back where
            # they were (best effort), and the stop says where any still are.
            note = moves.send_back_ahead(run)
            if note:
                stop.message = f"{stop.message} {note}"
                stop.args = (stop.message,)
        raise
    return PhaseResult("done", f"{n} is back ({info.state.name})")


# ---- verify ----

def verify(run: RunContext, step: Step, resumed: bool) -> PhaseResult:
    """The node is back on the target version (explicit, or adopted from the first upgraded
    node), then the verify hook; a node still on its old version stops the run."""
    n = _node_of(step)
    info = run.first_node(n)
    if info.state not in BACK:
        raise Stop(f"{n} is {info.state.name}; it must be back to verify it", node=n,
                   phase="verify")
    after = versions_of(info)
    run.state.nodes_after[n] = after
    target = run.options.target
    if target is not None and not target.matches(info.highest_version, info.os_version):
        raise NodeFailed(f"{n} came back running cluster service {info.highest_version}"
                         f" (OS {info.os_version}), expected {target}")
    if not run.changed(n, info):
        raise Stop(f"{n} is back but still runs cluster service {after.highest} (OS"
                   f" {after.os}), as before the upgrade action: it is not upgraded, so"
                   " it is not resumed and no group moves onto it. It is paused and owns"
                   " no group. Check the installer, then resume with the journal.",
                   node=n, phase="verify")
    if target is None:
        _adopt_target(run, n, after)
    if run.verify is not None:
        run_hook(run, run.verify, n, "verify")
    return PhaseResult("done", f"{run.before(n).highest} -> {after.highest} (OS {after.os})")


def _adopt_target(run: RunContext, n: str, after: NodeVersions) -> None:
    """Without an explicit target the first upgraded node sets it for the rest; a later node
    on another version fails."""
    adopted = run.state.adopted_target
    if adopted is None:
        run.state.adopted_target = AdoptedTarget(highest=after.highest, lowest=after.lowest,
                                                 os=after.os, from_=n)
        run.warn(f"no target version was given: {n}'s new version {after.highest}"
                 f" (OS {after.os}) is the target for every other node", node=n,
                 phase="verify")
    elif (after.highest, after.os) != (adopted.highest, adopted.os):
        raise NodeFailed(f"{n} came back running cluster service {after.highest}"
                         f" (OS {after.os}), but {adopted.from_} was upgraded to"
                         f" {adopted.highest} (OS {adopted.os}), the target of this run")


# ---- resume ----

def resume(run: RunContext, step: Step, resumed: bool) -> PhaseResult:
    """Resume the upgraded node without failback and wait until it is Up."""
    n = _node_of(step)
    info = run.first_node(n)
    if info.state is NodeState.Up:
        return PhaseResult("already", f"{n} is already Up")
    if info.state is not NodeState.Paused:
        raise Stop(f"{n} is {info.state.name}; cannot resume it", node=n, phase="resume")
    nodewatch.resume_node(run, n)
    return PhaseResult("done", f"{n} resumed (no failback)")


# ---- failback (mode "each") ----

def failback(run: RunContext, step: Step, resumed: bool) -> PhaseResult:
    """Move the groups this node owned at the start back onto it (failback mode "each")."""
    n = _node_of(step)
    original = run.state.original_placement
    moved = 0
    for g in run.first_snap().groups:
        if same(original.get(g.name), n) and not same(g.owner, n) and g.can_be_owned_by(n):
            try:
                moves.move(run, g.name, n, "failback", known=g)
            except MoveFailed as exc:
                raise Stop(f"failback to {n}: {exc}", node=n, group=exc.group,
                           phase="failback") from exc
            moved += 1
    return PhaseResult("done", f"{moved} group(s) back on {n}")


# ---- validate ----

def validate(run: RunContext, step: Step, resumed: bool) -> PhaseResult:
    """Move the validation group onto the upgraded node and back: proof the node runs it."""
    n, gname = _node_of(step), step.group
    assert gname is not None
    try:
        g = run.first_snap().group(gname)
    except NotFound:
        run.warn(f"validation group {gname} no longer exists; validation skipped", node=n,
                 phase="validate")
        return PhaseResult("skipped", "validation group gone")
    in_flight = run.state.validation_in_flight
    home = in_flight.home if in_flight and in_flight.group == gname else g.owner
    if home is None:
        return PhaseResult("skipped", f"{gname} has no owner")
    if in_flight and same(g.owner, n) and not same(home, n):
        # Resumed mid-validation: it reached the node; take it home, then validate again.
        moves.move(run, gname, home, "validation", known=g)
        g = run.cluster.dialect.read_group(gname)
    skip = _validation_skip(run, g, n, bool(in_flight))
    if skip is not None:
        return skip
    if same(home, n):
        # It already lives here (failback "each"): validate by moving it away and back.
        snap = run.snap()
        other = candidate_nodes(snap, snap.group(gname), exclude=[n])
        if not other:
            return PhaseResult("skipped", f"no other node for {gname}")
        first, second = other[0], n
    else:
        first, second = n, home
    run.state.validation_in_flight = InFlight(node=n, group=gname, home=g.owner)
    run.save()
    _validation_moves(run, n, g, first, second)
    run.state.validation_in_flight = None
    return PhaseResult("done", f"{gname} moved to {first} and back to {second}")


def _validation_skip(run: RunContext, g: GroupInfo, n: str,
                     in_flight: bool) -> PhaseResult | None:
    """Why the validation cannot run (the group not Online, ``n`` may not own it), or None."""
    if g.state is not GroupState.Online and not in_flight:
        run.warn(f"validation group {g.name} is {g.state.name}, not Online; validation"
                 " skipped", node=n, phase="validate")
        return PhaseResult("skipped", f"{g.name} not Online")
    possible = run.owners.get(g.name, ((), (), ()))[1]
    if possible and n.lower() not in {p.lower() for p in possible}:
        run.warn(f"{n} may not own {g.name}; validation skipped", node=n, phase="validate")
        return PhaseResult("skipped", f"{n} is not a possible owner of {g.name}")
    return None


def _validation_moves(run: RunContext, n: str, g: GroupInfo, first: str, second: str) -> None:
    """``g`` (as the step's snapshot shows it) to ``first`` and back to ``second``: each move
    and its confirming read in one round trip (``_validation_move``), the first move's
    confirming read the second one's starting point: no read in between."""
    d = run.cluster.dialect
    gname = g.name
    try:
        landed = _validation_move(run, g, first)
    except MoveFailed as exc:
        run.state.validation_in_flight = None
        where = d.read_group(gname)
        raise Stop(f"validation move of {gname} to {first} failed: {exc}. {gname} is"
                   f" {where.state.name} on {where.owner}; {n} is upgraded, resumed and"
                   " owns no validation group. Fix it (or choose another validation group)"
                   " and resume.", node=n, group=gname, phase="validate") from exc
    try:
        _validation_move(run, attrs.evolve(g, owner=first, state=landed), second)
    except MoveFailed as exc:
        where = d.read_group(gname)
        raise Stop(f"validation: {gname} could not return to {second}: {exc}. It is"
                   f" {where.state.name} on {where.owner}.", node=n, group=gname,
                   phase="validate") from exc


def _validation_move(run: RunContext, g: GroupInfo, target: str) -> GroupState:
    """``moves.move`` of the validation group from where ``g`` shows it (read a moment ago,
    nothing sent since) to ``target``, with the move and its confirming read in one round trip:
    fenced, journaled, a failure rolled back and recorded."""
    return moves.move(run, g.name, target, "validation", known=g, confirmed=True)


# ---- cluster phases ----

def redistribute(run: RunContext, step: Step, resumed: bool) -> PhaseResult:
    """Move every group back to its original owner (in parallel, the core group last); a
    group whose owner is gone or may no longer own it is left in place, with a warning."""
    failures: list[tuple[str, str]] = []
    todo = _homecomings(run, failures)
    # The core group last, alone, after every other group is home.
    moved = moves.move_all(run, [m for m in todo if not m[0].is_core], failures)
    moved += moves.move_all(run, [m for m in todo if m[0].is_core], failures, width=1)
    if failures:
        text = "; ".join(f"{g}: {why}" for g, why in failures)
        raise Stop(f"redistribution left {len(failures)} group(s) off their original owner"
                   f" ({text}). Every other group is back; every node is upgraded.",
                   group=failures[0][0], phase="redistribute")
    return PhaseResult("done", f"{moved} group(s) moved back to their original owners")


def _homecomings(run: RunContext, failures: list[tuple[str, str]]) -> list[moves.Move]:
    """The moves home the redistribution makes, ordinary groups by priority (as a drain moves
    them); groups that cannot go home are left in place or added to ``failures``."""
    original = run.state.original_placement
    snap = run.first_snap()
    todo = [g for g in snap.groups
            if original.get(g.name) is not None and not same(g.owner, original[g.name])]
    todo.sort(key=lambda g: (g.is_core, -g.priority_or_default, g.name.lower()))
    out: list[moves.Move] = []
    for g in todo:
        home = original[g.name]
        assert home is not None
        try:
            home_info = snap.node(home)
        except NotFound:
            run.warn(f"{g.name}'s original owner {home} is gone; left on {g.owner}")
            run.state.left_in_place[g.name] = g.owner
            continue
        if home_info.state is not NodeState.Up:
            failures.append((g.name, f"its original owner {home} is {home_info.state.name}"))
            continue
        if not g.can_be_owned_by(home):
            run.warn(f"{home} may no longer own {g.name}; left on {g.owner}")
            run.state.left_in_place[g.name] = g.owner
            continue
        out.append((g, home))
    return out


def functional_level(run: RunContext, step: Step, resumed: bool) -> PhaseResult:
    """Raise the cluster functional level, only with every node Up on one version."""
    snap = run.first_snap()
    fl = run.state.functional_level
    not_up = [f"{n.name} is {n.state.name}" for n in snap.nodes if n.state is not NodeState.Up]
    versions = {str(n.highest_version) for n in snap.nodes}
    if not_up or len(versions) > 1:
        raise Stop("not raising the functional level: "
                   + ("; ".join(not_up) if not_up else
                      f"nodes run different versions ({', '.join(sorted(versions))})"),
                   phase="functional-level")
    after = run.cluster.update_functional_level()
    fl["after"] = after.functional_level
    if fl.get("before") == after.functional_level:
        return PhaseResult("already", f"functional level already {after.functional_level}")
    return PhaseResult("done", f"functional level {fl.get('before')} -> {after.functional_level}")


#: Each step kind of a plan (plan.build_steps) and the phase that runs it.
PHASES: dict[str, PhaseFn] = {
    "drain": drain,
    "action": action,
    "reboot": reboot,
    "verify": verify,
    "resume": resume,
    "failback": failback,
    "validate": validate,
    "redistribute": redistribute,
    "functional-level": functional_level,
}
