"""Commands that must run on a node itself (an upgrade installer) reach that node's shell, in
process and over the loopback WinRM endpoint, where every node is served at /wsman/node/NAME."""

from __future__ import annotations

import pytest
from conftest import ConnectSim

import clusterlib
from clusterlib import NodeState
from clusterlib.sim import SimCluster
from clusterlib.wire import CmdLine


def test_installer_runs_on_the_named_node(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016")
    cluster = connect_sim(sim)
    shell = cluster.transport.for_node("NODE2")  # type: ignore[attr-defined]
    try:
        result = shell.run_cmd(CmdLine("D:\\setup.exe /auto upgrade /quiet"))
    finally:
        shell.close()
    assert result.exit_code == 0, result.stderr
    assert "NODE2" in result.stdout
    # The host stays Up, unchanged, while the installer copies files (the install window) ...
    node2 = sim.node("NODE2")
    assert node2.state is NodeState.Up and node2.release.key == "2012R2"
    assert node2.install is not None and node2.install.state == "running"
    assert sim.node("NODE1").state is NodeState.Up
    # ... then restarts and joins on the new release.
    assert sim.wait_until(lambda: sim.nodes["NODE2"].state is NodeState.Down, 1000)
    sim.settle()
    assert sim.node("NODE2").release.key == "2016"
    assert sim.node("NODE2").install.state == "done"  # type: ignore[union-attr]
    call = sim.calls("cmd")[-1]
    assert call.detail == {"line": "D:\\setup.exe /auto upgrade /quiet", "node": "NODE2"}


def test_unknown_node_shell_is_a_connection_error() -> None:
    from clusterlib.transports.winrm import WinRMTransport

    sim = SimCluster.classic(os="2016", upgrade_to="2019")
    with sim.serve() as endpoint:
        opts = endpoint.connect_options()
        opts.pop("time_scale")
        transport = WinRMTransport(opts.pop("target"), **opts)
        shell = transport.for_node("NODE9")
        try:
            with pytest.raises(clusterlib.ConnectionFailed):
                shell.run_cmd(CmdLine("setup.exe"))
        finally:
            shell.close()
            transport.close()
    assert sim.calls("cmd") == []
