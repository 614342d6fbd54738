"""Windows releases the simulator knows: its view of clusterlib.versions plus simulator-only fields."""

from __future__ import annotations

from attrs import frozen

from clusterlib import versions
from clusterlib.model import OSVersion, ServiceVersion
from clusterlib.versions import WindowsRelease


@frozen
class Release:
    """One Windows release as a simulated cluster node runs it.

    The facts (cluster-service major and minor, OS version, node limits, which tools exist) come
    from :mod:`clusterlib.versions`, one source with their citations. Added here, for the
    simulator only: ``os`` as the node reports it (the service pack the simulated nodes run), the
    ``highest``/``lowest`` version pair the join rule compares, and ``ver`` (what cmd.exe's
    ``ver`` prints).

    ``lowest`` (NodeLowestVersion, "the earliest version with which the currently installed version
    is compatible", version-compatibility page [V]) is the previous release's ``highest`` exactly
    where Microsoft supports a mixed cluster during a rolling upgrade (NT4 SP4 -> 2000 -> 2003;
    2012 R2 -> 2016 -> ... -> 2025), and the release's own ``highest`` elsewhere, so the join rule
    refuses 2003 -> 2008, 2008 -> 2008 R2, 2008 R2 -> 2012 and 2012 -> 2012 R2 (KB 935197; TechNet
    dn486833: migrations, no mixed cluster) with 5075. The real NodeLowestVersion values of those
    releases are not published [P]; the resulting join verdicts are what the sources state.
    """

    key: str
    label: str
    os: OSVersion
    highest: ServiceVersion
    lowest: ServiceVersion
    functional_level: int | None  # the level this release brings; None before Windows Server 2016
    powershell: bool  # FailoverClusters module present (Windows Server 2008 R2 and later)
    drain: bool  # Suspend-ClusterNode -Drain (Windows Server 2012 and later)
    cluster_exe: bool  # cluster.exe present (deprecated from 2012; optional feature up to 2016)
    winrm: bool = True  # a WinRM listener exists by default (none on Windows 2000/2003)
    max_nodes: int = 64  # the most nodes the simulated edition allows
    ver: str = ""  # cmd.exe's ``ver`` line
    #: The Windows PowerShell the release ships (see :data:`WINDOWS_POWERSHELL`).
    powershell_version: tuple[int, int] = (5, 1)

    @property
    def facts(self) -> WindowsRelease:
        """The public facts this release is built from (sources and certainty there)."""
        return versions.release_for_key(self.key)


# The OS each simulated release reports: the service pack a cluster of its day ran (2008 SP1 is
# build 6001; 2008 R2 SP1 is build 7601).
_SIM_OS: dict[str, tuple[int, str]] = {
    "2000": (2195, "Service Pack 4"),
    "2003": (3790, "Service Pack 2"),
    "2008": (6001, "Service Pack 1"),
    "2008R2": (7601, "Service Pack 1"),
}

# cmd.exe's ``ver`` per release. 2000 and 2003 as printed on those systems ("Microsoft Windows 2000
# [Version 5.00.2195]", "Microsoft Windows [Version 5.2.3790]", quoted in many public tools that
# parse ver [V]); from Vista/2008 on "Microsoft Windows [Version M.m.B]". Updated 10.0 systems
# append the update revision (10.0.17763.xxxx); the simulator prints the build only [P].
_VER_2000 = "Microsoft Windows 2000 [Version 5.00.2195]"

#: The Windows PowerShell each release ships (learn.microsoft.com, "Windows PowerShell System
#: Requirements": Windows Server 2008 R2 2.0, 2012 3.0, 2012 R2 4.0, 2016 and later 5.1). 2008
#: has 1.0 as an optional feature only, 2000/2003 none in the box (2003 SP2 can add 2.0 with WMF
#: 2.0, KB 968930); the simulator gives those 2.0, the oldest it models ([P]: it serves them with
#: cluster.exe and a management host, not through their own PowerShell). Releases after 2012 R2
#: ship 5.1.
WINDOWS_POWERSHELL: dict[str, tuple[int, int]] = {
    "2000": (2, 0), "2003": (2, 0), "2008": (2, 0), "2008R2": (2, 0), "2012": (3, 0),
    "2012R2": (4, 0),
}

#: The releases WMF 5.1 installs on (learn.microsoft.com, "Install and configure WMF 5.1":
#: Windows Server 2008 R2 SP1, 2012, 2012 R2); it brings Windows PowerShell 5.1
#: (``SimCluster(wmf51=True)``).
WMF51_RELEASES = frozenset({"2008R2", "2012", "2012R2"})

# Releases whose cluster accepts nodes of the previous release during a rolling upgrade
# (clusterlib.versions.upgrade_path is ok for previous -> this one).
_ROLLING_FROM_PREVIOUS = {
    key for key, rel in versions.RELEASES.items()
    if rel.cluster_major > 1 and versions.upgrade_path(rel.cluster_major - 1, rel.cluster_major).ok
}


def _from_facts() -> dict[str, Release]:
    out: dict[str, Release] = {}
    previous: WindowsRelease | None = None
    for key, facts in versions.RELEASES.items():
        if key in ("NT4", "NT4SP4"):
            previous = facts
            continue  # the simulator's clusters start at Windows 2000
        build, csd = _SIM_OS.get(key, (facts.build, ""))
        highest = ServiceVersion(facts.cluster_major, facts.cluster_minor)
        lowest = (ServiceVersion(previous.cluster_major, previous.cluster_minor)
                  if previous is not None and key in _ROLLING_FROM_PREVIOUS else highest)
        if key == "2000":
            ver = _VER_2000
        else:
            ver = f"Microsoft Windows [Version {facts.os_major}.{facts.os_minor}.{build}]"
        out[key] = Release(
            key=key, label=facts.label, os=OSVersion(facts.os_major, facts.os_minor, build, csd),
            highest=highest, lowest=lowest, functional_level=facts.functional_level,
            powershell=facts.powershell, drain=facts.drain, cluster_exe=facts.cluster_exe,
            winrm=facts.winrm, max_nodes=versions.max_nodes(facts.cluster_major,
                                                           _sim_edition(facts)),
            ver=ver, powershell_version=WINDOWS_POWERSHELL.get(key, (5, 1)))
        previous = facts
    return out


def _sim_edition(facts: WindowsRelease) -> str | None:
    """The edition the simulated nodes run: the one in the label (Windows 2000 *Advanced Server*,
    2 nodes), else the release's largest."""
    for name, _limit in facts.editions:
        if name.lower() in facts.label.lower():
            return name
    return None


RELEASES: dict[str, Release] = _from_facts()


def release(key: str) -> Release:
    """Look a release up by key ("2000", "2003", "2012R2", ...), case-insensitively (the spelling
    rule of :func:`clusterlib.versions.lookup_release`)."""
    return versions.lookup_release(key, RELEASES)
