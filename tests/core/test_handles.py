"""Cluster, Node and Group handles against the simulator, over every transport."""

from __future__ import annotations

import pytest
from conftest import ConnectSim

import clusterlib
from clusterlib import (
    ClusterRefused,
    DrainStatus,
    GroupNotFound,
    GroupState,
    NodeNotFound,
    NodeState,
    PreconditionFailed,
)
from clusterlib.sim import GroupFailsOnline, GroupLocked, GroupSlow, NodeCrashesDuringDrain, SimCluster
from clusterlib.sim.locale import core_group


def test_connect_detects_dialect_and_snapshots(connect_sim: ConnectSim, classic_ps: SimCluster) -> None:
    cluster = connect_sim(classic_ps)
    assert cluster.dialect_name == "powershell"
    snap = cluster.snapshot()
    assert snap.name == "CLUSTER1"
    assert snap.placement() == classic_ps.snapshot().placement()
    node1 = snap.node("NODE1")
    assert node1.state is NodeState.Up and node1.os_version is not None
    assert node1.os_version.build == 9600
    assert node1.highest_version == clusterlib.ServiceVersion(8, 9600)
    assert snap.group("SQL Group 1").priority == 3000
    assert snap.group(core_group(classic_ps.language)).is_core
    assert snap.health().ok
    assert snap.dialect == "powershell"
    assert "CLUSTER1" in repr(cluster)


def test_snapshot_is_one_round_trip(connect_sim: ConnectSim) -> None:
    sim = SimCluster.build(nodes=8, groups=200, os="2016")
    cluster = connect_sim(sim)
    before = len(sim.calls("Get-ClusterGroup"))
    snap = cluster.snapshot()
    assert len(snap.groups) == 201
    assert len(sim.calls("Get-ClusterGroup")) == before + 1  # not once per group


def test_handles_and_reprs(connect_sim: ConnectSim, classic_ps: SimCluster) -> None:
    cluster = connect_sim(classic_ps)
    assert [repr(n) for n in cluster.nodes()] == ["<Node 'NODE1' Up>", "<Node 'NODE2' Up>"]
    group = cluster.group("sql group 1")
    assert repr(group) == "<Group 'SQL Group 1' Online on NODE1>"
    assert [g.name for g in cluster.node("NODE2").groups()] == ["File Group 3", "File Group 4"]


def test_pause_drain_resume_failback(connect_sim: ConnectSim, classic_ps: SimCluster) -> None:
    cluster = connect_sim(classic_ps)
    snap = cluster.node("NODE1").pause(drain=True)
    assert snap.node("NODE1").state is NodeState.Paused
    assert snap.node("NODE1").drain_status is DrainStatus.Completed
    assert snap.groups_on("NODE1") == ()  # the core group too: clusterlib moved it
    assert all(g.state is GroupState.Online for g in snap.groups)
    drain_calls = classic_ps.calls("Suspend-ClusterNode")
    assert drain_calls[-1].detail["params"] == {"Name": "NODE1", "Drain": True, "Wait": True}
    snap = cluster.node("NODE1").resume(failback="Immediate")
    assert snap.node("NODE1").state is NodeState.Up
    assert snap.group("SQL Group 1").owner == "NODE1"
    assert classic_ps.calls("Resume-ClusterNode")[-1].detail["params"] == {
        "Name": "NODE1", "Failback": "Immediate"}


def test_pause_without_drain_on_2008r2_moves_groups_itself(connect_sim: ConnectSim) -> None:
    # The FailoverClusters module of 2008 R2 over PowerShell needs ConvertTo-Json (3.0 on):
    # WMF installed (a stock 2008 R2 runs 2.0 and is driven with cluster.exe).
    sim = SimCluster.classic(os="2008R2", wmf51=True)
    cluster = connect_sim(sim)
    assert cluster.dialect_name == "powershell-nodrain"
    snap = cluster.node("NODE1").pause(drain=True)
    assert snap.groups_on("NODE1") == ()
    assert snap.node("NODE1").state is NodeState.Paused
    assert sim.calls("Suspend-ClusterNode")[-1].detail["params"] == {"Name": "NODE1"}
    assert len(sim.calls("Move-ClusterGroup")) == 3


