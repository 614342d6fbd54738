"""The simulated failover cluster: ``SimCluster`` builds one from a layout and offers every rule.

This module is the simulator's ``models.py`` (compare moto): it knows the rules and nothing about
PowerShell or cluster.exe syntax. The cmdlet and cluster.exe emulations call its operations, which
raise ``SimError`` carrying the Win32 code the real cluster would report. The rules live in
rooms SimCluster inherits, bottom up: clusterlib.sim.cluster_state (clock, log, faults, lookups,
versions and quorum), group_placement (where a group goes), lifecycle (crashes, reboots, the
installer, joins), moves_and_drains. The entities are in clusterlib.sim.entities, the refusals and faults
in clusterlib.sim.faults; both are importable from here as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from clusterlib import versions
from clusterlib.model import (
    ClusterSnapshot,
    GroupInfo,
    GroupState,
    GroupType,
    NodeInfo,
    Priority,
    ResourceInfo,
)
from clusterlib.sim import locale as sim_locale
from clusterlib.sim.entities import (
    DATA_UPGRADED_TYPES,
    EventLog,
    InstallRun,
    SimEvent,
    SimGroup,
    SimNode,
    SimResource,
    group_can_be_owned,
)
from clusterlib.sim.faults import (
    Fault,
    GroupFailsOnline,
    GroupLocked,
    GroupSlow,
    InstallerAnswerLost,
    InstallerFails,
    InstallerHangs,
    NodeCrashesDuringDrain,
    NodeNeverReturns,
    NodeReturnsIncompatible,
    SimAnswerLost,
    SimError,
    SimHostDown,
)
from clusterlib.sim.moves_and_drains import MovesAndDrains
from clusterlib.sim.releases import WMF51_RELEASES, Release, release

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


# --- the cluster ---------------------------------------------------------------------------------


class SimCluster(MovesAndDrains):
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

    Windows PowerShell: each node runs the one its release ships (2008 R2 2.0, 2012 3.0, 2012 R2
    4.0, 2016 on 5.1; see :meth:`powershell_version`); ``wmf51=True`` models WMF 5.1 installed on
    the nodes whose release takes it (2008 R2 SP1, 2012, 2012 R2), which then run 5.1.
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
        wmf51: bool = False,
    ) -> None:
        # The UI language (clusterlib.sim.locale): error messages and the core and storage
        # group names are in it. error_codes=False: PowerShell error records carry only their
        # text, no NativeErrorCode/HResult (what a real record carries over PSRP is [U]).
        self.language = sim_locale.check_language(language)
        self.error_codes = sim_locale.DEFAULT_ERROR_CODES if error_codes is None else bool(error_codes)
        if not layout:
            raise ValueError("a simulated cluster needs at least one node")
        super().__init__(speed=speed, event_log_size=event_log_size)
        self.name = name
        self.wmf51 = bool(wmf51)
        self._set_releases(os, upgrade_to, edition, len(layout))
        self._set_installer(installer, install_window, restarts)
        self.drain_parallelism = max(1, drain_parallelism)
        self._set_quorum(quorum, witness, dynamic_quorum)
        for idx, (node_name, group_names) in enumerate(layout.items(), start=1):
            self._check_name(node_name, "node")
            if node_name.lower() in {n.lower() for n in self.nodes}:
                raise ValueError(f"duplicate node name {node_name!r}")
            self.nodes[node_name] = SimNode(name=node_name, id=idx, release=self.initial_release)
            for gname in group_names:
                self.add_group(gname, owner=node_name)
        self._add_setup_groups(core_group, available_storage)

    # ---- construction helpers ----

    def _set_releases(self, os: str, upgrade_to: str | None, edition: str | None,
                      count: int) -> None:
        self.initial_release = release(os)
        self.upgrade_to = release(upgrade_to) if upgrade_to else None
        self.edition = edition
        self.max_nodes = (self.initial_release.max_nodes if edition is None
                          else versions.max_nodes(self.initial_release.highest.major, edition))
        if count > self.max_nodes:
            raise ValueError(self._too_many(count))
        self.functional_level = self.initial_release.functional_level
        # What the endpoint offers is fixed by the OS it was built with, as on a real host.
        self.powershell = self.initial_release.powershell
        self.drain_supported = self.initial_release.drain
        self.cluster_exe = self.initial_release.cluster_exe

    def _set_installer(self, installer: str | re.Pattern[str] | None,
                       install_window: float | None, restarts: int) -> None:
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

    def _set_quorum(self, quorum: str | None, witness: bool, dynamic_quorum: bool | None) -> None:
        legacy = self.initial_release.functional_level is None
        self.quorum_type = quorum or ("DiskOnly" if legacy and not self.initial_release.powershell
                                      else "NodeAndFileShareMajority" if witness else "NodeMajority")
        self.witness = witness and self.quorum_type != "NodeMajority"
        self.dynamic_quorum = (dynamic_quorum if dynamic_quorum is not None
                               else self.initial_release.drain)  # dynamic quorum came with 2012

    def _add_setup_groups(self, core_group: bool, available_storage: bool) -> None:
        """The groups setup creates: the core group (unless the layout names one) and, when
        asked, "Available Storage"."""
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

    def powershell_version(self, node: str | None = None) -> tuple[int, int]:
        """The Windows PowerShell (major, minor) a PowerShell session on ``node`` runs, or, for
        the cluster's own endpoint (``node`` None), the lowest among the cluster's nodes now.

        The lowest, not the node the cluster's name happens to lead to: a client connected to
        the cluster cannot choose which node answers, so the simulator is never more permissive
        than the least capable node present (a 2012 R2 -> 2016 upgrade answers as 4.0 until the
        last 2012 R2 node is upgraded). It follows the nodes' releases as they change, so a
        caller asks at each invocation (the endpoint's PSRP shell asks once, when it opens, as a
        real runspace is fixed when it opens). Releases ship 2.0 (2008 R2), 3.0 (2012), 4.0
        (2012 R2), 5.1 (2016 on) (learn.microsoft.com, "Windows PowerShell System
        Requirements"); ``wmf51`` lifts 2008 R2/2012/2012 R2 nodes to 5.1."""
        def of(rel: Release) -> tuple[int, int]:
            return (5, 1) if self.wmf51 and rel.key in WMF51_RELEASES else rel.powershell_version

        if node is not None:
            return of(self._node(node).release)
        return min(of(n.release) for n in list(self.nodes.values()))

    def serve(self, **options: Any) -> Any:
        """Serve this cluster over a loopback WinRM endpoint: ``with sim.serve() as endpoint:``
        (see ``clusterlib.sim.endpoint``)."""
        from clusterlib.sim.endpoint import serve

        return serve(self, **options)

    def __repr__(self) -> str:
        return (f"<SimCluster {self.name!r} nodes={len(self.nodes)} groups={len(self.groups)}"
                f" os={self.initial_release.key} speed={self.speed:g}>")


__all__ = [
    "DATA_UPGRADED_TYPES", "DEFAULT_EVENT_LOG_SIZE", "DEFAULT_INSTALLER", "DEFAULT_INSTALL_WINDOW",
    "MANAGEMENT_HOST", "EventLog", "Fault", "GroupFailsOnline", "GroupLocked", "GroupSlow",
    "InstallRun", "InstallerAnswerLost", "InstallerFails", "InstallerHangs",
    "NodeCrashesDuringDrain", "NodeNeverReturns", "NodeReturnsIncompatible", "SimAnswerLost",
    "SimCluster", "SimError", "SimEvent", "SimGroup", "SimHostDown", "SimNode", "SimResource",
    "group_can_be_owned",
]
