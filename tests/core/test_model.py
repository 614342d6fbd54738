"""The frozen records: enums, versions, lookups, health and quorum answers."""

from __future__ import annotations

import attrs
import pytest

from clusterlib import (
    ClusterSnapshot,
    DrainStatus,
    GroupInfo,
    GroupNotFound,
    GroupState,
    NodeInfo,
    NodeNotFound,
    NodeState,
    ServiceVersion,
)
from clusterlib.model import GroupType


def snap(**kw: object) -> ClusterSnapshot:
    nodes = (NodeInfo("NODE1", NodeState.Up), NodeInfo("NODE2", NodeState.Up),
             NodeInfo("NODE3", NodeState.Up))
    groups = (GroupInfo("Cluster Group", GroupState.Online, "NODE1", is_core=True),
              GroupInfo("SQL Group 1", GroupState.Online, "NODE1"),
              GroupInfo("File Group 3", GroupState.Offline, "NODE2"))
    base = ClusterSnapshot(name="C1", nodes=nodes, groups=groups)
    return attrs.evolve(base, **kw)


@pytest.mark.parametrize(("raw", "expected"), [
    ("Up", NodeState.Up), ("Paused", NodeState.Paused), (2, NodeState.Paused), ("down", NodeState.Down),
    ("Joining", NodeState.Joining), ("Bogus", NodeState.Unknown), (-1, NodeState.Unknown),
])
def test_node_state_parse(raw: object, expected: NodeState) -> None:
    assert NodeState.parse(raw) is expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Online", GroupState.Online), ("Partially Online", GroupState.PartialOnline),
    ("PartialOnline", GroupState.PartialOnline), (3, GroupState.PartialOnline),
    ("Pending", GroupState.Pending), (1, GroupState.Offline), ("weird", GroupState.Unknown),
])
def test_group_state_parse(raw: object, expected: GroupState) -> None:
    assert GroupState.parse(raw) is expected


def test_enum_parse_rejects_booleans() -> None:
    with pytest.raises(TypeError):
        NodeState.parse(True)


def test_drain_status_and_group_type_names() -> None:
    assert DrainStatus.parse("InProgress") is DrainStatus.InProgress
    assert GroupType.parse(111) is GroupType.VirtualMachine
    assert GroupType.parse("CoreCluster") is GroupType.Cluster


def test_service_version_dword_round_trip() -> None:
    # The reference's worked example: major 2, minor 224 -> 131296 (0x000200E0).
    v = ServiceVersion.from_dword(131296)
    assert (v.major, v.minor) == (2, 224)
    assert v.dword == 0x000200E0
    assert str(ServiceVersion(4, 3790)) == "4.3790"
    assert ServiceVersion(3, 2195) < ServiceVersion(4, 3790)


def test_lookup_is_case_insensitive_and_errors_list_valid_names() -> None:
    s = snap()
    assert s.node("node2").name == "NODE2"
    assert s.group("sql group 1").owner == "NODE1"
    with pytest.raises(NodeNotFound) as err:
        s.node("NODE9")
    assert err.value.valid == ("NODE1", "NODE2", "NODE3")
    assert "'NODE9'" in str(err.value) and "'NODE3'" in str(err.value)
    with pytest.raises(GroupNotFound) as gerr:
        s.group("nope")
    assert "'SQL Group 1'" in str(gerr.value)


def test_who_owns_what_without_remote_calls() -> None:
    s = snap()
    assert s.placement() == {"Cluster Group": "NODE1", "SQL Group 1": "NODE1", "File Group 3": "NODE2"}
    assert [g.name for g in s.groups_on("node1")] == ["Cluster Group", "SQL Group 1"]
    assert s.groups_on("NODE3") == ()


def test_health_offline_is_not_a_failure_but_failed_is() -> None:
    assert snap().health().ok  # an Offline group can be legitimately offline (reference 1.3)
    bad = snap(groups=(GroupInfo("G", GroupState.Failed, "NODE1"),
                       GroupInfo("H", GroupState.PartialOnline, "NODE2")),
               nodes=(NodeInfo("NODE1", NodeState.Up), NodeInfo("NODE2", NodeState.Paused)))
    health = bad.health()
    assert not health
    assert health.problems == ("node NODE2 is Paused", "group G is Failed", "group H is PartialOnline")
    assert str(health).startswith("unhealthy: ")


