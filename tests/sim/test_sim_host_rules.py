"""The simulator as strict as Windows: upgrade paths, node limits, DHCP/WINS failback, crashes in
a cluster.exe drain, and a bounded event log. Each rule's public source is in its test."""

from __future__ import annotations

import itertools

import pytest

from clusterlib import GroupState, NodeState
from clusterlib import versions as v
from clusterlib.sim import (
    RELEASES,
    EventLog,
    NodeCrashesDuringDrain,
    SimCluster,
    SimError,
    SimEvent,
    release,
)
from clusterlib.sim.cmdshell import run_command_line
from clusterlib.sim.simcluster import SimResource


@pytest.mark.parametrize(("old", "new"), [("2003", "2008"), ("2008", "2008R2"), ("2008R2", "2012"),
                                          ("2012", "2012R2")])
def test_migration_only_releases_cannot_join(old: str, new: str) -> None:
    """KB 935197 (2003 -> 2008: no mixed cluster), TechNet dn486833 (2008 -> 2008 R2 -> 2012 ->
    2012 R2: migration): the up-level node is refused with 5075, and so is the way back."""
    sim = SimCluster.build(2, 2, os=old, upgrade_to=new)
    assert not sim.can_join(release(new))
    run_command_line(sim, r"D:\setup.exe /unattend", node="NODE01")
    sim.settle()
    node = sim.node("NODE01")
    assert node.release.key == new and node.state is NodeState.Down
    refused = [e for e in sim.events if e.kind == "join-refused"]
    assert refused and refused[-1].detail["code"] == 5075
    back = SimCluster.build(2, 2, os=new)
    assert not back.can_join(release(old))


@pytest.mark.parametrize(("old", "new"), [("2000", "2003"), ("2012R2", "2016"), ("2016", "2019"),
                                          ("2019", "2022"), ("2022", "2025")])
def test_supported_rolling_paths_join(old: str, new: str) -> None:
    """bb742504 / cc737035 (2000 -> 2003) and the Cluster OS Rolling Upgrade page (2012 R2 ->
    2016 ... 2022 -> 2025, one release at a time): the up-level node joins the down-level cluster."""
    sim = SimCluster.build(2, 2, os=old, upgrade_to=new)
    run_command_line(sim, r"D:\setup.exe /unattend", node="NODE01")
    sim.settle()
    assert sim.node("NODE01").state is NodeState.Up and sim.node("NODE01").release.key == new


def test_join_rule_and_upgrade_path_agree_on_every_pair() -> None:
    """The join formula on the releases' highest/lowest versions (version-compatibility page)
    allows exactly the mixed clusters clusterlib.versions.upgrade_path calls rolling."""
    for a, b in itertools.permutations(RELEASES, 2):
        sim = SimCluster({"N1": []}, os=a, witness=False)
        ra, rb = release(a), release(b)
        low, high = sorted((ra.highest.major, rb.highest.major))
        expected = v.upgrade_path(low, high).ok
        ch, cl = sim.cluster_versions()
        formula = rb.highest.dword in (ch, cl) or rb.lowest.dword == ch
        # Below the functional level never joins (2016+), whatever the versions say.
        if (rb.functional_level or 0) < (sim.functional_level or 0):
            expected = False
        assert sim.can_join(rb) == expected, (a, b)
        if ra.functional_level is None or (rb.functional_level or 0) >= ra.functional_level:
            assert formula == v.upgrade_path(low, high).ok, (a, b)


def test_node_limits_kb_288778() -> None:
    """Windows 2000 Advanced Server 2 nodes, Datacenter Server 4; 2003 8; 2008 R2 16; 2012+ 64."""
    assert len(SimCluster.classic().nodes) == 2  # the classic layout still builds
    with pytest.raises(ValueError, match=r"3 nodes: a Windows 2000 Advanced Server cluster has at"
                       r" most 2 nodes .*Datacenter Server 4"):
        SimCluster.build(3, 3, os="2000")
    assert len(SimCluster.build(4, 4, os="2000", edition="Datacenter").nodes) == 4
    with pytest.raises(ValueError, match="at most 4 nodes"):
        SimCluster.build(5, 4, os="2000", edition="Datacenter")
    with pytest.raises(ValueError, match="at most 8 nodes"):
        SimCluster.build(9, 1, os="2003")
    with pytest.raises(ValueError, match="at most 16 nodes"):
        SimCluster.build(17, 1, os="2008R2")
    with pytest.raises(ValueError, match="at most 64 nodes"):
        SimCluster.build(65, 1, os="2016")
    with pytest.raises(ValueError, match="no edition 'Home'"):
        SimCluster.classic(edition="Home")


def test_adding_nodes_respects_limits_and_versions() -> None:
    sim = SimCluster.classic()
    with pytest.raises(ValueError, match=r"3 nodes.*at most 2"):
        sim.add_node("NODE3")
    big = SimCluster.build(7, 2, os="2003")
    big.add_node("NODE08")
    with pytest.raises(ValueError, match="at most 8"):
        big.add_node("NODE09")
    mixed = SimCluster.build(2, 2, os="2016")
    assert mixed.add_node("NEW", os="2019").release.key == "2019"
    with pytest.raises(SimError) as err:
        mixed.add_node("OLD", os="2012")
    assert err.value.code == 5075
    with pytest.raises(ValueError, match="duplicate node"):
        mixed.add_node("new")


