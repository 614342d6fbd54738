"""Moves and drains as the cluster does them, with the refusals and faults a real one gives.

Move-ClusterGroup, Suspend-ClusterNode [-Drain], Resume-ClusterNode [-Failback]."""

from __future__ import annotations

import attrs

from clusterlib import win32
from clusterlib.model import DrainStatus, GroupState, NodeState
from clusterlib.sim.entities import SimGroup, SimNode, group_can_be_owned
from clusterlib.sim.faults import GroupFailsOnline, GroupLocked, NodeCrashesDuringDrain, SimError
from clusterlib.sim.lifecycle import NodeLifecycle


class MovesAndDrains(NodeLifecycle):
    """The group and node operations an administrator (or clusterlib) asks for."""

    def move_group(self, name: str, to: str | None = None, *, ignore_locked: bool = False,
                   wait: float | None = None) -> SimGroup:
        """Move-ClusterGroup / cluster group /moveto. ``wait`` None waits for completion; 0 returns
        at once (the group shows Pending); n waits at most n simulated seconds."""
        with self._lock:
            self.advance()
            self._ensure_up()
            group = self._group(name)
            source = self.nodes.get(group.owner)
            if source is not None and source.state is NodeState.Paused:
                # Draining by pause + moves (cluster.exe has no drain): NodeCrashesDuringDrain
                # fires here too. The crashed node's groups are failing over now.
                self._crash_if_due(source)
            if group.moving_until is not None:
                raise SimError(5908)
            if to is None:
                target = self._best_node(group, exclude=[group.owner])
                if target is None:
                    raise SimError(5005 if self._active_up() else 5050)
            else:
                target = self._node(to)
                if target.state is NodeState.Down or target.state is NodeState.Joining:
                    raise SimError(5050)
                if target.state is NodeState.Paused:
                    raise SimError(5070)
                if not group_can_be_owned(group, target.name):
                    raise SimError(5016)
                blocked = self._data_newer_than(group, target)
                if blocked is not None:
                    self.log("move-refused", group.name, code=5018, node=target.name,
                             resource=blocked.name)
                    raise SimError(5018, f"The {blocked.type} resource '{blocked.name}' of group"
                                   f" '{group.name}' cannot come online on {target.name}"
                                   f" ({target.release.label}): its database was upgraded on a"
                                   " newer node and cannot go back (KB 293302). "
                                   + (win32.message(5018) or ""))
            locked = self._fault(GroupLocked, group=group.name)
            if locked is not None and not ignore_locked:
                self.faults.remove(locked)
                if locked.times > 1:
                    self.faults.append(attrs.evolve(locked, times=locked.times - 1))
                self.log("move-refused", group.name, code=5960)
                raise SimError(5960)
            if target.name == group.owner and group.state is not GroupState.Failed:
                return group
            if source is not None and source.state is NodeState.Paused:
                self._moves_off_paused[source.name] = self._moves_off_paused.get(source.name, 0) + 1
            self._start_move(group, target, reason="move")
        if wait == 0:
            return group
        done = self.wait_until(lambda: group.moving_until is None, wait)
        with self._lock:
            if done and group.state is GroupState.Failed and group.owner == target.name:
                raise SimError(5018, f"An error occurred while moving the clustered role "
                               f"'{group.name}'.\n" + (win32.message(5018) or ""))
            return group

    def _crash_if_due(self, node: SimNode) -> bool:
        """NodeCrashesDuringDrain on a paused node drained by explicit moves: after
        ``after_moves`` groups have left it, the next move away from it crashes it."""
        crash = self._fault(NodeCrashesDuringDrain, node=node.name)
        if crash is None or self._moves_off_paused.get(node.name, 0) < crash.after_moves:
            return False
        self.faults.remove(crash)
        self._crash(node)
        return True

    def pause_node(self, name: str, *, drain: bool = False, force_drain: bool = False,
                   target: str | None = None, wait: bool = False) -> SimNode:
        """Suspend-ClusterNode [-Drain] [-ForceDrain] [-TargetNode] [-Wait] / cluster node /pause.

        Drain moves every non-core group, highest Priority first, ``drain_parallelism`` at a time.
        Whether a real drain also moves the core Cluster Group is unverified (reference section 5
        item 11): the simulator leaves it, so callers must check and move it themselves. A failed
        drain leaves the node Up with DrainStatus Failed, unless ForceDrain, as PauseClusterNodeEx's
        flags suggest ([U], same item).
        """
        with self._lock:
            self.advance()
            self._ensure_up()
            node = self._node(name)
            if node.state is NodeState.Down or node.state is NodeState.Joining:
                raise SimError(5050)
            if drain and not self.drain_supported:
                raise SimError(5904)
            if node.drain_status is DrainStatus.InProgress:
                raise SimError(5962)
            tgt: SimNode | None = None
            if target is not None:
                tgt = self._node(target)
                if tgt is node:
                    raise SimError(114)
                if tgt.state is not NodeState.Up:
                    raise SimError(5005)
            others = self._active_up(exclude=[node.name])
            if drain and not others:
                raise SimError(5050, "No other node is Up to take the node's workloads. "
                               + (win32.message(5050) or ""))
            if node.state is NodeState.Paused and not drain:
                return node
            node.state = NodeState.Paused
            self.log("paused", node.name, drain=drain)
            if drain:
                self._start_drain(node, tgt, force_drain)
        if drain and wait:
            self.wait_until(lambda: node.drain_status is not DrainStatus.InProgress, None)
        return node

    def _start_drain(self, node: SimNode, target: SimNode | None, force: bool) -> None:
        node.drain_status = DrainStatus.InProgress
        node.drain_target = target.id if target else -1
        node.drained_groups = []
        to_move = sorted((g for g in self.groups.values()
                          if g.owner == node.name and not g.is_core),
                         key=lambda g: -g.priority)
        crash = self._fault(NodeCrashesDuringDrain, node=node.name)
        batches = [to_move[i:i + self.drain_parallelism]
                   for i in range(0, len(to_move), self.drain_parallelism)]
        moved = 0

        def run_batch(index: int) -> None:
            nonlocal moved
            if node.drain_status is not DrainStatus.InProgress:
                return
            if index >= len(batches):
                node.drain_status = DrainStatus.Completed
                self.log("drain-completed", node.name)
                return
            longest = 0.0
            failed = False
            for group in batches[index]:
                if group.owner != node.name:
                    continue
                if crash is not None and moved >= crash.after_moves:
                    self.faults.remove(crash)
                    self._crash(node)
                    return
                dest = target if target is not None and group_can_be_owned(group, target.name) \
                    and target.state is NodeState.Up \
                    and self._data_newer_than(group, target) is None \
                    else self._best_node(group, exclude=[node.name])
                if dest is None or self._fault(GroupFailsOnline, group=group.name, node=dest.name):
                    if dest is not None and force:
                        self._start_move(group, dest, reason="force-drain")
                    failed = True
                    self.log("drain-move-failed", group.name, node=node.name)
                    continue
                until = self._start_move(group, dest, reason="drain")
                longest = max(longest, until - self.now())
                node.drained_groups.append(group.name)
                moved += 1
            if failed and not force:
                node.drain_status = DrainStatus.Failed
                node.state = NodeState.Up
                self.log("drain-failed", node.name)
                return
            if failed:
                node.drain_status = DrainStatus.Failed
                self.log("drain-failed", node.name, forced=True)
                return
            self._schedule(longest, lambda: run_batch(index + 1))

        run_batch(0)

    def resume_node(self, name: str, failback: str | None = None) -> SimNode:
        """Resume-ClusterNode [-Failback NoFailback|Immediate|Policy] / cluster node /resume.

        The cmdlet's default when -Failback is omitted is undocumented ([U]); the simulator then
        does not fail back.
        """
        with self._lock:
            self.advance()
            self._ensure_up()
            node = self._node(name)
            if node.state is not NodeState.Paused:
                raise SimError(5058)
            node.state = NodeState.Up
            node.drain_status = DrainStatus.NotInitiated
            node.drain_target = -1
            self._moves_off_paused.pop(node.name, None)
            self.log("resumed", node.name, failback=failback or "")
            mode = (failback or "NoFailback").lower()
            if mode in ("immediate", "policy"):
                for gname in node.drained_groups:
                    g = self.groups.get(gname)
                    if (g is None or g.moving_until is not None
                            or not group_can_be_owned(g, node.name)
                            or self._data_newer_than(g, node) is not None):
                        continue
                    if mode == "policy" and (not g.preferred_owners
                                             or g.preferred_owners[0].lower() != node.name.lower()):
                        continue
                    self._start_move(g, node, reason="failback")
            node.drained_groups = []
            return node
