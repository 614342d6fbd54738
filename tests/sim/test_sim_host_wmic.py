"""The management-host channel of a Windows 2000 cluster: wmic process call create on a node.

Windows 2000 nodes have no WinRM listener ([MS-WSMV] product list starts at 2003 R2); a management
host starts programs on them with WMI over DCOM, ``wmic /node:"NODE" process call create "LINE"``
(Win32_Process.Create: "Create method of the Win32_Process class", learn.microsoft.com: ReturnValue
0 success, 9 path not found). The answer layout is WMIC's as published in many admin guides.
"""

from __future__ import annotations

import pytest

import clusterlib
from clusterlib import NodeState
from clusterlib.sim import MANAGEMENT_HOST, InstallerAnswerLost, InstallerFails, SimCluster
from clusterlib.sim.cmdshell import run_command_line
from clusterlib.sim.transport import InProcessTransport
from clusterlib.wire import cluster_text as cx
from clusterlib.wire import cmdline as cl

SETUP = r"D:\i386\winnt32.exe /unattend"


def test_the_endpoint_host_of_a_2000_cluster_is_a_management_host() -> None:
    sim = SimCluster.classic()
    assert run_command_line(sim, "hostname").stdout == f"{MANAGEMENT_HOST}\r\n"
    assert "5.2.3790" in run_command_line(sim, "ver").stdout  # a Windows Server 2003 host
    # On a release with WinRM the endpoint is a node itself.
    assert run_command_line(SimCluster.classic(os="2016"), "hostname").stdout == "NODE1\r\n"


def test_wmic_starts_the_installer_on_the_node() -> None:
    sim = SimCluster.classic()
    line = cl.wmic_process_create("NODE1", SETUP)  # exactly what the library builds
    out = InProcessTransport(sim).run_cmd(line)
    assert out.exit_code == 0
    assert out.stdout.startswith("Executing (Win32_Process)->Create()\r\nMethod execution"
                                 " successful.\r\nOut Parameters:\r\ninstance of __PARAMETERS\r\n{")
    value, pid = cx.parse_wmic_create(out.stdout)
    node = sim.node("NODE1")
    assert value == 0 and node.install is not None and pid == node.install.pid
    assert node.state is NodeState.Up  # the install window: still Up, still 2000
    sim.settle()
    assert node.release.key == "2003" and node.state is NodeState.Up
    assert [c.detail for c in sim.calls("wmic")] == [{"node": "NODE1", "line": SETUP}]


def test_wmic_does_not_report_the_programs_exit_code() -> None:
    """Create() answers when the process starts; a failing installer still shows ReturnValue 0."""
    sim = SimCluster.classic()
    sim.inject(InstallerFails("NODE2", exit_code=1603))
    out = run_command_line(sim, f'wmic /node:"NODE2" process call create "{SETUP}"')
    assert cx.parse_wmic_create(out.stdout)[0] == 0
    sim.settle()
    assert sim.node("NODE2").release.key == "2000"
    assert sim.node("NODE2").install.state == "failed"  # type: ignore[union-attr]


def test_wmic_for_other_programs() -> None:
    sim = SimCluster.classic()
    started = run_command_line(sim, 'wmic /node:"NODE2" process call create "cmd /c exit 3"')
    value, pid = cx.parse_wmic_create(started.stdout)
    assert value == 0 and pid is not None
    missing = run_command_line(sim, 'wmic /node:"NODE2" process call create "nosuch.exe /x"')
    assert cx.parse_wmic_create(missing.stdout) == (9, None)  # Path Not Found
    sim.settle()
    assert sim.node("NODE2").release.key == "2000" and sim.node("NODE2").install is None


def test_wmic_unreachable_node() -> None:
    sim = SimCluster.classic()
    for target in ("NODE9", "NODE2"):
        if target == "NODE2":
            sim.reboot_node("NODE2")
        out = run_command_line(sim, f'wmic /node:"{target}" process call create "{SETUP}"')
        assert out.stdout == f"Node - {target}\r\n"
        assert "Description = The RPC server is unavailable." in out.stderr
        assert "0x800706ba" in out.stderr and out.exit_code != 0
        with pytest.raises(clusterlib.ParseError):
            cx.parse_wmic_create(out.stdout + out.stderr)
    assert not [e for e in sim.events if e.kind == "upgrade-start"]


def test_wmic_answer_lost() -> None:
    sim = SimCluster.classic()
    sim.inject(InstallerAnswerLost("NODE1"))
    with pytest.raises(clusterlib.ConnectionFailed):
        InProcessTransport(sim).run_cmd(cl.wmic_process_create("NODE1", SETUP))
    sim.settle()
    assert sim.node("NODE1").release.key == "2003"


def test_windows_2000_nodes_have_no_wmic_tool() -> None:
    """Windows 2000 has the WMI service but not wmic.exe (it came with XP / 2003) [P]."""
    sim = SimCluster.classic()
    out = run_command_line(sim, f'wmic /node:"NODE2" process call create "{SETUP}"', node="NODE1")
    assert out.exit_code == 9009 and out.stderr.startswith("'wmic' is not recognized")
