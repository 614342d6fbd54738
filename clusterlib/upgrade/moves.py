"""Moving groups for the upgrade: one fenced, journaled move; move-anywhere; parallel and serial moves."""

from __future__ import annotations

import time

from clusterlib.cluster import Group
from clusterlib.errors import ClusterError, ClusterRefused, TransientClusterError, WaitTimeout
from clusterlib.model import ClusterSnapshot, GroupInfo, GroupState, NodeState, expected_state
from clusterlib.placement import candidate_nodes
from clusterlib.retry import pause_between_polls
from clusterlib.upgrade import downtime
from clusterlib.upgrade.context import MoveFailed, RunContext, same

#: A move asked of the redistribution: the group as last read, and its home.
Move = tuple[GroupInfo, str]
# A move in flight: the group as it was, its target, the state it must reach there, the start.
_Flight = tuple[GroupInfo, str, GroupState, float]


def move(run: RunContext, group: str, target: str, purpose: str,
         known: GroupInfo | None = None) -> GroupState:
    """Move ``group`` to ``target`` and wait until it is back in its state there (returned).
    Transient refusals and slow moves are retried; a group that fails to come online is
    returned to where it was (raises MoveFailed saying where it is now). ``known``: the
    group as a snapshot taken in this phase shows it (saves a read per move)."""
    before = known if known is not None else run.cluster.dialect.read_group(group)
    if same(before.owner, target) and before.state is not GroupState.Failed:
        return before.state
    expected = expected_state(before)
    t0 = time.monotonic()
    try:
        # The Group handle's retrying, rolling-back move without its per-move reads: this
        # phase already checked the target from its own snapshot.
        run.fence(before_move=True)
        attempts = Group(run.cluster, group).move_prechecked(target, expected, known=before)
    except (ClusterRefused, WaitTimeout) as exc:
        raise MoveFailed(failed_move(run, group, before, target, t0, exc, purpose),
                         group) from exc
    # The wait above ended only with the group in ``expected`` on ``target``.
    run.record_move(group, before.owner, target, expected.name, attempts,
                    (time.monotonic() - t0) * run.cluster.time_scale, purpose)
    return expected


def failed_move(run: RunContext, group: str, before: GroupInfo, target: str, t0: float,
                exc: ClusterError, purpose: str) -> str:
    """A move that ended badly: count the group's downtime, journal the move, say why."""
    now = run.cluster.dialect.read_group(group)
    if now.state not in (GroupState.Online, GroupState.Pending):
        # Down since this move began (the availability section counts from here).
        downtime.went_down(run, group, time.time() - (time.monotonic() - t0), run.label,
                           now.state.name, now.owner)
    run.record_move(group, before.owner, target, f"failed; now {now.state.name} on"
                    f" {now.owner}", 1, (time.monotonic() - t0) * run.cluster.time_scale,
                    purpose)
    return f"moving {group} from {before.owner} to {target} failed: {exc}"


def move_somewhere(run: RunContext, snap: ClusterSnapshot, gname: str, away_from: str) -> None:
    """Move ``gname`` off ``away_from`` to the best candidate in ``snap`` that takes it."""
    tried: list[str] = []
    last = ""
    g = snap.group(gname)
    while True:
        candidates = candidate_nodes(snap, g, exclude=[away_from, *tried])
        if not candidates:
            raise MoveFailed(f"no node would take {gname} off {away_from}"
                             + (f" (tried {', '.join(tried)}: {last})" if tried else ""), gname)
        try:
            move(run, gname, candidates[0], "drain", known=g)
            return
        except MoveFailed as exc:
            tried.append(candidates[0])
            last = str(exc)


def move_all(run: RunContext, moves: list[Move], failures: list[tuple[str, str]],
             width: int | None = None) -> int:
    """Move each group to its node, at most ``redistribute_parallelism`` at a time; returns
    how many arrived, adds (group, why) to ``failures`` for the others.

    Each move is fenced and sent with ``-Wait 0`` (Move-ClusterGroup returns at once), and
    the moves in flight are confirmed by one read of every group per poll. A group that goes
    Failed on its target is returned where it was (as ``move`` does, same message); a move
    the cluster refuses at once, or one that outlasts ``policies.move_wait``, is handed to
    ``move``, which re-reads the group (never re-sending a move under way) and retries.
    cluster.exe's ``/wait:0`` is not documented to return at once [U]: there, one at a time.
    """
    c = run.cluster
    width = width or run.options.redistribute_parallelism
    if width <= 1 or c.dialect_name == "clusterexe":
        return move_serially(run, moves, failures)
    queue = list(moves)
    flying: dict[str, _Flight] = {}
    handover: list[Move] = []
    moved = 0
    while queue or flying:
        _launch(run, queue, flying, handover, width)
        if not flying:
            continue
        pause_between_polls(c.policies.move_wait, c.time_scale, clock=c.policies.clock)
        moved += _land(run, flying, handover, failures)
        run.save_due()
    return moved + move_serially(run, handover, failures, fresh=True)


