"""clusterlib.versions: release facts and upgrade paths, each checked against its public source."""

from __future__ import annotations

import pytest

from clusterlib import versions as v
from clusterlib.model import OSVersion


def test_cluster_service_majors_follow_clusapi_h() -> None:
    """clusapi.h CLUSTER_VERSION defines: NT4 1, NT4 SP4 2, 2000 3 ... 2025 12."""
    expected = {"NT4": 1, "NT4SP4": 2, "2000": 3, "2003": 4, "2008": 5, "2008R2": 6, "2012": 7,
                "2012R2": 8, "2016": 9, "2019": 10, "2022": 11, "2025": 12}
    assert {k: r.cluster_major for k, r in v.RELEASES.items()} == expected
    for key, major in expected.items():
        rel = v.release_for_major(major)
        assert rel is not None and rel.key == key
    assert v.release_for_major(13) is None
    # [MS-CMRP] 2.2.3.3: Windows 2000 = 0x00030893, 2003 = 0x00040ECE.
    assert v.RELEASES["2000"].cluster_version == 0x00030893
    assert v.RELEASES["2003"].cluster_version == 0x00040ECE


def test_release_for_os_tells_10_0_releases_apart_by_build() -> None:
    assert v.release_for_os(OSVersion(5, 0, 2195, "Service Pack 4")) is v.RELEASES["2000"]
    assert v.release_for_os("5.2.3790") is v.RELEASES["2003"]
    assert v.release_for_os((6, 1, 7601)) is v.RELEASES["2008R2"]  # SP1 build, same release
    assert v.release_for_os("10.0.17763") is v.RELEASES["2019"]
    assert v.release_for_os("10.0.26100") is v.RELEASES["2025"]
    assert v.release_for_os("10.0.16299") is None  # a semi-annual build is no LTSC release
    assert v.release_for_os("10.0") is None  # 2016..2025 all say 10.0
    assert v.release_for_os("garbage") is None
    assert v.release_for_os((3, 51)) is None


def test_node_limits_per_edition_kb_288778() -> None:
    """KB 288778 / cc787244: 2000 Advanced Server 2, Datacenter 4; 2003 8; 2008 (x64), 2008 R2
    16; 2012 and later 64 (product documentation, inferred)."""
    assert v.max_nodes(3, "Advanced Server") == 2
    assert v.max_nodes(3, "datacenter") == 4
    assert v.max_nodes(3) == 4  # without an edition: the most any edition allows
    assert v.max_nodes(4) == 8 and v.max_nodes(4, "Enterprise") == 8
    assert v.max_nodes(5) == v.max_nodes(6) == 16
    assert all(v.max_nodes(m) == 64 for m in range(7, 13))
    assert v.max_nodes(1) == 2
    assert v.max_nodes(3, "Datacenter Edition") == 4 and v.max_nodes(3, "advanced") == 2
    with pytest.raises(ValueError, match=r"no edition 'Home'.*Advanced Server, Datacenter Server"):
        v.max_nodes(3, "Home")
    with pytest.raises(ValueError, match="no edition 'Server'"):
        v.max_nodes(3, "Server")
    with pytest.raises(ValueError, match="unknown cluster-service major version 42"):
        v.max_nodes(42)


def test_tools_per_release() -> None:
    """No WinRM listener on 2000/2003 by default ([MS-WSMV] product list, KB 968930); the
    FailoverClusters module from 2008 R2; drain from 2012; cluster.exe by default to 2008 R2."""
    winrm = [k for k, r in v.RELEASES.items() if r.winrm]
    assert winrm == ["2008", "2008R2", "2012", "2012R2", "2016", "2019", "2022", "2025"]
    assert next(k for k, r in v.RELEASES.items() if r.powershell) == "2008R2"
    assert next(k for k, r in v.RELEASES.items() if r.drain) == "2012"
    assert [k for k, r in v.RELEASES.items() if r.cluster_exe][-1] == "2008R2"


@pytest.mark.parametrize(("src", "dst", "kind", "source_word"), [
    (1, 2, "service-pack", "KB 174799"),
    (2, 3, "rolling", "bb742504"),
    (3, 4, "rolling", "cc737035"),
    (8, 9, "rolling", "cluster-operating-system-rolling-upgrade"),
    (9, 10, "rolling", "rolling-upgrade"),
    (10, 11, "rolling", "rolling-upgrade"),
    (11, 12, "rolling", "3/19/2025"),
    (3, 3, "service-pack", "KB 174799"),
])
def test_supported_rolling_paths(src: int, dst: int, kind: str, source_word: str) -> None:
    verdict = v.upgrade_path(src, dst)
    assert verdict.ok and verdict.kind == kind
    assert source_word in verdict.source


@pytest.mark.parametrize(("src", "dst", "source_word"), [
    (4, 5, "KB 935197"),  # 2003 -> 2008: no rolling upgrade, no mixed cluster
    (5, 6, "dn486833"),
    (6, 7, "dn486833"),
    (7, 8, "dn486833"),
])
def test_migration_only_paths(src: int, dst: int, source_word: str) -> None:
    verdict = v.upgrade_path(src, dst)
    assert not verdict.ok and verdict.kind == "migration"
    assert source_word in verdict.source and "new cluster" in verdict.reason


def test_multi_release_jumps() -> None:
    """One OS version at a time, also on 2025 (rolling-upgrade page, ms.date 3/19/2025); NT4 ->
    2003 is refused for the two-version difference (KB 301538)."""
    jump = v.upgrade_path(9, 12)  # 2016 -> 2025
    assert not jump.ok and jump.steps == (10, 11, 12) and "2019 -> 2022 -> 2025" in jump.reason
    nt4 = v.upgrade_path(2, 4)
    assert not nt4.ok and nt4.steps == (3, 4)
    across = v.upgrade_path(3, 9)  # 2000 -> 2016: a migration is on the way
    assert not across.ok and across.kind == "migration" and across.steps == ()
    down = v.upgrade_path(4, 3)
    assert not down.ok and "downgrade" in down.reason
    with pytest.raises(ValueError, match="unknown cluster-service major"):
        v.upgrade_path(3, 99)


def test_every_one_step_verdict_matches_the_join_rule() -> None:
    """A path is rolling exactly where a mixed cluster can exist: majors 1 apart and a supported
    step (version-compatibility page + the migration KBs)."""
    for a in range(1, 12):
        verdict = v.upgrade_path(a, a + 1)
        assert verdict.ok == (a not in (4, 5, 6, 7)), (a, verdict)