def _dhcp_cluster() -> SimCluster:
    sim = SimCluster.classic(os="2000", upgrade_to="2003")
    sim.add_group("DHCP Group", owner="NODE2",
                  resources=[SimResource("DHCP Server", "DHCP Service")])
    sim.add_group("WINS Group", owner="NODE2",
                  resources=[SimResource("WINS Server", "WINS Service")])
    return sim


def test_dhcp_and_wins_do_not_fail_back_to_windows_2000() -> None:
    """KB 293302: in a 2000/2003 mixed cluster, DHCP and WINS move to the 2003 node (their
    database is upgraded there) and cannot move back to a Windows 2000 node."""
    sim = _dhcp_cluster()
    sim.upgrade_node("NODE1")
    sim.settle()
    assert sim.node("NODE1").release.key == "2003"
    for name in ("DHCP Group", "WINS Group"):
        sim.move_group(name, "NODE1")  # up to 2003: allowed
        assert sim.group(name).state is GroupState.Online
        with pytest.raises(SimError) as err:
            sim.move_group(name, "NODE2")  # back to 2000: refused
        assert err.value.code == 5018 and "KB 293302" in err.value.detail
        assert sim.group(name).owner == "NODE1" and sim.group(name).state is GroupState.Online
    # Other groups still move both ways.
    sim.move_group("File Group 3", "NODE1")
    sim.move_group("File Group 3", "NODE2")
    assert sim.group("File Group 3").owner == "NODE2"
    # Through cluster.exe the refusal is the 5018 exit code, nothing moved.
    out = run_command_line(sim, 'cluster.exe group "DHCP Group" /moveto:NODE2')
    assert out.exit_code == 5018 and sim.group("DHCP Group").owner == "NODE1"


def test_dhcp_never_picked_as_failover_target_on_the_older_node() -> None:
    sim = _dhcp_cluster()
    sim.upgrade_node("NODE1")
    sim.settle()
    sim.move_group("DHCP Group", "NODE1")
    sim.reboot_node("NODE1")  # its groups fail over ... but DHCP cannot go to 2000
    sim.advance()
    assert sim.group("DHCP Group").owner == "NODE1"
    assert sim.group("DHCP Group").state is GroupState.Offline
    sim.settle()


def test_node_crashes_during_a_cluster_exe_drain() -> None:
    """cluster.exe has no drain: pause, then move each group away. NodeCrashesDuringDrain fires
    after ``after_moves`` such moves, as in a PowerShell drain."""
    sim = SimCluster.build(3, 6, os="2003", speed=5000)
    sim.inject(NodeCrashesDuringDrain("NODE01", after_moves=1))
    owned = [g.name for g in sim.groups.values() if g.owner == "NODE01" and not g.is_core]
    assert len(owned) >= 2
    assert run_command_line(sim, "cluster.exe node NODE01 /pause").exit_code == 0
    first = run_command_line(sim, f'cluster.exe group "{owned[0]}" /moveto:NODE02')
    assert first.exit_code == 0
    second = run_command_line(sim, f'cluster.exe group "{owned[1]}" /moveto:NODE02')
    assert second.exit_code != 0  # the node died under the move
    assert sim.node("NODE01").state is NodeState.Down
    assert any(e.kind == "crashed" and e.subject == "NODE01" for e in sim.events)
    sim.settle()
    assert sim.node("NODE01").state is NodeState.Paused  # back, still paused
    assert not sim.faults  # fired once


def test_no_crash_without_the_fault_or_before_its_count() -> None:
    sim = SimCluster.build(2, 6, os="2003", speed=5000)
    sim.inject(NodeCrashesDuringDrain("NODE01", after_moves=10))
    run_command_line(sim, "cluster.exe node NODE01 /pause")
    for g in [g.name for g in sim.groups.values() if g.owner == "NODE01" and not g.is_core]:
        assert run_command_line(sim, f'cluster.exe group "{g}" /moveto:NODE02').exit_code == 0
    assert sim.node("NODE01").state is NodeState.Paused


def test_event_log_is_a_bounded_ring_with_absolute_indexes() -> None:
    log = EventLog(3)
    for i in range(5):
        log.append(SimEvent(t=float(i), kind="k", subject=str(i)))
    assert len(log) == 5 and log.dropped == 2
    assert [e.subject for e in log] == ["2", "3", "4"]
    assert [e.subject for e in log[3:]] == ["3", "4"]
    assert [e.subject for e in log[0:]] == ["2", "3", "4"]  # older entries are gone
    assert log[-1].subject == "4" and log[2].subject == "2"
    with pytest.raises(IndexError):
        _ = log[1]
    with pytest.raises(ValueError, match="event_log_size"):
        EventLog(0)
    assert EventLog(None).maxlen is None


def test_simulator_event_log_stays_bounded_under_snapshots() -> None:
    sim = SimCluster.classic(os="2016", event_log_size=50)
    from clusterlib import connect

    cluster = connect(sim)  # type: ignore[arg-type]
    for _ in range(40):
        cluster.snapshot()
    assert len(list(sim.events)) == 50 and sim.events.dropped > 0
    before = len(sim.events)
    cluster.snapshot()
    assert sim.events[before:] and all(e.kind == "call" for e in sim.events[before:])
    assert sim.calls()  # recent calls are still readable
