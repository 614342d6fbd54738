"""The simulated cluster's rules, time and faults, checked on the model directly."""

from __future__ import annotations

import time

import pytest

from clusterlib import DrainStatus, GroupState, NodeState
from clusterlib.sim import (
    GroupLocked,
    NodeNeverReturns,
    NodeReturnsIncompatible,
    SimCluster,
    SimError,
    release,
)


def test_layout_names_and_core_group() -> None:
    sim = SimCluster({"N1": ["a"], "N2": []})
    snap = sim.snapshot()
    assert [n.name for n in snap.nodes] == ["N1", "N2"]
    assert snap.placement() == {"a": "N1", "Cluster Group": "N1"}
    assert snap.group("Cluster Group").is_core


def test_classic_layout() -> None:
    sim = SimCluster.classic()
    snap = sim.snapshot()
    assert snap.placement() == {"SQL Group 1": "NODE1", "SQL Group 2": "NODE1", "File Group 3": "NODE2",
                                "File Group 4": "NODE2", "Cluster Group": "NODE1"}
    assert snap.node("NODE1").os_version is not None and snap.node("NODE1").os_version.build == 2195
    assert sim.upgrade_to is not None and sim.upgrade_to.key == "2003"
    assert not sim.powershell and sim.cluster_exe  # Windows 2000 has only cluster.exe


def test_build_spreads_groups() -> None:
    sim = SimCluster.build(nodes=4, groups=10)
    counts = [len(sim.snapshot().groups_on(n)) for n in ("NODE01", "NODE02", "NODE03", "NODE04")]
    assert sum(counts) == 11  # ten groups plus the core group
    assert max(counts) - min(counts) <= 2


def test_bad_layouts_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one node"):
        SimCluster({})
    with pytest.raises(ValueError, match="duplicate group"):
        SimCluster({"A": ["g"], "B": ["G"]})
    with pytest.raises(ValueError, match="unknown Windows release"):
        SimCluster({"A": []}, os="1995")


def test_move_rules() -> None:
    sim = SimCluster.classic(os="2016")
    sim.pause_node("NODE2")
    with pytest.raises(SimError) as err:
        sim.move_group("SQL Group 1", "NODE2")
    assert err.value.code == 5070  # a paused node accepts no groups
    with pytest.raises(SimError) as err:
        sim.move_group("SQL Group 1", "NODE9")
    assert err.value.code == 5042


def test_possible_owners_enforced() -> None:
    sim = SimCluster({"A": [], "B": [], "C": []}, os="2016")
    sim.add_group("pinned", owner="A", possible_owners=["A", "B"])
    with pytest.raises(SimError) as err:
        sim.move_group("pinned", "C")
    assert err.value.code == 5016


def test_move_takes_simulated_time_and_shows_pending() -> None:
    sim = SimCluster.classic(os="2016", speed=100)
    sim.group("SQL Group 1").move_time = 20.0  # 0.2 s of wall time
    g = sim.move_group("SQL Group 1", "NODE2", wait=0)
    assert g.state is GroupState.Pending and g.owner == "NODE2"
    with pytest.raises(SimError) as err:
        sim.move_group("SQL Group 1", "NODE1")
    assert err.value.code == 5908  # moving already
    start = time.monotonic()
    sim.settle()
    assert time.monotonic() - start >= 0.1
    assert sim.group("SQL Group 1").state is GroupState.Online


def test_drain_moves_non_core_groups_by_priority_and_pauses() -> None:
    sim = SimCluster.classic(os="2016")
    sim.pause_node("NODE1", drain=True, wait=True)
    node = sim.node("NODE1")
    assert node.state is NodeState.Paused and node.drain_status is DrainStatus.Completed
    snap = sim.snapshot()
    assert snap.group("SQL Group 1").owner == "NODE2"
    # Whether a real drain moves the core group is unverified; the simulator leaves it.
    assert snap.group("Cluster Group").owner == "NODE1"
    moves = [e.subject for e in sim.events if e.kind == "move-start"]
    assert moves == ["SQL Group 1", "SQL Group 2"]


def test_drain_needs_another_up_node_and_drain_support() -> None:
    sim = SimCluster({"A": ["g"]}, os="2016")
    with pytest.raises(SimError) as err:
        sim.pause_node("A", drain=True)
    assert err.value.code == 5050
    old = SimCluster.classic(os="2008R2")
    with pytest.raises(SimError) as err:
        old.pause_node("NODE1", drain=True)
    assert err.value.code == 5904


def test_resume_rules_and_failback() -> None:
    sim = SimCluster.classic(os="2016")
    with pytest.raises(SimError) as err:
        sim.resume_node("NODE1")
    assert err.value.code == 5058
    sim.pause_node("NODE1", drain=True, wait=True)
    sim.resume_node("NODE1", failback="Immediate")
    sim.settle()
    assert sim.snapshot().group("SQL Group 2").owner == "NODE1"


