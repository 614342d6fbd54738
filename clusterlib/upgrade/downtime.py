"""The downtime ledger: when each group Online at the start went down, in which step, for how long."""

from __future__ import annotations

from clusterlib.upgrade.context import RunContext
from clusterlib.upgrade.events import utc_now
from clusterlib.upgrade.state import Availability, Episode


def ledger(run: RunContext, group: str) -> Availability:
    """``group``'s availability record, created empty on first use (a group never seen down
    has none: the journal holds, and a save encodes, only the groups that were)."""
    book = run.state.availability
    rec = book.get(group)
    if rec is None:
        rec = book[group] = Availability()
    return rec


def went_down(run: RunContext, group: str, since: float, label: str, state: str,
              on: str | None) -> None:
    """Note ``group`` as down since ``since`` (wall clock), if not already."""
    if run.state.original_states.get(group) != "Online":
        return  # the invariant covers the groups Online at the start
    rec = ledger(run, group)
    if rec.down_since is None:
        rec.down_since = rec.counted_until = since
        rec.down_phase = label
        rec.episodes.append(Episode(from_=utc_now(), to=None, seconds=0.0, phase=label,
                                    state=state, on=on))
    else:
        rec.episodes[-1].state = state
        rec.episodes[-1].on = on


def account(run: RunContext, group: str, now: float, label: str, up: bool) -> None:
    """Add the downtime since the last count to ``label``; close the episode when ``up``."""
    rec = run.state.availability.get(group)
    if rec is None or rec.down_since is None:
        return
    seconds = max(0.0, now - float(rec.counted_until or now)) * run.cluster.time_scale
    rec.excess = round(float(rec.excess) + seconds, 3)
    rec.by_phase[label] = round(float(rec.by_phase.get(label, 0.0)) + seconds, 3)
    episode = rec.episodes[-1]
    episode.seconds = round(episode.seconds + seconds, 3)
    rec.counted_until = now
    if up:
        episode.to = utc_now()
        rec.down_since = rec.counted_until = None


def down_for(run: RunContext, group: str, now: float) -> float:
    """How long ``group`` has been down (cluster seconds), 0 when it is not."""
    rec = run.state.availability.get(group)
    since = rec.down_since if rec is not None else None
    return 0.0 if since is None else max(0.0, now - float(since)) * run.cluster.time_scale


def excess(run: RunContext) -> dict[str, float]:
    """Each group's downtime beyond its moves, for the groups that had any."""
    return {g: float(r.excess) for g, r in run.state.availability.items() if float(r.excess) > 0}
