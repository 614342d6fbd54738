"""The simulated cluster's state and rules: nodes, groups, versions, quorum, time and faults.

This module is the simulator's ``models.py`` (compare moto): it knows the rules and nothing about
PowerShell or cluster.exe syntax. The cmdlet and cluster.exe emulations call its operations, which
raise ``SimError`` carrying the Win32 code the real cluster would report.

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
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

import attrs
from attrs import define, field, frozen

from clusterlib import versions, win32
from clusterlib.model import (
    ClusterSnapshot,
    DrainStatus,
    GroupInfo,
    GroupState,
    GroupType,
    NodeInfo,
    NodeState,
    Priority,
    ResourceInfo,
    ResourceState,
)
from clusterlib.sim import locale as sim_locale
from clusterlib.sim.releases import Release, release


class SimError(Exception):
    """A refusal by the simulated cluster, with the Win32 code a real one would give."""

    def __init__(self, code: int, detail: str | None = None, *, category: str = "NotSpecified",
                 error_id: str = "") -> None:
        self.code = code
        self.detail = detail or win32.message(code) or f"Win32 error {code}"
        self.category = category
        self.error_id = error_id
        super().__init__(self.detail)


class SimAnswerLost(Exception):
    """The simulated host did what it was asked (or started to), but the answer never reaches the
    caller: the connection dropped after the request arrived. The in-process transport turns this
    into ``ConnectionFailed``; the WinRM endpoint drops the connection without answering."""

    def __init__(self, node: str, detail: str) -> None:
        self.node = node
        self.detail = detail
        super().__init__(detail)


class SimHostDown(SimAnswerLost):
    """The host cannot be reached at all (it is Down): nothing was done. A subclass of
    SimAnswerLost so a front end that drops the connection for one does so for both."""


# --- faults --------------------------------------------------------------------------------------


@frozen
class GroupFailsOnline:
    """The group cannot come online on ``node``: a move there leaves it Failed (Win32 5018)."""

    group: str
    node: str


@frozen
class GroupSlow:
    """Moving the group takes ``extra`` more simulated seconds than its move time."""

    group: str
    extra: float


@frozen
class GroupLocked:
    """The next ``times`` moves of the group are refused with 5960 (resource locked status)
    unless -IgnoreLocked is given."""

    group: str
    times: int = 1


@frozen
class NodeNeverReturns:
    """After its next reboot the node stays Down."""

    node: str


@frozen
class NodeReturnsIncompatible:
    """After its next upgrade the node comes back running ``release`` instead of the target."""

    node: str
    release: str


@frozen
class NodeCrashesDuringDrain:
    """The node goes Down after ``after_moves`` groups have left it in a drain, then restarts."""

    node: str
    after_moves: int = 1


@frozen
class InstallerFails:
    """The installer run on ``node`` exits with ``exit_code`` (1603, ERROR_INSTALL_FAILURE, by
    default) without changing anything; every later run fails too, until the fault is cleared."""

    node: str
    exit_code: int = 1603


@frozen
class InstallerHangs:
    """The installer on ``node`` starts and never finishes: the node stays Up on its old release
    and never restarts. The call that started it gets no answer: it blocks ``answer_after``
    simulated seconds (the caller's read timeout, as a WinRM client polling a process that never
    exits would see it), then the answer is lost (:class:`SimAnswerLost`)."""

    node: str
    answer_after: float = 300.0


@frozen
class InstallerAnswerLost:
    """The next installer call on ``node`` starts the installer (which then runs its course:
    window, restarts, new release), but its answer is lost (:class:`SimAnswerLost`). Fires once."""

    node: str


Fault = (GroupFailsOnline | GroupSlow | GroupLocked | NodeNeverReturns | NodeReturnsIncompatible
         | NodeCrashesDuringDrain | InstallerFails | InstallerHangs | InstallerAnswerLost)


# --- defaults ------------------------------------------------------------------------------------

#: The programs taken for an installer when ``SimCluster(installer=)`` is not given: ``setup.exe``
#: (Windows Server 2008 and later media; ``setup`` without ``.exe`` too, as cmd.exe finds it),
#: ``winnt32.exe`` (Windows 2000/2003 media, ``D:\i386\winnt32.exe /unattend``), ``wusa.exe`` or
#: an ``.msu`` package (Windows Update Standalone Installer, 2008 and later), ``update.exe`` and
#: hotfix/service-pack packages named ``...KB<number>...exe`` (2000/2003), with or without a path
#: or quotes, optionally after ``cmd /c``. Matched at the start of the line, so ``echo setup.exe``
#: is not an installer.
DEFAULT_INSTALLER = (
    r'^\s*(?:cmd(?:\.exe)?\s+/c\s+)?'
    r'(?:"(?:[^"]*[\\/])?(?:(?:setup|winnt32|update|wusa)(?:\.exe)?|[^"\\/]*\.msu'
    r'|[^"\\/]*KB\d+[^"\\/]*\.exe)"'
    r'|(?:[^\s"]*[\\/])?(?:(?:setup|winnt32|update|wusa)(?:\.exe)?|[^\s"\\/]*\.msu'
    r'|[^\s"\\/]*KB\d+[^\s"\\/]*\.exe))(?=\s|$)'
)

#: Simulated seconds the host stays Up after the installer starts, before its first restart.
#: A real OS upgrade copies files for tens of minutes first; two simulated minutes keep the
#: default test run fast (0.12 s of wall time at the default speed of 1000) while still giving
#: a caller a window in which the node is Up, unchanged, with the installer running.
DEFAULT_INSTALL_WINDOW = 120.0

#: Entries kept in ``SimCluster.events`` by default (a ring buffer: the newest are kept). A whole
#: rolling upgrade of 64 nodes and 640 groups logs about 28,700 entries (measured), so a test's
#: audit of one run sees everything; a long-running ``sim serve`` stays bounded (about 16 entries
#: per snapshot would otherwise grow without end) at roughly 20 MB (about 425 bytes an entry).
DEFAULT_EVENT_LOG_SIZE = 50_000

#: The host that serves a cluster whose nodes have no WinRM (Windows 2000/2003): a management
#: host with the cluster tools and wmic, where ``cluster.exe /cluster:NAME`` speaks RPC to the
#: cluster (reference section 7, [P]).
MANAGEMENT_HOST = "MGMT01"

# Resource types whose data is upgraded in place when they come online on a newer node, so they
# cannot fail back to an older one (KB 293302: DHCP and WINS, Windows 2000 / 2003 mixed cluster).
DATA_UPGRADED_TYPES = frozenset({"dhcp service", "wins service"})


# --- entities ------------------------------------------------------------------------------------


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


# --- the cluster ---------------------------------------------------------------------------------


class SimCluster:
    """A simulated failover cluster.

    ``layout`` maps node names to the names of the groups each owns, e.g.
    ``SimCluster({"N1": ["a"], "N2": []})``. A core "Cluster Group" is added on the first node
    unless the layout names one. ``os`` is the Windows release every node runs ("2000" .. "2025");
    ``upgrade_to`` is the release an upgrade action installs. ``speed`` is how many simulated
    seconds pass per wall-clock second.

    The installer: a command line run on a node's shell that matches ``installer`` (a regular
    expression searched case-insensitively; default :data:`DEFAULT_INSTALLER`: ``setup.exe``,
    ``winnt32.exe``, ``wusa.exe`` or an ``.msu`` package, ``update.exe``) starts the upgrade to
    ``upgrade_to``. The host stays Up for ``install_window`` simulated seconds (default
    :data:`DEFAULT_INSTALL_WINDOW`), then restarts ``restarts`` times and joins on the new
    release. Any other program is not an installer and changes nothing.

    Limits: a layout with more nodes than the release's edition allows is refused (``edition``
    picks it where editions differ: Windows 2000 Advanced Server 2 nodes, the default, Datacenter
    Server 4; KB 288778). ``event_log_size`` bounds :attr:`events` (a ring buffer; None keeps
    everything; default :data:`DEFAULT_EVENT_LOG_SIZE`).

    Languages: ``language`` ("en-US", "pt-BR", "de-DE", "zh-TW"; default
    :data:`clusterlib.sim.locale.DEFAULT_LANGUAGE`) is the cluster's UI language: error messages
    (PowerShell error records, cluster.exe's error text) and the core group's name are in it;
    ``available_storage=True`` adds the "Available Storage" group (2008 on), named in it too.
    ``error_codes=False`` makes PowerShell error records carry their text only, with no Win32
    code (NativeErrorCode/HResult), the worst case for a client that classifies errors.
    """

    def __init__(
        self,
        layout: Mapping[str, Sequence[str]],
        *,
        name: str = "CLUSTER1",
        os: str = "2016",
        upgrade_to: str | None = None,
        speed: float = 1000.0,
        quorum: str | None = None,
        witness: bool = True,
        dynamic_quorum: bool | None = None,
        drain_parallelism: int = 4,
        core_group: bool = True,
        installer: str | re.Pattern[str] | None = None,
        install_window: float | None = None,
        restarts: int = 1,
        edition: str | None = None,
        event_log_size: int | None = DEFAULT_EVENT_LOG_SIZE,
        language: str | None = None,
        error_codes: bool | None = None,
        available_storage: bool = False,
    ) -> None:
        # The UI language (clusterlib.sim.locale): error messages and the core and storage
        # group names are in it. error_codes=False: PowerShell error records carry only their
        # text, no NativeErrorCode/HResult (what a real record carries over PSRP is [U]).
        self.language = sim_locale.check_language(language)
        self.error_codes = sim_locale.DEFAULT_ERROR_CODES if error_codes is None else bool(error_codes)
        if not layout:
            raise ValueError("a simulated cluster needs at least one node")
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.name = name
        self.speed = float(speed)
        self.initial_release = release(os)
        self.upgrade_to = release(upgrade_to) if upgrade_to else None
        try:
            self.installer = (installer if isinstance(installer, re.Pattern)
                              else re.compile(installer or DEFAULT_INSTALLER, re.IGNORECASE))
        except re.error as exc:
            raise ValueError(f"installer pattern {installer!r} is not a valid regular expression:"
                             f" {exc}") from None
        self.install_window = (DEFAULT_INSTALL_WINDOW if install_window is None
                               else float(install_window))
        if self.install_window < 0:
            raise ValueError(f"install_window must be >= 0 simulated seconds, got {install_window!r}")
        if not isinstance(restarts, int) or restarts < 1:
            raise ValueError(f"restarts must be a whole number >= 1, got {restarts!r}")
        self.restarts = restarts
        self.edition = edition
        self.max_nodes = (self.initial_release.max_nodes if edition is None
                          else versions.max_nodes(self.initial_release.highest.major, edition))
        if len(layout) > self.max_nodes:
            raise ValueError(self._too_many(len(layout)))
        self._pids = itertools.count(2004, 4)  # above the fixed system processes tasklist shows
        # Moves away from a paused node per node, for NodeCrashesDuringDrain on clusters drained
        # by pause + moves (cluster.exe has no drain).
        self._moves_off_paused: dict[str, int] = {}
        self.drain_parallelism = max(1, drain_parallelism)
        self._lock = threading.RLock()
        self._t0_wall = time.monotonic()
        self._t_offset = 0.0
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
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
        legacy = self.initial_release.functional_level is None
        self.quorum_type = quorum or ("DiskOnly" if legacy and not self.initial_release.powershell
                                      else "NodeAndFileShareMajority" if witness else "NodeMajority")
        self.witness = witness and self.quorum_type != "NodeMajority"
        self.dynamic_quorum = (dynamic_quorum if dynamic_quorum is not None
                               else self.initial_release.drain)  # dynamic quorum came with 2012
        self.functional_level = self.initial_release.functional_level
        # What the endpoint offers is fixed by the OS it was built with, as on a real host.
        self.powershell = self.initial_release.powershell
        self.drain_supported = self.initial_release.drain
        self.cluster_exe = self.initial_release.cluster_exe

        for idx, (node_name, group_names) in enumerate(layout.items(), start=1):
            self._check_name(node_name, "node")
            if node_name.lower() in {n.lower() for n in self.nodes}:
                raise ValueError(f"duplicate node name {node_name!r}")
            self.nodes[node_name] = SimNode(name=node_name, id=idx, release=self.initial_release)
            for gname in group_names:
                self.add_group(gname, owner=node_name)
        core_name = sim_locale.core_group(self.language)
        if core_group and not any(g.lower() in ("cluster group", core_name.lower())
                                  for g in self.groups):
            first = next(iter(self.nodes))
            core_resources = [SimResource("Cluster Name", "Network Name"),
                              SimResource("Cluster IP Address", "IP Address")]
            if not self.powershell and self.quorum_type == "DiskOnly":
                # The quorum disk lives in the core group (setup's default), so cluster.exe's
                # /quorum leads to the core group whatever its localized name (the disk's name is
                # the one the simulated /quorum prints).
                core_resources.insert(0, SimResource("Disk Q:", "Physical Disk"))
            self.add_group(core_name, owner=first, is_core=True, group_type=GroupType.Cluster,
                           priority=int(Priority.High), resources=core_resources)
        if available_storage and self.initial_release.key not in ("2000", "2003"):
            # Windows Server 2008 on: unassigned cluster disks sit in "Available Storage",
            # named in the UI language. IsCoreGroup of it on a real cluster is [U]; not core here.
            self.add_group(sim_locale.available_storage(self.language), owner=next(iter(self.nodes)),
                           group_type=GroupType.AvailableStorage, priority=int(Priority.Low),
                           resources=[SimResource("Cluster Disk 2", "Physical Disk")])

    # ---- construction helpers ----

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

    def _member_labels(self) -> str:
        labels = sorted({n.release.label for n in self.nodes.values()
                         if n.state in (NodeState.Up, NodeState.Paused)})
        return " and ".join(labels) or "no active node"

    @staticmethod
    def _check_name(name: str, what: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what} name must be a non-empty string, got {name!r}")

    def add_group(self, name: str, *, owner: str, state: GroupState = GroupState.Online,
                  priority: int = int(Priority.Medium), is_core: bool = False,
                  group_type: GroupType = GroupType.GenericService,
                  preferred_owners: Iterable[str] = (), possible_owners: Iterable[str] = (),
                  anti_affinity: Iterable[str] = (), move_time: float = 2.0,
                  resources: list[SimResource] | None = None) -> SimGroup:
        """Add a group (with one resource unless ``resources`` is given)."""
        with self._lock:
            self._check_name(name, "group")
            keys = self._group_index()
            if name.lower() in keys:
                raise ValueError(f"duplicate group name {name!r}")
            owner_node = self._node(owner)
            res = resources if resources is not None else [
                SimResource(f"{name} Resource", "Generic Service")]
            if possible_owners:
                for r in res:
                    r.possible_owners = list(possible_owners)
            for r in res:
                if r.type.lower() in DATA_UPGRADED_TYPES and state is GroupState.Online:
                    r.data_major = max(r.data_major, owner_node.release.highest.major)
            group = SimGroup(name=name, owner=owner_node.name, state=state, priority=priority,
                             is_core=is_core, group_type=group_type,
                             preferred_owners=list(preferred_owners),
                             anti_affinity=list(anti_affinity), resources=res,
                             move_time=move_time, persistent_state=state)
            self.groups[name] = group
            keys[name.lower()] = name
            return group

    def _group_index(self) -> dict[str, str]:
        """The lower-case index of :attr:`groups`, rebuilt when it no longer matches (a test or
        a caller that set ``sim.groups[...]`` directly)."""
        keys = self._group_keys
        if len(keys) != len(self.groups):
            keys.clear()
            keys.update((k.lower(), k) for k in self.groups)
        return keys

    @classmethod
    def classic(cls, os: str = "2000", upgrade_to: str | None = None, **kwargs: Any) -> SimCluster:
        """The two-node cluster of the classic Windows 2000 -> 2003 rolling upgrade.

        NODE1 owns "SQL Group 1" and "SQL Group 2", NODE2 owns "File Group 3" and "File Group 4",
        and NODE1 holds the core "Cluster Group".
        """
        if upgrade_to is None:
            nxt = {"2000": "2003"}.get(os)
            upgrade_to = nxt
        sim = cls({"NODE1": [], "NODE2": []}, os=os, upgrade_to=upgrade_to, **kwargs)
        for gname, owner in (("SQL Group 1", "NODE1"), ("SQL Group 2", "NODE1"),
                             ("File Group 3", "NODE2"), ("File Group 4", "NODE2")):
            gtype = GroupType.GenericService if gname.startswith("SQL") else GroupType.FileServer
            prio = int(Priority.High) if gname.startswith("SQL") else int(Priority.Medium)
            sim.add_group(gname, owner=owner, group_type=gtype, priority=prio,
                          preferred_owners=[owner, "NODE2" if owner == "NODE1" else "NODE1"])
        return sim

    @classmethod
    def build(cls, nodes: int, groups: int, *, os: str = "2016", upgrade_to: str | None = None,
              **kwargs: Any) -> SimCluster:
        """A larger layout: ``nodes`` nodes NODE01.., ``groups`` groups spread round-robin."""
        if nodes < 1 or groups < 0:
            raise ValueError("build() needs nodes >= 1 and groups >= 0")
        width = max(2, len(str(nodes)))
        names = [f"NODE{i:0{width}d}" for i in range(1, nodes + 1)]
        layout: dict[str, list[str]] = {n: [] for n in names}
        gwidth = max(4, len(str(groups)))
        for i in range(groups):
            layout[names[i % nodes]].append(f"Group {i + 1:0{gwidth}d}")
        sim = cls(layout, os=os, upgrade_to=upgrade_to, **kwargs)
        prios = (int(Priority.High), int(Priority.Medium), int(Priority.Low))
        for i, g in enumerate(sim.groups.values()):
            if not g.is_core:
                g.priority = prios[i % 3]
        return sim

    # ---- time ----

    def now(self) -> float:
        """Simulated seconds since the cluster was created."""
        return (time.monotonic() - self._t0_wall) * self.speed + self._t_offset

    def sleep(self, sim_seconds: float) -> None:
        """Sleep for a simulated duration (wall time = sim_seconds / speed)."""
        if sim_seconds > 0:
            time.sleep(sim_seconds / self.speed)

    def _schedule(self, delay: float, action: Callable[[], None]) -> float:
        due = self.now() + max(0.0, delay)
        heapq.heappush(self._queue, (due, next(self._seq), action))
        return due

    def advance(self) -> None:
        """Apply every scheduled transition that is due by now."""
        with self._lock:
            while self._queue and self._queue[0][0] <= self.now():
                _due, _seq, action = heapq.heappop(self._queue)
                action()

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
                self.log("fault", _fault_subject(f), fault=type(f).__name__)

    def clear_faults(self, subject: str | None = None) -> None:
        """Remove faults (all, or those of one node/group): "the cause is fixed"."""
        with self._lock:
            key = subject.lower() if subject else None
            self.faults = [f for f in self.faults
                           if key is not None and _fault_subject(f).lower() != key]

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

    # ---- placement ----

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

    # ---- operations: groups ----

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

    # ---- operations: nodes ----

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

    def _crash(self, node: SimNode) -> None:
        """The node stops abruptly: its groups fail over, and it restarts after its reboot time."""
        self.log("crashed", node.name)
        self._moves_off_paused.pop(node.name, None)
        self._go_down(node)
        if node.drain_status is DrainStatus.InProgress:
            node.drain_status = DrainStatus.Failed
        self._schedule(node.reboot_time, lambda: self._begin_join(node, node.release))

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

    # ---- reading ----

    def snapshot(self) -> ClusterSnapshot:
        """The model's own view as library records (for tests: the ground truth)."""
        with self._lock:
            self.advance()
            nodes = tuple(NodeInfo(name=n.name, id=str(n.id), state=n.state,
                                   drain_status=n.drain_status, os_version=n.release.os,
                                   highest_version=n.release.highest,
                                   lowest_version=n.release.lowest, node_weight=n.node_weight,
                                   dynamic_weight=n.node_weight)
                          for n in self.nodes.values())
            groups = tuple(GroupInfo(name=g.name, state=g.state, owner=g.owner, priority=g.priority,
                                     is_core=g.is_core, group_type=g.group_type,
                                     preferred_owners=g.preferred_owners,
                                     possible_owners=g.possible_owners,
                                     anti_affinity=g.anti_affinity)
                           for g in self.groups.values())
            resources = tuple(ResourceInfo(name=r.name, group=g.name, state=r.state,
                                           resource_type=r.type, owner=g.owner)
                              for g in self.groups.values() for r in g.resources)
            return ClusterSnapshot(name=self.name, nodes=nodes, groups=groups, resources=resources,
                                   functional_level=self.functional_level
                                   if self._has_fl_property() else None,
                                   quorum_type=self.quorum_type, dynamic_quorum=self.dynamic_quorum,
                                   witness=self.witness)

    def _has_fl_property(self) -> bool:
        # ClusterFunctionalLevel exists from Windows Server 2016 on (absent in 2012 R2 output).
        return any((n.release.functional_level or 0) >= 9 for n in self.nodes.values())

    def serve(self, **options: Any) -> Any:
        """Serve this cluster over a loopback WinRM endpoint: ``with sim.serve() as endpoint:``
        (see ``clusterlib.sim.endpoint``)."""
        from clusterlib.sim.endpoint import serve

        return serve(self, **options)

    def __repr__(self) -> str:
        return (f"<SimCluster {self.name!r} nodes={len(self.nodes)} groups={len(self.groups)}"
                f" os={self.initial_release.key} speed={self.speed:g}>")


def _fault_subject(fault: Fault) -> str:
    if isinstance(fault, (GroupFailsOnline, GroupSlow, GroupLocked)):
        return fault.group
    return fault.node


def group_can_be_owned(group: SimGroup, node: str) -> bool:
    possible = group.possible_owners
    return not possible or node.lower() in possible

