"""The script-text subset the simulator runs (Invoke-Expression, PSRP script commands,
powershell -EncodedCommand): what parses into cmdlet calls, and what is refused as not simulated."""

from __future__ import annotations

import pytest

from clusterlib.sim import SimCluster
from clusterlib.sim.powershell_host import PowerShellHost, script_pipeline
from clusterlib.sim.psscript import NotSimulatedScript, ScriptCommand, parse_script
from clusterlib.wire import Cmdlet


def _switch(command: str, param: str) -> bool:
    return param.lower() in ("drain", "compress", "notypeinformation")


def test_named_positional_quoted_and_list_values() -> None:
    (statement,) = parse_script(
        "Get-ClusterGroup 'It''s 1' -Cluster:CL1 | Select-Object -Property Name, \"Owner Node\""
        " -First 2 | ConvertTo-Json -Compress -Depth:3", _switch)
    assert statement == [
        ScriptCommand("Get-ClusterGroup", (("Cluster", "CL1"),), ("It's 1",)),
        ScriptCommand("Select-Object", (("Property", ["Name", "Owner Node"]), ("First", 2)), ()),
        ScriptCommand("ConvertTo-Json", (("Compress", True), ("Depth", 3)), ()),
    ]


def test_statements_switches_and_literals() -> None:
    parsed = parse_script("Suspend-ClusterNode -Drain NODE1 -Wait:$true; Get-Cluster\r\n"
                          "Get-ClusterNode |\n  Select-Object Name", _switch)
    assert [[c.name for c in s] for s in parsed] == [["Suspend-ClusterNode"], ["Get-Cluster"],
                                                     ["Get-ClusterNode", "Select-Object"]]
    assert parsed[0][0] == ScriptCommand("Suspend-ClusterNode", (("Drain", True), ("Wait", True)),
                                         ("NODE1",))


@pytest.mark.parametrize("script", [
    "$nodes = Get-ClusterNode",
    "Get-ClusterNode | Where-Object { $_.State -eq 'Up' }",
    "Get-ClusterNode | Select-Object @{n='x';e={1}}",
    "(Get-Cluster).Name",
    "Get-ClusterNode > nodes.txt",
    "Get-ClusterNode 2>&1",
    "Get-ClusterNode # comment",
    'Get-ClusterGroup "$env:COMPUTERNAME"',
    "Get-ClusterGroup `\n -Name x",
    "Get-ClusterNode |",
    "Get-ClusterNode | ; Get-Cluster",
    "Get-ClusterNode || Get-Cluster",
    "'unterminated",
    "Get-ClusterNode -Name",  # fine: a switch-like empty parameter, refused later by binding
])
def test_outside_the_subset_is_refused(script: str) -> None:
    if script.endswith("-Name"):
        (statement,) = parse_script(script, _switch)
        assert statement[0].named == (("Name", True),)
        return
    with pytest.raises(NotSimulatedScript):
        parse_script(script, _switch)


def test_positional_arguments_bind_to_the_cmdlets_positions() -> None:
    pipeline = script_pipeline("Move-ClusterGroup 'SQL Group 1' NODE2; select Name -First 1")
    move, select = (s.commands[0] for s in pipeline.statements)
    assert move == Cmdlet("Move-ClusterGroup", (("Name", "SQL Group 1"), ("Node", "NODE2")))
    assert select == Cmdlet("select", (("First", 1), ("Property", "Name")))


def test_too_many_positional_arguments_is_a_binding_error() -> None:
    sim = SimCluster.classic(os="2016")
    result = PowerShellHost(sim).invoke(script_pipeline("Get-ClusterNode NODE1 NODE2"))
    (error,) = result.errors
    assert error.message == "A positional parameter cannot be found that accepts argument 'NODE2'."
    assert error.error_id.startswith("PositionalParameterNotFound,") and error.terminating


def test_invoke_expression_in_process() -> None:
    sim = SimCluster.classic(os="2016")
    host = PowerShellHost(sim)
    result = host.invoke(script_pipeline(
        "iex \"Get-ClusterGroup -Name 'SQL Group 1' | Select-Object -ExpandProperty Name\""))
    assert result.errors == [] and result.outputs[0] == ["SQL Group 1"]
    result = host.invoke(script_pipeline(
        "iex \"Get-ClusterGroup -Name 'SQL Group 1' | Select-Object -Unique\""))
    # -Unique is real but not modelled: a refusal, never a wrong answer.
    (error,) = result.errors
    assert error.message == "not simulated: parameter -Unique of Select-Object"
    result = host.invoke(script_pipeline("Invoke-Expression 'Get-ClusterNode NODE2 | Out-String'"))
    assert result.errors[0].error_id == "NotSimulated"  # objects as text: the view is not modelled
    result = host.invoke(script_pipeline(
        "Invoke-Expression 'Get-ClusterGroup -Name nope; Get-Cluster | Select-Object Name'"))
    # A non-terminating error in the first inner statement does not stop the second.
    assert [e.error_id.split(",")[0] for e in result.errors] == ["ClusterGroupNotFound"]
    assert [o.props for o in result.outputs[0]] == [{"Name": "CLUSTER1"}]
