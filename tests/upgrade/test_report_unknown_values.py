"""Records say "not read" (None) where a value was not read, and renderers show it as "unknown":
preferred owners not read are not "none", and Windows 2000 groups have no priority (none is made
up)."""

from __future__ import annotations

import json

import pytest

import clusterlib
from clusterlib import html as chtml
from clusterlib.dialects.powershell_dialect import group_from_row, groups_from_csv
from clusterlib.model import GroupInfo, GroupState
from clusterlib.sim import SimCluster


def test_windows_2000_groups_have_no_priority_and_owners_only_when_read() -> None:
    with clusterlib.connect(SimCluster.classic()) as cluster:  # Windows 2000, cluster.exe
        plain = cluster.snapshot()
        full = cluster.snapshot(owners=True)
    assert plain.groups and all(g.priority is None for g in plain.groups)
    assert all(g.preferred_owners is None for g in plain.groups), "not read is not 'none'"
    assert all(g.priority is None for g in full.groups)
    sql = full.group("SQL Group 1")
    assert sql.preferred_owners == ("NODE1", "NODE2")
    assert full.group("Cluster Group").preferred_owners == ()  # read: it has none
    assert sql.preferences == ("NODE1", "NODE2") and plain.group("SQL Group 1").preferences == ()
    assert sql.priority_or_default == 2000  # orders like every other group, shown as unknown


def test_powershell_groups_read_priority_and_say_when_owners_were_not_read() -> None:
    with clusterlib.connect(SimCluster.classic(os="2012R2", upgrade_to="2016")) as cluster:
        plain = cluster.snapshot()
        full = cluster.snapshot(owners=True)
    assert plain.group("SQL Group 1").priority == 3000 and full.group("File Group 3").priority == 2000
    assert all(g.preferred_owners is None for g in plain.groups)
    assert full.group("SQL Group 1").preferred_owners == ("NODE1", "NODE2")


ROWS_2008R2 = "Name,OwnerNode,State,IsCoreGroup,GroupType\nSQL,NODE1,Online,False,GenericService\n"
ROWS_2012 = ("Name,OwnerNode,State,Priority,IsCoreGroup,GroupType\n"
             "SQL,NODE1,Online,3000,False,GenericService\n")


@pytest.mark.parametrize("fast", [True, False])
def test_a_listing_without_a_priority_column_gives_none_not_2000(fast: bool) -> None:
    """Get-ClusterGroup before Windows Server 2012 has no Priority property."""
    if fast:
        (old,) = groups_from_csv(ROWS_2008R2, "Get-ClusterGroup", {}, {})
        (new,) = groups_from_csv(ROWS_2012, "Get-ClusterGroup", {"SQL": []}, {})
    else:
        old = group_from_row({"Name": "SQL", "OwnerNode": "NODE1", "State": "Online"}, {}, {})
        new = group_from_row({"Name": "SQL", "OwnerNode": "NODE1", "State": "Online",
                              "Priority": "3000"}, {"SQL": []}, {})
    assert old.priority is None and old.preferred_owners is None
    assert new.priority == 3000 and new.preferred_owners == ()


def test_html_and_cli_render_not_read_as_unknown() -> None:
    g = GroupInfo(name="SQL", state=GroupState.Online, owner="NODE1", priority=None,
                  preferred_owners=None)
    cells = chtml.group_html(g).split("<tbody>", 1)[1]
    assert cells.count(">unknown<") == 2 and "2000" not in cells
    read = GroupInfo(name="SQL", state=GroupState.Online, owner="NODE1", preferred_owners=())
    assert ">unknown<" not in chtml.group_html(read).split("<tbody>", 1)[1]

    pytest.importorskip("typer", reason="the CLI needs typer")
    from typer.testing import CliRunner

    from clusterlib_cli.main import app

    runner = CliRunner()
    table = runner.invoke(app, ["groups", "--sim", "classic"])
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if "SQL Group 1" in line)
    assert "unknown" in row and "2000" not in row
    doc = json.loads(runner.invoke(app, ["groups", "--sim", "classic", "--json"]).stdout)
    assert all(g["priority"] is None for g in doc["groups"])
