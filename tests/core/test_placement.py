"""Where groups go: possible owners, preferred owners, load and anti-affinity."""

from __future__ import annotations

import random

import attrs

from clusterlib import ClusterSnapshot, GroupInfo, GroupState, NodeInfo, NodeState
from clusterlib.placement import best_node, candidate_nodes, evacuation_plan


def snap(groups: list[GroupInfo], states: dict[str, NodeState] | None = None) -> ClusterSnapshot:
    names = ["A", "B", "C"]
    st = states or {}
    return ClusterSnapshot("C", tuple(NodeInfo(n, st.get(n, NodeState.Up)) for n in names), tuple(groups))


def g(name: str, owner: str, **kw: object) -> GroupInfo:
    return GroupInfo(name, GroupState.Online, owner, **kw)  # type: ignore[arg-type]


def test_least_loaded_up_node_wins() -> None:
    s = snap([g("x", "A"), g("y", "B"), g("z", "B")])
    assert best_node(s, s.group("x"), exclude=["A"]) == "C"


def test_preferred_owner_beats_load_and_paused_nodes_are_skipped() -> None:
    s = snap([g("x", "A", preferred_owners=("B", "C")), g("y", "B")])
    assert candidate_nodes(s, s.group("x"), exclude=["A"]) == ["B", "C"]
    paused = snap([g("x", "A", preferred_owners=("B",))], {"B": NodeState.Paused})
    assert candidate_nodes(paused, paused.group("x"), exclude=["A"]) == ["C"]


def test_possible_owners_and_anti_affinity() -> None:
    s = snap([g("x", "A", possible_owners=("A", "B")), g("vm1", "A", anti_affinity=("sql",)),
              g("vm2", "B", anti_affinity=("sql",))])
    assert candidate_nodes(s, s.group("x"), exclude=["A"]) == ["B"]
    assert best_node(s, s.group("vm1"), exclude=["A"]) == "C"  # B already runs a "sql" group


def test_evacuation_spreads_load_and_reports_stuck_groups() -> None:
    groups = [g(f"G{i}", "A") for i in range(6)] + [g("pinned", "A", possible_owners=("A",))]
    placed, stuck = evacuation_plan(snap(groups), "A")
    assert stuck == ["pinned"]
    targets = list(placed.values())
    assert sorted(targets) == ["B", "B", "B", "C", "C", "C"]


def test_evacuation_moves_high_priority_first_and_core_last() -> None:
    groups = [g("core", "A", is_core=True), g("low", "A", priority=1000), g("high", "A", priority=3000)]
    placed, _ = evacuation_plan(snap(groups), "A")
    assert list(placed) == ["high", "low", "core"]


def _reference_evacuation(s: ClusterSnapshot, node: str) -> tuple[dict[str, str], list[str]]:
    """The definition, one group at a time: each goes to candidate_nodes' first choice on the
    snapshot as it stands after the previous moves (quadratic; for checking only)."""
    placed: dict[str, str] = {}
    stuck: list[str] = []
    for grp in sorted(s.groups_on(node), key=lambda x: (x.is_core, -x.priority, x.name)):
        ranked = candidate_nodes(s, s.group(grp.name), exclude=[node])
        if not ranked:
            stuck.append(grp.name)
            continue
        placed[grp.name] = ranked[0]
        s = s.evolve(groups=tuple(attrs.evolve(x, owner=ranked[0]) if x.name == grp.name else x
                                  for x in s.groups))
    return placed, stuck


def test_incremental_evacuation_matches_the_definition() -> None:
    rng = random.Random(11)
    for _case in range(150):
        names = [f"N{i}" for i in range(rng.randint(2, 6))]
        states = {n: rng.choice([NodeState.Up, NodeState.Up, NodeState.Up, NodeState.Paused,
                                 NodeState.Down]) for n in names}
        nodes = tuple(NodeInfo(n, states[n]) for n in names)
        groups = []
        for j in range(rng.randint(0, 25)):
            groups.append(GroupInfo(
                f"G{j}", GroupState.Online, rng.choice(names), priority=rng.choice([1000, 2000, 3000]),
                is_core=(j == 0),
                preferred_owners=tuple(rng.sample(names, rng.randint(0, 2))),
                possible_owners=tuple(rng.sample(names, rng.randint(0, len(names))))
                if rng.random() < 0.3 else (),
                anti_affinity=(rng.choice(["a", "b"]),) if rng.random() < 0.3 else ()))
        s = ClusterSnapshot("C", nodes, tuple(groups))
        node = rng.choice(names)
        assert evacuation_plan(s, node) == _reference_evacuation(s, node), (s, node)
