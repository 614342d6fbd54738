"""The simulator's Select-Object -ExpandProperty (with -Property's notes) as Windows PowerShell runs it."""

from __future__ import annotations

import json

import pytest

from clusterlib.sim import SimCluster
from clusterlib.sim.powershell_host import PowerShellHost
from clusterlib.sim.ps_catalog import script_pipeline

NS = "Microsoft.FailoverClusters.PowerShell"
OWNERS = "Get-ClusterResource | Get-ClusterOwnerNode | Select-Object -ExpandProperty ClusterObject"


def _sim() -> SimCluster:
    sim = SimCluster.classic(os="2016")
    sim.groups["SQL Group 1"].resources[0].possible_owners = ["NODE2"]
    return sim


def test_a_single_object_comes_out_itself_with_the_notes_on_a_copy() -> None:
    sim = _sim()
    host = PowerShellHost(sim)
    result = host.invoke(script_pipeline(OWNERS + " -Property OwnerNodes"))
    assert result.errors == []
    (out,) = result.outputs
    assert {o.type_names[0] for o in out} == {f"{NS}.ClusterResource"}
    by_name = {o.props["Name"]: [str(n) for n in o.props["OwnerNodes"]] for o in out}
    assert by_name["SQL Group 1 Resource"] == ["NODE2"]
    assert by_name["File Group 3 Resource"] == ["NODE1", "NODE2"]
    # The notes went on a copy: the cluster's own objects (kept between reads) are unchanged.
    again = host.invoke(script_pipeline("Get-ClusterResource")).outputs[0]
    assert all("OwnerNodes" not in o.props for o in again)
    # The pipeline clusterlib sends: at -Depth 1 the nodes are their names.
    text = host.invoke(script_pipeline(
        OWNERS + " -Property OwnerNodes | Select-Object -Property Name, OwnerNodes"
        " | ConvertTo-Json -Depth 1 -Compress")).outputs[0][0]
    items = {i["Name"]: i["OwnerNodes"] for i in json.loads(text)}
    assert items["SQL Group 1 Resource"] == ["NODE2"]
    assert set(items) == {o.props["Name"] for o in out}


def test_a_collection_is_expanded_item_by_item_with_the_notes_on_each() -> None:
    host = PowerShellHost(_sim())
    (out,) = host.invoke(script_pipeline(
        "Get-ClusterResource -Name 'File Group 3 Resource' | Get-ClusterOwnerNode"
        " | Select-Object -ExpandProperty OwnerNodes -Property ClusterObject")).outputs
    assert [o.props["Name"] for o in out] == ["NODE1", "NODE2"]
    assert [str(o.props["ClusterObject"]) for o in out] == ["File Group 3 Resource"] * 2
    assert out[0].type_names[0] == f"{NS}.ClusterNode"


def test_a_property_the_object_lacks_is_an_error_per_object_and_the_rest_goes_on() -> None:
    host = PowerShellHost(_sim())
    result = host.invoke(script_pipeline(
        "Get-ClusterGroup | Select-Object -ExpandProperty Nope; Get-Cluster | Select-Object Name"))
    assert result.outputs[0] == [] and len(result.errors) == len(host.sim.groups)
    error = result.errors[0]
    assert error.message == 'Property "Nope" cannot be found.'
    assert error.error_id == ("ExpandPropertyNotFound,"
                              "Microsoft.PowerShell.Commands.SelectObjectCommand")
    assert error.category == "InvalidArgument" and not error.terminating
    assert [o.props["Name"] for o in result.outputs[1]] == ["CLUSTER1"]


def test_a_note_the_object_already_has_is_refused_and_the_object_keeps_its_own() -> None:
    host = PowerShellHost(_sim())
    # The owner list has no Name: the note is $null, and the group's own Name stays.
    result = host.invoke(script_pipeline(
        "Get-ClusterGroup -Name 'SQL Group 1' | Get-ClusterOwnerNode"
        " | Select-Object -ExpandProperty ClusterObject -Property Name, OwnerNodes"))
    (error,) = result.errors
    assert error.message == ('The property cannot be processed because the property "Name"'
                             " already exists.")
    assert error.error_id.startswith("AlreadyExistingUserSpecifiedPropertyExpand,")
    assert error.category == "InvalidOperation" and not error.terminating
    (group,) = result.outputs[0]
    assert group.props["Name"] == "SQL Group 1" and "OwnerNodes" in group.props


