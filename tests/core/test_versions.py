"""clusterlib.versions: the one release-key spelling rule and the Windows Server 10.0 rows."""

from __future__ import annotations

import pytest

from clusterlib.versions import RELEASES, lookup_release, release_for_key, release_for_os


@pytest.mark.parametrize(("spelling", "key"), [
    ("2008R2", "2008R2"), ("2008 r2", "2008R2"), ("ws2025", "2025"), ("WS 2016", "2016"),
    ("nt4sp4", "NT4SP4"), ("NT4 SP4", "NT4SP4"),
])
def test_one_spelling_rule_for_every_release_table(spelling: str, key: str) -> None:
    assert release_for_key(spelling).key == key
    labels = {k: r.label for k, r in RELEASES.items()}
    assert lookup_release(spelling, labels) == RELEASES[key].label


def test_an_unknown_key_names_the_keys_of_the_table_asked() -> None:
    with pytest.raises(ValueError, match=r"unknown Windows release '1995'; known: 2016, 2019$"):
        lookup_release("1995", {"2016": 1, "2019": 2})
    with pytest.raises(ValueError, match="known: NT4, NT4SP4, 2000"):
        release_for_key("1995")


@pytest.mark.parametrize(("key", "major", "build"), [
    ("2016", 9, 14393), ("2019", 10, 17763), ("2022", 11, 20348), ("2025", 12, 26100)])
def test_server_10_releases(key: str, major: int, build: int) -> None:
    rel = RELEASES[key]
    assert rel.label == f"Windows Server {key}"
    assert (rel.cluster_major, rel.functional_level, rel.max_nodes) == (major, major, 64)
    assert (rel.os_major, rel.os_minor, rel.build) == (10, 0, build)
    assert rel.winrm and rel.powershell and rel.drain and not rel.cluster_exe
    assert f"functional level {major}" in rel.sources
    assert release_for_os(f"10.0.{build}") is rel
