"""What plain WinRM clients see of the simulator: pypsrp's Client, RunspacePool/PowerShell and
pywinrm's Session, used as their own documentation shows, against ``SimCluster.serve()``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import winrm
from pypsrp.client import Client
from pypsrp.powershell import PowerShell, RunspacePool

from clusterlib.model import DrainStatus, NodeState
from clusterlib.sim import SimCluster
from clusterlib.sim.endpoint import Endpoint, serve

NOT_RECOGNIZED = "is not recognized as the name of a cmdlet"


@pytest.fixture
def sim() -> SimCluster:
    return SimCluster.classic(os="2016")


@pytest.fixture
def ep(sim: SimCluster) -> Iterator[Endpoint]:
    with serve(sim, receive_timeout=0.05) as endpoint:
        yield endpoint


def client(ep: Endpoint) -> Client:
    return Client(ep.host, port=ep.port, username=ep.username, password=ep.password, ssl=False,
                  auth="basic", encryption="never", no_proxy=True, operation_timeout=5)


def session(ep: Endpoint) -> winrm.Session:
    return winrm.Session(f"http://{ep.host}:{ep.port}/wsman", auth=(ep.username, ep.password),
                         transport="basic")


def errors(streams: Any) -> list[tuple[str, str]]:
    return [(str(e), e.fq_error) for e in streams.error]


def shells(ep: Endpoint) -> int:
    srv = ep._server
    return len(srv.ps_shells) + len(srv.cmd_shells)


# ---- pypsrp Client.execute_ps (Invoke-Expression -Command <script> | Out-String -Stream) ----


def test_execute_ps_runs_a_cmdlet_pipeline(ep: Endpoint) -> None:
    out, streams, had_errors = client(ep).execute_ps(
        "Get-ClusterNode | Select-Object -Property Name,State | ConvertTo-Json -Compress")
    assert (had_errors, errors(streams)) == (False, [])
    assert [n["Name"] for n in json.loads(out)] == ["NODE1", "NODE2"]
    assert shells(ep) == 0  # the RunspacePool was closed: the endpoint freed the shell


def test_execute_ps_acts_on_the_cluster(ep: Endpoint, sim: SimCluster) -> None:
    out, _streams, had_errors = client(ep).execute_ps(
        "Move-ClusterGroup -Name 'SQL Group 1' -Node NODE2 | Select-Object Name | ConvertTo-Json")
    assert not had_errors
    assert json.loads(out) == {"Name": "SQL Group 1"}
    assert sim.groups["SQL Group 1"].owner == "NODE2"


@pytest.mark.parametrize("script, what", [
    ("Get-ClusterNode | Where-Object State -eq Up", "command Where-Object"),
    ("Get-ClusterNode | Format-Table", "command Format-Table"),
    ("Test-Cluster", "command Test-Cluster"),
    ("Get-Service ClusSvc", "command Get-Service"),
    ("gsv", "command Get-Service"),
    ("hostname.exe", "command hostname.exe"),
    ("Get-ClusterNode", "formatting objects as text"),
    ("$n = Get-ClusterNode", "script text"),
    ("Get-ClusterNode | ForEach-Object { $_.Name }", "script text"),
])
def test_real_but_unmodelled_is_not_simulated(ep: Endpoint, script: str, what: str) -> None:
    out, streams, had_errors = client(ep).execute_ps(script)
    assert had_errors, "a refusal must not look like an empty success"
    ((message, fqid),) = errors(streams)
    assert message.startswith("not simulated: ") and what in message
    assert fqid == "NotSimulated" and NOT_RECOGNIZED not in message
    assert out == ""


def test_only_an_unknown_word_is_not_recognized(ep: Endpoint) -> None:
    _out, streams, had_errors = client(ep).execute_ps("Get-Frobnicator -Name x")
    assert had_errors
    ((message, fqid),) = errors(streams)
    assert message.startswith("The term 'Get-Frobnicator' " + NOT_RECOGNIZED)
    assert fqid == "CommandNotFoundException"


def test_common_parameters_are_accepted(ep: Endpoint) -> None:
    out, streams, had_errors = client(ep).execute_ps(
        "Get-ClusterNode -Name NODE1 -Verbose -WarningAction SilentlyContinue -ErrorVariable e"
        " -OutVariable o -InformationAction Ignore -Debug:$false | ConvertTo-Json -Comp")
    assert (had_errors, errors(streams)) == (False, [])
    assert json.loads(out)["Name"] == "NODE1"


def test_error_action(ep: Endpoint) -> None:
    c = client(ep)
    # Continue (the default): a cmdlet's failure is a non-terminating error record.
    _out, streams, had_errors = c.execute_ps("Get-ClusterGroup -Name nope")
    ((message, fqid),) = errors(streams)
    assert fqid.startswith("ClusterGroupNotFound,") and not had_errors
    # SilentlyContinue / Ignore: no record at all.
    for pref in ("SilentlyContinue", "Ignore"):
        _out, streams, had_errors = c.execute_ps(f"Get-ClusterGroup -Name nope -ErrorAction {pref}")
        assert (errors(streams), had_errors) == ([], False)
    # Stop: the same record, now terminating (the pipeline fails).
    _out, streams, had_errors = c.execute_ps("Get-ClusterGroup -Name nope -ea Stop")
    assert had_errors and [f for _m, f in errors(streams)] == [fqid]
    # A value outside ActionPreference is a binding error.
    _out, streams, had_errors = c.execute_ps("Get-ClusterGroup -ErrorAction Sometimes")
    ((message, fqid),) = errors(streams)
    assert had_errors and "ActionPreference" in message
    assert fqid.startswith("CannotConvertArgumentNoMessage,")


def test_parameter_prefixes_and_ambiguity(ep: Endpoint) -> None:
    c = client(ep)
    out, _streams, had_errors = c.execute_ps("Get-ClusterNode -Na NODE2 | Select-Object -Prop Name"
                                             " | ConvertTo-Json")
    assert not had_errors and json.loads(out) == {"Name": "NODE2"}
    _out, streams, had_errors = c.execute_ps("Get-ClusterNode -Frob 1")
    assert had_errors and errors(streams)[0][1].startswith("NamedParameterNotFound,")
    _out, streams, had_errors = c.execute_ps("Select-Object -E x")  # ExcludeProperty, ExpandProperty
    assert had_errors and errors(streams)[0][1].startswith("AmbiguousParameter,")


# ---- pypsrp RunspacePool / PowerShell ----


def test_select_object_results_are_custom_objects_with_note_properties(ep: Endpoint) -> None:
    with RunspacePool(client(ep).wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-ClusterNode").add_cmdlet("Select-Object") \
            .add_parameter("Property", ["Name", "State"])
        first, _second = ps.invoke()
    assert not ps.had_errors
    assert "System.Management.Automation.PSCustomObject" in first.types
    assert first.types[-1] == "System.Object"
    assert first.adapted_properties == {}
    assert first.extended_properties["Name"] == "NODE1"
    assert str(first.extended_properties["State"]) == "Up"


def test_add_script_runs_a_literal_pipeline(ep: Endpoint) -> None:
    with RunspacePool(client(ep).wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script("Get-ClusterNode NODE2 | Select-Object Name,Id")
        (node,) = ps.invoke()
    assert not ps.had_errors
    assert (node.extended_properties["Name"], node.extended_properties["Id"]) == ("NODE2", "2")


def test_a_refusal_ends_the_pipeline_failed(ep: Endpoint, sim: SimCluster) -> None:
    with RunspacePool(client(ep).wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Service").add_parameter("Name", "ClusSvc")
        ps.add_statement().add_cmdlet("Suspend-ClusterNode").add_parameter("Name", "NODE2")
        assert ps.invoke() == []
    assert ps.had_errors
    assert [e.fq_error for e in ps.streams.error] == ["NotSimulated"]
    assert sim.nodes["NODE2"].state.name == "Up"  # the statement after the refusal never ran


# ---- pywinrm ----


def test_pywinrm_run_cmd_and_run_ps(ep: Endpoint) -> None:
    s = session(ep)
    r = s.run_cmd("hostname")
    assert (r.status_code, r.std_err) == (0, b"")
    assert r.std_out.strip() != b""
    r = s.run_ps("Get-ClusterGroup -Name 'SQL Group 1' | Select-Object Name | ConvertTo-Json")
    assert (r.status_code, r.std_err) == (0, b"")
    assert json.loads(r.std_out) == {"Name": "SQL Group 1"}
    assert shells(ep) == 0


def test_pywinrm_run_ps_refusal_is_an_error(ep: Endpoint) -> None:
    r = session(ep).run_ps("Get-ClusterNode | Format-List")
    assert r.status_code == 1 and r.std_out == b""
    text = r.std_err.decode()
    assert "not simulated: command Format-List" in text and "CLIXML" not in text
    r = session(ep).run_ps("Get-ClusterGroup -Name nope")
    assert r.status_code == 1 and "ClusterGroupNotFound" in r.std_err.decode()


# ---- release differences a client sees ----


def test_2012_suspend_has_force_evacuation_and_waits() -> None:
    sim = SimCluster.classic(os="2012", speed=1000.0)
    with serve(sim, receive_timeout=0.05) as ep12:
        c = client(ep12)
        _out, streams, had_errors = c.execute_ps("Suspend-ClusterNode -Name NODE1 -Drain -ForceDrain")
        assert had_errors and errors(streams)[0][1].startswith("NamedParameterNotFound,")
        out, streams, had_errors = c.execute_ps(
            "Suspend-ClusterNode -Name NODE1 -Drain -ForceEvacuation | Select-Object Name,State,"
            "DrainStatus | ConvertTo-Json -Compress")
    assert (had_errors, errors(streams)) == (False, [])
    # Returned after the drain finished, without -Wait: Paused and Completed.
    assert json.loads(out) == {"Name": "NODE1", "State": NodeState.Paused.value,
                               "DrainStatus": DrainStatus.Completed.value}


def test_2025_quorum_type_uses_2025_enum() -> None:
    sim = SimCluster.classic(os="2025")
    with serve(sim, receive_timeout=0.05) as ep25:
        out, _streams, had_errors = client(ep25).execute_ps(
            "Get-ClusterQuorum | Select-Object -Property QuorumType | ConvertTo-Csv"
            " -NoTypeInformation")
    assert not had_errors
    assert out.splitlines() == ['"QuorumType"', '"Majority"']


def test_add_argument_binds_by_position(ep: Endpoint, sim: SimCluster) -> None:
    with RunspacePool(client(ep).wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Move-ClusterGroup").add_argument("SQL Group 1").add_argument("NODE2")
        (group,) = ps.invoke()
        assert not ps.had_errors and str(group.adapted_properties["OwnerNode"]) == "NODE2"
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Cluster").add_argument("CLUSTER1").add_argument("extra")
        assert ps.invoke() == [] and ps.had_errors
    assert ps.streams.error[0].fq_error.startswith("PositionalParameterNotFound,")
    assert sim.groups["SQL Group 1"].owner == "NODE2"


def test_pywinrm_sees_the_windows_fault_for_a_deleted_shell(ep: Endpoint) -> None:
    from winrm.exceptions import WSManFaultError

    protocol = session(ep).protocol
    shell_id = protocol.open_shell()
    protocol.close_shell(shell_id)
    with pytest.raises(WSManFaultError) as info:
        protocol.run_command(shell_id, "hostname")
    fault = info.value
    assert (fault.fault_code, fault.fault_subcode, fault.wsman_fault_code) == (
        "s:Sender", "w:InvalidSelectors", 2150858843)
    assert str(fault).startswith("The WS-Management service cannot process the request because"
                                 " the request contained invalid selectors for the resource.")
