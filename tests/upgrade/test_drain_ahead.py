"""Drain ahead (UpgradeOptions.drain_ahead): the next node is emptied while the current one installs."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from upgrade_helpers import all_upgraded, assert_safe, connect, installer, online_at_start

from clusterlib.sim import GroupFailsOnline, NodeNeverReturns, SimCluster
from clusterlib.upgrade import Journal, Report, RollingUpgrade, UpgradeStopped

FAST = 5000.0


def _sim(nodes: int, groups: int, speed: float = FAST) -> SimCluster:
    return SimCluster.build(nodes, groups, os="2012R2", upgrade_to="2016", speed=speed)


def _upgrade(sim: SimCluster, path: Path, **options: Any) -> RollingUpgrade:
    return RollingUpgrade(connect(sim), action=installer(), journal=path,
                          target=sim.upgrade_to, **options)


def _left_at_drain(upgrade: RollingUpgrade, sim: SimCluster) -> dict[str, list[str]]:
    """Each node's non-core groups as the simulator holds them when its drain step starts."""
    seen: dict[str, list[str]] = {}

    def look(event: Any) -> None:
        if type(event).__name__ == "PhaseStarted" and event.phase == "drain":
            seen[event.node] = [g.name for g in sim.snapshot().groups_on(event.node)
                                if not g.is_core]

    upgrade.subscribe(look)
    return seen


def _ahead(report: Report) -> list[dict[str, Any]]:
    return [m for m in report.moves if m["purpose"] == "drain-ahead"]


def test_the_next_node_owns_no_group_when_its_drain_starts(tmp_path: Path) -> None:
    sim = _sim(4, 16)
    before = sim.snapshot().placement()
    online = online_at_start(sim)
    upgrade = _upgrade(sim, tmp_path / "j.json", drain_ahead=True)
    left = _left_at_drain(upgrade, sim)
    report = upgrade.run()
    assert report.outcome == "completed" and all_upgraded(sim)
    assert sim.snapshot().placement() == before  # every group ends home
    assert_safe(sim, online)
    order = ["NODE01", "NODE02", "NODE03", "NODE04"]
    assert left["NODE01"] and all(not left[n] for n in order[1:]), left
    ahead = _ahead(report)
    assert {m["source"] for m in ahead} == set(order[1:])
    for m in ahead:
        # Off the next node, during the previous node's install, never onto either of them.
        installing = order[order.index(m["source"]) - 1]
        assert m["node"] == installing and m["phase"] == "reboot", m
        assert m["target"] not in (installing, m["source"]), m
        if m["node"] == "NODE02":
            # NODE01 is finished by then: an upgraded node is preferred (no second move).
            assert m["target"] == "NODE01", m
    # A drained-ahead group's move is an ordinary move in the availability account.
    assert all(a["excess"] == 0 for a in report.availability.values())
    assert all(report.availability[m["group"]]["moves"] >= m["seconds"] for m in ahead)


def test_drain_ahead_takes_the_drains_off_the_critical_path() -> None:
    durations: dict[bool, float] = {}
    drains: dict[bool, float] = {}
    for ahead in (False, True):
        sim = _sim(5, 40, speed=1000.0)
        for g in sim.groups.values():
            g.move_time = 20.0  # a drain of 8 groups is then 40 s at the cluster's 4 at a time
        t0 = sim.now()
        report = RollingUpgrade(connect(sim), action=installer(), target=sim.upgrade_to,
                                drain_ahead=ahead).run()
        durations[ahead] = sim.now() - t0
        assert report.outcome == "completed"
        drains[ahead] = sum(s["seconds"] for s in report.steps
                            if s["kind"] == "drain" and s["node"] != "NODE01")
    # Nodes 2..5 pause onto (almost) nothing: only the core group is left to their drain.
    assert drains[True] < 0.5 * drains[False], drains
    # The run is shorter by about those drains (measured: 180-205 s, the drains 180 s less).
    saved = durations[False] - durations[True]
    assert saved > 0.5 * (drains[False] - drains[True]), (durations, drains)


def test_three_nodes_drain_nothing_ahead_and_say_so_once(tmp_path: Path) -> None:
    sim = _sim(3, 9)
    before = sim.snapshot().placement()
    report = _upgrade(sim, tmp_path / "j.json", drain_ahead=True).run()
    assert report.outcome == "completed" and sim.snapshot().placement() == before
    assert not _ahead(report)
    said = [w for w in report.warnings if "drain ahead skipped" in w]
    assert len(said) == 1 and "at least 2 must" in said[0], report.warnings


def test_a_group_only_the_next_and_the_installing_node_may_own_stays_for_the_drain(
        tmp_path: Path) -> None:
    sim = _sim(4, 8)
    sim.add_group("Pinned", owner="NODE02", possible_owners=["NODE01", "NODE02"])
    upgrade = _upgrade(sim, tmp_path / "j.json", drain_ahead=True)
    left = _left_at_drain(upgrade, sim)
    report = upgrade.run()
    assert report.outcome == "completed"
    assert left["NODE02"] == ["Pinned"]  # the rest went ahead; Pinned waited for the drain
    assert not [m for m in _ahead(report) if m["group"] == "Pinned"]
    assert sim.groups["Pinned"].owner == "NODE02"


