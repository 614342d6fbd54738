"""The availability invariant (groups Online at the start stay Online), its recovery, and the final check."""

from __future__ import annotations

import time

from clusterlib.errors import NotFound
from clusterlib.model import ClusterSnapshot, GroupInfo, GroupState, NodeState
from clusterlib.upgrade import downtime, moves, nodewatch
from clusterlib.upgrade import lock as locks
from clusterlib.upgrade.context import MoveFailed, RunContext, Stop, same
from clusterlib.upgrade.plan import Step


def check(run: RunContext, step: Step | None, snap: ClusterSnapshot | None = None) -> None:
    """The invariant: every group Online when the run started is Online (or Pending: moving)
    now. A group that is not is moved back to a node where it was Online (bounded by the move
    retry policy and ``retries_per_node``); otherwise the run stops, naming the group, where
    it is, the phase it went down in and for how long. Downtime is measured between the
    engine's own reads (an upper bound, exact to one step) and from failed moves' start.
    ``snap``: a snapshot just taken (else one is read here and kept for the step's phase).

    At a step boundary (``step`` given, no ``snap``) the read is ``RunContext.boundary_snap``:
    the snapshot and the lock's fence in one round trip; or, when the step before read the
    cluster only (``RunContext.carry``: sent nothing, waited for nothing) and that read is
    younger than ``lock.FENCE_INTERVAL``, that same read again (the step start's fence then
    reads the lock on its own: a lock listing from before the step is never trusted)."""
    run.boundary, run.boundary_fenced = None, False
    carried, run.carry = run.carry, None
    online0 = _online_at_start(run.state.original_states)
    if not online0:
        return
    read = snap is None
    fenced = False
    if snap is None and step is not None:
        snap, fenced = _boundary_read(run, carried)
    elif snap is None:
        snap = run.snap()
    now = time.time()
    label = run.label
    down: list[GroupInfo] = []
    seen = run.state.availability  # the groups seen down so far: only they have time to count
    for g in snap.groups:
        if g.name not in online0:
            continue
        if g.state in (GroupState.Online, GroupState.Pending):
            if g.name in seen:
                downtime.account(run, g.name, now, label, up=True)
            continue
        downtime.went_down(run, g.name, now, label, g.state.name, g.owner)
        downtime.account(run, g.name, now, label, up=False)
        down.append(g)
    for g in down:
        recover(run, g, snap)
    if read and not down:
        # Read here and unchanged since (no recovery moved anything): the step's phase (or the
        # final check) starts from it (RunContext.first_snap), and its fence is done.
        run.boundary = snap
        run.boundary_fenced = fenced


_ONLINE: list[tuple[dict[str, str], frozenset[str]]] = []


def _online_at_start(states: dict[str, str]) -> frozenset[str]:
    """The groups Online at the start, worked out once per run (``original_states`` is fixed
    at the start, see state.py), not at every step over every group."""
    kept = _ONLINE[0] if _ONLINE else None  # one read: runs in other threads replace it
    if kept is None or kept[0] is not states:
        kept = (states, frozenset(g for g, st in states.items() if st == "Online"))
        _ONLINE[:] = [kept]
    return kept[1]


def _boundary_read(run: RunContext, carried: tuple[ClusterSnapshot, float] | None,
                   ) -> tuple[ClusterSnapshot, bool]:
    """The step boundary's read and whether it fenced: the one carried from the step before
    when it is young enough (see ``check``; not fenced), else a new one with its fence
    (``RunContext.boundary_snap``)."""
    if carried is not None and time.monotonic() - carried[1] < locks.FENCE_INTERVAL:
        run.boundary_read = carried  # its age counts from the read itself
        return carried[0], False
    snap = run.boundary_snap()
    run.boundary_read = (snap, time.monotonic())
    return snap, run.lock is not None


def online_places(run: RunContext, group: str) -> list[str]:
    """Nodes where ``group`` was Online during this run, newest first."""
    places: list[str] = []
    for m in reversed(run.state.moves):
        if m.group == group and m.state == "Online" and m.target not in places:
            places.append(m.target)
    home = run.state.original_placement.get(group)
    if home and home not in places:
        places.append(home)
    return places


