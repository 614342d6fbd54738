"""Moving groups for the upgrade: one fenced, journaled move; move-anywhere; parallel and serial moves."""

from __future__ import annotations

import time

from clusterlib.cluster import Group, move_confirmed
from clusterlib.errors import ClusterError, ClusterRefused, TransientClusterError, WaitTimeout
from clusterlib.model import ClusterSnapshot, GroupInfo, GroupState, NodeState, expected_state
from clusterlib.placement import candidate_nodes
from clusterlib.retry import pause_between_polls
from clusterlib.upgrade import downtime
from clusterlib.upgrade.context import MoveFailed, RunContext, same
from clusterlib.upgrade.errors import LockLost

#: A move asked of the redistribution: the group as last read, and its home.
Move = tuple[GroupInfo, str]
# A move in flight: the group as it was, its target, the state it must reach there, the start.
_Flight = tuple[GroupInfo, str, GroupState, float]


def move(run: RunContext, group: str, target: str, purpose: str,
         known: GroupInfo | None = None, *, confirmed: bool = False) -> GroupState:
    """Move ``group`` to ``target`` and wait until it is back in its state there (returned).
    Transient refusals and slow moves are retried; a group that fails to come online is
    returned to where it was (raises MoveFailed saying where it is now). ``known``: the
    group as a snapshot taken in this phase shows it (saves a read per move). ``confirmed``
    (with ``known``): the move and its first confirming read in one round trip
    (``cluster.move_confirmed``), as the validation moves send it."""
    before = known if known is not None else run.cluster.dialect.read_group(group)
    if same(before.owner, target) and before.state is not GroupState.Failed:
        return before.state
    expected = expected_state(before)
    t0 = time.monotonic()
    try:
        # The Group handle's retrying, rolling-back move without its per-move reads: this
        # phase already checked the target from its own snapshot.
        run.fence(before_move=True)
        attempts = (move_confirmed(run.cluster, group, target, expected, before)
                    if confirmed and known is not None
                    else Group(run.cluster, group).move_prechecked(target, expected, known=before))
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
             width: int | None = None, purpose: str = "redistribute") -> int:
    """Move each group to its node, at most ``redistribute_parallelism`` at a time; returns
    how many arrived, adds (group, why) to ``failures`` for the others. ``purpose``: what the
    journal records the moves as.

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
        return move_serially(run, moves, failures, purpose=purpose)
    queue = list(moves)
    flying: dict[str, _Flight] = {}
    handover: list[Move] = []
    moved = 0
    while queue or flying:
        _launch(run, queue, flying, handover, width)
        if not flying:
            continue
        pause_between_polls(c.policies.move_wait, c.time_scale, clock=c.policies.clock)
        moved += _land(run, flying, handover, failures, purpose)
        run.save_due()
    return moved + move_serially(run, handover, failures, fresh=True, purpose=purpose)


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
          failures: list[tuple[str, str]], purpose: str) -> int:
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
                            (time.monotonic() - t0) * c.time_scale, purpose)
            moved += 1
        elif seen is not None and there and seen.state is GroupState.Failed:
            del flying[name]
            exc = Group(c, name).roll_back(was, home)
            failures.append((name, failed_move(run, name, was, home, t0, exc, purpose)))
        elif seen is None or time.monotonic() - t0 > limit:
            del flying[name]
            handover.append((was, home))
    return moved


def move_serially(run: RunContext, moves: list[Move], failures: list[tuple[str, str]],
                  fresh: bool = False, purpose: str = "redistribute") -> int:
    """One move after another through ``move``; ``fresh``: re-read each group first."""
    moved = 0
    for g, home in moves:
        try:
            move(run, g.name, home, purpose, known=None if fresh else g)
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


#: The journal's purpose of a move that empties the next node ahead of its turn, and of one
#: that takes such a group back to that node when the run stops while a node is out.
AHEAD = "drain-ahead"
AHEAD_BACK = "drain-ahead-back"
_AHEAD_SKIPPED = "drain ahead skipped"
_ONLINE_OR_OFFLINE = (GroupState.Online, GroupState.Offline)


def drain_ahead(run: RunContext, installing: str) -> int:
    """While ``installing`` runs its installer and restarts (``options.drain_ahead``), move
    the groups of the next node away, so that its pause and drain find (almost) nothing left
    and its installer starts at once: the drain leaves the critical path. Bounded parallel
    (``move_all``), fenced, journaled with purpose "drain-ahead"; the node is not paused.

    The next node: that of the first drain step still pending (``next_node``; a resume reads
    the same journal, so it finds the same node). Its groups, Online or Offline, never the
    core group (its drain moves that, as always), go where ``ahead_plan`` says; a group that
    no Up node other than ``installing`` and the next one may own stays for the drain. Skipped
    (one warning per run) unless at least 2 Up nodes besides those two would carry the groups:
    never every group on one node. Returns how many moved; a failed move is left for the
    drain, with a warning."""
    nxt = next_node(run, installing)
    if nxt is None:
        return 0
    snap = run.snap()
    carriers = [x.name for x in snap.nodes if x.state is NodeState.Up
                and not same(x.name, installing) and not same(x.name, nxt)]
    state = snap.node(nxt).state
    if state is not NodeState.Up or len(carriers) < 2:
        why = (f"{nxt} is {state.name}" if state is not NodeState.Up else
               f"{len(carriers)} Up node(s) besides {installing} and {nxt} would carry"
               f" {nxt}'s groups, and at least 2 must (never every group on one node)")
        if not any(_AHEAD_SKIPPED in w for w in run.state.warnings):
            run.warn(f"{_AHEAD_SKIPPED}: {why}; each node is drained in its turn",
                     node=installing, phase="reboot")
        return 0
    todo, _stay = ahead_plan(snap, nxt, carriers, finished_nodes(run))
    if not todo:
        return 0
    failures: list[tuple[str, str]] = []
    moved = move_all(run, todo, failures, purpose=AHEAD)
    if failures:
        run.warn(f"not drained ahead (the drain of {nxt} moves them): "
                 + "; ".join(f"{g}: {why}" for g, why in failures), node=installing,
                 phase="reboot")
    return moved


def next_node(run: RunContext, installing: str) -> str | None:
    """The node whose turn comes next: that of the first drain step the journal shows pending
    (the engine runs steps in order), not ``installing`` and not a node that failed."""
    failed = {n.lower() for n in run.state.failed_nodes}
    for rec in run.state.steps:
        if (rec.kind == "drain" and rec.status == "pending" and rec.node is not None
                and not same(rec.node, installing) and rec.node.lower() not in failed):
            return rec.node
    return None


def ahead_plan(snap: ClusterSnapshot, nxt: str, carriers: list[str],
               finished: set[str]) -> tuple[list[Move], list[str]]:
    """Where each group of ``nxt`` goes when it is drained ahead, highest Priority first (as a
    drain moves them), and the groups no node of ``carriers`` may own (they stay).

    The best carrier by ``placement.candidate_nodes``' rules, with one addition: no
    anti-affinity conflict, then earliest preferred owner, then a node this run has
    ``finished`` (lower case; it is not drained again, so the group moves again only to go
    home), then fewest groups (counted as groups are placed), then the cluster's node order.
    One pass over the snapshot, then O(carriers) per group."""
    index = {c.lower(): i for i, c in enumerate(carriers)}
    load = dict.fromkeys(index, 0)
    classes: dict[str, dict[str, int]] = {k: {} for k in index}
    for g in snap.groups:
        key = (g.owner or "").lower()
        if key in load:
            _place(g, key, load, classes)
    groups = sorted((g for g in snap.groups_on(nxt)
                     if not g.is_core and g.state in _ONLINE_OR_OFFLINE),
                    key=lambda g: (-g.priority_or_default, g.name.lower()))
    todo: list[Move] = []
    stay: list[str] = []
    for g in groups:
        able = [k for k in index if g.can_be_owned_by(k)]
        if not able:
            stay.append(g.name)
            continue
        pref = [p.lower() for p in g.preferences]
        best = min(able, key=lambda k: _ahead_rank(g, k, pref, finished, load, classes, index))
        todo.append((g, carriers[index[best]]))
        _place(g, best, load, classes)
    return todo, stay


def _place(g: GroupInfo, key: str, load: dict[str, int], classes: dict[str, dict[str, int]]) -> None:
    load[key] += 1
    for cls in g.anti_affinity:
        classes[key][cls] = classes[key].get(cls, 0) + 1


def _ahead_rank(g: GroupInfo, k: str, pref: list[str], finished: set[str], load: dict[str, int],
                classes: dict[str, dict[str, int]], index: dict[str, int]) -> tuple[int, ...]:
    conflict = sum(classes[k].get(c, 0) for c in g.anti_affinity)
    return (conflict, pref.index(k) if k in pref else len(pref), int(k not in finished),
            load[k], index[k])


def drained_ahead(run: RunContext, snap: ClusterSnapshot) -> dict[str, tuple[str, GroupInfo]]:
    """The groups this run drained ahead from a node whose drain is not done yet and that are
    not back on it (``snap``): group -> (that node, the group as ``snap`` shows it)."""
    waiting = {rec.node.lower() for rec in run.state.steps
               if rec.kind == "drain" and rec.node and rec.status not in ("done", "skipped")}
    sources = {m.group: m.source for m in run.state.moves
               if m.purpose == AHEAD and m.source and m.source.lower() in waiting}
    if not sources:
        return {}
    now = {g.name: g for g in snap.groups}
    return {name: (src, now[name]) for name, src in sources.items()
            if name in now and not same(now[name].owner, src)}


def ahead_note(run: RunContext, snap: ClusterSnapshot) -> str:
    """What a stopped run says of the groups ``drained_ahead`` ('' when there are none)."""
    left = drained_ahead(run, snap)
    if not left:
        return ""
    by: dict[tuple[str, str], list[str]] = {}
    for name, (src, g) in sorted(left.items()):
        by.setdefault((src, g.owner or "no node"), []).append(name)
    parts = []
    for (src, where), names in sorted(by.items()):
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        parts.append(f"drained ahead from {src}, still on {where}: {shown}")
    return ("; ".join(parts) + ". They are Online (or Offline) where they went; `upgrade resume`"
            " or the final redistribution sends them home.")


def send_back_ahead(run: RunContext) -> str:
    """Best effort, when the run stops while a node is out: the groups ``drained_ahead`` go
    back to their node where it is Up and may own them (bounded parallel, journaled as
    "drain-ahead-back"): the cluster is left as the run without drain ahead would leave it.
    Returns ``ahead_note`` of what is still away ('' when nothing is); never raises a
    cluster error (the stop it serves is already under way), only a lost lock."""
    try:
        return _send_back_ahead(run)
    except LockLost:
        raise  # fenced out: the new holder owns the cluster
    except ClusterError as exc:
        return (f"Groups drained ahead may still be away from their node (sending them back"
                f" failed: {exc}); `upgrade resume` or the final redistribution sends them home.")


def _send_back_ahead(run: RunContext) -> str:
    snap = run.snap()
    up = {x.name.lower() for x in snap.nodes if x.state is NodeState.Up}
    todo = [(g, src) for src, g in drained_ahead(run, snap).values()
            if g.state in _ONLINE_OR_OFFLINE and g.can_be_owned_by(src) and src.lower() in up]
    if not todo:
        return ahead_note(run, snap)
    failures: list[tuple[str, str]] = []
    move_all(run, todo, failures, purpose=AHEAD_BACK)
    return ahead_note(run, run.snap())