@pytest.mark.parametrize(("action", "errors", "outputs"),
                         [("Stop", 1, 0), ("SilentlyContinue", 0, 0), ("Continue", None, 0)])
def test_error_action_applies_to_the_per_object_errors(action: str, errors: int | None,
                                                        outputs: int) -> None:
    host = PowerShellHost(_sim())
    result = host.invoke(script_pipeline(
        f"Get-ClusterGroup | Select-Object -ExpandProperty Nope -ErrorAction {action}"))
    # Continue: one error per group.
    expected = len(host.sim.groups) if errors is None else errors
    assert len(result.errors) == expected and len(result.outputs[0]) == outputs
    if action == "Stop":
        assert result.errors[0].terminating


@pytest.mark.parametrize("how", ["override", "2012R2"])
def test_powershell_before_5_adds_no_notes_to_a_single_expanded_object(how: str) -> None:
    if how == "override":
        host = PowerShellHost(_sim(), ps_version=(4, 0))
    else:  # a stock 2012 R2 cluster runs Windows PowerShell 4.0
        sim = SimCluster.classic(os="2012R2")
        sim.groups["SQL Group 1"].resources[0].possible_owners = ["NODE2"]
        host = PowerShellHost(sim)
    (out,) = host.invoke(script_pipeline(OWNERS + " -Property OwnerNodes")).outputs
    assert out and all("OwnerNodes" not in o.props for o in out)
    text = host.invoke(script_pipeline(
        OWNERS + " -Property OwnerNodes | Select-Object -Property Name, OwnerNodes"
        " | ConvertTo-Json -Depth 1 -Compress")).outputs[0][0]
    assert {i["OwnerNodes"] for i in json.loads(text)} == {None}
    # A collection's items still get them.
    (nodes,) = host.invoke(script_pipeline(
        "Get-ClusterResource -Name 'File Group 3 Resource' | Get-ClusterOwnerNode"
        " | Select-Object -ExpandProperty OwnerNodes -Property ClusterObject")).outputs
    assert [str(o.props["ClusterObject"]) for o in nodes] == ["File Group 3 Resource"] * 2


def test_what_the_simulator_does_not_model_is_refused() -> None:
    host = PowerShellHost(_sim())
    for script in ("Get-ClusterGroup | Select-Object -ExpandProperty Nam*",
                   "Get-ClusterGroup | Select-Object -ExpandProperty Name -Property State"):
        (error,) = host.invoke(script_pipeline(script)).errors
        assert error.error_id == "NotSimulated" and error.terminating, script
    # A plain string expands fine without notes.
    (out,) = host.invoke(script_pipeline(
        "Get-ClusterGroup -Name 'SQL Group 1' | Select-Object -ExpandProperty Name")).outputs
    assert out == ["SQL Group 1"]


def test_a_group_reached_through_two_resources_takes_each_resources_list() -> None:
    """The plan's resource statement: each resource's list on its OwnerGroup, named by it."""
    sim = _sim()
    core = sim.groups["Cluster Group"]
    core.resources[0].possible_owners = ["NODE1"]
    host = PowerShellHost(sim)
    script = (OWNERS + " -Property OwnerNodes | Select-Object -ExpandProperty OwnerGroup"
              " -Property OwnerNodes | Select-Object -Property Name, OwnerNodes"
              " | ConvertTo-Json -Depth 1 -Compress")
    for _ in range(2):  # the second read comes from the kept objects: the same answer
        result = host.invoke(script_pipeline(script))
        assert result.errors == []
        items = json.loads(result.outputs[0][0])
        assert sorted((i["Name"], tuple(i["OwnerNodes"])) for i in items
                      if i["Name"] == "Cluster Group") == [
            ("Cluster Group", ("NODE1",)), ("Cluster Group", ("NODE1", "NODE2"))]
        assert ("SQL Group 1", ["NODE2"]) in [(i["Name"], i["OwnerNodes"]) for i in items]
    # The cluster's own group object is unchanged.
    (group,) = host.invoke(script_pipeline("Get-ClusterGroup -Name 'Cluster Group'")).outputs[0]
    assert "OwnerNodes" not in group.props