def test_move_returns_fresh_snapshot_and_waits_online(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic(os="2016", speed=500)
    sim.group("SQL Group 1").move_time = 30.0
    cluster = connect_sim(sim)
    snap = cluster.group("SQL Group 1").move("NODE2")
    assert snap.group("SQL Group 1").owner == "NODE2"
    assert snap.group("SQL Group 1").state is GroupState.Online
    params = sim.calls("Move-ClusterGroup")[-1].detail["params"]
    assert params["Name"] == "SQL Group 1" and params["Node"] == "NODE2"
    assert isinstance(params["Wait"], int)


def test_offline_group_stays_offline_after_move(connect_sim: ConnectSim) -> None:
    sim = SimCluster({"A": [], "B": []}, os="2016")
    sim.add_group("idle", owner="A", state=GroupState.Offline)
    snap = connect_sim(sim).group("idle").move("B")
    assert snap.group("idle").owner == "B" and snap.group("idle").state is GroupState.Offline


def test_locked_group_is_retried_and_logged(connect_sim: ConnectSim, classic_ps: SimCluster) -> None:
    classic_ps.inject(GroupLocked("SQL Group 1", times=2))
    cluster = connect_sim(classic_ps)
    events: list[tuple[str, dict[str, object]]] = []
    cluster.subscribe(lambda e, d: events.append((e, d)))
    snap = cluster.group("SQL Group 1").move("NODE2")
    assert snap.group("SQL Group 1").owner == "NODE2"
    assert [e for e, _ in events].count("retry") == 2
    move = next(d for e, d in events if e == "move")
    assert move["attempts"] == 3
    assert len(classic_ps.calls("Move-ClusterGroup")) == 3


def test_locked_group_gives_up_after_bounded_attempts(connect_sim: ConnectSim,
                                                      classic_ps: SimCluster) -> None:
    classic_ps.inject(GroupLocked("SQL Group 1", times=50))
    cluster = connect_sim(classic_ps)
    with pytest.raises(clusterlib.TransientClusterError) as err:
        cluster.group("SQL Group 1").move("NODE2")
    assert err.value.win32_code == 5960
    assert len(classic_ps.calls("Move-ClusterGroup")) == clusterlib.Policies().move_retry.attempts
    assert classic_ps.snapshot().group("SQL Group 1").owner == "NODE1"


def test_slow_group_is_waited_for_not_resent(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic(os="2016", speed=2000)
    sim.inject(GroupSlow("SQL Group 2", extra=400.0))  # longer than the move's own -Wait
    policies = clusterlib.Policies(move_wait=clusterlib.WaitPolicy(timeout=100.0, interval=5.0))
    cluster = connect_sim(sim, policies=policies)
    snap = cluster.group("SQL Group 2").move("NODE2")
    assert snap.group("SQL Group 2").state is GroupState.Online
    # The later attempts saw the move in flight and only waited: one command was sent.
    assert len(sim.calls("Move-ClusterGroup")) == 1


def test_group_failing_online_is_returned_and_reported(connect_sim: ConnectSim,
                                                       classic_ps: SimCluster) -> None:
    classic_ps.inject(GroupFailsOnline("SQL Group 1", node="NODE2"))
    cluster = connect_sim(classic_ps)
    with pytest.raises(ClusterRefused) as err:
        cluster.group("SQL Group 1").move("NODE2")
    assert err.value.win32_code == 5018
    assert "failed to come online on NODE2" in str(err.value)
    assert "moved back to NODE1" in str(err.value)
    group = classic_ps.snapshot().group("SQL Group 1")
    assert (group.owner, group.state) == ("NODE1", GroupState.Online)


def test_node_crash_during_drain_is_reported(connect_sim: ConnectSim) -> None:
    sim = SimCluster.build(nodes=3, groups=9, os="2016", drain_parallelism=1)
    sim.inject(NodeCrashesDuringDrain("NODE01", after_moves=1))
    cluster = connect_sim(sim)
    with pytest.raises(ClusterRefused, match="drain of NODE01 failed"):
        cluster.node("NODE01").pause(drain=True)
    sim.settle()
    # Its groups failed over; nothing is lost.
    assert all(g.state is GroupState.Online for g in sim.snapshot().groups)


def test_functional_level_update(connect_sim: ConnectSim) -> None:
    sim = SimCluster.build(nodes=2, groups=2, os="2016")
    cluster = connect_sim(sim)
    assert cluster.capabilities.functional_level
    assert cluster.snapshot().functional_level == 9
    cluster.node("NODE01").pause(drain=False)
    with pytest.raises(PreconditionFailed, match="every node must be Up"):
        cluster.update_functional_level()
    assert sim.calls("Update-ClusterFunctionalLevel") == []
    cluster.node("NODE01").resume()
    cluster.update_functional_level(what_if=True)
    assert sim.calls("Update-ClusterFunctionalLevel")[-1].detail["params"] == {"WhatIf": True}


# ---- bad input: refused with a clear reason, nothing sent, nothing changed ----


def test_unknown_names_list_the_valid_ones(connect_sim: ConnectSim, classic_ps: SimCluster) -> None:
    cluster = connect_sim(classic_ps)
    with pytest.raises(NodeNotFound) as err:
        cluster.node("NODE3")
    assert err.value.valid == ("NODE1", "NODE2")
    with pytest.raises(GroupNotFound, match="'SQL Group 1'"):
        cluster.group("SQL Group 9")
    with pytest.raises(NodeNotFound, match="valid nodes: 'NODE1', 'NODE2'"):
        cluster.group("SQL Group 1").move("NODE7")
    assert classic_ps.calls("Move-ClusterGroup") == []


def test_refusals_before_anything_is_sent(connect_sim: ConnectSim, classic_ps: SimCluster) -> None:
    cluster = connect_sim(classic_ps)
    cluster.node("NODE2").pause(drain=False)
    before = classic_ps.snapshot()
    with pytest.raises(PreconditionFailed, match=r"NODE2 is Paused \(a paused node accepts no groups"):
        cluster.group("SQL Group 1").move("NODE2")
    with pytest.raises(PreconditionFailed, match="would leave no Up node"):
        cluster.node("NODE1").pause(drain=True)
    with pytest.raises(PreconditionFailed, match="NODE1 is Up, not Paused"):
        cluster.node("NODE1").resume()
    with pytest.raises(ValueError, match="failback must be one of"):
        cluster.node("NODE2").resume(failback="Sometimes")
    assert classic_ps.calls("Move-ClusterGroup") == []
    assert len(classic_ps.calls("Suspend-ClusterNode")) == 1
    assert classic_ps.calls("Resume-ClusterNode") == []
    assert classic_ps.snapshot() == before


def test_cannot_drain_when_no_node_may_own_a_group(connect_sim: ConnectSim) -> None:
    sim = SimCluster({"A": [], "B": []}, os="2016")
    sim.add_group("pinned", owner="A", possible_owners=["A"])
    cluster = connect_sim(sim)
    with pytest.raises(PreconditionFailed, match="no other Up node may own pinned"):
        cluster.node("A").pause(drain=True)
    assert sim.calls("Suspend-ClusterNode") == []


def test_cluster_errors_are_mapped(connect_sim: ConnectSim, classic_ps: SimCluster) -> None:
    cluster = connect_sim(classic_ps)
    d = cluster.dialect
    with pytest.raises(ClusterRefused) as err:
        d.execute(d.resume_command("NODE1", failback=None))
    assert err.value.win32_code == 5058
    assert err.value.symbol == "ERROR_CLUSTER_NODE_NOT_PAUSED"
    assert "Resume-ClusterNode -Name 'NODE1'" in str(err.value)


def test_unsupported_parameter_is_not_supported(connect_sim: ConnectSim) -> None:
    # The FailoverClusters module of 2008 R2 over PowerShell needs ConvertTo-Json (3.0 on):
    # WMF installed (a stock 2008 R2 runs 2.0 and is driven with cluster.exe).
    sim = SimCluster.classic(os="2008R2", wmf51=True)
    cluster = connect_sim(sim)
    from clusterlib.wire import Cmdlet, Pipeline

    result = cluster.transport.run_pipeline(
        Pipeline.of(Cmdlet("Suspend-ClusterNode", {"Name": "NODE1", "Drain": True})))
    assert result.errors[0].error_id.startswith("NamedParameterNotFound")
    with pytest.raises(clusterlib.NotSupported, match="dialect='clusterexe'"):
        cluster.dialect.execute(
            Pipeline.of(Cmdlet("Suspend-ClusterNode", {"Name": "NODE1", "Drain": True})))


def test_unknown_cmdlet_fails_loudly(connect_sim: ConnectSim, classic_ps: SimCluster) -> None:
    cluster = connect_sim(classic_ps)
    from clusterlib.wire import Cmdlet, Pipeline

    with pytest.raises(clusterlib.NotSimulated):
        cluster.dialect.execute(Pipeline.of(Cmdlet("Stop-ClusterNode", {"Name": "NODE1"})))
    with pytest.raises(clusterlib.NotSupported):
        cluster.dialect.execute(Pipeline.of(Cmdlet("Remove-Everything")))


def test_bad_connect_targets() -> None:
    with pytest.raises(TypeError, match="cannot connect to int"):
        clusterlib.connect(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dialect must be one of"):
        clusterlib.connect(SimCluster.classic(os="2016"), dialect="bash")
    with pytest.raises(TypeError, match="do not apply to a simulated cluster"):
        clusterlib.connect(SimCluster.classic(os="2016"), password="x")


def test_dialect_is_the_object_and_the_old_spellings_still_work(classic_ps: SimCluster) -> None:
    """Cluster.dialect is the dialect object (named by its label), dialect_name the label; the
    label comparison, Cluster.commands and FAILBACK_MODES keep working, each with a warning."""
    import warnings

    from clusterlib import cluster as cluster_module
    from clusterlib.dialects.powershell_dialect import PowerShellDialect

    cluster = clusterlib.connect(classic_ps)
    assert isinstance(cluster.dialect, PowerShellDialect)
    assert cluster.dialect.name == cluster.dialect_name == str(cluster.dialect) == "powershell"
    assert f"via {cluster.dialect}" == "via powershell"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new spellings never warn
        assert cluster.dialect == cluster.dialect and cluster.dialect_name != "clusterexe"
    with pytest.warns(DeprecationWarning, match="dialect_name"):
        assert cluster.dialect == "powershell"
    with pytest.warns(DeprecationWarning, match="dialect_name"):
        assert cluster.dialect != "clusterexe"
    with pytest.warns(DeprecationWarning, match="dialect_name"):
        assert {"powershell": 1}[cluster.dialect] == 1  # type: ignore[index]
    with pytest.warns(DeprecationWarning, match="Cluster.dialect"):
        assert cluster.commands is cluster.dialect
    with pytest.warns(DeprecationWarning, match="RESUME_FAILBACK_VALUES"):
        assert cluster_module.FAILBACK_MODES == cluster_module.RESUME_FAILBACK_VALUES
    with pytest.raises(AttributeError):
        _ = cluster_module.NO_SUCH_NAME
    with pytest.raises(ValueError, match="NoFailback, Immediate, Policy"):
        cluster.node("NODE1").resume(failback="sometimes")
