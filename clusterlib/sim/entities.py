"""The simulated cluster's entities: nodes, groups, resources, installer runs and the event log."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

from attrs import define, field, frozen

from clusterlib.model import DrainStatus, GroupState, GroupType, NodeState, Priority, ResourceState
from clusterlib.sim.releases import Release

# Resource types whose data is upgraded in place when they come online on a newer node, so they
# cannot fail back to an older one (KB 293302: DHCP and WINS, Windows 2000 / 2003 mixed cluster).
DATA_UPGRADED_TYPES = frozenset({"dhcp service", "wins service"})

@frozen
class SimEvent:
    """One entry of the simulator's event log. ``kind`` "call" records a command exactly as it
    was received (cmdlet name and parameter values, or the raw cmd.exe line)."""

    t: float
    kind: str
    subject: str
    detail: Mapping[str, Any] = field(factory=dict)


class EventLog(Sequence[SimEvent]):
    """The simulator's event log: a ring buffer keeping the newest ``maxlen`` entries.

    Indexes are absolute, so code that remembers ``before = len(sim.events)`` and later reads
    ``sim.events[before:]`` keeps working: ``len()`` counts every entry ever logged, an index or
    slice reaches only entries still kept (older ones were dropped; a slice starting before the
    oldest kept entry starts there), iteration yields the kept entries, oldest first.
    ``dropped`` says how many were let go. ``maxlen=None`` keeps everything.
    """

    def __init__(self, maxlen: int | None) -> None:
        if maxlen is not None and maxlen < 1:
            raise ValueError(f"event_log_size must be a positive number of entries or None,"
                             f" got {maxlen!r}")
        self.maxlen = maxlen
        self._items: deque[SimEvent] = deque(maxlen=maxlen)
        self._total = 0

    def append(self, event: SimEvent) -> None:
        self._items.append(event)
        self._total += 1

    @property
    def dropped(self) -> int:
        return self._total - len(self._items)

    def __len__(self) -> int:
        return self._total

    def __iter__(self) -> Iterator[SimEvent]:
        return iter(list(self._items))

    @overload
    def __getitem__(self, index: int) -> SimEvent: ...

    @overload
    def __getitem__(self, index: slice) -> list[SimEvent]: ...

    def __getitem__(self, index: int | slice) -> SimEvent | list[SimEvent]:
        first = self.dropped
        if isinstance(index, slice):
            start, stop, step = index.indices(self._total)
            kept = list(self._items)
            return [kept[i - first] for i in range(start, stop, step) if i >= first]
        i = index + self._total if index < 0 else index
        if not first <= i < self._total:
            raise IndexError(f"event {index} is not kept (kept: {first}..{self._total - 1})")
        return self._items[i - first]

    def __repr__(self) -> str:
        return f"<EventLog {len(self._items)} kept of {self._total} (maxlen={self.maxlen})>"


@define
class SimNode:
    name: str
    id: int
    release: Release
    state: NodeState = NodeState.Up
    drain_status: DrainStatus = DrainStatus.NotInitiated
    drain_target: int = -1
    node_weight: int = 1
    reboot_time: float = 60.0
    join_time: float = 5.0
    # Groups a drain took away, for Resume-ClusterNode -Failback Immediate.
    drained_groups: list[str] = field(factory=list)
    paused_before_down: bool = False
    rebooting: bool = False
    # The installer last started on this node (None: never), for tests and the shell.
    install: InstallRun | None = None

    def version_props(self) -> dict[str, str | int]:
        """The node's version properties as both front ends (cmdlets, cluster.exe /prop) show
        them: the OS version and the cluster-service version DWORDs."""
        rel = self.release
        return {
            "NodeHighestVersion": rel.highest.dword,
            "NodeLowestVersion": rel.lowest.dword,
            "MajorVersion": rel.os.major,
            "MinorVersion": rel.os.minor,
            "BuildNumber": rel.os.build,
            "CSDVersion": rel.os.csd,
        }


@define
class InstallRun:
    """One installer started on a node: ``state`` is "running" (the host is still Up, copying
    files), "restarting", "done" (joined on ``target``), "failed" or "hung"."""

    line: str
    target: Release
    started: float
    pid: int
    state: str = "running"
    restarts: int = 1


@define
class SimResource:
    name: str
    type: str
    state: ResourceState = ResourceState.Online
    possible_owners: list[str] = field(factory=list)
    # For resource types whose data is upgraded in place (DHCP, WINS): the newest cluster-service
    # major the resource has been online on (KB 293302: it cannot go back to an older node).
    data_major: int = 0


@define
class SimGroup:
    name: str
    owner: str
    state: GroupState = GroupState.Online
    priority: int = int(Priority.Medium)
    is_core: bool = False
    group_type: GroupType = GroupType.Unknown
    preferred_owners: list[str] = field(factory=list)
    anti_affinity: list[str] = field(factory=list)
    resources: list[SimResource] = field(factory=list)
    move_time: float = 2.0
    # The state the group returns to after a move or failover (what it was before the move).
    persistent_state: GroupState = GroupState.Online
    moving_until: float | None = None
    move_generation: int = 0

    @property
    def possible_owners(self) -> list[str]:
        owners: set[str] | None = None
        for res in self.resources:
            if res.possible_owners:
                names = {n.lower() for n in res.possible_owners}
                owners = names if owners is None else owners & names
        return sorted(owners) if owners is not None else []


def group_can_be_owned(group: SimGroup, node: str) -> bool:
    """Whether ``node`` is a possible owner of every resource of ``group`` (no list: any node)."""
    possible = group.possible_owners
    return not possible or node.lower() in possible
