"""A node's life: crashes, reboots, the installer and its restarts, joins, new nodes, the level.

Joining follows the join rule (cluster_state.can_join); Update-ClusterFunctionalLevel
raises the level once every node runs one release."""

from __future__ import annotations

from clusterlib import win32
from clusterlib.model import DrainStatus, NodeState
from clusterlib.sim.entities import InstallRun, SimNode
from clusterlib.sim.faults import (
    InstallerAnswerLost,
    InstallerFails,
    InstallerHangs,
    NodeNeverReturns,
    NodeReturnsIncompatible,
    SimAnswerLost,
    SimError,
)
from clusterlib.sim.group_placement import Placement
from clusterlib.sim.releases import Release, release


class NodeLifecycle(Placement):
    """Node lifecycle operations; a node going down fails its groups over (Placement)."""

    def _crash(self, node: SimNode) -> None:
        """The node stops abruptly: its groups fail over, and it restarts after its reboot time."""
        self.log("crashed", node.name)
        self._moves_off_paused.pop(node.name, None)
        self._go_down(node)
        if node.drain_status is DrainStatus.InProgress:
            node.drain_status = DrainStatus.Failed
        self._schedule(node.reboot_time, lambda: self._begin_join(node, node.release))

    def reboot_node(self, name: str, *, into: str | Release | None = None,
                    extra_time: float = 0.0) -> SimNode:
        """Restart a node (optionally into another release, as an upgrade does). It goes Down at
        once, comes back Joining after ``reboot_time + extra_time``, then Up or Paused (the paused
        state persists across a reboot), unless the join rule refuses it (Win32 5075)."""
        with self._lock:
            self.advance()
            node = self._node(name)
            if node.state is NodeState.Down or node.rebooting:
                raise SimError(5062 if node.state is NodeState.Down else 5023)
            new_rel: Release = (release(into) if isinstance(into, str) else into) or node.release
            self.log("reboot", node.name, into=new_rel.key)
            node.rebooting = True
            self._go_down(node)
            self._schedule(node.reboot_time + extra_time, lambda: self._begin_join(node, new_rel))
            return node

    def boot_node(self, name: str, *, into: str | Release | None = None) -> SimNode:
        """Power on a node that is Down and not rebooting (it never returned, its join was
        refused, or someone fixed it by hand, optionally reinstalling ``into`` another release).
        It comes back Joining after ``reboot_time`` and joins like after any reboot."""
        with self._lock:
            self.advance()
            node = self._node(name)
            if node.state is not NodeState.Down or node.rebooting:
                raise SimError(5023, f"node {node.name} is {node.state.name}"
                               f"{' and rebooting' if node.rebooting else ''}; only a Down node"
                               " can be powered on")
            new_rel: Release = (release(into) if isinstance(into, str) else into) or node.release
            self.log("boot", node.name, into=new_rel.key)
            node.rebooting = True
            self._schedule(node.reboot_time, lambda: self._begin_join(node, new_rel))
            return node

    def upgrade_node(self, name: str, to: str | None = None, *, install_time: float = 120.0) -> SimNode:
        """What an installer does: reboot the node into ``to`` (default ``upgrade_to``)."""
        with self._lock:
            target = release(to) if to else self.upgrade_to
            if target is None:
                raise SimError(5023, "no upgrade target: build the simulator with upgrade_to=")
            node = self._node(name)
            bad = self._fault(NodeReturnsIncompatible, node=node.name)
            if bad is not None:
                self.faults.remove(bad)
                target = release(bad.release)
            self.log("upgrade-start", node.name, to=target.key)
            return self.reboot_node(node.name, into=target, extra_time=install_time)

    def next_pid(self) -> int:
        """A process id for a program the simulator starts (the wmic channel reports one)."""
        with self._lock:
            return next(self._pids)

    def is_installer(self, line: str) -> bool:
        """Whether ``line`` is this simulator's installer (the ``installer=`` pattern)."""
        return self.installer.search(line) is not None

    def start_installer(self, name: str, line: str) -> tuple[int, str]:
        """What a node does when its shell runs the installer ``line``: ``(exit code, stdout)``.

        The installer starts (logged ``upgrade-start``; ``node.install`` tracks it) and the host
        stays Up, unchanged, for ``install_window`` simulated seconds; then it restarts
        ``restarts`` times (Down throughout: the cluster service does not run during setup's
        offline phases [P]) and joins on ``upgrade_to``. A second start while one runs exits
        1618 (ERROR_INSTALL_ALREADY_RUNNING) and changes nothing. Faults: InstallerFails (exit
        code, nothing changes), InstallerHangs (never restarts; the answer is lost after a while),
        InstallerAnswerLost (runs normally; the answer is lost), NodeReturnsIncompatible."""
        hang: InstallerHangs | None = None
        lost: InstallerAnswerLost | None = None
        with self._lock:
            self.advance()
            node = self._node(name)
            run = node.install
            if run is not None and run.state in ("running", "hung"):
                self.log("installer-refused", node.name, code=1618, pid=run.pid)
                return 1618, ""
            if self.upgrade_to is None:
                # Nothing to install: fail loudly as not simulated, never pretend.
                raise SimError(1, "not simulated: the installer has no upgrade target (build the"
                               " simulator with upgrade_to=)")
            target = self.upgrade_to
            fails = self._fault(InstallerFails, node=node.name)
            pid = next(self._pids)
            if fails is not None:
                node.install = InstallRun(line, target, self.now(), pid, state="failed")
                self.log("installer-failed", node.name, code=fails.exit_code, pid=pid)
                return int(fails.exit_code), ""
            bad = self._fault(NodeReturnsIncompatible, node=node.name)
            if bad is not None:
                self.faults.remove(bad)
                target = release(bad.release)
            hang = self._fault(InstallerHangs, node=node.name)
            run = InstallRun(line, target, self.now(), pid, state="hung" if hang else "running",
                             restarts=self.restarts)
            node.install = run
            self.log("upgrade-start", node.name, to=target.key, pid=pid,
                     window=self.install_window)
            if hang is None:
                started = run
                self._schedule(self.install_window, lambda: self._installer_restart(node, started))
            lost = self._fault(InstallerAnswerLost, node=node.name)
            if lost is not None:
                self.faults.remove(lost)
        if hang is not None:
            self.sleep(hang.answer_after)
            raise SimAnswerLost(node.name, f"{node.name}: the installer (process {pid}) is still"
                                f" running after {hang.answer_after:g}s; no answer")
        if lost is not None:
            self.log("answer-lost", node.name, pid=pid)
            raise SimAnswerLost(node.name, f"{node.name}: the connection dropped before the answer"
                                " to the installer call arrived")
        return 0, (f"Installing {target.label} on {node.name}; the computer will restart in"
                   f" {self.install_window:g}s.\r\n")

    def _installer_restart(self, node: SimNode, run: InstallRun) -> None:
        if node.install is not run or run.state != "running":
            return
        if node.state is NodeState.Down:
            # The host went down by itself meanwhile (a crash); setup resumes when it boots.
            self.log("installer-interrupted", node.name, pid=run.pid)
        else:
            node.rebooting = True
            self._go_down(node)
        run.state = "restarting"
        self.log("reboot", node.name, into=run.target.key, installer=run.pid)
        self._schedule(node.reboot_time, lambda: self._installer_boot(node, run, run.restarts - 1))

    def _installer_boot(self, node: SimNode, run: InstallRun, remaining: int) -> None:
        if node.install is not run:
            return
        if remaining > 0:
            self.log("restart", node.name, installer=run.pid, remaining=remaining)
            self._schedule(node.reboot_time,
                           lambda: self._installer_boot(node, run, remaining - 1))
            return
        run.state = "done"
        self._begin_join(node, run.target)

    def _begin_join(self, node: SimNode, rel: Release) -> None:
        node.release = rel
        if self._fault(NodeNeverReturns, node=node.name):
            node.rebooting = False
            self.log("never-returned", node.name)
            return
        node.state = NodeState.Joining
        self._schedule(node.join_time, lambda: self._finish_join(node))

    def _finish_join(self, node: SimNode) -> None:
        node.rebooting = False
        if not self.can_join(node.release):
            node.state = NodeState.Down
            self.log("join-refused", node.name, code=5075, release=node.release.key)
            return
        node.state = NodeState.Paused if node.paused_before_down else NodeState.Up
        node.paused_before_down = False
        if node.state is NodeState.Up:
            node.drain_status = DrainStatus.NotInitiated
        self.log("joined", node.name, release=node.release.key, state=node.state.name)
        if not self.up and self.has_quorum():
            self.up = True
            for g in self.groups.values():
                g.state = g.persistent_state
            self.log("quorum-regained", self.name)

    def update_functional_level(self, what_if: bool = False) -> int | None:
        """Update-ClusterFunctionalLevel: every node Up (not paused, not down) and on one level."""
        with self._lock:
            self.advance()
            self._ensure_up()
            if any(n.state is not NodeState.Up for n in self.nodes.values()):
                raise SimError(5037)
            levels = {n.release.functional_level for n in self.nodes.values()}
            if None in levels or self.functional_level is None:
                raise SimError(5904)
            if len(levels) != 1:
                raise SimError(5904)
            level = levels.pop()
            assert level is not None
            if not what_if and level != self.functional_level:
                self.log("functional-level", self.name, old=self.functional_level, new=level)
                self.functional_level = level
            return level

    def _too_many(self, count: int) -> str:
        rel = self.initial_release
        facts = rel.facts
        editions = "; ".join(f"{n} {limit}" for n, limit in facts.editions)
        return (f"{count} nodes: a {rel.label}{f' ({self.edition})' if self.edition else ''}"
                f" cluster has at most {self.max_nodes} nodes"
                + (f" (per edition: {editions}; pass edition= to choose)" if editions else "")
                + " (KB 288778; 64 from Windows Server 2012 on)")

    def add_node(self, name: str, *, os: str | None = None) -> SimNode:
        """Add-ClusterNode: a new node (running ``os``, default the cluster's first release) joins.

        Refused with ValueError beyond the release's node limit (KB 288778), for a duplicate name,
        and with SimError 5075 (ERROR_CLUSTER_INCOMPATIBLE_VERSIONS) when the join rule refuses
        its release."""
        with self._lock:
            self.advance()
            self._check_name(name, "node")
            if name.lower() in {n.lower() for n in self.nodes}:
                raise ValueError(f"duplicate node name {name!r}")
            if len(self.nodes) + 1 > self.max_nodes:
                raise ValueError(self._too_many(len(self.nodes) + 1))
            rel = release(os) if os else self.initial_release
            if not self.can_join(rel):
                raise SimError(5075, f"{name} runs {rel.label} and cannot join a cluster of"
                               f" {self._member_labels()}. " + (win32.message(5075) or ""))
            node = SimNode(name=name, id=max(n.id for n in self.nodes.values()) + 1, release=rel)
            self.nodes[name] = node
            self.log("node-added", name, release=rel.key)
            return node
