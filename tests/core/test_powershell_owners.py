"""The snapshot's owner lists over PowerShell: compact statements, or the full form where notes drop."""

from __future__ import annotations

import pytest

import clusterlib
from clusterlib.dialects.powershell_dialect import (
    OwnerNotesMissing,
    _owner_pairs,
    _owners_from,
    owner_statements,
)
from clusterlib.errors import ParseError
from clusterlib.model import NodeInfo, NodeState
from clusterlib.sim import SimCluster
from clusterlib.sim.transport import InProcessTransport
from clusterlib.wire import CmdLine, CmdResult, Pipeline, PSResult


class Recording:
    """The in-process transport, keeping every pipeline it carries."""

    def __init__(self, inner: InProcessTransport) -> None:
        self.inner = inner
        self.endpoint = inner.endpoint
        self.time_scale = inner.time_scale
        self.sent: list[Pipeline] = []

    def run_pipeline(self, pipeline: Pipeline) -> PSResult:
        self.sent.append(pipeline)
        return self.inner.run_pipeline(pipeline)

    def run_cmd(self, line: CmdLine) -> CmdResult:
        return self.inner.run_cmd(line)

    def for_node(self, node: str) -> Recording:
        return Recording(self.inner.for_node(node))

    def close(self) -> None:
        self.inner.close()


def _sim() -> SimCluster:
    sim = SimCluster.build(4, 12, os="2016")
    groups = [g for g in sim.groups.values() if not g.is_core]
    groups[0].preferred_owners = ["NODE03", "NODE01"]
    groups[1].resources[0].possible_owners = ["NODE02", "NODE04"]
    groups[2].resources[0].possible_owners = list(sim.nodes)  # every node: no restriction
    return sim


def _owners(snap: clusterlib.ClusterSnapshot) -> dict[str, tuple[object, object]]:
    return {g.name: (g.preferred_owners, g.possible_owners) for g in snap.groups}


def _expands(pipeline: Pipeline) -> bool:
    return any(c.param("ExpandProperty") == "ClusterObject"
               for s in pipeline.statements for c in s.commands)


def test_the_compact_statements_read_the_same_owners_as_the_full_form() -> None:
    sim = _sim()
    wire = Recording(InProcessTransport(sim))
    cluster = clusterlib.connect(wire)
    wire.sent.clear()
    snap = cluster.snapshot(owners=True)
    assert len(wire.sent) == 1 and _expands(wire.sent[0])
    groups = [g for g in sim.groups.values() if not g.is_core]
    owners = _owners(snap)
    assert owners[groups[0].name][0] == ("NODE03", "NODE01")
    assert owners[groups[1].name][1] == ("NODE02", "NODE04")
    assert owners[groups[2].name] == ((), ())
    # The full form, read by hand, gives the same record.
    full = wire.inner.run_pipeline(Pipeline(statements=tuple(owner_statements(full=True))))
    compact = wire.inner.run_pipeline(Pipeline(statements=tuple(owner_statements())))
    nodes = [NodeInfo(n, NodeState.Up) for n in sim.nodes]
    groups_f, resources_f, csv_f = (o[0] for o in full.outputs)
    groups_c, resources_c = (o[0] for o in compact.outputs)  # resources named by their group
    assert (_owners_from(groups_f, resources_f, csv_f, nodes)
            == _owners_from(groups_c, resources_c, None, nodes))
    with pytest.raises(ParseError, match="ClusterOwnerNodeList"):
        _owners_from(groups_c, resources_f, None, nodes)  # the full form has no group names
    assert len(resources_c) < len(resources_f) / 2


def test_a_host_that_drops_the_notes_is_read_in_the_full_form_from_then_on() -> None:
    sim = _sim()
    expected = _owners(clusterlib.connect(InProcessTransport(sim)).snapshot(owners=True))
    inner = InProcessTransport(sim)
    inner._ps.ps_version = (4, 0)  # Windows Server 2012 R2 without WMF 5.x
    wire = Recording(inner)
    cluster = clusterlib.connect(wire)
    wire.sent.clear()
    assert _owners(cluster.snapshot(owners=True)) == expected
    assert [_expands(p) for p in wire.sent] == [True, False]  # compact, then full
    wire.sent.clear()
    assert _owners(cluster.snapshot(owners=True)) == expected
    assert [_expands(p) for p in wire.sent] == [False]


