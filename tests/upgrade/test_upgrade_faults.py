"""Every preflight check failing on a crafted simulator, and every simulator fault with its outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
from upgrade_helpers import (
    SPEED,
    all_upgraded,
    assert_safe,
    classic_ps,
    connect,
    four_node,
    installer,
    online_at_start,
)

from clusterlib import GroupState, NodeState
from clusterlib.sim import (
    GroupFailsOnline,
    GroupLocked,
    GroupSlow,
    NodeCrashesDuringDrain,
    NodeNeverReturns,
    NodeReturnsIncompatible,
    SimCluster,
)
from clusterlib.upgrade import (
    CallableAction,
    PreflightFailed,
    RollingUpgrade,
    UpgradeStopped,
)
from clusterlib.upgrade.lock import LOCK_KEY, LockInfo
from clusterlib.upgrade.preflight import run_checks

# ---- preflight -----------------------------------------------------------------------------------


def _failed(sim: SimCluster, **options: object) -> dict[str, str]:
    upgrade = RollingUpgrade(connect(sim), action=installer(), **options)  # type: ignore[arg-type]
    props = dict(sim.private_props)
    with pytest.raises(PreflightFailed) as err:
        upgrade.run()
    assert not sim.calls("Suspend-ClusterNode") and not sim.calls("Move-ClusterGroup")
    assert sim.private_props == props  # not even the lock was taken
    return {c.name: c.message for c in err.value.failed}


def test_preflight_node_down() -> None:
    sim = classic_ps()
    sim.inject(NodeNeverReturns("NODE2"))
    sim.reboot_node("NODE2")
    sim.settle()
    failed = _failed(sim)
    assert "NODE2 is Down" in failed["nodes-up"]


def test_preflight_failed_and_partial_groups() -> None:
    sim = classic_ps()
    sim.add_group("Broken", owner="NODE1", state=GroupState.Failed)
    sim.add_group("Half", owner="NODE2", state=GroupState.PartialOnline)
    failed = _failed(sim)
    assert "Broken is Failed" in failed["groups-healthy"]
    assert "Half is PartialOnline" in failed["groups-healthy"]


def test_preflight_node_already_paused() -> None:
    sim = classic_ps()
    sim.pause_node("NODE2")
    assert "NODE2 is already Paused" in _failed(sim)["no-paused-nodes"]


def test_preflight_quorum() -> None:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016", speed=SPEED, quorum="NodeMajority",
                             witness=False, dynamic_quorum=False)
    assert "would lose quorum" in _failed(sim)["quorum"]


def test_preflight_capacity_possible_owners() -> None:
    sim = classic_ps()
    sim.add_group("Pinned", owner="NODE1", possible_owners=["NODE1"])
    assert "no other node may own Pinned" in _failed(sim)["capacity"]


def test_preflight_version_cannot_join() -> None:
    sim = classic_ps()
    message = _failed(sim, target="11.3/10.3")["version-join"]  # 2012 R2 -> 2022 skips two
    assert "could not rejoin" in message and "11.3" in message


def test_preflight_lock_held_by_another_run() -> None:
    sim = classic_ps()
    sim.private_props[LOCK_KEY] = LockInfo("otherrun", "alice@ops1", 4242, "2026-01-01T00:00Z").to_json()
    message = _failed(sim)["lock"]
    assert "otherrun" in message and "alice@ops1" in message


def test_preflight_functional_level_not_available() -> None:
    sim = SimCluster.classic(os="2008R2", upgrade_to="2012", speed=SPEED)
    assert "has none" in _failed(sim, raise_functional_level=True)["functional-level"]


def test_preflight_validation_group_core_or_unknown() -> None:
    assert "core group" in _failed(classic_ps(), validation_group="Cluster Group")["validation-group"]
    assert "no group named 'Nope'" in _failed(classic_ps(), validation_group="Nope")["validation-group"]


def test_preflight_node_order_unknown_or_duplicate() -> None:
    assert "no node named 'NODE9'" in _failed(classic_ps(), order=["NODE9"])["node-order"]
    assert "more than once" in _failed(classic_ps(), order=["NODE1", "NODE1", "NODE2"])["node-order"]


def test_preflight_action_missing() -> None:
    sim = classic_ps()
    with pytest.raises(PreflightFailed) as err:
        RollingUpgrade(connect(sim)).run()
    assert any(c.name == "action" for c in err.value.failed)


def test_preflight_lists_every_failure_at_once() -> None:
    sim = classic_ps()
    sim.add_group("Broken", owner="NODE1", state=GroupState.Failed)
    sim.pause_node("NODE2")
    sim.private_props[LOCK_KEY] = LockInfo("x", "bob@h", 1, "t").to_json()
    with pytest.raises(PreflightFailed) as err:
        RollingUpgrade(connect(sim), action=installer(), target="11.3/10.3").run()
    names = {c.name for c in err.value.failed}
    assert {"groups-healthy", "no-paused-nodes", "lock", "version-join"} <= names
    assert "nothing was changed" in str(err.value)


def test_unknown_quorum_model_is_a_warning_not_a_pass() -> None:
    snap = classic_ps().snapshot().evolve(quorum_type="", dynamic_quorum=False, witness=False)
    from clusterlib.upgrade.options import UpgradeOptions

    checks = run_checks(snap, UpgradeOptions(), order=("NODE2", "NODE1"), lock=None,
                        lock_error=None, run_id="r", action_problem=None,
                        functional_level_supported=True)
    (quorum,) = [c for c in checks if c.name == "quorum"]
    assert not quorum.ok and quorum.severity == "warning" and "cannot be proven" in quorum.message


# ---- faults --------------------------------------------------------------------------------------


def test_group_fails_online_in_validation_stops_then_resumes(tmp_path: Path) -> None:
    sim = classic_ps()
    online = online_at_start(sim)
    original = sim.snapshot().placement()
    sim.inject(GroupFailsOnline("File Group 3", "NODE2"))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped) as err:  # NODE2 first: the fault is in its validation
        RollingUpgrade(cluster, action=installer(), journal=path, target="9.3",
                       order=["NODE2", "NODE1"]).run()
    stop = err.value
    assert (stop.node, stop.group, stop.phase) == ("NODE2", "File Group 3", "validate")
    assert "validation move of File Group 3 to NODE2 failed" in str(stop)
    g = sim.snapshot().group("File Group 3")
    assert (g.owner, g.state) == ("NODE1", GroupState.Online)  # returned where it was
    assert sim.nodes["NODE1"].release.key == "2012R2"  # the next node was not touched
    assert stop.report.outcome == "stopped" and stop.report.stopped_at["group"] == "File Group 3"
    assert stop.journal == path
    assert_safe(sim, online)
    assert LOCK_KEY in sim.private_props  # a stopped run keeps its lock
    sim.clear_faults("File Group 3")
    report = RollingUpgrade.resume(cluster, journal=path).run()
    assert report.ok and all_upgraded(sim)
    assert sim.snapshot().placement() == original
    assert LOCK_KEY not in sim.private_props


def test_group_fails_online_in_redistribution(tmp_path: Path) -> None:
    sim = classic_ps()
    online = online_at_start(sim)
    sim.inject(GroupFailsOnline("SQL Group 1", "NODE1"))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped) as err:  # NODE1 last: SQL Group 1 fails only coming home
        RollingUpgrade(cluster, action=installer(), journal=path, order=["NODE2", "NODE1"]).run()
    assert err.value.phase == "redistribute" and err.value.group == "SQL Group 1"
    assert "SQL Group 1" in str(err.value) and "every node is upgraded" in str(err.value)
    assert all_upgraded(sim)
    g = sim.snapshot().group("SQL Group 1")
    assert (g.owner, g.state) == ("NODE2", GroupState.Online)
    assert_safe(sim, online)
    report = err.value.report
    assert report.misplaced == {"SQL Group 1": ("NODE1", "NODE2")}
    sim.clear_faults()
    assert RollingUpgrade.resume(cluster, journal=path).run().ok
    assert sim.snapshot().group("SQL Group 1").owner == "NODE1"


@pytest.mark.parametrize("fault", [GroupSlow("File Group 3", extra=700.0),
                                   GroupLocked("File Group 3", times=3)],
                         ids=["slow", "locked"])
def test_slow_or_locked_groups_are_absorbed_by_retries(tmp_path: Path, fault: object) -> None:
    sim = classic_ps()
    online = online_at_start(sim)
    sim.inject(fault)  # type: ignore[arg-type]
    report = RollingUpgrade(connect(sim), action=installer(), journal=tmp_path / "j.json").run()
    assert report.ok
    assert report.retries and all(r["group"] == "File Group 3" for r in report.retries)
    assert_safe(sim, online)


def test_node_never_returns_stops_then_resumes_when_it_is_back(tmp_path: Path) -> None:
    sim = classic_ps()
    online = online_at_start(sim)
    original = sim.snapshot().placement()
    sim.inject(NodeNeverReturns("NODE2"))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=installer(), journal=path, reboot_timeout=1200).run()
    assert err.value.node == "NODE2" and err.value.phase == "reboot"
    assert "NODE2 did not come back within 1200s" in str(err.value)
    assert sim.nodes["NODE2"].state is NodeState.Down
    assert_safe(sim, online)  # everything runs on NODE1
    assert all(g.owner == "NODE1" for g in sim.snapshot().groups)
    # Resuming while it is still down stops again, cleanly, without touching NODE1.
    with pytest.raises(UpgradeStopped, match="did not come back"):
        RollingUpgrade.resume(cluster, journal=path).run()
    assert sim.nodes["NODE1"].state is NodeState.Up
    sim.clear_faults("NODE2")
    sim.boot_node("NODE2")
    report = RollingUpgrade.resume(cluster, journal=path).run()
    assert report.ok and all_upgraded(sim)
    assert sim.snapshot().placement() == original
    assert len([e for e in sim.calls("cmd") if e.detail.get("node") == "NODE2"]) == 1


def test_node_returns_incompatible_join_refused(tmp_path: Path) -> None:
    sim = classic_ps()
    online = online_at_start(sim)
    sim.inject(NodeReturnsIncompatible("NODE2", "2019"))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped) as err:  # NODE2 first: it returns on the wrong release
        RollingUpgrade(cluster, action=installer(), journal=path, target="9.3",
                       order=["NODE2", "NODE1"]).run()
    text = str(err.value)
    assert err.value.node == "NODE2" and err.value.phase == "reboot"
    assert "NODE2 came back running cluster service 10.3" in text
    assert "5075" in text and "8.9600" in text
    assert_safe(sim, online)
    # Fixed by hand: reinstalled with the right release; the run continues.
    sim.boot_node("NODE2", into="2016")
    assert RollingUpgrade.resume(cluster, journal=path).run().ok
    assert all_upgraded(sim)


def test_wrong_version_back_in_the_cluster_is_a_node_failure(tmp_path: Path) -> None:
    sim = four_node()
    cluster = connect(sim)

    def patch_only(node: str, c: object) -> None:
        sim.reboot_node(node)  # comes back on the same version: not the target

    with pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=CallableAction(patch_only), journal=tmp_path / "j.json",
                       target="9.3").run()
    assert err.value.phase == "verify"
    assert "expected 9.3" in str(err.value) and "8.9600" in str(err.value)


def test_node_crashes_during_drain_is_redrained(tmp_path: Path) -> None:
    sim = four_node()
    online = online_at_start(sim)
    original = sim.snapshot().placement()
    order = RollingUpgrade(connect(sim), action=installer()).plan().order
    sim.inject(NodeCrashesDuringDrain(order[0], after_moves=1))
    report = RollingUpgrade(connect(sim), action=installer(), journal=tmp_path / "j.json").run()
    assert report.ok and all_upgraded(sim)
    assert any(r["phase"] == "drain" and "crashed" in r["error"] for r in report.retries)
    assert sim.snapshot().placement() == original
    assert_safe(sim, online)


def test_node_crashes_during_drain_without_retries_stops_safely(tmp_path: Path) -> None:
    sim = classic_ps()
    online = online_at_start(sim)
    sim.inject(NodeCrashesDuringDrain("NODE2", after_moves=1))
    cluster = connect(sim)
    path = tmp_path / "j.json"
    with pytest.raises(UpgradeStopped) as err:  # NODE2 first: it crashes in its drain
        RollingUpgrade(cluster, action=installer(), journal=path, retries_per_node=0,
                       order=["NODE2", "NODE1"]).run()
    assert err.value.phase == "drain" and err.value.node == "NODE2"
    assert "crashed" in str(err.value)
    assert not sim.calls("cmd")  # the installer never ran
    sim.settle()
    assert_safe(sim, online)
    assert RollingUpgrade.resume(cluster, journal=path).run().ok


def test_never_pauses_while_another_node_is_out(tmp_path: Path) -> None:
    sim = four_node()
    cluster = connect(sim)
    path = tmp_path / "j.json"
    upgrade = RollingUpgrade(cluster, action=installer(), journal=path)
    order = upgrade.plan().order

    def take_one_down(event: object) -> None:
        if type(event).__name__ == "PhaseFinished" and getattr(event, "step", "") == \
                f"{order[0]}:validate":
            sim.inject(NodeNeverReturns(order[2]))
            sim.reboot_node(order[2])

    upgrade.subscribe(take_one_down)
    with pytest.raises(UpgradeStopped) as err:
        upgrade.run()
    assert err.value.node == order[1] and err.value.phase == "drain"
    assert "another node is not Up" in str(err.value)
    assert sim.nodes[order[1]].state is NodeState.Up
