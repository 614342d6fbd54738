"""Windows releases the simulator knows: OS version, cluster-service versions, functional level, tools."""

from __future__ import annotations

from attrs import frozen

from clusterlib.model import OSVersion, ServiceVersion


@frozen
class Release:
    """One Windows release as a cluster node sees it.

    Cluster-service majors 3..8 are inferred from the MS-CMRP version constants whose low words
    are the releases' build numbers (reference 3.5, marked [U]: Microsoft does not state the
    mapping); majors 9..12 follow the functional levels 9..12 that Microsoft documents [V].
    ``lowest`` is set to the previous release's ``highest``, which is what makes "one release at
    a time" fall out of the join rule as the reference describes it [P].
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


def _r(key: str, label: str, os: tuple[int, int, int, str], hi: tuple[int, int], lo: tuple[int, int],
       fl: int | None, ps: bool, drain: bool, cexe: bool) -> Release:
    return Release(key, label, OSVersion(*os), ServiceVersion(*hi), ServiceVersion(*lo), fl, ps, drain,
                   cexe)


RELEASES: dict[str, Release] = {
    r.key: r
    for r in (
        _r("2000", "Windows 2000 Advanced Server", (5, 0, 2195, "Service Pack 4"), (3, 2195), (2, 224),
           None, False, False, True),
        _r("2003", "Windows Server 2003 Enterprise", (5, 2, 3790, "Service Pack 2"), (4, 3790),
           (3, 2195), None, False, False, True),
        _r("2008", "Windows Server 2008 Enterprise", (6, 0, 6001, "Service Pack 1"), (5, 6001),
           (4, 3790), None, False, False, True),
        _r("2008R2", "Windows Server 2008 R2 Enterprise", (6, 1, 7601, "Service Pack 1"), (6, 7601),
           (5, 6001), None, True, False, True),
        _r("2012", "Windows Server 2012", (6, 2, 9200, ""), (7, 9200), (6, 7601), None, True, True, False),
        _r("2012R2", "Windows Server 2012 R2", (6, 3, 9600, ""), (8, 9600), (7, 9200), 8, True, True,
           False),
        _r("2016", "Windows Server 2016", (10, 0, 14393, ""), (9, 3), (8, 9600), 9, True, True, False),
        _r("2019", "Windows Server 2019", (10, 0, 17763, ""), (10, 3), (9, 3), 10, True, True, False),
        _r("2022", "Windows Server 2022", (10, 0, 20348, ""), (11, 3), (10, 3), 11, True, True, False),
        _r("2025", "Windows Server 2025", (10, 0, 26100, ""), (12, 4), (11, 3), 12, True, True, False),
    )
}

ORDER: tuple[str, ...] = tuple(RELEASES)


def release(key: str) -> Release:
    """Look a release up by key ("2000", "2003", "2012R2", ...), case-insensitively."""
    norm = key.upper().replace(" ", "").replace("WS", "")
    for k, rel in RELEASES.items():
        if k.upper() == norm:
            return rel
    raise ValueError(f"unknown Windows release {key!r}; known: {', '.join(RELEASES)}")


def next_release(key: str) -> Release | None:
    idx = ORDER.index(release(key).key)
    return RELEASES[ORDER[idx + 1]] if idx + 1 < len(ORDER) else None
