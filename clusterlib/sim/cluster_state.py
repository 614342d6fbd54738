"""The simulated cluster's ground floor: clock, event log, faults, lookups, versions and quorum.

The version and quorum rules here are the ones every operation consults.

Time: every step has a duration in simulated seconds. The simulated clock runs ``speed`` times
faster than the wall clock, and scheduled transitions (a move finishing, a node coming back from a
reboot) are applied lazily whenever the model is touched, so no background thread is needed.
All public methods take one re-entrant lock, so the WinRM endpoint's worker threads may call in.
"""

from __future__ import annotations

import heapq
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from clusterlib import versions
from clusterlib.model import GroupState, NodeState
from clusterlib.sim.entities import EventLog, SimEvent, SimGroup, SimNode
from clusterlib.sim.faults import (
    Fault,
    GroupFailsOnline,
    GroupLocked,
    GroupSlow,
    SimError,
    fault_subject,
)
from clusterlib.sim.releases import Release


class ClusterState:
    """The state a simulated cluster holds and the rules that only read it. The operations
    (clusterlib.sim.group_placement, lifecycle, moves_and_drains) build on it; SimCluster sets it up."""

    name: str
    speed: float
    language: str
    error_codes: bool
    initial_release: Release
    upgrade_to: Release | None
    installer: re.Pattern[str]
    install_window: float
    restarts: int
    edition: str | None
    max_nodes: int
    drain_parallelism: int
    quorum_type: str
    witness: bool
    dynamic_quorum: bool
    functional_level: int | None
    powershell: bool
    drain_supported: bool
    cluster_exe: bool

    def __init__(self, *, speed: float, event_log_size: int | None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.speed = float(speed)
        self._pids = itertools.count(2004, 4)  # above the fixed system processes tasklist shows
        # Moves away from a paused node per node, for NodeCrashesDuringDrain on clusters drained
        # by pause + moves (cluster.exe has no drain).
        self._moves_off_paused: dict[str, int] = {}
        self._lock = threading.RLock()
        self._t0_wall = time.monotonic()
        self._t_offset = 0.0
        # (thread, due time) while advance() applies a transition: now() for that thread.
        self._applying: tuple[int, float] | None = None
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq: Iterator[int] = itertools.count()
        self.events: EventLog = EventLog(event_log_size)
        self.faults: list[Fault] = []
        self.private_props: dict[str, Any] = {}
        self.up = True  # False once quorum is lost: every command then fails like a dead cluster
        self.nodes: dict[str, SimNode] = {}
        self.groups: dict[str, SimGroup] = {}
        # Lower-case name -> key in self.groups: the duplicate check and the case-insensitive
        # lookup in O(1), so building a cluster is linear in its groups (a set built per
        # add_group made 64 x 32,000 take about a minute). Rebuilt if self.groups was changed
        # behind add_group's back (see _group_index).
        self._group_keys: dict[str, str] = {}

    # ---- time ----

    def now(self) -> float:
        """Simulated seconds since the cluster was created. While :meth:`advance` applies a
        transition, the thread applying it sees the transition's due time instead."""
        applying = self._applying
        if applying is not None and applying[0] == threading.get_ident():
            return applying[1]
        return (time.monotonic() - self._t0_wall) * self.speed + self._t_offset

    def sleep(self, sim_seconds: float) -> None:
        """Sleep for a simulated duration (wall time = sim_seconds / speed)."""
        if sim_seconds > 0:
            time.sleep(sim_seconds / self.speed)

    def jump(self, sim_seconds: float) -> None:
        """Move the simulated clock ``sim_seconds`` ahead at once, without sleeping: what falls
        due meanwhile (an installer's restart, a join) happens at its own due time on the next
        touch, as if that much time had passed. For a test standing for a client whose process
        stalls while the cluster goes on (a paused VM, a long garbage collection)."""
        if not sim_seconds >= 0:  # also refuses NaN
            raise ValueError(f"jump needs simulated seconds >= 0 (the clock never runs"
                             f" backwards), got {sim_seconds!r}")
        with self._lock:
            self._t_offset += float(sim_seconds)

    def _schedule(self, delay: float, action: Callable[[], None]) -> float:
        due = self.now() + max(0.0, delay)
        heapq.heappush(self._queue, (due, next(self._seq), action))
        return due

    def advance(self) -> None:
        """Apply every scheduled transition that is due by now."""
        with self._lock:
            while self._queue and self._queue[0][0] <= self.now():
                due, _seq, action = heapq.heappop(self._queue)
                # Applied at its due time, not when someone next touched the model: what it
                # schedules and logs counts from there, so a chain (installer window, restart,
                # boot, join) keeps physical time however rarely the cluster is read.
                outer, self._applying = self._applying, (threading.get_ident(), due)
                try:
                    action()
                finally:
                    self._applying = outer

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Block (wall clock, scaled) until ``predicate`` holds or ``timeout`` sim seconds pass."""
        deadline = None if timeout is None else self.now() + timeout
        while True:
            with self._lock:
                self.advance()
                if predicate():
                    return True
                next_due = self._queue[0][0] if self._queue else None
            now = self.now()
            if deadline is not None and now >= deadline:
                return False
            if next_due is None and deadline is None:
                return predicate()
            target = min(x for x in (next_due, deadline) if x is not None)
            time.sleep(max(0.0, min(target - now, 5.0)) / self.speed + 0.0002)

    def settle(self, timeout: float = 10_000.0) -> None:
        """Run until nothing is scheduled (bounded by ``timeout`` simulated seconds)."""
        self.wait_until(lambda: not self._queue, timeout)

    # ---- log ----

    def log(self, kind: str, subject: str, **detail: Any) -> None:
        self.events.append(SimEvent(t=round(self.now(), 3), kind=kind, subject=subject,
                                    detail=detail))

    def calls(self, name: str | None = None) -> list[SimEvent]:
        """The commands received, optionally only those of one cmdlet (case-insensitive)."""
        return [e for e in self.events if e.kind == "call"
                and (name is None or e.subject.lower() == name.lower())]

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            for f in faults:
                if isinstance(f, (GroupFailsOnline, GroupSlow, GroupLocked)):
                    self._group(f.group)
                else:
                    self._node(f.node)
                self.faults.append(f)
                self.log("fault", fault_subject(f), fault=type(f).__name__)

    def clear_faults(self, subject: str | None = None) -> None:
        """Remove faults (all, or those of one node/group): "the cause is fixed"."""
        with self._lock:
            key = subject.lower() if subject else None
            self.faults = [f for f in self.faults
                           if key is not None and fault_subject(f).lower() != key]

    def _fault(self, kind: type, **match: str) -> Any:
        for f in self.faults:
            if isinstance(f, kind) and all(getattr(f, k).lower() == v.lower()
                                           for k, v in match.items()):
                return f
        return None

    # ---- lookups ----

    def _node(self, name: str) -> SimNode:
        node = self.nodes.get(name)
        if node is None:
            low = name.lower()
            node = next((n for k, n in self.nodes.items() if k.lower() == low), None)
        if node is None:
            raise SimError(5042, error_id="ClusterNodeNotFound", category="ObjectNotFound")
        return node

    def _group(self, name: str) -> SimGroup:
        group = self.groups.get(name)
        if group is None:
            key = self._group_index().get(name.lower())
            group = self.groups.get(key) if key is not None else None
            if group is None:  # not there, or the index is stale: the old scan decides
                low = name.lower()
                group = next((g for k, g in self.groups.items() if k.lower() == low), None)
        if group is None:
            raise SimError(5013, f"The cluster group '{name}' was not found.",
                           category="ObjectNotFound", error_id="ClusterGroupNotFound")
        return group

    def node(self, name: str) -> SimNode:
        with self._lock:
            self.advance()
            return self._node(name)

    def group(self, name: str) -> SimGroup:
        with self._lock:
            self.advance()
            return self._group(name)

    def _ensure_up(self) -> None:
        if not self.up:
            raise SimError(1753, "The cluster service is not running.  Make sure that the service is"
                           " running on all nodes in the cluster.", category="ConnectionError",
                           error_id="ClusterEndpointNotRegistered")

    def _group_index(self) -> dict[str, str]:
        """The lower-case index of :attr:`groups`, rebuilt when it no longer matches (a test or
        a caller that set ``sim.groups[...]`` directly)."""
        keys = self._group_keys
        if len(keys) != len(self.groups):
            keys.clear()
            keys.update((k.lower(), k) for k in self.groups)
        return keys

    @staticmethod
    def _check_name(name: str, what: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what} name must be a non-empty string, got {name!r}")

    # ---- versions and quorum ----

    def cluster_versions(self) -> tuple[int, int]:
        """(ClusterHighestVersion, ClusterLowestVersion) over the active nodes (reference 3.5)."""
        active = [n for n in self.nodes.values() if n.state in (NodeState.Up, NodeState.Paused)]
        if not active:
            return (0, 0)
        highest = min(n.release.highest.dword for n in active)
        lowest = max(n.release.lowest.dword for n in active)
        return highest, lowest

    def can_join(self, rel: Release) -> bool:
        """The join rule: NodeHighest = ClusterHighest, or NodeLowest = ClusterHighest, or
        NodeHighest = ClusterLowest (version-compatibility page [V]); plus a node below the
        functional level never joins (rolling-upgrade page [V]); plus a mixed cluster exists only
        on a supported rolling path (``clusterlib.versions.upgrade_path``: KB 935197, TechNet
        dn486833), which the releases' ``lowest`` values already encode; checked again here so
        the two can never disagree. Refused joins are Win32 5075."""
        if self.functional_level is not None and (rel.functional_level or 0) < self.functional_level:
            return False
        active = [n for n in self.nodes.values() if n.state in (NodeState.Up, NodeState.Paused)]
        for major in {n.release.highest.major for n in active} - {rel.highest.major}:
            low, high = sorted((major, rel.highest.major))
            if not versions.upgrade_path(low, high).ok:
                return False
        ch, cl = self.cluster_versions()
        if ch == 0:
            return True
        return rel.highest.dword in (ch, cl) or rel.lowest.dword == ch

    def _votes(self) -> tuple[int, int]:
        total = sum(n.node_weight for n in self.nodes.values()) + (1 if self.witness else 0)
        have = sum(n.node_weight for n in self.nodes.values()
                   if n.state in (NodeState.Up, NodeState.Paused)) + (1 if self.witness else 0)
        return have, total

    def has_quorum(self) -> bool:
        active = [n for n in self.nodes.values() if n.state in (NodeState.Up, NodeState.Paused)]
        if not active:
            return False
        if self.quorum_type == "DiskOnly" or self.dynamic_quorum:
            # Disk-only quorum lives while any node owns the disk; dynamic quorum (2012+) lets a
            # cluster run down to the last node when nodes leave one at a time.
            return True
        have, total = self._votes()
        return have * 2 > total

    def _check_quorum(self) -> None:
        if self.up and not self.has_quorum():
            self.up = False
            for g in self.groups.values():
                g.state = GroupState.Offline
            self.log("quorum-lost", self.name)

    def _member_labels(self) -> str:
        labels = sorted({n.release.label for n in self.nodes.values()
                         if n.state in (NodeState.Up, NodeState.Paused)})
        return " and ".join(labels) or "no active node"

    def _has_fl_property(self) -> bool:
        # ClusterFunctionalLevel exists from Windows Server 2016 on (absent in 2012 R2 output).
        return any((n.release.functional_level or 0) >= 9 for n in self.nodes.values())