def test_a_stop_while_the_node_is_out_sends_the_groups_back_and_names_any_left(
        tmp_path: Path) -> None:
    sim = _sim(4, 16)
    on_next = [g.name for g in sim.snapshot().groups_on("NODE02") if not g.is_core]
    stuck = on_next[0]
    sim.inject(NodeNeverReturns("NODE01"))
    sim.inject(GroupFailsOnline(stuck, "NODE02"))  # it can leave NODE02, not come back
    online = online_at_start(sim)
    with pytest.raises(UpgradeStopped) as err:
        _upgrade(sim, tmp_path / "j.json", drain_ahead=True, reboot_timeout=600).run()
    assert err.value.node == "NODE01" and err.value.phase == "reboot"
    text = str(err.value)
    assert "did not come back" in text
    where = sim.groups[stuck].owner
    assert where not in ("NODE01", "NODE02")
    assert f"drained ahead from NODE02, still on {where}: {stuck}" in text
    assert f"still on {where}: {stuck}" in err.value.report.message
    back = [m for m in err.value.report.moves if m["purpose"] == "drain-ahead-back"]
    assert {m["group"] for m in back} >= set(on_next) - {stuck}
    assert all(sim.groups[g].owner == "NODE02" for g in on_next if g != stuck)
    assert_safe(sim, online)


def test_a_stop_after_the_install_names_the_groups_drained_ahead_then_resume_ends_home(
        tmp_path: Path) -> None:
    sim = _sim(4, 16)
    before = sim.snapshot().placement()
    path = tmp_path / "j.json"
    upgrade = _upgrade(sim, path, drain_ahead=True)

    def stop(event: Any) -> None:
        if type(event).__name__ == "PhaseFinished" and event.step == "NODE01:reboot":
            upgrade.request_stop()

    upgrade.subscribe(stop)
    with pytest.raises(UpgradeStopped) as err:
        upgrade.run()
    message = err.value.report.message
    away = sorted(m["group"] for m in _ahead(err.value.report))
    assert away and "drained ahead from NODE02, still on" in message
    assert all(g in message for g in away[:10]) and "sends them home" in message
    report = RollingUpgrade.resume(connect(sim), journal=path).run()
    assert report.outcome == "completed" and all_upgraded(sim)
    assert sim.snapshot().placement() == before


def test_resume_after_a_crash_in_the_middle_of_drain_ahead(tmp_path: Path) -> None:
    sim = _sim(4, 16)
    before = sim.snapshot().placement()
    path = tmp_path / "j.json"
    upgrade = _upgrade(sim, path, drain_ahead=True)

    def crash(event: Any) -> None:
        if type(event).__name__ == "GroupMoved" and event.purpose == "drain-ahead":
            raise KeyboardInterrupt  # the process dies with moves in flight

    upgrade.subscribe(crash)
    with pytest.raises(KeyboardInterrupt):
        upgrade.run()
    state = Journal.load(path).state
    assert state.step("NODE01:reboot").status == "failed"
    assert state.options["drain_ahead"] is True  # the resume keeps the option
    report = RollingUpgrade.resume(connect(sim), journal=path).run()
    assert report.outcome == "completed" and all_upgraded(sim)
    assert sim.snapshot().placement() == before
    starts = [e.subject for e in sim.events if e.kind == "upgrade-start"]
    assert sorted(starts) == ["NODE01", "NODE02", "NODE03", "NODE04"]  # each installer once
    assert len({m["source"] for m in _ahead(report)}) == 3


def test_the_plan_says_where_drain_ahead_happens(tmp_path: Path) -> None:
    """The plan tells the truth about drain ahead: each install but the last names the node
    emptied meanwhile, and that node's drain says most of its groups will have left; without
    the option, or on 3 nodes, the plan does not mention it."""
    plan = _upgrade(_sim(4, 8), tmp_path / "a.json", drain_ahead=True).plan()
    reboots = {s.node: s.description for s in plan.steps if s.kind == "reboot"}
    drains = {s.node: s.description for s in plan.steps if s.kind == "drain"}
    order = ["NODE01", "NODE02", "NODE03", "NODE04"]
    for here, nxt in itertools.pairwise(order):
        assert f"(drain ahead) {nxt}'s groups move" in reboots[here], reboots[here]
        assert "drain ahead: most have left" in drains[nxt], drains[nxt]
    assert "drain ahead" not in reboots["NODE04"] and "drain ahead" not in drains["NODE01"]
    plain = _upgrade(_sim(4, 8), tmp_path / "b.json").plan()
    three = _upgrade(_sim(3, 6), tmp_path / "c.json", drain_ahead=True).plan()
    for p in (plain, three):
        assert not any("drain ahead" in s.description for s in p.steps)
