"""Public facts about Windows cluster releases: versions, node limits, tools and upgrade paths.

One place for what Microsoft documents about each release a cluster can run, each fact with its
public source and how sure it is: ``verified`` (stated in the cited source), ``inferred`` (follows
from cited sources, not stated in one sentence) or ``unverified``. The simulator
(``clusterlib.sim.releases``) and the upgrade preflight read these facts; nothing here talks to a
cluster.

Sources (all public):

* clusapi.h, ``CLUSTER_VERSION_*`` defines ("these defines represent cluster numbers, not windows
  OS numbers"): cluster-service majors NT4 1, NT4 SP4 2, Windows 2000 3, 2003 4, 2008 5, 2008 R2 6,
  2012 7, 2012 R2 8, 2016 9, 2019 10, 2022 11, 2025 12 [verified]. The minors of 2000 (2195) and
  2003 (3790) also appear in [MS-CMRP] 2.2.3.3; the minors of 2016 and later differ between
  [MS-CMRP] and clusapi.h [unverified]: the values below are [MS-CMRP]'s.
* Version compatibility ("Nodes running different versions of the Cluster service are compatible
  only if the difference between their major versions is 1 or less"):
  https://learn.microsoft.com/previous-versions/windows/desktop/mscs/version-compatibility
* Rolling upgrades: Windows 2000 whitepaper bb742504 (NT4 SP4 -> 2000); TechNet cc737035,
  cc779712, cc759785, cc781579 (2000 -> 2003); KB 174799 (service packs, 13 steps); KB 301538
  (NT4 -> 2003 not rolling: "a two version difference ... in the Cluster service"); KB 935197 and
  TechNet cc754506 (2003 -> 2008: no rolling upgrade, no mixed cluster); TechNet dn486833 and the
  cluster migration guides (2008 -> 2008 R2 -> 2012 -> 2012 R2: migration to a new cluster);
  "Cluster operating system rolling upgrade",
  https://learn.microsoft.com/windows-server/failover-clustering/cluster-operating-system-rolling-upgrade
  (2012 R2 -> 2016 and onward).
* Windows Server 2025: the same page (ms.date 3/19/2025) says "You can upgrade the cluster one OS
  version at a time, such as from Windows Server 2022 to Windows Server 2025. To upgrade across
  multiple OS versions, such as from Windows Server 2016 to Windows Server 2025, perform the steps
  in this article for each version", and the 2025 Update-ClusterFunctionalLevel help lists only
  the one-step pairs (2012 R2 -> 2016, 2016 -> 2019, 2019 -> 2022, 2022 -> 2025). So 2025 allows
  N-1 only, like its predecessors [verified].
* Node limits: KB 288778 and TechNet cc787244 (NT4 Enterprise 2; Windows 2000 Advanced Server 2,
  Datacenter Server 4; Windows Server 2003 Enterprise and Datacenter 8; 2008 x64 and 2008 R2 16)
  [verified]; 64 nodes from Windows Server 2012 on (product documentation) [inferred].
* WinRM: WS-Management's product list ([MS-WSMV] appendix) starts at Windows Server 2003 R2;
  Windows 2000 is not listed, so a Windows 2000 node has no WinRM listener [inferred]; Windows
  Server 2003 SP2 gets WinRM 2.0 only with the WMF 2.0 add-on (KB 968930), so no listener by
  default [inferred]; Windows Server 2008 ships WinRM (listener configured with ``winrm
  quickconfig``), 2012 and later enable it by default [inferred].
* FailoverClusters PowerShell module: Windows Server 2008 R2 and later; ``Suspend-ClusterNode
  -Drain``: 2012 and later (PowerShell module docs) [verified]. cluster.exe: NT4 SP3 to 2008 R2;
  deprecated in 2012 (optional "Failover Cluster Command Interface" feature, not installed by
  default) [verified for the deprecation, inferred for "absent by default"].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeVar

from attrs import field, frozen

__all__ = [
    "RELEASES",
    "PathKind",
    "PathVerdict",
    "WindowsRelease",
    "lookup_release",
    "max_nodes",
    "release_for_key",
    "release_for_major",
    "release_for_os",
    "upgrade_path",
]

PathKind = Literal["service-pack", "rolling", "migration"]
Certainty = Literal["verified", "inferred", "unverified"]
_R = TypeVar("_R")


@frozen
class WindowsRelease:
    """One Windows release as a cluster node runs it.

    ``cluster_major``/``cluster_minor`` are the cluster-service version (NodeHighestVersion =
    ``major << 16 | minor``); ``os_major``/``os_minor``/``build`` the OS version a node reports
    (the release's first build; service packs raise it on 6.x: 2008 6001/6002, 2008 R2 7600/7601).
    ``max_nodes`` is the most nodes any edition allows; ``editions`` gives the per-edition limit
    where editions differ. ``winrm``: a WinRM listener exists by default; ``powershell``: the
    FailoverClusters module; ``drain``: ``Suspend-ClusterNode -Drain``; ``cluster_exe``: cluster.exe
    installed by default.
    """

    key: str
    label: str
    cluster_major: int
    os_major: int
    os_minor: int
    build: int
    max_nodes: int
    winrm: bool
    powershell: bool
    drain: bool
    cluster_exe: bool
    cluster_minor: int = 0
    functional_level: int | None = None
    editions: tuple[tuple[str, int], ...] = field(factory=tuple)
    csd: str = ""  # the service pack the simulator's nodes report by default
    sources: str = ""

    @property
    def cluster_version(self) -> int:
        """The NodeHighestVersion DWORD: ``cluster_major << 16 | cluster_minor``."""
        return (self.cluster_major << 16) | self.cluster_minor


def _r(key: str, label: str, major: int, minor: int, os: tuple[int, int, int], nodes: int, *,
       winrm: bool, ps: bool, drain: bool, cexe: bool, fl: int | None = None,
       editions: tuple[tuple[str, int], ...] = (), csd: str = "", sources: str = "") -> WindowsRelease:
    return WindowsRelease(key=key, label=label, cluster_major=major, os_major=os[0], os_minor=os[1],
                          build=os[2], max_nodes=nodes, winrm=winrm, powershell=ps, drain=drain,
                          cluster_exe=cexe, cluster_minor=minor, functional_level=fl,
                          editions=editions, csd=csd, sources=sources)


def _server_10(year: str, major: int, minor: int, build: int) -> WindowsRelease:
    """A Windows Server release on OS 10.0 (2016 and later): 64 nodes, WinRM, the PowerShell
    module with -Drain, no cluster.exe by default, and a functional level equal to its
    cluster-service major (Update-ClusterFunctionalLevel help)."""
    return _r(year, f"Windows Server {year}", major, minor, (10, 0, build), 64,
              winrm=True, ps=True, drain=True, cexe=False, fl=major,
              sources=f"clusapi.h CLUSTER_VERSION; functional level {major}; {_LIMITS_64}")


_LIMITS = "node limit: KB 288778, TechNet cc787244 [verified]"
_LIMITS_64 = "node limit: 64 from Windows Server 2012 on, product documentation [inferred]"

#: Every release, oldest first, keyed by the short name the simulator and the CLI use.
RELEASES: dict[str, WindowsRelease] = {
    r.key: r
    for r in (
        _r("NT4", "Windows NT Server 4.0 Enterprise Edition", 1, 224, (4, 0, 1381), 2,
           winrm=False, ps=False, drain=False, cexe=True, csd="Service Pack 3",
           sources=f"clusapi.h CLUSTER_VERSION; {_LIMITS}"),
        _r("NT4SP4", "Windows NT Server 4.0 Enterprise Edition SP4", 2, 224, (4, 0, 1381), 2,
           winrm=False, ps=False, drain=False, cexe=True, csd="Service Pack 4",
           sources=f"clusapi.h CLUSTER_VERSION; {_LIMITS}"),
        _r("2000", "Windows 2000 Advanced Server", 3, 2195, (5, 0, 2195), 4,
           winrm=False, ps=False, drain=False, cexe=True, csd="Service Pack 4",
           editions=(("Advanced Server", 2), ("Datacenter Server", 4)),
           sources=f"clusapi.h CLUSTER_VERSION; [MS-CMRP] 2.2.3.3 (3.2195); {_LIMITS}; no WinRM:"
                   " [MS-WSMV] product list [inferred]"),
        _r("2003", "Windows Server 2003 Enterprise", 4, 3790, (5, 2, 3790), 8,
           winrm=False, ps=False, drain=False, cexe=True, csd="Service Pack 2",
           editions=(("Enterprise", 8), ("Datacenter", 8)),
           sources=f"clusapi.h CLUSTER_VERSION; [MS-CMRP] 2.2.3.3 (4.3790); {_LIMITS}; WinRM only"
                   " with WMF 2.0, KB 968930 [inferred]"),
        _r("2008", "Windows Server 2008 Enterprise", 5, 6001, (6, 0, 6001), 16,
           winrm=True, ps=False, drain=False, cexe=True, csd="Service Pack 1",
           editions=(("Enterprise", 16), ("Datacenter", 16)),
           sources=f"clusapi.h CLUSTER_VERSION; {_LIMITS} (x64)"),
        _r("2008R2", "Windows Server 2008 R2 Enterprise", 6, 7601, (6, 1, 7600), 16,
           winrm=True, ps=True, drain=False, cexe=True, csd="Service Pack 1",
           editions=(("Enterprise", 16), ("Datacenter", 16)),
           sources=f"clusapi.h CLUSTER_VERSION; {_LIMITS}"),
        _r("2012", "Windows Server 2012", 7, 9200, (6, 2, 9200), 64,
           winrm=True, ps=True, drain=True, cexe=False,
           sources=f"clusapi.h CLUSTER_VERSION; {_LIMITS_64}"),
        _r("2012R2", "Windows Server 2012 R2", 8, 9600, (6, 3, 9600), 64,
           winrm=True, ps=True, drain=True, cexe=False, fl=8,
           sources=f"clusapi.h CLUSTER_VERSION; functional level 8 (rolling-upgrade page);"
                   f" {_LIMITS_64}"),
        _server_10("2016", 9, 3, 14393),
        _server_10("2019", 10, 3, 17763),
        _server_10("2022", 11, 3, 20348),
        _server_10("2025", 12, 4, 26100),
    )
}

_BY_MAJOR: dict[int, WindowsRelease] = {r.cluster_major: r for r in RELEASES.values()}


def lookup_release(key: str, table: Mapping[str, _R]) -> _R:
    """``table``'s entry for a release's short name ("2000", "2008R2", "ws2025", "nt4 sp4"; case,
    blanks and a "WS" prefix ignored): one spelling rule for every table keyed by release
    (:data:`RELEASES` here, the simulator's own in ``clusterlib.sim.releases``).

    Raises ValueError naming the table's keys."""
    norm = key.upper().replace(" ", "").replace("WS", "")
    for k, rel in table.items():
        if k.upper() == norm:
            return rel
    raise ValueError(f"unknown Windows release {key!r}; known: {', '.join(table)}")


def release_for_key(key: str) -> WindowsRelease:
    """A release by its short name ("2000", "2008R2", "2025", "NT4SP4"; case and blanks ignored).

    Raises ValueError naming the known keys."""
    return lookup_release(key, RELEASES)


def release_for_major(major: int) -> WindowsRelease | None:
    """The release whose cluster service has this major version (clusapi.h), or None."""
    return _BY_MAJOR.get(major)


def release_for_os(os_version: object) -> WindowsRelease | None:
    """The release of an OS version: an object with ``major``/``minor``/``build`` (such as
    ``clusterlib.model.OSVersion``), a ``(major, minor[, build])`` tuple, or a string "6.1.7601".

    Releases sharing OS version 10.0 are told apart by build (14393, 17763, 20348, 26100 stay
    fixed for the life of each release; later updates change only the revision); a 10.0 build that
    is none of these (a semi-annual channel or preview build) gives None, as does anything unknown.
    NT4 is reported as NT4 (its service pack is not part of the OS version)."""
    parsed = _parse_os(os_version)
    if parsed is None:
        return None
    major, minor, build = parsed
    for rel in RELEASES.values():
        if (rel.os_major, rel.os_minor) != (major, minor) or rel.key == "NT4SP4":
            continue
        if major >= 10 and build is not None and build != rel.build:
            continue
        if major >= 10 and build is None:
            return None  # 2016..2025 all report 10.0: without a build the release is unknown
        return rel
    return None


def _parse_os(value: object) -> tuple[int, int, int | None] | None:
    if isinstance(value, str):
        parts = value.strip().split(" ", 1)[0].split(".")
        try:
            nums = [int(p) for p in parts if p != ""]
        except ValueError:
            return None
        if len(nums) < 2:
            return None
        return nums[0], nums[1], nums[2] if len(nums) > 2 else None
    if isinstance(value, tuple):
        if len(value) < 2 or not all(isinstance(v, int) for v in value):
            return None
        return value[0], value[1], value[2] if len(value) > 2 else None
    major, minor = getattr(value, "major", None), getattr(value, "minor", None)
    if not isinstance(major, int) or not isinstance(minor, int):
        return None
    build = getattr(value, "build", None)
    return major, minor, build if isinstance(build, int) and build > 0 else None


def max_nodes(major: int, edition: str | None = None) -> int:
    """The most nodes a cluster of this cluster-service major may have.

    ``edition`` ("Advanced Server", "Datacenter", "Enterprise"; matched case-insensitively by a
    word it contains) picks the per-edition limit where editions differ (Windows 2000: Advanced
    Server 2, Datacenter Server 4); without it the result is the most any edition of the release
    allows. Raises ValueError for an unknown major or an edition the release does not have."""
    rel = release_for_major(major)
    if rel is None:
        raise ValueError(f"unknown cluster-service major version {major!r}; known:"
                         f" {', '.join(f'{r.cluster_major} ({r.key})' for r in RELEASES.values())}")
    if edition is None or not rel.editions:
        return rel.max_nodes
    want = " ".join(edition.lower().replace("edition", "").split())
    for name, limit in rel.editions:
        # "Advanced Server", "advanced", "Datacenter Edition" all name one edition; the word
        # "server" alone names none.
        words = [w for w in name.lower().split() if w != "server"]
        if want and want != "server" and (want == name.lower() or want.split()[0] in words):
            return limit
    raise ValueError(f"{rel.label} has no edition {edition!r}; editions with a cluster service:"
                     f" {', '.join(n for n, _ in rel.editions)}")


@frozen
class PathVerdict:
    """Whether nodes can go from one cluster-service major to another by a rolling path.

    ``ok``: Microsoft supports doing it node by node inside the running cluster. ``kind``:
    "service-pack" (same release, or NT4 -> NT4 SP4), "rolling" (a supported rolling upgrade), or
    "migration" (a new cluster, roles moved to it: the only way when ``ok`` is False). ``steps``:
    for a path that is only possible one release at a time, the majors to pass through (each step a
    supported rolling upgrade), else empty. ``certainty``: how sure the source is."""

    ok: bool
    kind: PathKind
    reason: str
    source: str
    certainty: Certainty = "verified"
    steps: tuple[int, ...] = ()


_ROLLING_COSU = ("Cluster operating system rolling upgrade, https://learn.microsoft.com/windows-server/"
                 "failover-clustering/cluster-operating-system-rolling-upgrade")

# Each supported one-step path: from major -> (kind, reason, source).
_STEPS: dict[int, tuple[PathKind, str, str]] = {
    1: ("service-pack", "NT4 -> NT4 SP4 is a service pack applied node by node",
        "KB 174799 (service packs in a cluster); clusapi.h CLUSTER_VERSION (SP4 is major 2)"),
    2: ("rolling", "NT4 SP4 -> Windows 2000 is a supported rolling upgrade",
        "Windows 2000 clustering whitepaper bb742504"),
    3: ("rolling", "Windows 2000 -> Windows Server 2003 is a supported rolling upgrade (Advanced"
        " Server -> Enterprise, Datacenter -> Datacenter)", "TechNet cc737035, cc779712"),
    8: ("rolling", "Windows Server 2012 R2 -> 2016 is a Cluster OS Rolling Upgrade", _ROLLING_COSU),
    9: ("rolling", "Windows Server 2016 -> 2019 is a Cluster OS Rolling Upgrade", _ROLLING_COSU),
    10: ("rolling", "Windows Server 2019 -> 2022 is a Cluster OS Rolling Upgrade", _ROLLING_COSU),
    11: ("rolling", "Windows Server 2022 -> 2025 is a Cluster OS Rolling Upgrade (one OS version"
         " at a time, also on 2025)", _ROLLING_COSU + " (ms.date 3/19/2025)"),
}

# One-step paths Microsoft says are not rolling: from major -> (reason, source).
_MIGRATIONS: dict[int, tuple[str, str]] = {
    4: ("Windows Server 2003 -> 2008 has no rolling upgrade and no mixed cluster: migrate the"
        " roles to a new cluster of 2008 nodes", "KB 935197; TechNet cc754506"),
    5: ("Windows Server 2008 -> 2008 R2 is a migration to a new cluster (Migrate a Cluster Wizard)",
        "TechNet dn486833 and the 2008 R2 cluster migration guide"),
    6: ("Windows Server 2008 R2 -> 2012 is a migration to a new cluster (Copy Cluster Roles Wizard)",
        "TechNet dn486833 and the 2012 cluster migration guide"),
    7: ("Windows Server 2012 -> 2012 R2 is a migration to a new cluster; Cluster OS Rolling Upgrade"
        " starts at 2012 R2", "TechNet dn486833; " + _ROLLING_COSU + " (2018 version: \"cannot"
        " upgrade earlier versions such as ... Windows Server 2012\")"),
}


def upgrade_path(from_major: int, to_major: int) -> PathVerdict:
    """How nodes can go from cluster-service major ``from_major`` to ``to_major``.

    Supported node-by-node paths (everything else is a migration: a new cluster, roles moved):
    NT4 -> NT4 SP4 (service pack); NT4 SP4 -> 2000 and 2000 -> 2003 (rolling upgrade); any service
    pack within one release; 2012 R2 -> 2016 -> 2019 -> 2022 -> 2025 (Cluster OS Rolling Upgrade,
    one release at a time). A multi-release jump is refused, with ``steps`` naming the one-release
    path when every step of it is rolling (2016 -> 2025: 10, 11, 12). Raises ValueError for a major
    that is no known release."""
    for major in (from_major, to_major):
        if release_for_major(major) is None:
            max_nodes(major)  # raises the ValueError naming the known majors
    src, dst = _BY_MAJOR[from_major], _BY_MAJOR[to_major]
    if from_major == to_major:
        return PathVerdict(True, "service-pack", f"{src.label}: service packs and updates within one"
                           " release are applied node by node (pause, move groups, install,"
                           " resume)", "KB 174799")
    if to_major < from_major:
        return PathVerdict(False, "migration", f"{src.label} -> {dst.label} is a downgrade: a node is"
                           " never downgraded in place; build a cluster on the older release and"
                           " migrate (on 2016 and later, before Update-ClusterFunctionalLevel, add"
                           " nodes of the original release and evict the newer ones)",
                           _ROLLING_COSU)
    if to_major == from_major + 1:
        if from_major in _STEPS:
            kind, reason, source = _STEPS[from_major]
            return PathVerdict(True, kind, reason, source)
        reason, source = _MIGRATIONS[from_major]
        return PathVerdict(False, "migration", reason, source)
    steps = tuple(range(from_major + 1, to_major + 1))
    if all(m - 1 in _STEPS for m in steps):
        via = " -> ".join(_BY_MAJOR[m].label.replace("Windows Server ", "") for m in steps)
        return PathVerdict(False, "rolling", f"{src.label} -> {dst.label} skips a release: a"
                           " cluster is upgraded one release at a time (mixed clusters allow"
                           f" cluster-service majors at most 1 apart); roll through {via}, or"
                           " migrate to a new cluster",
                           _ROLLING_COSU + "; version-compatibility (major difference of 1 or"
                           " less)", steps=steps)
    return PathVerdict(False, "migration", f"{src.label} -> {dst.label} has no rolling path"
                       " (cluster-service majors may differ by at most 1 in one cluster, and at"
                       " least one step on the way is a migration): build a new cluster and"
                       " migrate the roles",
                       "version-compatibility (learn.microsoft.com, MSCS); KB 301538; KB 935197")