def test_reboot_keeps_pause_and_upgrade_changes_versions() -> None:
    sim = SimCluster.classic(os="2000", upgrade_to="2003")
    sim.pause_node("NODE1")
    sim.upgrade_node("NODE1")
    assert sim.node("NODE1").state is NodeState.Down
    sim.settle()
    node = sim.node("NODE1")
    assert node.state is NodeState.Paused  # paused persists across reboot
    assert node.release.key == "2003"
    assert sim.snapshot().mixed_version


def test_join_rule_one_release_at_a_time() -> None:
    sim = SimCluster.classic(os="2000")
    assert sim.can_join(release("2003"))
    assert not sim.can_join(release("2008"))  # two releases ahead: 5075
    sim.inject(NodeReturnsIncompatible("NODE2", release="2008"))
    sim.upgrade_node("NODE2")
    sim.settle()
    assert sim.node("NODE2").state is NodeState.Down
    refused = [e for e in sim.events if e.kind == "join-refused"]
    assert refused and refused[0].detail["code"] == 5075


def test_node_never_returns_until_fault_cleared() -> None:
    sim = SimCluster.classic(os="2016", upgrade_to="2019")
    sim.inject(NodeNeverReturns("NODE2"))
    sim.reboot_node("NODE2")
    sim.settle()
    assert sim.node("NODE2").state is NodeState.Down
    sim.clear_faults("NODE2")
    sim._begin_join(sim.node("NODE2"), sim.node("NODE2").release)
    sim.settle()
    assert sim.node("NODE2").state is NodeState.Up


def test_failover_when_owner_goes_down() -> None:
    sim = SimCluster.classic(os="2016")
    sim.reboot_node("NODE2")
    sim.advance()
    snap = sim.snapshot()
    assert snap.group("File Group 3").owner == "NODE1"
    sim.settle()
    assert sim.snapshot().group("File Group 3").state is GroupState.Online


def test_quorum_loss_stops_the_cluster() -> None:
    sim = SimCluster({"A": ["g"], "B": [], "C": []}, os="2016", witness=False, dynamic_quorum=False)
    sim.reboot_node("B")
    assert sim.up  # 2 of 3 votes
    sim.reboot_node("C")
    assert not sim.up
    with pytest.raises(SimError) as err:
        sim.move_group("g", "A")
    assert err.value.code == 1753
    sim.settle()
    assert sim.up  # nodes rejoined and quorum formed again


def test_functional_level_rules() -> None:
    sim = SimCluster.build(nodes=2, groups=2, os="2012R2", upgrade_to="2016")
    assert sim.functional_level == 8
    assert sim.snapshot().functional_level is None  # no such property on 2012 R2
    sim.upgrade_node("NODE01")
    sim.settle()
    assert sim.snapshot().functional_level == 8  # mixed mode: property exists, level unchanged
    with pytest.raises(SimError) as err:
        sim.update_functional_level()
    assert err.value.code == 5904  # NODE02 still on 2012 R2
    sim.upgrade_node("NODE02")
    sim.settle()
    sim.pause_node("NODE02")
    with pytest.raises(SimError) as err:
        sim.update_functional_level()
    assert err.value.code == 5037  # every node must be Up, not paused
    sim.resume_node("NODE02")
    assert sim.update_functional_level() == 9
    assert sim.functional_level == 9


def test_locked_group_fault_counts_down() -> None:
    sim = SimCluster.classic(os="2016")
    sim.inject(GroupLocked("SQL Group 1", times=2))
    for _ in range(2):
        with pytest.raises(SimError) as err:
            sim.move_group("SQL Group 1", "NODE2")
        assert err.value.code == 5960
    assert sim.move_group("SQL Group 1", "NODE2").owner == "NODE2"


def test_unknown_fault_subject_is_refused() -> None:
    sim = SimCluster.classic(os="2016")
    with pytest.raises(SimError):
        sim.inject(GroupLocked("no such group"))


def test_transitions_keep_physical_time_however_late_the_model_is_touched() -> None:
    # 185 simulated seconds (window 120, reboot 60, join 5) pass in 18.5 ms of wall time; the
    # model is touched again only after ~1,000 simulated seconds. Each step still happens when it
    # was due, not when someone next looked (the 1 s slack: wall time between two calls).
    sim = SimCluster.classic(os="2016", upgrade_to="2019", speed=10_000)
    sim.start_installer("NODE1", r"D:\setup.exe /auto upgrade /quiet")
    time.sleep(0.1)
    sim.advance()
    times = {e.kind: e.t for e in sim.events if e.subject == "NODE1"}
    assert times["reboot"] - times["upgrade-start"] == pytest.approx(sim.install_window, abs=1)
    assert times["joined"] - times["reboot"] == pytest.approx(60 + 5, abs=1)
    assert sim.now() > times["joined"] + 500
    assert sim.node("NODE1").release.key == "2019"
