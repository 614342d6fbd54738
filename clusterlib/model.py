"""Frozen snapshot records of a cluster: nodes, groups, resources, versions and their states."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs
from attrs import field, frozen

_T = TypeVar("_T")

# Words other front ends print for a state, folded to lower case without spaces.
_ALIASES: dict[str, dict[str, str]] = {
    "GroupState": {"partiallyonline": "PartialOnline"},
    "GroupType": {"corecluster": "Cluster"},
}


# Per enum class: integer -> member, and every accepted spelling -> member (the names as
# printed, their folded forms and the aliases). Built on first parse, so a row costs dict
# lookups, not a scan of the members (8,000 rows made that half of a snapshot's parse time).
_LOOKUPS: dict[type, tuple[dict[int, Any], dict[str, Any]]] = {}


def _lookups(cls: type[_PSEnum]) -> tuple[dict[int, Any], dict[str, Any]]:
    found = _LOOKUPS.get(cls)
    if found is None:
        by_value: dict[int, Any] = {}
        by_text: dict[str, Any] = {}
        for member in cls:
            by_value.setdefault(member.value, member)
            by_text.setdefault(member.name, member)
            by_text.setdefault(member.name.lower(), member)
        for alias, name in _ALIASES.get(cls.__name__, {}).items():
            by_text.setdefault(alias, cls[name])
        found = _LOOKUPS[cls] = (by_value, by_text)
    return found


class _PSEnum(enum.Enum):
    """An enum whose member names are the strings PowerShell prints and whose values are the
    integers ConvertTo-Json writes."""

    @classmethod
    def parse(cls, raw: Any) -> Any:
        """Accept the PowerShell name, its integer, or a cluster.exe word; unknown -> Unknown."""
        if isinstance(raw, cls):
            return raw
        if isinstance(raw, bool):
            raise TypeError(f"{cls.__name__}: unexpected boolean {raw!r}")
        by_value, by_text = _lookups(cls)
        if isinstance(raw, int):
            return by_value.get(raw, cls["Unknown"])
        if isinstance(raw, str):
            found = by_text.get(raw)
            if found is not None:
                return found
            key = raw.replace(" ", "").replace("_", "").lower()
            found = by_text.get(key)
            if found is not None:
                return found
            if key.lstrip("-").isdigit():
                return cls.parse(int(key))
            return cls["Unknown"]
        raise TypeError(f"{cls.__name__}: cannot read {raw!r}")

    def __str__(self) -> str:
        return self.name


class NodeState(_PSEnum):
    """CLUSTER_NODE_STATE (reference 1.2, verified)."""

    Unknown = -1
    Up = 0
    Down = 1
    Paused = 2
    Joining = 3


class DrainStatus(_PSEnum):
    """NodeDrainStatus, Windows Server 2012+ (reference 1.2, verified)."""

    NotInitiated = 0
    InProgress = 1
    Completed = 2
    Failed = 3
    Unknown = -1


class GroupState(_PSEnum):
    """CLUSTER_GROUP_STATE as msclus/ClusResGroup number it (reference 1.3).

    cluster.exe prints "Partially Online" for PartialOnline (documented in the 2003 help, not seen
    in a real capture).
    """

    Unknown = -1
    Online = 0
    Offline = 1
    Failed = 2
    PartialOnline = 3
    Pending = 4


class GroupType(_PSEnum):
    """CLUSGROUP_TYPE (reference 1.3); the values a maintenance tool cares about."""

    Unknown = 9999
    Cluster = 1
    AvailableStorage = 2
    Temporary = 3
    ClusterSharedVolume = 4
    ClusterStoragePool = 5
    FileServer = 100
    DhcpServer = 102
    # clusapi.h CLUSGROUP_TYPE as published on learn.microsoft.com ("CLUSGROUP_TYPE enumeration").
    StandAloneDfs = 106
    GenericApplication = 107
    GenericService = 108
    GenericScript = 109
    VirtualMachine = 111


class ResourceState(_PSEnum):
    """Resource states as PowerShell names them."""

    Unknown = -1
    Online = 2
    Offline = 3
    Failed = 4
    Pending = 128
    OnlinePending = 129
    OfflinePending = 130


class Priority(enum.IntEnum):
    """Group Priority values (reference 1.3): drain moves High first."""

    NoAutoStart = 0
    Low = 1000
    Medium = 2000
    High = 3000


@frozen(order=True)
class OSVersion:
    """The node's Windows version: MajorVersion, MinorVersion, BuildNumber, CSDVersion."""

    major: int
    minor: int
    build: int = 0
    csd: str = ""

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.build}"
        return f"{text} {self.csd}" if self.csd else text


