"""Where a group may go: possible owners, preferred owners, load and anti-affinity, from a snapshot."""

from __future__ import annotations

import heapq
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
    preferred = [p.lower() for p in group.preferences]
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
    return PlacementState(snapshot).evacuate(node)


class PlacementState:
    """Who owns what, the load and the anti-affinity classes per node, kept up to date move by
    move: a planner predicting a whole sequence of drains pays O(groups) once, then only for the
    groups that move (O(log nodes) each), instead of a snapshot copy per node.

    The choice is ``candidate_nodes``'s, best first: no anti-affinity conflict, then earliest
    preferred owner, then fewest groups, then the cluster's node order. Candidates are the nodes
    Up in the snapshot (a paused or down node takes no group)."""

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        self.order = {n.name.lower(): i for i, n in enumerate(snapshot.nodes)}
        self.names = {n.name.lower(): n.name for n in snapshot.nodes}
        self.up = [n.name.lower() for n in snapshot.nodes if n.state is NodeState.Up]
        self.groups = {g.name: g for g in snapshot.groups}
        self.owner: dict[str, str | None] = {g.name: g.owner for g in snapshot.groups}
        self.on: dict[str, dict[str, None]] = {k: {} for k in self.order}
        self.changes: dict[str, str | None] = {}  # group -> owner, moved since take_changes()
        self.load, self.classes = _load(snapshot)
        for g in snapshot.groups:
            key = (g.owner or "").lower()
            if key in self.on:
                self.on[key][g.name] = None

    def placement(self) -> dict[str, str | None]:
        """Group name -> owner, now."""
        return dict(self.owner)

    def take_changes(self) -> dict[str, str | None]:
        """The groups moved (group -> new owner) since the last call; starts a new record."""
        changes, self.changes = self.changes, {}
        return changes

    def move(self, group: str, node: str) -> None:
        """Record ``group`` as owned by ``node`` (a node of the snapshot)."""
        g = self.groups[group]
        source, target = (self.owner.get(group) or "").lower(), node.lower()
        if source == target:
            return
        if source in self.on:
            self.on[source].pop(group, None)
            self.load[source] -= 1
            for cls in g.anti_affinity:
                self.classes[source][cls] -= 1
        self.on[target][group] = None
        self.load[target] += 1
        for cls in g.anti_affinity:
            self.classes[target][cls] = self.classes[target].get(cls, 0) + 1
        self.owner[group] = self.changes[group] = self.names[target]

    def evacuate(self, node: str) -> tuple[dict[str, str], list[str]]:
        """Move every group off ``node`` to its best Up node, highest Priority first and the core
        group last; returns (group -> target, groups no other node may own)."""
        source = node.lower()
        eligible = [k for k in self.up if k != source]
        heap = [(self.load[k], self.order[k], k) for k in eligible]
        heapq.heapify(heap)
        groups = sorted((self.groups[name] for name in self.on.get(source, {})),
                        key=lambda g: (g.is_core, -g.priority_or_default, g.name))
        placed: dict[str, str] = {}
        stuck: list[str] = []
        for g in groups:
            target = self._best(g, source, eligible, heap)
            if target is None:
                stuck.append(g.name)
                continue
            self.move(g.name, target)
            placed[g.name] = self.names[target]
            heapq.heappush(heap, (self.load[target], self.order[target], target))
        return placed, stuck

    def _best(self, g: GroupInfo, source: str, eligible: list[str],
              heap: list[tuple[int, int, str]]) -> str | None:
        def ok(k: str) -> bool:
            return k in self.order and k != source and k in eligible_set and g.can_be_owned_by(k)

        eligible_set = set(eligible) if g.anti_affinity or g.preferred_owners \
            or g.possible_owners else set()
        if g.anti_affinity:
            preferred = [p.lower() for p in g.preferences]

            def rank(k: str) -> tuple[int, int, int, int]:
                conflict = sum(self.classes[k].get(c, 0) for c in g.anti_affinity)
                pref = preferred.index(k) if k in preferred else len(preferred)
                return (conflict, pref, self.load[k], self.order[k])

            found = [k for k in eligible if g.can_be_owned_by(k)]
            return min(found, key=rank) if found else None
        for p in g.preferences:
            if ok(p.lower()):
                return p.lower()
        if g.possible_owners:
            found = [k for k in {p.lower() for p in g.possible_owners} if ok(k)]
            return min(found, key=lambda k: (self.load[k], self.order[k])) if found else None
        while heap:
            load, _order_index, k = heap[0]
            if load == self.load[k]:
                return k
            heapq.heappop(heap)  # stale: the node took a group since this entry was pushed
        return None
