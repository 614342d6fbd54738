"""The simulator's loopback WinRM endpoint, driven by unmodified pypsrp, and pinned against the
exchanges pypsrp's maintainers recorded with a Windows Server 2016 host."""

from __future__ import annotations

import base64
import json
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pypsrp.exceptions import AuthenticationError as PypsrpAuthError
from pypsrp.exceptions import WinRMTransportError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.shell import Process, WinRS
from pypsrp.wsman import WSMan
from sim_helpers import cmd_receive_fault

from clusterlib.sim import SimCluster
from clusterlib.sim.endpoint import Endpoint, WireFaults, serve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDINGS = json.loads((FIXTURES / "wsman_recordings.json").read_text())
S = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS = "Microsoft.FailoverClusters.PowerShell"


def wsman(ep: Endpoint, **kw: Any) -> WSMan:
    kw.setdefault("password", ep.password)
    return WSMan(ep.host, port=ep.port, username=ep.username, ssl=False, auth="basic",
                 encryption="never", no_proxy=True, operation_timeout=5, **kw)


@pytest.fixture
def sim() -> SimCluster:
    return SimCluster.classic(os="2016")


@pytest.fixture
def ep(sim: SimCluster) -> Iterator[Endpoint]:
    with serve(sim, receive_timeout=0.05, record=True) as endpoint:
        yield endpoint


# ---- what pypsrp sees ----


