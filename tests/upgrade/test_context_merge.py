"""The run's merge of remembered owner lists into each new read keeps every other field."""

from __future__ import annotations

import attrs

from clusterlib.model import ClusterSnapshot, GroupInfo, GroupState, GroupType
from clusterlib.upgrade.context import RunContext


def test_merge_keeps_every_field_but_the_owner_lists() -> None:
    """_merged builds records with GroupInfo's constructor, positionally (cheaper than
    attrs.evolve): a field added to GroupInfo, or a reordering, must not shift a value."""
    fields = [a.name for a in attrs.fields(GroupInfo)]
    assert fields[-3:] == ["preferred_owners", "possible_owners", "anti_affinity"]
    g = GroupInfo("G1", GroupState.PartialOnline, "N2", priority=3000, is_core=True,
                  group_type=GroupType.FileServer)
    run = object.__new__(RunContext)  # only .owners is read by _merged
    run.owners = {"G1": (("N1",), ("N1", "N2"), ("class-a",))}
    snap = ClusterSnapshot(name="C", nodes=(), groups=(g,))
    (merged,) = run._merged(snap).groups
    expected = attrs.evolve(g, preferred_owners=("N1",), possible_owners=("N1", "N2"),
                            anti_affinity=("class-a",))
    assert merged == expected
    assert {f: getattr(merged, f) for f in fields[:-3]} == {f: getattr(g, f) for f in fields[:-3]}