def test_quorum_answers() -> None:
    s = snap(quorum_type="NodeMajority")
    assert s.keeps_quorum_without("NODE1")  # 2 of 3 votes remain
    two = snap(nodes=(NodeInfo("NODE1", NodeState.Up), NodeInfo("NODE2", NodeState.Up)),
               quorum_type="NodeMajority")
    assert not two.keeps_quorum_without("NODE1")  # 1 of 2 is no majority
    assert attrs.evolve(two, witness=True, quorum_type="NodeAndFileShareMajority").keeps_quorum_without(
        "NODE1")
    assert attrs.evolve(two, dynamic_quorum=True).keeps_quorum_without("NODE1")
    assert attrs.evolve(two, quorum_type="DiskOnly").keeps_quorum_without("NODE1")


def test_records_are_frozen_and_reprs_short() -> None:
    g = GroupInfo("SQL Group 1", GroupState.Online, "NODE2")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        g.owner = "NODE1"  # type: ignore[misc]
    assert repr(g) == "<Group 'SQL Group 1' Online on NODE2>"
    assert repr(NodeInfo("NODE1", NodeState.Paused)) == "<Node 'NODE1' Paused>"
    assert repr(snap()) == "<ClusterSnapshot 'C1' nodes=3 groups=3 healthy>"


def test_possible_owners_restrict_ownership() -> None:
    g = GroupInfo("G", GroupState.Online, "A", possible_owners=("A", "b"))
    assert g.can_be_owned_by("B") and not g.can_be_owned_by("C")
    assert GroupInfo("H", GroupState.Online, "A").can_be_owned_by("anything")


def test_lookups_are_indexed_once_and_follow_evolve() -> None:
    s = snap()
    assert s.group("SQL Group 1") is s.groups[1]
    # The index is built once per record and reused: no per-call dict (issue: quadratic plans).
    assert s._lookup() is s._lookup()
    moved = s.evolve(groups=(GroupInfo("SQL Group 1", GroupState.Online, "NODE3"),))
    assert moved.group("sql group 1").owner == "NODE3"  # evolve never reuses a stale index
    assert [g.name for g in moved.groups_on("node3")] == ["SQL Group 1"]
    assert moved.groups_on("NODE1") == ()
    with pytest.raises(GroupNotFound):
        moved.group("File Group 3")
    # The cache is not part of equality, hashing or repr.
    fresh = snap()
    fresh.node("NODE1")
    assert fresh == snap() and hash(fresh) == hash(snap())
    assert "_index" not in repr(fresh)


def test_exact_name_beats_a_case_variant() -> None:
    s = snap(groups=(GroupInfo("web", GroupState.Online, "NODE1"),
                     GroupInfo("Web", GroupState.Online, "NODE2")))
    assert s.group("Web").owner == "NODE2" and s.group("web").owner == "NODE1"
    assert s.group("WEB").owner == "NODE1"  # no exact match: the first case-insensitive one


def test_core_group_is_the_flag_not_the_name() -> None:
    # A localized cluster (pt-BR names its core group "Grupo de Cluster"); a group merely called
    # "Cluster Group" is not the core group unless the dialect says so.
    s = snap(groups=(GroupInfo("Grupo de Cluster", GroupState.Online, "NODE1", is_core=True),
                     GroupInfo("Cluster Group", GroupState.Online, "NODE2")))
    assert s.core_group is not None and s.core_group.name == "Grupo de Cluster"
    assert snap(groups=(GroupInfo("Cluster Group", GroupState.Online, "NODE1"),)).core_group is None


def test_nodes_in_id_order() -> None:
    s = snap(nodes=(NodeInfo("B", NodeState.Up, id="2"), NodeInfo("C", NodeState.Up, id="10"),
                    NodeInfo("A", NodeState.Up, id="1"), NodeInfo("D", NodeState.Up)))
    # Numeric node IDs (as `cluster node` lists them), not text order; a node without an ID last.
    assert [n.name for n in s.nodes_by_id()] == ["A", "B", "C", "D"]


def test_enum_parse_by_lookup_accepts_every_spelling() -> None:
    # Parsing is a dict lookup per row; every spelling the scan accepted still reads the same.
    assert GroupType.parse("100") is GroupType.FileServer  # cluster.exe/CSV digits
    assert GroupType.parse("core_cluster") is GroupType.Cluster  # folded alias
    assert NodeState.parse("-1") is NodeState.Unknown and NodeState.parse(" UP ") is NodeState.Up
    assert GroupState.parse("partially online") is GroupState.PartialOnline
    assert GroupState.parse(99) is GroupState.Unknown and GroupState.parse("") is GroupState.Unknown
    with pytest.raises(TypeError, match="GroupState: cannot read"):
        GroupState.parse(1.5)