def test_objects_carry_real_type_names_and_enum_names(ep: Endpoint) -> None:
    with RunspacePool(wsman(ep)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-ClusterNode").add_parameter("Name", "NODE1")
        ps.add_statement().add_cmdlet("Get-ClusterGroup").add_parameter("Name", "SQL Group 1")
        node, group = ps.invoke()
    assert node.types[:2] == [f"{NS}.ClusterNode", f"{NS}.ClusterObject"]
    assert str(node) == "NODE1"
    state = node.adapted_properties["State"]
    assert state.types[:2] == [f"{NS}.ClusterNodeState", "System.Enum"]
    assert str(state) == "Up"
    assert group.types[0] == f"{NS}.ClusterGroup"
    owner = group.adapted_properties["OwnerNode"]
    assert owner.types[0] == f"{NS}.ClusterNode" and str(owner) == "NODE1"
    assert str(group.adapted_properties["GroupType"]) == "GenericService"


def test_error_record_carries_category_fqid_and_win32_code(ep: Endpoint, sim: SimCluster) -> None:
    sim.pause_node("NODE2")
    with RunspacePool(wsman(ep)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Move-ClusterGroup").add_parameter("Name", "SQL Group 1") \
            .add_parameter("Node", "NODE2")
        assert ps.invoke() == []
    (err,) = ps.streams.error
    assert err.fq_error == f"Move-ClusterGroup,{NS}.MoveClusterGroupCommand"
    assert err.message.endswith("[Move-ClusterGroup], ClusterCmdletException")
    props = err.exception.adapted_properties
    assert props["HResult"] == 0x80070000 + 5070 - 2**32  # HRESULT_FROM_WIN32(5070)
    assert props["InnerException"].adapted_properties["NativeErrorCode"] == 5070
    assert "moving the clustered role 'SQL Group 1'" in props["Message"]


def test_switch_and_list_parameters_reach_the_simulator(ep: Endpoint, sim: SimCluster) -> None:
    with RunspacePool(wsman(ep)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-ClusterGroup").add_cmdlet("Select-Object") \
            .add_parameter("Property", ["Name", "State"]) \
            .add_cmdlet("ConvertTo-Csv").add_parameter("NoTypeInformation") \
            .add_cmdlet("Out-String")
        (text,) = ps.invoke()
    assert text.splitlines()[0] == '"Name","State"'
    call = sim.calls("ConvertTo-Csv")[-1]
    assert call.detail["params"] == {"NoTypeInformation": True}


def test_wrong_password_is_refused_with_listener_headers(ep: Endpoint) -> None:
    with pytest.raises(PypsrpAuthError):
        RunspacePool(wsman(ep, password="wrong")).open()
    resp = requests.post(ep.url, data=b"<x/>", auth=("clusterlib", "wrong"), timeout=5)
    assert resp.status_code == 401
    assert resp.raw.headers.getlist("WWW-Authenticate") == ["Negotiate", 'Basic realm="WSMAN"']


def test_https_with_generated_ca_validates(sim: SimCluster) -> None:
    with serve(sim, ssl=True) as ep:
        assert ep.ca_bundle and Path(ep.ca_bundle).is_file()
        conn = WSMan(ep.host, port=ep.port, username=ep.username, password=ep.password,
                     ssl=True, auth="basic", cert_validation=ep.ca_bundle, no_proxy=True)
        with RunspacePool(conn) as pool:
            ps = PowerShell(pool)
            ps.add_cmdlet("Get-Cluster")
            assert str(ps.invoke()[0]) == "CLUSTER1"
        with pytest.raises(requests.exceptions.SSLError):
            requests.post(ep.url, data=b"", timeout=5)  # the system store does not know the CA
    assert not Path(ep.ca_bundle).exists()


def test_password_never_in_repr(ep: Endpoint) -> None:
    assert ep.password not in repr(ep)
    assert ep.connect_options()["password"] == ep.password


def test_receive_payload_respects_client_envelope(ep: Endpoint) -> None:
    """A small MaxEnvelopeSize makes the endpoint spread output over several Receives."""
    big = SimCluster.build(4, 300)
    with serve(big) as ep2:
        conn = wsman(ep2, max_envelope_size=32 * 1024)
        with RunspacePool(conn) as pool:
            ps = PowerShell(pool)
            ps.add_cmdlet("Get-ClusterGroup")
            out = ps.invoke()
        assert len(out) == 301
        assert ep2.actions["Receive"] > 5
    for body, _resp in ep.exchanges:
        assert len(body) < 32 * 1024


def test_requests_are_counted(ep: Endpoint) -> None:
    before = ep.requests
    with RunspacePool(wsman(ep)):
        pass
    assert ep.requests - before == 3  # Create, Receive, Delete
    assert ep.actions == {"Create": 1, "Receive": 1, "Delete": 1}


@pytest.mark.parametrize("kind", ["drop", "http500"])
def test_wire_faults_hit_a_seeded_fraction(sim: SimCluster, kind: str) -> None:
    faults = WireFaults(seed=3, **{kind: 1.0}, actions={"Create"})
    with serve(sim, faults=faults) as ep:
        expected = requests.exceptions.ConnectionError if kind == "drop" else WinRMTransportError
        with pytest.raises(expected):
            RunspacePool(wsman(ep)).open()
        ep.set_faults(None)
        with RunspacePool(wsman(ep)):
            pass


# ---- pinned comparison with the recordings of a Windows Server 2016 host ----


def _paths(el: ET.Element, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for child in el:
        path = f"{prefix}/{child.tag}"
        out |= {path} | _paths(child, path)
    return out


def _psrp_types(body: ET.Element) -> list[int]:
    out = []
    for stream in body.iter():
        if stream.tag.split("}")[-1] not in ("Stream", "creationXml", "Arguments") \
                or not stream.text:
            continue
        try:
            data = base64.b64decode(stream.text, validate=True)
        except ValueError:
            continue
        while len(data) >= 21 and data[:7] == bytes(7):
            _oid, _fid, flags, length = struct.unpack(">QQBI", data[:21])
            if flags & 1:
                out.append(struct.unpack("<I", data[21 + 4:21 + 8])[0])
            data = data[21 + length:]
    return out


def _describe(xml: bytes) -> dict[str, Any]:
    root = ET.fromstring(xml)  # noqa: S314 - our own endpoint's output
    header, body = root.find(f"{{{S}}}Header"), root.find(f"{{{S}}}Body")
    assert header is not None and body is not None
    action = header.find(f"{{{WSA}}}Action")
    assert action is not None and action.text
    out: dict[str, Any] = {"action": action.text.rsplit("/", 1)[-1],
                           "header": sorted(c.tag for c in header), "body": _paths(body),
                           "psrp": _psrp_types(body)}
    fault = body.find(f"{{{S}}}Fault")
    if fault is not None:
        detail = fault.find(".//{http://schemas.microsoft.com/wbem/wsman/1/wsmanfault}WSManFault")
        sub = fault.find(f"{{{S}}}Code/{{{S}}}Subcode/{{{S}}}Value")
        assert detail is not None and sub is not None
        out["fault_code"], out["fault_subcode"] = detail.attrib["Code"], sub.text
    rsp = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
    for state in body.iter(f"{{{rsp}}}CommandState"):
        out["command_state"] = state.attrib["State"].rsplit("/", 1)[-1]
        code = state.find(f"{{{rsp}}}ExitCode")
        out["exit_code"] = int(code.text or "0") if code is not None else None
    return out


def _ours(ep: Endpoint) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(_describe(a), _describe(b)) for a, b in ep.exchanges]


def _real(name: str) -> list[dict[str, Any]]:
    return [e["response"] | {"request": e["request"]["action"]}
            for e in RECORDINGS["exchanges"][name]]


def _check_elements(ours: list[tuple[dict[str, Any], dict[str, Any]]],
                    real: list[dict[str, Any]]) -> None:
    """Every response element and header we write appears, same namespace and nesting, in the
    real response to the same action (the real one may carry more, e.g. p:ActivityId)."""
    by_action: dict[str, dict[str, Any]] = {}
    for r in real:
        entry = by_action.setdefault(r["action"], {"header": set(), "body": set()})
        entry["header"] |= set(r["header"])
        entry["body"] |= set(r["body"])
    for _req, resp in ours:
        ref = by_action[resp["action"]]
        assert set(resp["header"]) <= ref["header"], resp["action"]
        assert resp["body"] <= ref["body"], (resp["action"], resp["body"] - ref["body"])
        assert f"{{{WSA}}}RelatesTo" in resp["header"]


def _psrp_sequence(items: list[dict[str, Any]]) -> list[int]:
    return [t for r in items for t in r["psrp"]]


def test_pinned_open_runspace(ep: Endpoint) -> None:
    with RunspacePool(wsman(ep)):
        pass
    ours, real = _ours(ep), _real("test_psrp_open_runspace")
    _check_elements(ours, real)
    # Same PSRP messages in the same order: SessionCapability, ApplicationPrivateData,
    # RunspacePoolState. The real host spreads them over two Receives, we answer in one.
    assert _psrp_sequence([o for _, o in ours]) == _psrp_sequence(real) == [
        0x10002, 0x21009, 0x21005]
    assert next(q["psrp"] for q, _ in ours) == RECORDINGS["exchanges"][
        "test_psrp_open_runspace"][0]["request"]["psrp"]


def test_pinned_pipeline_output(ep: Endpoint) -> None:
    with RunspacePool(wsman(ep)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-ClusterGroup")
        ps.invoke()
    ours, real = _ours(ep), _real("test_psrp_multiple_commands")
    _check_elements(ours, real)
    out = [o for q, o in ours if q["action"] == "Receive" and o["psrp"] and 0x41006 in o["psrp"]]
    ref = [r for r in real if 0x41006 in r["psrp"]]
    assert out[0]["psrp"] == [0x41004] * 5 + [0x41006]  # PipelineOutput x5, PipelineState
    assert set(out[0]["psrp"]) == set(ref[0]["psrp"])
    assert (out[0]["command_state"], out[0]["exit_code"]) == (
        ref[0]["command_state"], ref[0]["exit_code"]) == ("Done", 0)


def test_pinned_error_record(ep: Endpoint) -> None:
    with RunspacePool(wsman(ep)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-ClusterGroup").add_parameter("Name", "nope")
        ps.invoke()
    ours, real = _ours(ep), _real("test_psrp_error_failed")
    _check_elements(ours, real)
    last = [o for _, o in ours if o["action"] == "ReceiveResponse"][-1]
    # ErrorRecord, then the final PipelineState, in the response that carries CommandState Done.
    # The recorded run (Write-Error under $ErrorActionPreference=Stop) sent ProgressRecord and
    # output first and its error inside PipelineState(Failed); the endpoint writes cmdlet errors
    # to the error stream and ends Completed, which pypsrp surfaces in the same streams.error.
    assert last["psrp"] == [0x41005, 0x41006]
    assert real[4]["psrp"][-1] == last["psrp"][-1]
    assert (last["command_state"], last["exit_code"]) == (real[4]["command_state"], 0)


def test_pinned_long_running_receive_times_out_then_completes(sim: SimCluster) -> None:
    slow = SimCluster.classic(os="2016", speed=50.0)  # a 2 s move takes 40 ms of wall clock
    with serve(slow, receive_timeout=0.005, record=True) as ep:
        with RunspacePool(wsman(ep)) as pool:
            ps = PowerShell(pool)
            ps.add_cmdlet("Move-ClusterGroup").add_parameter("Name", "SQL Group 1")
            (group,) = ps.invoke()
        assert str(group.adapted_properties["OwnerNode"]) == "NODE2"
    ours, real = _ours(ep), _real("test_psrp_long_running_cmdlet")
    _check_elements(ours, real)
    faults = [o for _, o in ours if o["action"] == "fault"]
    ref = [r for r in real if r["action"] == "fault"]
    assert faults, "the move should outlast at least one Receive"
    assert {(f["fault_code"], f["fault_subcode"]) for f in faults} == {
        (ref[0]["fault_code"], ref[0]["fault_subcode"])} == {("2150858793", "w:TimedOut")}


def test_pinned_cmd_shell(ep: Endpoint, sim: SimCluster) -> None:
    from clusterlib.sim.cmdshell import run_command_line

    expected = run_command_line(sim, "cluster node")  # a 2016 host has no cluster.exe
    shell = WinRS(wsman(ep))
    with shell:
        proc = Process(shell, "cluster", ["node"])
        proc.invoke()
        proc.signal("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/Terminate")
    assert (proc.stdout.decode(), proc.stderr.decode(), proc.rc) == (
        expected.stdout, expected.stderr, expected.exit_code)
    ours, real = _ours(ep), _real("test_winrs_stderr_rc")
    assert [q["action"] for q, _ in ours] == [r["request"] for r in real]
    assert [o["action"] for _, o in ours] == [r["action"] for r in real]
    for (_q, o), r in zip(ours, real, strict=False):
        assert o["body"] == set(r["body"]) or o["body"] <= set(r["body"]), o["action"]
    done = ours[2][1]
    assert (done["command_state"], done["exit_code"]) == (real[2]["command_state"],
                                                          expected.exit_code)


def test_pinned_cmd_operation_timeout_fault(ep: Endpoint,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from clusterlib.sim import cmdshell

    real = next(r for r in _real("test_winrs_operation_timeout") if r["action"] == "fault")
    release = threading.Event()
    original = cmdshell.run_command_line

    def slow(sim: SimCluster, line: str, node: str | None = None) -> Any:
        release.wait(5)
        return original(sim, line)

    monkeypatch.setattr(cmdshell, "run_command_line", slow)
    ep.set_receive_timeout(0.0)
    with WinRS(wsman(ep)) as shell:
        proc = Process(shell, "cluster", ["node"])
        proc.begin_invoke()
        body = _receive_body(ep, shell.id or "", proc.id or "")
        release.set()
        proc.end_invoke()
    fault = _describe(body)
    assert (fault["fault_code"], fault["fault_subcode"]) == (real["fault_code"],
                                                             real["fault_subcode"])
    assert fault["body"] <= set(real["body"])


def _receive_body(ep: Endpoint, shell_id: str, command_id: str) -> bytes:
    body, root = cmd_receive_fault(ep, shell_id, command_id,
                                   "uuid:00000000-0000-0000-0000-000000000001")
    relates = root.find(f"{{{S}}}Header/{{{WSA}}}RelatesTo")
    assert relates is not None and relates.text == "uuid:00000000-0000-0000-0000-000000000001"
    return body


def test_session_key_exchange(ep: Endpoint) -> None:
    """psrpcore answers pypsrp's PublicKey with an EncryptedSessionKey (for SecureStrings)."""
    with RunspacePool(wsman(ep)) as pool:
        pool.exchange_keys()
        assert pool._key_exchanged