@pytest.mark.parametrize("text", ['[{"Name":"G","OwnerNodes":null}]', '{"Name":"G"}',
                                  '[{"Name":"G","OwnerNodes":["A"]},{"Name":"H"}]'])
def test_a_compact_item_without_its_list_is_never_read_as_no_owners(text: str) -> None:
    with pytest.raises(OwnerNotesMissing, match="no OwnerNodes list"):
        _owner_pairs(text, "group owners")


def test_both_forms_are_read_item_by_item() -> None:
    full = '[{"ClusterObject":{"Name":"G","State":0},"OwnerNodes":["A","B"]}]'
    assert _owner_pairs(full, "g") == [("G", ["A", "B"])]
    assert _owner_pairs('{"Name":"G","OwnerNodes":[]}', "g") == [("G", [])]
    assert _owner_pairs("", "g") == []


def _items(text: str) -> list[object]:
    import json

    data = json.loads(text)
    return data if isinstance(data, list) else [data]


@pytest.mark.parametrize("text", [
    # names that look like the key or the list's end, escaped quotes and backslashes
    '[{"Name":"a,\\"OwnerNodes\\":[\\"X\\"]}","OwnerNodes":["N1","N2"]},'
    '{"Name":"b\\\\","OwnerNodes":["N1","N2"]},{"Name":"]}","OwnerNodes":[]}]',
    # a node name with "]}" in it: the shortcut stops, the rest is parsed as it stands
    '[{"Name":"a","OwnerNodes":["N]}1","N2"]},{"Name":"b","OwnerNodes":["N]}1","N2"]}]',
    '{"Name":"only","OwnerNodes":["N1"]}',
    '[{"ClusterObject":{"Name":"G","OwnerNode":"N1"},"OwnerNodes":["N1"]}]',
    '[{"Name":"a","OwnerNodes":null},{"Name":"b","OwnerNodes":["N1"]}]',
])
def test_shared_owner_lists_read_exactly_as_json_loads(text: str) -> None:
    from clusterlib.dialects.powershell_dialect import _owner_items

    assert _owner_items(text, "x") == _items(text)


def test_shared_owner_lists_match_json_loads_on_random_answers() -> None:
    import json
    import random

    from clusterlib.dialects.powershell_dialect import _owner_items

    rng = random.Random(14)
    alphabet = ['a', 'Z', '"', '\\', ']', '}', ',', ':', '[', '{', ' ', 'é', '\n', '_x000A_']
    for _ in range(300):
        names = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
                 for _ in range(rng.randint(1, 5))]
        lists = [rng.sample(names, rng.randint(0, len(names))) for _ in range(rng.randint(1, 40))]
        items = [{"Name": rng.choice(names), "OwnerNodes": rng.choice(lists)}
                 for _ in range(rng.randint(1, 40))]
        text = json.dumps(items if len(items) > 1 else items[0], separators=(",", ":"),
                          ensure_ascii=rng.random() < 0.5)
        got = _owner_items(text, "x")
        assert got == _items(text), text
        # Copies of one list come back as one shared list (unless a name holds "]}").
        used = {json.dumps(i["OwnerNodes"]) for i in items}
        if not any("]}" in n for n in names):
            shared = {id(i["OwnerNodes"]) for i in got if isinstance(i, dict)}
            assert len(shared) == len(used), text


def test_over_the_wire_the_owners_read_is_the_same_as_in_process() -> None:
    """Real pypsrp to the loopback endpoint: the compact statements' parameters (a string
    -ExpandProperty, a list -Property) bind there as in process, and the record is equal; a
    4.0 host gets the full form on the wire too."""
    from transport_factories import winrm_factory

    from clusterlib.sim.powershell_host import PowerShellHost

    sim = _sim()
    expected = _owners(clusterlib.connect(InProcessTransport(sim)).snapshot(owners=True))
    with winrm_factory(sim) as transport:
        assert _owners(clusterlib.connect(transport).snapshot(owners=True)) == expected
    old = PowerShellHost.ps_version
    PowerShellHost.ps_version = (4, 0)
    try:
        with winrm_factory(sim) as transport:
            cluster = clusterlib.connect(transport)
            assert _owners(cluster.snapshot(owners=True)) == expected
            assert cluster.dialect._full_owners  # type: ignore[attr-defined]
    finally:
        PowerShellHost.ps_version = old