def recover(run: RunContext, g: GroupInfo, snap: ClusterSnapshot) -> None:
    """The documented recovery of a group that should be Online: move it back to an Up node
    where it was Online. When the only such node is the one this run drained and has not yet
    upgraded, that node is resumed (it is unchanged) and the group goes back there; the run
    then stops, since draining it again would fail the group again."""
    label = downtime.ledger(run, g.name).down_phase or run.label
    lnode, _, lphase = label.rpartition(" ")
    why: list[str] = []
    tries = run.recoveries.get(g.name, 0)
    if tries <= run.options.retries_per_node:
        run.recoveries[g.name] = tries + 1
        pending = drained_not_started(run)
        for place in online_places(run, g.name):
            resumed = _try_place(run, g, snap, place, pending, why)
            if resumed is None:
                continue
            now = time.time()
            down = downtime.down_for(run, g.name, now)
            downtime.account(run, g.name, now, run.label, up=True)
            text = (f"{g.name} was {g.state.name} on {g.owner} (down {down:.0f}s since"
                    f" {label}); moved back to {place}, where it was Online")
            if resumed:
                raise Stop(f"{text}, and {place} was resumed without being upgraded."
                           f" {g.name} cannot stay Online on {g.owner}: fix it there (or its"
                           " possible owners), then resume; the drain of"
                           f" {place} is repeated first.", node=lnode or place,
                           group=g.name, phase=lphase or "drain")
            run.warn(text, node=lnode or None, phase=lphase or None)
            return
    down = downtime.down_for(run, g.name, time.time())
    raise Stop(f"{g.name} is {g.state.name} on {g.owner} (Online when the run started) and"
               f" has been down {down:.0f}s, since {label}; moving it back to a node where"
               f" it was Online did not work ({'; '.join(why) or 'no such node is Up'})."
               " Stopped before anything else changes; bring it Online, then resume.",
               node=lnode or None, group=g.name, phase=lphase or None)


def _try_place(run: RunContext, g: GroupInfo, snap: ClusterSnapshot, place: str,
               pending: str | None, why: list[str]) -> bool | None:
    """Move ``g`` back to ``place``: None when it did not land Online (``why`` says why), else
    whether ``place`` had to be resumed (the drained node whose upgrade never started)."""
    if same(place, g.owner) and g.state is not GroupState.Failed:
        return None
    try:
        info = snap.node(place)
    except NotFound:
        return None
    resumed = False
    if info.state is NodeState.Paused and pending is not None and same(place, pending):
        run.fence()  # a recovery changes the cluster: only while the lock holds
        nodewatch.resume_node(run, place)
        resumed = True
    elif info.state is not NodeState.Up:
        why.append(f"{place} is {info.state.name}")
        return None
    try:
        landed = moves.move(run, g.name, place, "recovery", known=g)
    except MoveFailed as exc:
        why.append(str(exc))
        return None
    if landed not in (GroupState.Online, GroupState.Pending):
        why.append(f"on {place} it is {landed.name}")
        return None
    return resumed


def drained_not_started(run: RunContext) -> str | None:
    """The node this run drained whose upgrade action was never sent (at most one): its
    latest drain step is done, its latest action step is not, and the journal records no
    send (``action_sent`` is written right before an action is sent)."""
    state = run.state
    latest: dict[tuple[str, str], str] = {}
    for rec in state.steps:
        if rec.node is not None:
            latest[(rec.node, rec.kind)] = rec.status
    sent = state.action_sent
    for n in state.plan["order"]:
        if (latest.get((n, "drain")) in ("done", "skipped")
                and latest.get((n, "action")) not in (None, "done", "skipped")
                and n not in sent):
            return str(n)
    return None


def final_check(run: RunContext) -> ClusterSnapshot:
    """Before a run may say "completed": every node that did not fail runs the target (or,
    without one, a version other than its old one), is Up, and every group is on its original
    owner in its original state (groups the redistribution deliberately left are excepted
    with their warning). Any difference stops the run, listing them all. Returns the snapshot
    it read (the run's final state)."""
    snap = run.first_snap()
    diffs = _node_differences(run, snap) + _group_differences(run, snap)
    if diffs:
        raise Stop(f"final check: {len(diffs)} difference(s) from the target state, so the"
                   " run is not complete: " + "; ".join(diffs) + ". Resume re-checks and"
                   " redoes what the live cluster contradicts.", phase="final-check")
    return snap


def _node_differences(run: RunContext, snap: ClusterSnapshot) -> list[str]:
    diffs: list[str] = []
    for n in run.state.plan["order"]:
        if n in run.state.failed_nodes:
            continue
        try:
            info = snap.node(n)
        except NotFound:
            diffs.append(f"{n} is no longer in the cluster")
            continue
        if not run.upgraded(n, info):
            diffs.append(f"{n} runs cluster service {info.highest_version} (OS"
                         f" {info.os_version}), not {target_text(run, n)}")
        if info.state is not NodeState.Up:
            diffs.append(f"{n} is {info.state.name}, not Up")
    return diffs


def _group_differences(run: RunContext, snap: ClusterSnapshot) -> list[str]:
    state = run.state
    original = state.original_placement
    left = state.left_in_place
    diffs: list[str] = []
    for g in snap.groups:
        home = original.get(g.name)
        if home and not same(g.owner, home) and g.name not in left:
            diffs.append(f"{g.name} is on {g.owner}, not on its original owner {home}")
        was = state.original_states.get(g.name)
        if was is not None and was != g.state.name and not (
                was == "Online" and g.state is GroupState.Pending):
            diffs.append(f"{g.name} is {g.state.name}, was {was}")
    return diffs


def target_text(run: RunContext, n: str) -> str:
    """What ``n`` should run, in words (the target, the adopted one, or "not the old one")."""
    if run.options.target is not None:
        return f"the target {run.options.target}"
    adopted = run.state.adopted_target
    if adopted:
        return f"the target {adopted.highest} (OS {adopted.os}) adopted from {adopted.from_}"
    return f"a version other than {run.before(n).highest}"
