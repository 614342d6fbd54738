"""Where a group goes: choosing a node, moving the group there, failing over from a node gone down."""

from __future__ import annotations

from collections.abc import Iterable

from clusterlib.model import GroupState, NodeState, ResourceState
from clusterlib.sim.cluster_state import ClusterState
from clusterlib.sim.entities import DATA_UPGRADED_TYPES, SimGroup, SimNode, SimResource
from clusterlib.sim.faults import GroupFailsOnline, GroupSlow


class Placement(ClusterState):
    """The placement rules: preferred and possible owners, load, anti-affinity, KB 293302."""

    def _active_up(self, exclude: Iterable[str] = ()) -> list[SimNode]:
        skip = {e.lower() for e in exclude}
        return [n for n in self.nodes.values() if n.state is NodeState.Up and n.name.lower() not in skip]

    def _best_node(self, group: SimGroup, exclude: Iterable[str] = (),
                   allow_paused: bool = False) -> SimNode | None:
        candidates = self._active_up(exclude)
        if not candidates and allow_paused:
            skip = {e.lower() for e in exclude}
            candidates = [n for n in self.nodes.values()
                          if n.state is NodeState.Paused and n.name.lower() not in skip]
        possible = {p.lower() for p in group.possible_owners}
        if possible:
            candidates = [n for n in candidates if n.name.lower() in possible]
        candidates = [n for n in candidates if self._data_newer_than(group, n) is None]
        if not candidates:
            return None
        preferred = [p.lower() for p in group.preferred_owners]
        load = {n.name: 0 for n in candidates}
        conflict = {n.name: 0 for n in candidates}
        for g in self.groups.values():
            if g.owner in load and g is not group:
                load[g.owner] += 1
                if set(g.anti_affinity) & set(group.anti_affinity):
                    conflict[g.owner] += 1

        def rank(n: SimNode) -> tuple[int, int, int, int]:
            pref = preferred.index(n.name.lower()) if n.name.lower() in preferred else len(preferred)
            return (conflict[n.name], pref, load[n.name], n.id)

        return min(candidates, key=rank)

    def _data_newer_than(self, group: SimGroup, node: SimNode) -> SimResource | None:
        """A DHCP or WINS resource of ``group`` whose database a newer release already upgraded
        (KB 293302: no failback from a Windows Server 2003 node to a Windows 2000 node)."""
        for res in group.resources:
            if res.type.lower() in DATA_UPGRADED_TYPES and res.data_major > node.release.highest.major:
                return res
        return None

    def _start_move(self, group: SimGroup, target: SimNode, reason: str) -> float:
        source = group.owner
        if group.state is not GroupState.Failed and group.state is not GroupState.Pending:
            group.persistent_state = group.state
        elif group.state is GroupState.Failed:
            group.persistent_state = GroupState.Online
        group.owner = target.name
        group.state = GroupState.Pending if group.persistent_state is not GroupState.Offline \
            else GroupState.Offline
        slow = self._fault(GroupSlow, group=group.name)
        duration = group.move_time + (slow.extra if slow else 0.0)
        group.move_generation += 1
        gen = group.move_generation
        group.moving_until = self.now() + duration
        self.log("move-start", group.name, source=source, target=target.name, reason=reason)

        def finish() -> None:
            if group.move_generation != gen:
                return
            group.moving_until = None
            owner = self.nodes[group.owner]
            if owner.state is not NodeState.Up and owner.state is not NodeState.Paused:
                return  # the owner went down meanwhile; its failover already re-placed the group
            if self._fault(GroupFailsOnline, group=group.name, node=owner.name):
                group.state = GroupState.Failed
                for r in group.resources:
                    r.state = ResourceState.Failed
                self.log("online-failed", group.name, node=owner.name, code=5018)
            else:
                group.state = group.persistent_state
                for r in group.resources:
                    r.state = (ResourceState.Online if group.state is GroupState.Online
                               else ResourceState.Offline)
                    if r.state is ResourceState.Online and r.type.lower() in DATA_UPGRADED_TYPES:
                        r.data_major = max(r.data_major, owner.release.highest.major)
                self.log("moved", group.name, node=owner.name, state=group.state.name)

        self._schedule(duration, finish)
        return group.moving_until


    def _go_down(self, node: SimNode) -> None:
        node.paused_before_down = node.state is NodeState.Paused or node.paused_before_down
        node.state = NodeState.Down
        self._check_quorum()
        for group in list(self.groups.values()):
            if group.owner != node.name:
                continue
            dest = self._best_node(group, exclude=[node.name], allow_paused=True)
            if dest is None:
                group.state = GroupState.Offline
                group.moving_until = None
                continue
            if dest.state is NodeState.Paused:
                # Groups may land on a paused node when no node is Up, but do not come online.
                group.owner = dest.name
                group.state = GroupState.Offline
                continue
            self._start_move(group, dest, reason="failover")
