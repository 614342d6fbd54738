"""Inventory validation, field group by field group: each bad field is named with what would be valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clusterlib.fleet import InventoryError, parse_inventory

SETUP = "D:\\setup.exe /unattend"


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InventoryError) as info:
        parse_inventory(data, path=Path("/inv/fleet.toml"))
    return str(info.value).splitlines()


def test_fleet_settings_are_read_and_relative_journal_dir_follows_the_file() -> None:
    inv = parse_inventory({"fleet": {"installer": SETUP, "waves": "canary, rest", "parallel": 3,
                                     "max_failed_clusters": 2, "all_or_nothing": True,
                                     "journal_dir": "j"},
                           "cluster": [{"name": "a", "host": "h", "tags": ["canary"]},
                                       {"name": "b", "sim": "classic", "speed": 4}]},
                          path=Path("/inv/fleet.toml"))
    assert (inv.parallel, inv.max_failed_clusters, inv.all_or_nothing) == (3, 2, True)
    assert inv.waves == ("canary", "rest")
    assert inv.journal_dir == Path("/inv/j")
    assert inv.installer == SETUP
    assert inv.cluster("b").speed == 4.0 and inv.cluster("b").connection == {}


def test_fleet_settings_name_each_bad_field() -> None:
    text = _problems({"fleet": {"waves": [1], "installer": "  ", "journal_dir": 5,
                                "max_failed_clusters": -1, "all_or_nothing": "yes"},
                      "cluster": [{"name": "a", "host": "h"}]})
    assert text == [
        "/inv/fleet.toml [fleet]: max_failed_clusters must be a whole number >= 0, not -1",
        "/inv/fleet.toml [fleet]: waves must be a list of tags, e.g. [\"canary\", \"rest\"]",
        "/inv/fleet.toml [fleet]: all_or_nothing must be true or false, not 'yes'",
        "/inv/fleet.toml [fleet]: installer must be a command line (a string)",
        "/inv/fleet.toml [fleet]: journal_dir must be a folder path (a string)"]


@pytest.mark.parametrize(("cluster", "expected"), [
    ({"name": "s", "sim": 5}, "sim must be a simulator layout"),
    ({"name": "s", "sim": "classic", "speed": 0}, "speed must be a positive number"),
    ({"name": "s", "sim": "classic", "speed": True}, "speed must be a positive number"),
    ({"name": "s", "sim": "classic", "profile": "p"}, "takes no connection options (profile)"),
    ({"name": "h", "host": "h", "speed": 2}, "speed only applies to a simulated cluster"),
    ({"name": "h", "profile": 5}, "profile must be a profile name"),
    ({"name": "h", "host": 5}, "host must be a str, not 5"),
    ({"name": "h", "host": "h", "port": True}, "port must be a int, not True"),
    ({"name": "h", "host": "h", "auth": "magic"}, "auth 'magic' is not one of negotiate"),
    ({"name": "h", "host": "h", "insecure": True, "ca_bundle": "c"}, "ca_bundle makes no sense"),
    ({"name": "h", "host": "h", "password_env": "1x"}, "password_env must be an environment"),
    ({"name": "h", "host": "h", "keyring": "yes"}, "keyring must be true or false"),
    ({"name": "h", "host": "h", "password_env": "X", "keyring": True}, "give one password source"),
    ({"name": "h", "host": "h", "installer": ""}, "installer must be a command line"),
    ({"name": "h", "host": "h", "upgrade": 3}, "upgrade must be a table of upgrade options"),
    ({"name": "h", "host": "h", "upgrade": {"failback": "x"}}, "failback must be one of end, each"),
    ({"name": "h", "host": "h", "tags": "x"}, "tags must be a list of strings"),
    ({"name": "-h", "host": "h"}, "name must be 1-63 letters"),
])
def test_a_cluster_field_group_names_its_problem(cluster: dict[str, Any], expected: str) -> None:
    text = _problems({"fleet": {"installer": SETUP}, "cluster": [cluster]})
    assert any(expected in line and "cluster" in line for line in text), text


def test_a_profile_gives_the_connection_and_the_cluster_keys_win(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles = tmp_path / "profiles.toml"
    profiles.write_text('[profiles.lab]\nhost = "lab.example"\nport = 5986\nsim = "classic"\n',
                        encoding="utf-8")
    monkeypatch.setenv("CLUSTERLIB_PROFILES", str(profiles))
    inv = parse_inventory({"fleet": {"installer": SETUP},
                           "cluster": [{"name": "a", "profile": "lab", "port": 443,
                                        "keyring": True}]})
    entry = inv.cluster("a")
    assert entry.connection == {"host": "lab.example", "port": 443}  # no sim: not a connection key
    assert entry.profile == "lab" and entry.keyring and entry.password_env is None
    monkeypatch.setenv("CLUSTERLIB_PROFILES", str(tmp_path / "none.toml"))
    text = _problems({"fleet": {"installer": SETUP}, "cluster": [{"name": "a", "profile": "lab"}]})
    assert any("no profiles file at" in line for line in text)
    assert any("cluster 'a': no connection" in line for line in text)


def test_every_cluster_needs_an_installer_from_somewhere() -> None:
    text = _problems({"cluster": [{"name": "a", "host": "h"},
                                  {"name": "b", "host": "h", "installer": SETUP}]})
    assert text == ["/inv/fleet.toml: cluster 'a' has no installer; set [fleet] installer or the"
                    " cluster's installer"]


def test_a_top_level_table_of_the_wrong_kind_stops_at_once() -> None:
    for key in ("fleet", "defaults"):
        with pytest.raises(InventoryError, match=rf"\[{key}\] must be a table"):
            parse_inventory({key: [], "cluster": [{"name": "a", "host": "h"}]})
