"""The seed scenario: the two-node Windows 2000 -> Windows Server 2003 rolling upgrade, driven in
the cluster.exe dialect by hand through the handles, then by the rolling-upgrade engine."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import ConnectSim

import clusterlib
from clusterlib.model import NodeInfo, NodeState, OSVersion, ServiceVersion
from clusterlib.sim import SimCluster
from clusterlib.sim.locale import core_group

WIN2003_OS = (5, 2, 3790)
WIN2003_SERVICE = ServiceVersion(4, 3790)
INSTALLER = "D:\\i386\\winnt32.exe /unattend"


def wait_for_node(cluster: clusterlib.Cluster, name: str, state: NodeState,
                  timeout: float = 10.0) -> NodeInfo:
    """Poll the node through the dialect (simulated minutes pass in milliseconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            node = cluster.dialect.read_node(name)
            if node.state is state:
                return node
        except clusterlib.ClusterRefused:
            pass  # cluster.exe can fail while the node reboots; read again
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} not {state.name} within {timeout} s")
        time.sleep(0.005)


def upgrade(cluster: clusterlib.Cluster, sim: SimCluster, node: str) -> None:
    """Start the installer on the node as a Windows 2000 admin can: a Windows 2000 node has no
    WinRM listener, so from the management host through WMI (``wmic /node:... process call
    create``), over either transport."""
    from clusterlib.wire.cluster_text import parse_wmic_create
    from clusterlib.wire.cmdline import wmic_process_create

    result = cluster.transport.run_cmd(wmic_process_create(node, INSTALLER))
    assert result.exit_code == 0, result.stderr
    assert parse_wmic_create(result.stdout)[0] == 0  # ReturnValue 0: the installer started


def test_two_node_2000_to_2003_by_hand(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic()  # Windows 2000, upgrade_to 2003
    cluster = connect_sim(sim)
    assert cluster.dialect_name == "clusterexe"
    original = cluster.snapshot().placement()
    core = core_group(sim.language)  # localized on a non-English cluster
    assert original == {core: "NODE1", "SQL Group 1": "NODE1",
                        "SQL Group 2": "NODE1", "File Group 3": "NODE2",
                        "File Group 4": "NODE2"}

    for name, other in (("NODE1", "NODE2"), ("NODE2", "NODE1")):
        # 1. Pause; cluster.exe has no drain, so the handle moves every group off by hand.
        snap = cluster.node(name).pause()
        assert snap.node(name).state is NodeState.Paused
        assert not snap.groups_on(name)
        assert all(g.state.name == "Online" for g in snap.groups)

        # 2. Upgrade; the node reboots and comes back Paused (pause survives a reboot).
        upgrade(cluster, sim, name)
        back = wait_for_node(cluster, name, NodeState.Paused)
        while back.os_version is None or back.os_version.build != WIN2003_OS[2]:
            back = wait_for_node(cluster, name, NodeState.Paused)

        # 3. Its version, read back through the dialect.
        assert back.os_version is not None
        assert (back.os_version.major, back.os_version.minor, back.os_version.build) == \
            WIN2003_OS
        assert back.highest_version == WIN2003_SERVICE
        mixed = cluster.snapshot()
        assert mixed.node(other).highest_version != WIN2003_SERVICE or name == "NODE2"

        # 4. Resume, then prove it takes work: a group there and back.
        snap = cluster.node(name).resume()
        assert snap.node(name).state is NodeState.Up
        probe = next(g for g, owner in original.items() if owner == name and g != core)
        snap = cluster.group(probe).move(other)
        assert snap.group(probe).owner == other
        snap = cluster.group(probe).move(name)
        assert snap.group(probe).owner == name

    final = cluster.snapshot()
    assert all(n.os_version == OSVersion(5, 2, 3790, "Service Pack 2") for n in final.nodes)
    assert all(n.highest_version == WIN2003_SERVICE for n in final.nodes)
    assert not final.mixed_version

    # 5. Restore the original placement.
    for group, owner in original.items():
        if final.group(group).owner != owner:
            cluster.group(group).move(owner)
    final = cluster.snapshot()
    assert final.placement() == original
    assert final.health().ok
    truth = sim.snapshot()
    assert final.placement() == truth.placement()
    # Every command the scenario sent was cluster.exe; nothing went through PowerShell.
    assert not [c for c in sim.calls() if c.subject.startswith(("Suspend-", "Move-", "Resume-"))]


def test_rolling_upgrade_engine_on_classic(connect_sim: ConnectSim, tmp_path: Path) -> None:
    try:
        from clusterlib.upgrade import RollingUpgrade, WmiCommand, default_action
    except ImportError:
        pytest.skip("clusterlib.upgrade is not available yet")
    sim = SimCluster.classic()
    cluster = connect_sim(sim)
    original = cluster.snapshot().placement()
    # Windows 2000 nodes have no WinRM listener: the installer starts through WMI from the
    # management host (default_action picks it for nodes older than Windows Server 2008).
    action = default_action(INSTALLER, cluster.snapshot())
    assert isinstance(action, WmiCommand)
    report = RollingUpgrade(cluster, action=action, journal=tmp_path / "j.json").run()
    final = cluster.snapshot()
    assert all(n.os_version is not None and n.os_version.build == 3790 for n in final.nodes)
    assert all(n.state is NodeState.Up for n in final.nodes)
    assert final.placement() == original
    assert (tmp_path / "j.json").exists()
    assert report is not None
    assert "ClusterlibUpgradeLock" not in sim.private_props  # the lock was released
