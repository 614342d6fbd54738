"""The final redistribution moves groups home in parallel, bounded, journaled and checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from upgrade_helpers import all_upgraded, assert_safe, connect, installer, online_at_start

from clusterlib import GroupState
from clusterlib.sim import GroupFailsOnline, SimCluster
from clusterlib.sim.simcluster import SimEvent
from clusterlib.upgrade import RollingUpgrade, UpgradeOptions, UpgradeStopped


def _sim(**kw: object) -> SimCluster:
    # Slow enough that a 2 s move spans several polls, fast enough for the default run.
    return SimCluster.build(4, 24, os="2012R2", upgrade_to="2016", speed=2000.0, **kw)


def _max_overlap(events: list[SimEvent], since: float) -> int:
    """The most redistribution moves under way at one instant in the simulator's event log."""
    flying: set[str] = set()
    most = 0
    for e in events:
        if e.t < since:
            continue
        if e.kind == "move-start" and e.detail.get("reason") == "move":
            flying.add(e.subject)
            most = max(most, len(flying))
        elif e.kind == "moved":
            flying.discard(e.subject)
    return most


def _redistribution_start(sim: SimCluster) -> float:
    # The redistribution starts after the last node's resume.
    resumes = [e.t for e in sim.events if e.kind == "call" and "Resume-ClusterNode" in e.subject]
    assert resumes, "no resume seen"
    return max(resumes)


def test_parallel_redistribution_restores_placement(tmp_path: Path) -> None:
    sim = _sim()
    original = sim.snapshot().placement()
    online = online_at_start(sim)
    cluster = connect(sim)
    report = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json").run()
    assert report.ok and all_upgraded(sim)
    assert sim.snapshot().placement() == original
    assert_safe(sim, online)
    overlap = _max_overlap(list(sim.events), _redistribution_start(sim))
    assert 2 <= overlap <= 4, overlap  # moves overlapped, never more than the default width
    # Every move is journaled, confirmed in its state at home.
    since = _redistribution_start(sim)
    started = [e.subject for e in sim.events if e.t >= since and e.kind == "move-start"]
    moves = [m for m in report.to_dict()["moves"] if m["purpose"] == "redistribute"]
    # The final step's moves (the others went home while a later node installed: phase reboot).
    journaled = [m for m in moves if m["phase"] == "redistribute"]
    assert {m["phase"] for m in moves} <= {"redistribute", "reboot"}
    groups = [m["group"] for m in journaled]
    assert len(groups) >= 4 and len(set(groups)) == len(groups) and set(groups) <= set(started)
    assert all(m["target"] == original[m["group"]] and m["state"] == "Online" for m in moves)


def test_width_one_moves_one_at_a_time(tmp_path: Path) -> None:
    sim = _sim()
    original = sim.snapshot().placement()
    cluster = connect(sim)
    opts = UpgradeOptions(redistribute_parallelism=1)
    report = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json",
                            options=opts).run()
    assert report.ok and sim.snapshot().placement() == original
    assert _max_overlap(list(sim.events), _redistribution_start(sim)) == 1


def test_bad_parallelism_is_refused() -> None:
    with pytest.raises(ValueError, match="redistribute_parallelism"):
        UpgradeOptions(redistribute_parallelism=0)


def test_group_fails_online_in_parallel_redistribution_stops(tmp_path: Path) -> None:
    sim = _sim()
    online = online_at_start(sim)
    victim = next(g for g in sim.snapshot().groups if g.owner == "NODE01" and not g.is_core)
    # NODE01 is drained last: its groups only come back to it in the redistribution.
    sim.inject(GroupFailsOnline(victim.name, "NODE01"))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=installer(), journal=path,
                       order=["NODE02", "NODE03", "NODE04", "NODE01"]).run()
    assert err.value.phase == "redistribute" and err.value.group == victim.name
    assert victim.name in str(err.value) and "every node is upgraded" in str(err.value)
    assert all_upgraded(sim)
    g = sim.snapshot().group(victim.name)
    assert g.owner != "NODE01" and g.state is GroupState.Online  # returned where it was
    assert_safe(sim, online)
    # Every other group is home.
    misplaced = err.value.report.misplaced
    assert set(misplaced) == {victim.name}, misplaced
    sim.clear_faults()
    assert RollingUpgrade.resume(cluster, journal=path).run().ok
    assert sim.snapshot().group(victim.name).owner == "NODE01"


def test_a_locked_group_in_parallel_redistribution_is_retried_and_reported(
        tmp_path: Path) -> None:
    """A move refused as busy (5960) is retried through the serial, re-reading move, and the
    report records that retry as the serial path does."""
    from clusterlib.sim import GroupLocked

    sim = _sim()
    original = sim.snapshot().placement()
    cluster = connect(sim)
    upgrade = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json")
    locked: list[str] = []

    def lock_one_on_redistribution(event: object) -> None:
        if type(event).__name__ == "PhaseStarted" and getattr(event, "phase", "") == \
                "redistribute" and not locked:
            away = [g.name for g in sim.snapshot().groups
                    if g.owner != original[g.name] and not g.is_core]
            locked.append(away[0])
            sim.inject(GroupLocked(away[0], times=1))

    upgrade.subscribe(lock_one_on_redistribution)
    report = upgrade.run()
    assert report.ok and locked
    assert any(r["group"] == locked[0] and "5960" in r["error"] for r in report.retries)
    assert sim.snapshot().placement() == original
