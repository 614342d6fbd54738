"""Preflight against the simulator: an unsupported path is refused before anything changes, the
seed's classic cluster upgrades node 1 first, and the validation group follows the rules."""

from __future__ import annotations

import pytest
from upgrade_helpers import SPEED, classic_ps, connect, installer

from clusterlib.sim import SimCluster
from clusterlib.sim.locale import core_group
from clusterlib.upgrade import PreflightFailed, RollingUpgrade


def test_2008r2_to_2012_is_refused_before_anything_changes() -> None:
    sim = SimCluster.classic(os="2008R2", upgrade_to="2012", speed=SPEED)
    before = sim.snapshot().placement()
    with pytest.raises(PreflightFailed) as err:
        RollingUpgrade(connect(sim), action=installer(), target=sim.upgrade_to).run()
    failed = {c.name: c.message for c in err.value.failed}
    assert "migration to a new cluster" in failed["upgrade-path"]
    assert "Supported alternative: build a new cluster" in failed["upgrade-path"]
    assert not sim.calls("Suspend-ClusterNode") and not sim.calls("Move-ClusterGroup")
    assert sim.snapshot().placement() == before
    assert all(n.release.key == "2008R2" for n in sim.nodes.values())


def test_classic_2000_cluster_plans_node_1_first_with_a_ruled_validation_group() -> None:
    sim = SimCluster.classic(os="2000", speed=SPEED)
    plan = RollingUpgrade(connect(sim), target=sim.upgrade_to).plan()
    assert plan.order == ("NODE1", "NODE2") and plan.order_policy == "node-id"
    assert "Order: NODE1 -> NODE2 (order_policy node-id: node 1 first)" in plan.to_text()
    assert plan.to_dict()["order_policy"] == "node-id"
    checks = {c.name: c for c in plan.checks}
    assert checks["upgrade-path"].ok and "cc737035" in checks["upgrade-path"].message
    assert checks["node-limit"].ok
    vg = checks["validation-group"].message
    assert vg.startswith("File Group 3") and "core group" in vg and core_group(sim.language) in vg
    validate = [s for s in plan.steps if s.kind == "validate"]
    assert [s.group for s in validate] == ["File Group 3", "File Group 3"]


def test_fewest_groups_first_is_a_named_policy() -> None:
    sim = SimCluster({"A": ["a1", "a2"], "B": [], "C": ["c1"]}, os="2012R2", upgrade_to="2016",
                     speed=SPEED)
    upgrade = RollingUpgrade(connect(sim), target=sim.upgrade_to,
                             order_policy="fewest-groups-first")
    plan = upgrade.plan()
    assert plan.order == ("B", "C", "A")  # A also holds the core group
    assert plan.to_dict()["order_policy"] == "fewest-groups-first"
    assert "as CAU does" in plan.to_text()
    assert RollingUpgrade(connect(sim), target=sim.upgrade_to).plan().order == ("A", "B", "C")


def test_2016_mixed_os_core_move_is_expected_in_the_plan() -> None:
    sim = classic_ps()
    plan = RollingUpgrade(connect(sim), action=installer(), target=sim.upgrade_to).plan()
    core = {c.name: c for c in plan.checks}["core-group"]
    assert core.ok and "expected to move to NODE1" in core.message
    reboot = next(s for s in plan.steps if s.id == "NODE1:reboot")
    assert "mixed-OS mode" in reboot.description and "not a failure" in reboot.description


def test_functional_level_on_cluster_exe_is_a_failed_check_not_a_crash() -> None:
    sim = SimCluster.classic(os="2000", speed=SPEED)
    plan = RollingUpgrade(connect(sim), target=sim.upgrade_to, raise_functional_level=True).plan()
    assert not plan.ok and "functional-level" in {c.name for c in plan.failed_checks}
    (step,) = [s for s in plan.steps if s.kind == "functional-level"]
    assert "no Update-ClusterFunctionalLevel" in step.commands[0]
