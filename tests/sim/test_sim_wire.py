"""The simulator endpoint's wire behaviour towards clients that misbehave or vanish: fault
envelopes as Windows writes them, idle shells deleted, silent connections closed, no tracebacks."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pypsrp.powershell import RunspacePool
from pypsrp.shell import Process, WinRS
from pypsrp.wsman import WSMan
from sim_helpers import cmd_receive_fault

from clusterlib.sim import SimCluster
from clusterlib.sim.endpoint import Endpoint, serve

S = "http://www.w3.org/2003/05/soap-envelope"
W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
F = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"


@pytest.fixture
def sim() -> SimCluster:
    return SimCluster.classic(os="2016")


@pytest.fixture
def ep(sim: SimCluster) -> Iterator[Endpoint]:
    with serve(sim, receive_timeout=0.05, idle_timeout=0.3, read_timeout=0.3) as endpoint:
        yield endpoint


def wsman(ep: Endpoint) -> WSMan:
    return WSMan(ep.host, port=ep.port, username=ep.username, password=ep.password, ssl=False,
                 auth="basic", encryption="never", no_proxy=True, operation_timeout=5)


def _receive(ep: Endpoint, shell_id: str, command_id: str) -> ET.Element:
    _body, root = cmd_receive_fault(ep, shell_id, command_id,
                                    "uuid:00000000-0000-0000-0000-000000000002")
    fault = root.find(f"{{{S}}}Body/{{{S}}}Fault")
    assert fault is not None
    return fault


def _fault_parts(fault: ET.Element) -> tuple[str | None, ...]:
    def text(path: str) -> str | None:
        el = fault.find(path)
        return el.text if el is not None else None

    return (text(f"{{{S}}}Code/{{{S}}}Value"), text(f"{{{S}}}Code/{{{S}}}Subcode/{{{S}}}Value"),
            text(f"{{{S}}}Detail/{{{W}}}FaultDetail"),
            (fault.find(f"{{{S}}}Detail/{{{F}}}WSManFault") or ET.Element("x")).get("Code"))


def test_unknown_shell_fault_is_a_sender_fault_with_unexpected_selectors(ep: Endpoint) -> None:
    fault = _receive(ep, "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")
    assert _fault_parts(fault) == (
        "s:Sender", "w:InvalidSelectors",
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors", "2150858843")
    reason = fault.find(f"{{{S}}}Reason/{{{S}}}Text")
    assert reason is not None and (reason.text or "").startswith(
        "The WS-Management service cannot process the request because the request contained"
        " invalid selectors")


def test_unknown_command_id_is_invalid_selectors(ep: Endpoint) -> None:
    with WinRS(wsman(ep)) as shell:
        fault = _receive(ep, shell.id or "", "22222222-2222-2222-2222-222222222222")
    code, subcode, _detail, _num = _fault_parts(fault)
    assert (code, subcode) == ("s:Sender", "w:InvalidSelectors")


def test_idle_shells_of_vanished_clients_are_deleted(sim: SimCluster) -> None:
    # 30 clients that open a pool or a cmd shell and vanish without a Delete (the review kept
    # 30 of 30 forever).
    with serve(sim, receive_timeout=0.05, idle_timeout=1.0) as ep:
        _vanish_and_expire(ep)


def _vanish_and_expire(ep: Endpoint) -> None:
    conn = wsman(ep)
    for _ in range(25):
        RunspacePool(conn).open()
    for _ in range(5):
        WinRS(conn).open()
    assert ep.shells + ep.shells_expired == 30  # on a slow machine some expire meanwhile
    deadline = time.monotonic() + 5
    while ep.shells and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (ep.shells, ep.shells_expired) == (0, 30)


def test_a_client_coming_back_to_an_expired_shell_gets_the_unknown_shell_fault(
        ep: Endpoint) -> None:
    from pypsrp.exceptions import WSManFaultError
    from pypsrp.powershell import PowerShell

    pool = RunspacePool(wsman(ep))
    pool.open()
    deadline = time.monotonic() + 5
    while ep.shells and time.monotonic() < deadline:
        time.sleep(0.05)
    ps = PowerShell(pool)
    ps.add_cmdlet("Get-Cluster")
    with pytest.raises(WSManFaultError) as info:
        ps.invoke()
    assert info.value.code == 2150858843
    assert "the shell was not found on the server" in str(info.value.reason)


def test_a_shell_in_use_is_not_idle(ep: Endpoint) -> None:
    with WinRS(wsman(ep)) as shell:
        for _ in range(8):  # 0.8 s of activity, idle timeout 0.3 s
            proc = Process(shell, "hostname")
            proc.invoke()
            assert proc.rc == 0
            time.sleep(0.1)
    assert ep.shells_expired == 0


def test_silent_and_half_sent_connections_are_closed(ep: Endpoint) -> None:
    silent = socket.create_connection((ep.host, ep.port), timeout=5)
    half = socket.create_connection((ep.host, ep.port), timeout=5)
    half.sendall(b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<s:Env")
    start = time.monotonic()
    for sock in (silent, half):
        with sock:
            data = sock.recv(4096)  # the server closes after its read timeout (0.3 s)
            assert data == b"" or data.startswith(b"HTTP/1.")
    assert time.monotonic() - start < 4


def test_idle_connections_do_not_keep_threads(ep: Endpoint) -> None:
    import threading

    def handlers() -> int:
        return sum(1 for t in threading.enumerate() if "process_request_thread" in t.name)

    before = handlers()
    # 20 at once: more than socketserver's default listen backlog (5), which the endpoint raises.
    socks = [socket.create_connection((ep.host, ep.port), timeout=5) for _ in range(20)]
    deadline = time.monotonic() + 3
    while handlers() < before + 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert handlers() >= before + 20  # one thread per connection while it may still speak
    deadline = time.monotonic() + 5
    while handlers() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert handlers() == before  # freed after the read timeout (0.3 s), clients still connected
    for sock in socks:
        sock.close()


def test_no_traceback_for_dead_or_confused_clients(sim: SimCluster,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    with serve(sim, ssl=True, read_timeout=0.3) as ep:
        # Connects and closes; sends half a request and resets; speaks plain HTTP to TLS.
        socket.create_connection((ep.host, ep.port), timeout=5).close()
        sock = socket.create_connection((ep.host, ep.port), timeout=5)
        sock.sendall(b"\x16\x03\x01\x00")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.post(f"http://{ep.host}:{ep.port}/wsman", data=b"x", timeout=5)
        # A TLS client that does not trust the CA aborts its handshake.
        with pytest.raises(ssl.SSLError):
            ctx = ssl.create_default_context()
            with socket.create_connection((ep.host, ep.port), timeout=5) as raw, \
                    ctx.wrap_socket(raw, server_hostname="localhost"):
                pass
        time.sleep(0.2)
        # The endpoint still serves a good client.
        with RunspacePool(WSMan(ep.host, port=ep.port, username=ep.username, password=ep.password,
                                ssl=True, auth="basic", cert_validation=ep.ca_bundle,
                                no_proxy=True)):
            pass
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out


def test_sigkilled_sim_serve_ssl_leaves_no_key_and_its_directory_goes_next_start(
        tmp_path: Path, sim: SimCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "clusterlib_cli.main", "sim", "serve", "--ssl"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    assert proc.stdout is not None
    output = ""
    try:
        for line in proc.stdout:  # until the banner names the URL (the server is up)
            output += line
            if line.startswith("Serving simulated cluster"):
                break
        port = int(output.rsplit("https://127.0.0.1:", 1)[1].split("/", 1)[0])
        (run_dir,) = tmp_path.glob("clusterlib-endpoint-*")
        # serving: the key was read into memory and unlinked; only the public CA stays
        assert sorted(p.name for p in run_dir.iterdir()) == ["ca.pem"]
        # Confused and vanishing clients: connect-and-close, plain HTTP to the TLS port, a
        # truncated TLS hello.
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.post(f"http://127.0.0.1:{port}/wsman", data=b"x", timeout=5)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01\x00")
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        output += proc.stdout.read()
        proc.stdout.close()
    assert "Traceback" not in output and "Error" not in output, output
    assert run_dir.exists()  # SIGKILL runs no cleanup...
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with serve(sim, ssl=True) as ep:  # ...the next start removes it
        assert not run_dir.exists()
        assert ep.ca_bundle and Path(ep.ca_bundle).parent.exists()
        assert not list(Path(ep.ca_bundle).parent.glob("*.key"))
    assert list(tmp_path.iterdir()) == []


def test_installer_answer_lost_drops_the_connection() -> None:
    from clusterlib.sim.simcluster import InstallerAnswerLost

    sim = SimCluster.classic(os="2016", upgrade_to="2019")
    sim.inject(InstallerAnswerLost(node="NODE1"))
    with serve(sim, receive_timeout=0.05) as ep:
        _run_lost_installer(ep, sim)


def _run_lost_installer(ep: Endpoint, sim: SimCluster) -> None:
    line = _installer_line(sim)
    conn = WSMan(ep.host, port=ep.port, path="wsman/node/NODE1", username=ep.username,
                 password=ep.password, ssl=False, auth="basic", encryption="never", no_proxy=True,
                 operation_timeout=5)
    shell = WinRS(conn)
    shell.open()
    kinds_before = [e.kind for e in sim.events]
    with pytest.raises(requests.exceptions.ConnectionError):
        Process(shell, line).invoke()
    # The installer ran (the model logged it) though the client got no answer.
    new = [e.kind for e in sim.events][len(kinds_before):]
    assert "upgrade-start" in new and "answer-lost" in new, new


def _installer_line(sim: SimCluster) -> str:
    pattern = sim.installer.pattern
    # The default pattern names setup.exe-like installers; build a line it matches.
    for candidate in ("setup.exe /upgrade", "C:\\install\\setup.exe /auto upgrade",
                      "upgrade.cmd", "install.cmd"):
        if sim.is_installer(candidate):
            return candidate
    raise AssertionError(f"no sample line matches the installer pattern {pattern!r}")


def test_a_node_without_winrm_has_no_listener() -> None:
    from clusterlib.errors import ConnectionFailed
    from clusterlib.transports.winrm import WinRMTransport
    from clusterlib.wire import CmdLine

    sim = SimCluster.classic(os="2000")
    with serve(sim, receive_timeout=0.05) as ep:
        conn = WSMan(ep.host, port=ep.port, path="wsman/node/NODE1", username=ep.username,
                     password=ep.password, ssl=False, auth="basic", encryption="never",
                     no_proxy=True, operation_timeout=5)
        with pytest.raises(requests.exceptions.ConnectionError):
            WinRS(conn).open()
        transport = WinRMTransport(ep.host, port=ep.port, username=ep.username,
                                   password=ep.password, auth="basic", ssl=False,
                                   node_path="wsman/node/{node}", allow_cleartext_basic=True)
        with pytest.raises(ConnectionFailed) as info:
            transport.for_node("NODE1").run_cmd(CmdLine("hostname"))
        # A connection failure (no listener) naming the node, not a shell or an HTTP error.
        assert str(info.value).startswith(f"{ep.host}:{ep.port}/wsman/node/NODE1: cannot reach"
                                          " the WinRM listener: ")


def test_in_process_node_shell_of_a_node_without_winrm_fails_alike() -> None:
    from clusterlib.errors import ConnectionFailed
    from clusterlib.sim.transport import InProcessTransport
    from clusterlib.wire import CmdLine

    sim = SimCluster.classic(os="2000")
    transport = InProcessTransport(sim)
    with pytest.raises(ConnectionFailed) as info:
        transport.for_node("NODE2").run_cmd(CmdLine("hostname"))
    assert str(info.value) == ("sim:CLUSTER1/NODE2: cannot reach the WinRM listener: NODE2 runs"
                               " Windows 2000 Advanced Server, which has no WinRM")
    # The management host's own shell (the cluster's transport) still answers.
    assert transport.run_cmd(CmdLine("hostname")).exit_code == 0
    # A node whose release has WinRM (2016) answers on its own shell.
    ok = InProcessTransport(SimCluster.classic(os="2016")).for_node("NODE2")
    assert ok.run_cmd(CmdLine("hostname")).stdout.strip() == "NODE2"
