"""The simulator's kept output objects (ps_shapes): reused while quiet, every change seen.

A quiet cluster's objects, rows and CSV lines are reused; every change is seen by the next read."""

from __future__ import annotations

import csv
import io
import json
import random

from clusterlib.model import NodeState
from clusterlib.sim import SimCluster
from clusterlib.sim.powershell_host import PowerShellHost, script_pipeline
from clusterlib.sim.ps_core import csv_line
from clusterlib.sim.psobjects import NS, PSObject, convert_to_json, select_object, to_jsonable

_GROUPS = "Get-ClusterGroup | Select-Object Name,OwnerNode,State,Priority | ConvertTo-Csv -NoTypeInformation"


def _rows(host: PowerShellHost, script: str) -> dict[str, dict[str, str]]:
    result = host.invoke(script_pipeline(script))
    assert not result.errors, result.errors
    (lines,) = result.outputs
    return {row["Name"]: row for row in csv.DictReader(io.StringIO("\r\n".join(lines)))}


def test_a_quiet_cluster_hands_out_the_same_objects_and_a_changed_group_a_new_one() -> None:
    sim = SimCluster.build(3, 6, speed=1e6)
    first = PowerShellHost(sim).invoke(script_pipeline("Get-ClusterGroup")).outputs[0]
    again = PowerShellHost(sim).invoke(script_pipeline("Get-ClusterGroup")).outputs[0]
    assert [a is b for a, b in zip(first, again, strict=True)] == [True] * len(first)
    moved = first[0].props["Name"]
    sim.move_group(moved, next(n for n in sim.nodes if n != sim.groups[moved].owner))
    after = {o.props["Name"]: o for o in
             PowerShellHost(sim).invoke(script_pipeline("Get-ClusterGroup")).outputs[0]}
    assert after[moved] is not first[0]
    assert after[moved].props["OwnerNode"].props["Name"] == sim.groups[moved].owner
    assert after[first[1].props["Name"]] is first[1]  # the others are untouched


def test_every_change_reaches_the_next_csv_read() -> None:
    sim = SimCluster.build(3, 6, speed=1e6)
    host = PowerShellHost(sim)
    before = _rows(host, _GROUPS)
    name = "Group 0002"
    target = next(n for n in sim.nodes if n != sim.groups[name].owner)
    sim.move_group(name, target)
    sim.groups["Group 0003"].priority = 1234  # a field set directly, behind the operations
    after = _rows(host, _GROUPS)
    assert after[name]["OwnerNode"] == target != before[name]["OwnerNode"]
    assert after["Group 0003"]["Priority"] == "1234"
    assert after["Group 0001"] == before["Group 0001"]
    sim.move_group(name, target, wait=0)  # already there: nothing changes
    sim.pause_node(target)
    nodes = _rows(host, "Get-ClusterNode | Select-Object Name,State | ConvertTo-Csv -NoTypeInformation")
    assert nodes[target]["State"] == "Paused"
    assert sim.nodes[target].state is NodeState.Paused


def test_owner_lists_follow_owner_and_node_changes() -> None:
    sim = SimCluster.build(3, 3, speed=1e6)
    host = PowerShellHost(sim)
    script = ("Get-ClusterGroup -Name 'Group 0001' | Get-ClusterOwnerNode"
              " | ConvertTo-Json -Depth 3 -Compress")

    def owners() -> list[tuple[str, int]]:
        result = host.invoke(script_pipeline(script))
        assert not result.errors, result.errors
        return [(n["Name"], n["State"]) for n in json.loads(result.outputs[0][0])["OwnerNodes"]]

    assert owners() == []
    sim.groups["Group 0001"].preferred_owners = ["NODE02", "NODE01"]
    assert owners() == [("NODE02", NodeState.Up.value), ("NODE01", NodeState.Up.value)]
    assert sim.groups["Group 0001"].owner == "NODE01"
    sim.pause_node("NODE02")  # not the owner: only the owner list shows it
    assert owners() == [("NODE02", NodeState.Paused.value), ("NODE01", NodeState.Up.value)]


def test_resource_owner_lists_at_depth_one_name_every_node() -> None:
    sim = SimCluster.build(4, 8, speed=1e6)
    result = PowerShellHost(sim).invoke(script_pipeline(
        "Get-ClusterResource | Get-ClusterOwnerNode | ConvertTo-Json -Depth 1 -Compress"))
    items = json.loads(result.outputs[0][0])
    assert len(items) == sum(len(g.resources) for g in sim.groups.values())
    assert {tuple(i["OwnerNodes"]) for i in items} == {tuple(sim.nodes)}


def test_a_compressed_array_is_what_json_dumps_writes() -> None:
    node = PSObject((f"{NS}.ClusterNode",), {"Name": "NÖDE1", "Tags": ["a", "b"]},
                    to_string="NÖDE1")
    node.memo = {}
    group = PSObject((f"{NS}.ClusterGroup",), {"Name": 'Gr "1"', "OwnerNode": node,
                                                "Owners": [node, node], "Map": {"k": 1}},
                     to_string="Gr 1")
    group.memo = {}
    items = [group, node, group, None, 3, "x"]
    for depth in (1, 2, 3):
        expected = json.dumps([to_jsonable(i, depth) for i in items], separators=(",", ":"),
                              ensure_ascii=False)
        assert convert_to_json(items, depth=depth, compress=True) == expected
        assert convert_to_json(items, depth=depth, compress=True) == expected  # from the memo


def test_csv_lines_are_what_csv_writer_writes() -> None:
    rng = random.Random(7)
    alphabet = ['a', '"', ',', '\r', '\n', ' ', 'é', '\t', "'", '\\']
    for _ in range(2000):
        fields = [None if rng.random() < 0.1 else
                  "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))
                  for _ in range(rng.randint(1, 4))]
        buf = io.StringIO()
        csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="").writerow(
            ["" if f is None else f for f in fields])
        assert csv_line(fields) == buf.getvalue()


def test_a_selected_row_prints_as_a_custom_object() -> None:
    node = PSObject((f"{NS}.ClusterNode",), {"Name": "N1"}, to_string="N1")
    group = PSObject((f"{NS}.ClusterGroup",), {"Name": "G", "OwnerNode": node, "IsCoreGroup": False,
                                                "Owners": ["a", "b"]}, to_string="G")
    (row,) = select_object([group], ["Name", "OwnerNode", "IsCoreGroup", "Owners", "Missing"])
    assert str(row) == "@{Name=G; OwnerNode=N1; IsCoreGroup=False; Owners=a b; Missing=}"
    assert row.type_names[0] == f"Selected.{NS}.ClusterGroup"


def test_the_endpoints_string_escaping_is_psrpcores() -> None:
    from psrpcore.types import _serializer

    from clusterlib.sim import psrp

    assert psrp.STRING_SERIALIZER_INSTALLED
    assert _serializer._serialize_string is psrp.serialize_string
    rng = random.Random(11)
    alphabet = ["a", "_", "x", "X", "\r", "\n", "\t", "\x00", "\x1f", "\x7f", "\x9f", "é",
                "\U0001F600", "\ud800", "0", "D"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert psrp.serialize_string(text) == psrp._ORIGINAL_SERIALIZE_STRING(text), repr(text)
