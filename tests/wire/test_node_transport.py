"""NodeTransport (a transport that reaches one node's own host) and the node-side commands the
dialects build for the upgrade actions (clusterlib.dialects.host_commands)."""

from __future__ import annotations

import pytest

import clusterlib
from clusterlib.dialects import host_commands
from clusterlib.errors import NotSupported, ParseError, UnsafeName
from clusterlib.sim import InProcessTransport, SimCluster
from clusterlib.transports.base import NodeTransport, Transport
from clusterlib.transports.winrm import WinRMTransport
from clusterlib.upgrade import PowerShellAction, RemoteCommand
from clusterlib.wire import CmdLine, CmdResult, Pipeline, PSResult


class Ctx:
    def notify(self, message: str) -> None: ...

    def waiting(self, prompt: str, timeout: float) -> None: ...


def test_both_transports_reach_nodes() -> None:
    winrm = WinRMTransport("127.0.0.1", ssl=False, port=1)  # never connects: nothing is sent
    sim = InProcessTransport(SimCluster.classic(os="2016"))
    for transport in (winrm, sim):
        assert isinstance(transport, NodeTransport) and isinstance(transport, Transport)
        node = transport.for_node("NODE2")
        assert isinstance(node, Transport) and "NODE2" in node.endpoint
        node.close()
        transport.close()


class _Host:
    """A Transport that cannot reach nodes (no for_node): it still drives the cluster."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.endpoint = "fake:1"
        self.time_scale = 1000.0

    def run_pipeline(self, pipeline: Pipeline) -> PSResult:
        return self.inner.run_pipeline(pipeline)

    def run_cmd(self, line: CmdLine) -> CmdResult:
        return self.inner.run_cmd(line)

    def close(self) -> None: ...


def test_a_transport_without_for_node_is_refused_clearly() -> None:
    sim = SimCluster.classic(os="2016")
    host = _Host(InProcessTransport(sim))
    assert not isinstance(host, NodeTransport)
    cluster = clusterlib.connect(host)
    action = RemoteCommand(r"D:\setup.exe /quiet")
    assert "fake:1" in (action.problem(cluster) or "")
    assert "has no for_node()" in (action.problem(cluster) or "")
    with pytest.raises(NotSupported, match=r"cannot run a command on node NODE1 \(it has no"
                                           r" for_node\(\)\); use CallableAction"):
        action.run("NODE1", cluster, Ctx())


def test_for_node_without_the_rest_of_the_protocol_names_what_is_missing() -> None:
    class Half:
        endpoint = "fake:2"

        def for_node(self, node: str) -> Transport:
            raise AssertionError("never asked: this is not a Transport")

    class FakeCluster:
        transport = Half()

    with pytest.raises(NotSupported, match=r"has for_node\(\) but not run_pipeline\(\),"
                                           r" run_cmd\(\), close\(\)"):
        PowerShellAction("Get-Service").run("N1", FakeCluster(), Ctx())  # type: ignore[arg-type]


def test_host_commands_keep_values_as_parameters() -> None:
    evil = "x'; Remove-Item C:\\ -Recurse; '"
    call = host_commands.cmdlet_call("Install-WindowsFeature", {"Name": evil, "Restart": True})
    pipeline = host_commands.powershell_call(call)
    (statement,) = pipeline.statements
    (cmd,) = statement.commands
    assert cmd.params == (("Name", evil), ("Restart", True)) and not pipeline.idempotent
    line = host_commands.host_line(r'D:\setup.exe /s:"D:\i386"')
    assert line.line == r'D:\setup.exe /s:"D:\i386"' and not line.idempotent  # sent as written
    assert host_commands.probe_line() == CmdLine("ver")


def test_wmic_lines_are_quoted_in_the_one_place() -> None:
    line = host_commands.wmic_create("NODE1", r"D:\i386\winnt32.exe /unattend")
    assert line.line == r'wmic /node:"NODE1" process call create "D:\i386\winnt32.exe /unattend"'
    assert not line.idempotent
    for bad in ('setup.exe "x"', "a & b", "setup,exe"):
        with pytest.raises(UnsafeName, match="command line"):
            host_commands.wmic_create("NODE1", bad)
    with pytest.raises(UnsafeName, match="node name"):
        host_commands.wmic_create("@nodes.txt", "setup.exe")
    answer = "instance of __PARAMETERS\n{\n\tProcessId = 77;\n\tReturnValue = 0;\n};\n"
    assert host_commands.read_wmic_create(answer) == (0, 77)
    with pytest.raises(ParseError):
        host_commands.read_wmic_create("ERROR:\nCode = 0x800706ba\n")
    assert host_commands.wmi_create_result(2) == "Access denied"
    assert host_commands.wmi_create_result(12345) == "unknown"