@frozen(order=True)
class ServiceVersion:
    """A cluster-service version DWORD: upper 16 bits major, lower 16 bits minor (build).

    (reference 3.5, verified: Version = (major << 16) | minor)
    """

    major: int
    minor: int

    @classmethod
    def from_dword(cls, value: int) -> ServiceVersion:
        return cls(major=(value >> 16) & 0xFFFF, minor=value & 0xFFFF)

    @property
    def dword(self) -> int:
        return (self.major << 16) | self.minor

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def _tuple_of_str(value: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(value or ())


def _tuple_or_none(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@frozen
class NodeInfo:
    name: str
    state: NodeState
    id: str = ""
    drain_status: DrainStatus = DrainStatus.NotInitiated
    os_version: OSVersion | None = None
    highest_version: ServiceVersion | None = None
    lowest_version: ServiceVersion | None = None
    node_weight: int = 1
    dynamic_weight: int = 1

    @property
    def is_up(self) -> bool:
        return self.state is NodeState.Up

    def __repr__(self) -> str:
        return f"<Node {self.name!r} {self.state.name}>"


@frozen
class GroupInfo:
    name: str
    state: GroupState
    owner: str | None
    #: None: not read. Group priority exists from Windows Server 2012 (Get-ClusterGroup's
    #: Priority property); cluster.exe clusters (Windows 2000, 2003, 2008) have none, and a
    #: record never invents one.
    priority: int | None = int(Priority.Medium)
    is_core: bool = False
    group_type: GroupType = GroupType.Unknown
    #: None: not read (a snapshot taken without ``owners=True``, or an object the listing could
    #: not name); ``()``: read, and the group has no preferred owners.
    preferred_owners: tuple[str, ...] | None = field(default=(), converter=_tuple_or_none)
    # Nodes that may own the group (from its resources' possible owners). Empty means "any node".
    possible_owners: tuple[str, ...] = field(default=(), converter=_tuple_of_str)
    anti_affinity: tuple[str, ...] = field(default=(), converter=_tuple_of_str)

    @property
    def preferences(self) -> tuple[str, ...]:
        """The preferred owners for decisions: none where they were not read."""
        return self.preferred_owners or ()

    @property
    def priority_or_default(self) -> int:
        """The priority for ordering: Medium (2000, every group's default where priority
        exists) where none was read, so groups without one keep their relative order."""
        return int(Priority.Medium) if self.priority is None else self.priority

    def can_be_owned_by(self, node: str) -> bool:
        return not self.possible_owners or node.lower() in {n.lower() for n in self.possible_owners}

    def __repr__(self) -> str:
        return f"<Group {self.name!r} {self.state.name} on {self.owner}>"


def expected_state(group: GroupInfo) -> GroupState:
    """The state a moved group must reach on its target: the state it had (Online, Offline,
    PartialOnline), or Online for a group that was Failed or in transit (Pending, Unknown)."""
    return (group.state if group.state in (GroupState.Online, GroupState.Offline,
                                           GroupState.PartialOnline) else GroupState.Online)


@frozen
class ResourceInfo:
    name: str
    group: str
    state: ResourceState
    resource_type: str = ""
    owner: str | None = None

    def __repr__(self) -> str:
        return f"<Resource {self.name!r} {self.state.name} in {self.group!r}>"


@frozen
class Health:
    """The health verdict of a snapshot: ``ok`` and the reasons it is not."""

    ok: bool
    problems: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return "healthy" if self.ok else "unhealthy: " + "; ".join(self.problems)


class _Index:
    """Name lookups over one snapshot, built once (a plan asks for thousands of groups by name;
    a dict per call made planning quadratic in groups)."""

    __slots__ = ("groups", "groups_folded", "nodes", "nodes_folded")

    def __init__(self, nodes: tuple[NodeInfo, ...], groups: tuple[GroupInfo, ...]) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.nodes_folded: dict[str, NodeInfo] = {}
        for n in nodes:
            self.nodes.setdefault(n.name, n)
            self.nodes_folded.setdefault(n.name.lower(), n)
        self.groups: dict[str, GroupInfo] = {}
        self.groups_folded: dict[str, GroupInfo] = {}
        for g in groups:
            self.groups.setdefault(g.name, g)
            self.groups_folded.setdefault(g.name.lower(), g)


def _owned(groups: tuple[GroupInfo, ...]) -> dict[str, tuple[GroupInfo, ...]]:
    owned: dict[str, list[GroupInfo]] = {}
    for g in groups:
        owned.setdefault((g.owner or "").lower(), []).append(g)
    return {k: tuple(v) for k, v in owned.items()}


def _node_id_key(item: tuple[int, NodeInfo]) -> tuple[int, int, int]:
    index, node = item
    text = node.id.strip()
    return (0, int(text), index) if text.isdigit() else (1, 0, index)


@frozen
class ClusterSnapshot:
    """Everything a decision needs about a cluster at one moment, read in one round trip."""

    name: str
    nodes: tuple[NodeInfo, ...]
    groups: tuple[GroupInfo, ...]
    resources: tuple[ResourceInfo, ...] = ()
    functional_level: int | None = None
    dialect: str = ""
    quorum_type: str = ""  # NodeMajority, NodeAndDiskMajority, NodeAndFileShareMajority, DiskOnly
    dynamic_quorum: bool = False
    witness: bool = False
    # Indexes and derived answers, each built on first use and kept with the frozen record;
    # evolve() makes a new record, so a fresh cache. Not part of equality, hashing or repr.
    _index: dict[str, Any] = field(factory=dict, init=False, eq=False, repr=False)

    def cached(self, key: str, build: Callable[[], _T]) -> _T:
        """``build()`` once per snapshot under ``key`` (for answers derived only from this
        snapshot, such as a planner's predicted sequence); later calls return the same object,
        which callers must treat as read-only."""
        try:
            return self._index[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._index[key] = build()
            return value

    def _lookup(self) -> _Index:
        return self.cached("names", lambda: _Index(self.nodes, self.groups))

    def node(self, name: str) -> NodeInfo:
        """The node called ``name`` (exact spelling first, then case-insensitive, as Windows
        compares names); NodeNotFound lists the valid names."""
        from clusterlib.errors import NodeNotFound

        index = self._lookup()
        found = index.nodes.get(name) or index.nodes_folded.get(name.lower())
        if found is None:
            raise NodeNotFound(name, [n.name for n in self.nodes])
        return found

    def group(self, name: str) -> GroupInfo:
        """The group called ``name`` (exact spelling first, then case-insensitive);
        GroupNotFound lists the valid names."""
        from clusterlib.errors import GroupNotFound

        index = self._lookup()
        found = index.groups.get(name) or index.groups_folded.get(name.lower())
        if found is None and self.dialect == "clusterexe" and name.strip(" \t") != name:
            # cluster.exe's fixed-width listing cannot show a name's leading or trailing blanks
            # ("Data " lists as "Data"): a name that differs from exactly one listed group only
            # by those blanks is that group, under the caller's exact name, which cluster.exe
            # commands then use as given.
            bare = name.strip(" \t").lower()
            same = [g for g in self.groups if g.name.lower() == bare]
            if len(same) == 1:
                return attrs.evolve(same[0], name=name)
        if found is None:
            raise GroupNotFound(name, [g.name for g in self.groups])
        return found

    def groups_on(self, node: str) -> tuple[GroupInfo, ...]:
        return self.cached("owned", lambda: _owned(self.groups)).get(node.lower(), ())

    @property
    def core_group(self) -> GroupInfo | None:
        """The core group (cluster name, IP and, on most clusters, the quorum resource), as the
        dialect flagged it: IsCoreGroup in PowerShell, the quorum resource's group in cluster.exe.
        Never found by its name, which Windows localizes."""
        return next((g for g in self.groups if g.is_core), None)

    def nodes_by_id(self) -> tuple[NodeInfo, ...]:
        """The nodes in node-ID order, as ``cluster node`` and Get-ClusterNode list them (numeric,
        so 10 follows 9); nodes without a numeric ID keep their listed order, last."""
        return tuple(n for _i, n in sorted(enumerate(self.nodes), key=_node_id_key))

    def placement(self) -> dict[str, str | None]:
        """Who owns what: group name -> owner node name."""
        return {g.name: g.owner for g in self.groups}

    @property
    def up_nodes(self) -> tuple[NodeInfo, ...]:
        return tuple(n for n in self.nodes if n.state is NodeState.Up)

    @property
    def mixed_version(self) -> bool:
        versions = {n.highest_version for n in self.nodes if n.highest_version is not None}
        return len(versions) > 1

    def keeps_quorum_without(self, node: str) -> bool:
        """Whether the cluster keeps quorum if ``node`` goes down (reference section 4).

        A paused node still votes; only Down/Joining nodes do not. Disk-only quorum (2000/2003)
        survives while any node runs; dynamic quorum (2012+) lets the cluster run down to the last
        node when nodes leave one at a time; otherwise a strict majority of votes must remain.
        """
        self.node(node)
        remaining = [n for n in self.nodes
                     if n.name.lower() != node.lower() and n.state in (NodeState.Up, NodeState.Paused)]
        if not remaining:
            return False
        if self.quorum_type == "DiskOnly" or self.dynamic_quorum:
            return True
        total = sum(n.node_weight for n in self.nodes) + (1 if self.witness else 0)
        have = sum(n.node_weight for n in remaining) + (1 if self.witness else 0)
        return have * 2 > total

    def health(self) -> Health:
        """Healthy: every node Up and not draining, no group Failed, PartialOnline or Pending."""
        problems: list[str] = []
        for n in self.nodes:
            if n.state is not NodeState.Up:
                problems.append(f"node {n.name} is {n.state.name}")
            elif n.drain_status is DrainStatus.InProgress:
                problems.append(f"node {n.name} is draining")
        for g in self.groups:
            if g.state in (GroupState.Failed, GroupState.PartialOnline, GroupState.Pending,
                           GroupState.Unknown):
                problems.append(f"group {g.name} is {g.state.name}")
        return Health(ok=not problems, problems=tuple(problems))

    def evolve(self, **changes: Any) -> ClusterSnapshot:
        return attrs.evolve(self, **changes)

    def __repr__(self) -> str:
        return (f"<ClusterSnapshot {self.name!r} nodes={len(self.nodes)} groups={len(self.groups)}"
                f" {'healthy' if self.health().ok else 'unhealthy'}>")


def slot_setters(cls: type, names: Iterable[str]) -> tuple[Callable[[Any, Any], None], ...]:
    """The setters of the fields ``names`` of the frozen, slotted record ``cls``, which must be
    every field of it (else TypeError, so a field added later cannot be left unset), for a parser that
    builds thousands of records from values it has just converted itself: ``object.__new__(cls)``
    then one setter per field, so no converter or validator runs again (the attrs ``__init__``
    with its converters was half the cost of reading 8,000 groups). The caller sets every field
    with a value of its declared type; anything else goes through ``cls(...)``."""
    wanted = tuple(names)
    fields = attrs.fields(cls)
    if any(not f.init for f in fields) or sorted(wanted) != sorted(f.name for f in fields):
        raise TypeError(f"{cls.__name__}: fields {[f.name for f in fields]} must all be set,"
                        f" got {list(wanted)}; use {cls.__name__}(...)")
    return tuple(cls.__dict__[name].__set__ for name in wanted)  # the slots' descriptors
