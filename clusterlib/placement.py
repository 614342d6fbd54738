"""Where a group may go: possible owners, preferred owners, load and anti-affinity, from a snapshot."""

from __future__ import annotations

from collections.abc import Iterable

from clusterlib.model import ClusterSnapshot, GroupInfo, NodeState


def candidate_nodes(snapshot: ClusterSnapshot, group: GroupInfo,
                    exclude: Iterable[str] = ()) -> list[str]:
    """Up nodes (not excluded) that may own ``group``, best first.

    Best = no anti-affinity conflict, then earliest in the group's preferred owners, then fewest
    groups, then the cluster's node order. This is the order the cluster's own placement favours
    (reference 1.3: preferred owners, AntiAffinityClassNames); it is deterministic so a plan can
    say in advance where each group will go.
    """
    skip = {e.lower() for e in exclude}
    ups = [n for n in snapshot.nodes if n.state is NodeState.Up and n.name.lower() not in skip
           and group.can_be_owned_by(n.name)]
    preferred = [p.lower() for p in group.preferred_owners]
    load: dict[str, int] = {n.name.lower(): 0 for n in snapshot.nodes}
    conflict: dict[str, int] = {n.name.lower(): 0 for n in snapshot.nodes}
    classes = set(group.anti_affinity)
    for g in snapshot.groups:
        if g.owner is None or g.name == group.name:
            continue
        key = g.owner.lower()
        if key in load:
            load[key] += 1
            if classes and classes & set(g.anti_affinity):
                conflict[key] += 1
    order = {n.name.lower(): i for i, n in enumerate(snapshot.nodes)}

    def rank(name: str) -> tuple[int, int, int, int]:
        key = name.lower()
        pref = preferred.index(key) if key in preferred else len(preferred)
        return (conflict[key], pref, load[key], order[key])

    return sorted((n.name for n in ups), key=rank)


def best_node(snapshot: ClusterSnapshot, group: GroupInfo, exclude: Iterable[str] = ()) -> str | None:
    found = candidate_nodes(snapshot, group, exclude)
    return found[0] if found else None


def evacuation_plan(snapshot: ClusterSnapshot, node: str) -> tuple[dict[str, str], list[str]]:
    """Where each group on ``node`` would go if the node were drained, spreading load as it goes.

    Returns (group -> target, groups with no possible target). Higher Priority groups are placed
    first, as a drain moves them first; the core group goes last.
    """
    placed: dict[str, str] = {}
    stuck: list[str] = []
    working = snapshot
    groups = sorted(snapshot.groups_on(node), key=lambda g: (g.is_core, -g.priority, g.name))
    for g in groups:
        target = best_node(working, g, exclude=[node])
        if target is None:
            stuck.append(g.name)
            continue
        placed[g.name] = target
        working = working.evolve(groups=tuple(
            x if x.name != g.name else _with_owner(x, target) for x in working.groups))
    return placed, stuck


def _with_owner(group: GroupInfo, owner: str) -> GroupInfo:
    import attrs

    return attrs.evolve(group, owner=owner)