def _launch(run: RunContext, queue: list[Move], flying: dict[str, _Flight],
            handover: list[Move], width: int) -> None:
    """Send moves from ``queue`` (``-Wait 0``) until ``width`` are in flight."""
    d = run.cluster.dialect
    while queue and len(flying) < width:
        g, home = queue.pop(0)
        run.fence(before_move=True)
        try:
            d.execute(d.move_command(g.name, home, wait=0))
        except ClusterError as refused:
            if isinstance(refused, TransientClusterError):
                # Busy, locked or moving: the handover is its retry; record it as one, as the
                # serial move does, so the report says it happened.
                run.on_cluster_event("retry", {"group": g.name, "attempt": 1, "error": refused})
            handover.append((g, home))  # move() retries it, or says why it cannot
            continue
        flying[g.name] = (g, home, expected_state(g), time.monotonic())


def _land(run: RunContext, flying: dict[str, _Flight], handover: list[Move],
          failures: list[tuple[str, str]]) -> int:
    """One read of every group: record the moves that arrived, roll back the ones that
    failed there, hand the lost and slow ones over; returns how many arrived."""
    c = run.cluster
    limit = c.policies.move_wait.timeout / (c.time_scale or 1.0)
    now = {g.name: g for g in c.snapshot().groups}
    moved = 0
    for name, (was, home, want, t0) in list(flying.items()):
        seen = now.get(name)
        there = seen is not None and same(seen.owner, home)
        if seen is not None and there and seen.state is want:
            del flying[name]
            run.record_move(name, was.owner, home, want.name, 1,
                            (time.monotonic() - t0) * c.time_scale, "redistribute")
            moved += 1
        elif seen is not None and there and seen.state is GroupState.Failed:
            del flying[name]
            exc = Group(c, name).roll_back(was, home)
            failures.append((name, failed_move(run, name, was, home, t0, exc, "redistribute")))
        elif seen is None or time.monotonic() - t0 > limit:
            del flying[name]
            handover.append((was, home))
    return moved


def move_serially(run: RunContext, moves: list[Move], failures: list[tuple[str, str]],
                  fresh: bool = False) -> int:
    """One move after another through ``move``; ``fresh``: re-read each group first."""
    moved = 0
    for g, home in moves:
        try:
            move(run, g.name, home, "redistribute", known=None if fresh else g)
            moved += 1
        except MoveFailed as exc:
            failures.append((g.name, str(exc)))
        run.save_due()
    return moved


def homecoming(run: RunContext, installing: str) -> int:
    """While ``installing`` runs its installer and restarts (the cluster is busy with it, so this
    costs the run no time), move home the groups whose original owner this run has finished:
    upgraded, verified, resumed and validated. Bounded parallel (``move_all``), fenced and
    journaled as the redistribution's moves. Only Online or Offline groups whose home is Up and
    may own them; never the core group (the redistribution moves it last, alone). What cannot go
    home now stays for the final redistribution, which moves it or says why not. Returns how many
    arrived. The final placement is the same; the redistribution at the end has less to do, and
    so has the drain of a node where such groups were parked."""
    ready = finished_nodes(run)
    if not ready:
        return 0
    original = run.state.original_placement
    snap = run.snap()
    up = {x.name.lower() for x in snap.nodes if x.state is NodeState.Up}
    todo: list[Move] = []
    for g in snap.groups:
        home = original.get(g.name)
        if (home is None or g.is_core or same(g.owner, home) or same(g.owner, installing)
                or home.lower() not in ready or home.lower() not in up
                or g.state not in (GroupState.Online, GroupState.Offline)
                or not g.can_be_owned_by(home)):
            continue
        todo.append((g, home))
    if not todo:
        return 0
    todo.sort(key=lambda m: (-m[0].priority_or_default, m[0].name.lower()))
    failures: list[tuple[str, str]] = []
    moved = move_all(run, todo, failures)
    if failures:
        run.warn("not home yet (the final redistribution tries again): "
                 + "; ".join(f"{g}: {why}" for g, why in failures))
    return moved


def finished_nodes(run: RunContext) -> set[str]:
    """The nodes (lower case) whose every step of this run is done (or skipped as already
    done) and that did not fail."""
    state = run.state
    failed = {n.lower() for n in state.failed_nodes}
    seen: set[str] = set()
    open_: set[str] = set()
    for rec in state.steps:
        if rec.node is None:
            continue
        seen.add(rec.node.lower())
        if rec.status not in ("done", "skipped"):
            open_.add(rec.node.lower())
    return seen - open_ - failed
