"""Where a group may go: possible owners, preferred owners, load and anti-affinity, from a snapshot."""

from __future__ import annotations

from collections.abc import Iterable

from clusterlib.model import ClusterSnapshot, GroupInfo, NodeState


def _load(snapshot: ClusterSnapshot) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Groups per node, and per node the count of groups in each anti-affinity class."""
    load: dict[str, int] = {n.name.lower(): 0 for n in snapshot.nodes}
    classes: dict[str, dict[str, int]] = {n.name.lower(): {} for n in snapshot.nodes}
    for g in snapshot.groups:
        key = (g.owner or "").lower()
        if key in load:
            load[key] += 1
            for cls in g.anti_affinity:
                classes[key][cls] = classes[key].get(cls, 0) + 1
    return load, classes


def _order(snapshot: ClusterSnapshot) -> dict[str, int]:
    return {n.name.lower(): i for i, n in enumerate(snapshot.nodes)}


def _rank(snapshot: ClusterSnapshot, group: GroupInfo, exclude: Iterable[str],
          load: dict[str, int], classes: dict[str, dict[str, int]],
          order: dict[str, int] | None = None) -> list[str]:
    skip = {e.lower() for e in exclude}
    preferred = [p.lower() for p in group.preferred_owners]
    own = (group.owner or "").lower()
    where = order if order is not None else _order(snapshot)
    affinity = group.anti_affinity

    def rank(name: str) -> tuple[int, int, int, int]:
        key = name.lower()
        # The group itself is counted on its current owner; do not hold that against the owner.
        mine = 1 if key == own else 0
        conflict = (sum(classes[key].get(c, 0) for c in affinity) - mine * len(affinity)
                    if affinity else 0)
        pref = preferred.index(key) if key in preferred else len(preferred)
        return (conflict, pref, load[key] - mine, where[key])

    ups = [n.name for n in snapshot.nodes if n.state is NodeState.Up and n.name.lower() not in skip
           and group.can_be_owned_by(n.name)]
    return sorted(ups, key=rank)


def candidate_nodes(snapshot: ClusterSnapshot, group: GroupInfo,
                    exclude: Iterable[str] = ()) -> list[str]:
    """Up nodes (not excluded) that may own ``group``, best first.

    Best = no anti-affinity conflict, then earliest in the group's preferred owners, then fewest
    groups, then the cluster's node order. This is the order the cluster's own placement favours
    (reference 1.3: preferred owners, AntiAffinityClassNames); it is deterministic so a plan can
    say in advance where each group will go.
    """
    load, classes = _load(snapshot)
    return _rank(snapshot, group, exclude, load, classes)


def best_node(snapshot: ClusterSnapshot, group: GroupInfo, exclude: Iterable[str] = ()) -> str | None:
    found = candidate_nodes(snapshot, group, exclude)
    return found[0] if found else None


def evacuation_plan(snapshot: ClusterSnapshot, node: str) -> tuple[dict[str, str], list[str]]:
    """Where each group on ``node`` would go if the node were drained, spreading load as it goes.

    Returns (group -> target, groups with no possible target). Higher Priority groups are placed
    first, as a drain moves them first; the core group goes last. Load is updated as groups are
    placed, so thousands of groups cost one pass, not one snapshot copy each.
    """
    placed: dict[str, str] = {}
    stuck: list[str] = []
    load, classes = _load(snapshot)
    source = node.lower()
    groups = sorted(snapshot.groups_on(node), key=lambda g: (g.is_core, -g.priority, g.name))
    order = _order(snapshot)
    for g in groups:
        ranked = _rank(snapshot, g, [node], load, classes, order)
        if not ranked:
            stuck.append(g.name)
            continue
        target = ranked[0]
        placed[g.name] = target
        key = target.lower()
        load[key] += 1
        load[source] -= 1
        for cls in g.anti_affinity:
            classes[key][cls] = classes[key].get(cls, 0) + 1
            classes[source][cls] -= 1
    return placed, stuck
