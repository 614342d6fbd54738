"""Tests for wire.cmdline (quoting, command lines) and wire.cluster_text (cluster.exe text)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clusterlib.errors import ClusterRefused, ParseError, TransientClusterError, UnsafeName
from clusterlib.model import (
    GroupInfo,
    GroupState,
    NodeInfo,
    NodeState,
    ResourceInfo,
    ResourceState,
)
from clusterlib.wire import cluster_text as cx
from clusterlib.wire import cmdline as cl

# Real cluster.exe output, copied with a note of where each came from (NAME.source beside it).
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"


def sample(name: str) -> str:
    path = SAMPLES / name
    # newline="" keeps the CRLFs of the groundwork sample as they are on disk.
    with path.open(encoding="utf-8", newline="") as f:
        return f.read()


def table_lines(text: str) -> list[str]:
    """Header, dashes and rows of a listing, with indentation and line endings removed."""
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
    dash = next(i for i, ln in enumerate(lines) if ln.strip().startswith("---"))
    indent = len(lines[dash]) - len(lines[dash].lstrip())
    out = [lines[dash - 1][indent:]]
    for ln in lines[dash:]:
        if not ln.strip():
            break
        out.append(ln[indent:])
    return out


# ---------------------------------------------------------------------------------------------
# The real samples
# ---------------------------------------------------------------------------------------------


def test_sample_node_list_parses_to_exact_records() -> None:
    text = sample("clusterexe_node_list_ericsson_apg_1.txt")
    assert cx.parse_nodes(text) == [
        NodeInfo(name="BJMSAPG1A", state=NodeState.Up, id="1"),
        NodeInfo(name="BJMSAPG1B", state=NodeState.Up, id="2"),
    ]


def test_sample_group_list_parses_to_exact_records() -> None:
    text = sample("clusterexe_group_list_groundwork_help.txt")
    assert "\r\n" in text  # the sample is CRLF and indented by five spaces
    assert cx.parse_groups(text) == [
        GroupInfo(name="ATLPRODSQLC01V1", state=GroupState.Online, owner="ATLPRODSQLC01N1"),
        GroupInfo(name="ATLPRODSQLC01V2", state=GroupState.Online, owner="ATLPRODSQLC01N2"),
        GroupInfo(name="Cluster Group", state=GroupState.Online, owner="ATLPRODSQLC01N1"),
    ]


def test_sample_resource_list_parses_to_exact_records() -> None:
    text = sample("clusterexe_resource_list_ericsson_apg_1.txt")
    names = ["Disks K:", "DHCP Service", "Share K", "Images", "stsprov", "stsconv", "stsopcf",
             "stsmain"]
    assert cx.parse_resources(text) == [
        ResourceInfo(name=n, group="Disk Group", state=ResourceState.Online, owner="BJMSAPG1A")
        for n in names
    ]


@pytest.mark.parametrize(
    ("name", "parse", "fmt"),
    [
        ("clusterexe_node_list_ericsson_apg_1.txt", cx.parse_nodes, cx.format_nodes),
        ("clusterexe_group_list_groundwork_help.txt", cx.parse_groups, cx.format_groups),
        ("clusterexe_resource_list_ericsson_apg_1.txt", cx.parse_resources, cx.format_resources),
    ],
)
def test_printers_reproduce_the_sample_tables_character_for_character(
    name: str, parse: object, fmt: object
) -> None:
    text = sample(name)
    records = parse(text)  # type: ignore[operator]
    printed = fmt(records)  # type: ignore[operator]
    assert table_lines(printed) == table_lines(text)


def test_printed_listing_has_the_sample_shape_and_crlf() -> None:
    text = cx.format_nodes([NodeInfo("BJMSAPG1A", NodeState.Up, id="1")])
    assert text == (
        "Listing status for all available nodes:\r\n"
        "\r\n"
        "Node           Node ID Status\r\n"
        "-------------- ------- ---------------------\r\n"
        "BJMSAPG1A            1 Up\r\n"
        "\r\n"
    )
    assert "\n" not in text.replace("\r\n", "")


def test_format_group_single_group_form() -> None:
    text = cx.format_group(GroupInfo("rvt1db1", GroupState.Online, "RST1DB1"))
    assert text.startswith("Listing status for resource group 'rvt1db1':\r\n\r\n")
    assert "rvt1db1              RST1DB1         Online\r\n" in text
    assert cx.parse_groups(text) == [GroupInfo("rvt1db1", GroupState.Online, "RST1DB1")]


# ---------------------------------------------------------------------------------------------
# Edge cases of the table reader
# ---------------------------------------------------------------------------------------------

NODES = (
    "Listing status for all available nodes:\n\n"
    "Node           Node ID Status\n"
    "-------------- ------- ---------------------\n"
)
GROUPS = (
    "Listing status for all available resource groups:\n\n"
    "Group                Node            Status\n"
    "-------------------- --------------- ------\n"
)
RESOURCES = (
    "Listing status for all available resources:\n\n"
    "Resource             Group                Node            Status\n"
    "-------------------- -------------------- --------------- ------\n"
)


def test_node_names_longer_than_the_column_push_the_row_right() -> None:
    text = NODES + "AVERYLONGNODENAME-01 3 Paused\nN2                   4 Down\n"
    assert cx.parse_nodes(text) == [
        NodeInfo("AVERYLONGNODENAME-01", NodeState.Paused, id="3"),
        NodeInfo("N2", NodeState.Down, id="4"),
    ]


def test_every_node_status_word() -> None:
    rows = "".join(f"N{i}{' ' * 19}{i} {w}\n" for i, w in
                   enumerate(["Up", "Down", "Paused", "Joining", "Unknown"], start=1))
    states = [n.state for n in cx.parse_nodes(NODES + rows)]
    assert states == [NodeState.Up, NodeState.Down, NodeState.Paused, NodeState.Joining,
                      NodeState.Unknown]


def test_fifteen_char_node_name_follows_cluster_exe_printf_not_the_dash_widths() -> None:
    # "%1!-15s! %2!6s! %3": a 15-character name still fits its field.
    node = NodeInfo("ABCDEFGHIJKLMNO", NodeState.Up, id="1")
    assert "ABCDEFGHIJKLMNO      1 Up\r\n" in cx.format_nodes([node])
    assert cx.parse_nodes(cx.format_nodes([node])) == [node]


def test_partially_online_and_every_group_status_word() -> None:
    text = GROUPS + (
        "Cluster Group        NODE1           Partially Online\n"
        "G2                   NODE2           Offline\n"
        "G3                   NODE2           Failed\n"
        "G4                   NODE2           Pending\n"
        "G5                   NODE2           Unknown\n"
    )
    groups = cx.parse_groups(text)
    assert [(g.name, g.owner, g.state) for g in groups] == [
        ("Cluster Group", "NODE1", GroupState.PartialOnline),
        ("G2", "NODE2", GroupState.Offline),
        ("G3", "NODE2", GroupState.Failed),
        ("G4", "NODE2", GroupState.Pending),
        ("G5", "NODE2", GroupState.Unknown),
    ]


def test_node_named_partially_is_read_by_column_position() -> None:
    text = cx.format_groups([GroupInfo("G1", GroupState.Online, "Partially")])
    assert cx.parse_groups(text) == [GroupInfo("G1", GroupState.Online, "Partially")]


def test_long_group_name_with_spaces_overflows_its_column() -> None:
    expected = [GroupInfo("SQL Server (INSTANCE01) Group", GroupState.PartialOnline, "NODE2")]
    text = GROUPS + "SQL Server (INSTANCE01) Group NODE2           Partially Online\n"
    assert cx.parse_groups(text) == expected
    # Spacing collapsed (as on a web page): the two-word status still wins.
    assert cx.parse_groups(GROUPS + "SQL Server (INSTANCE01) Group NODE2 Partially Online") == (
        expected
    )


def test_group_without_owner() -> None:
    group = GroupInfo("Available Storage", GroupState.Offline, None)
    assert cx.parse_groups(cx.format_groups([group])) == [group]


def test_crlf_trailing_spaces_and_indentation_like_the_perl_sample() -> None:
    text = (
        "cluster dv02db node      \r\n"
        "Listing status for all available nodes:      \r\n"
        "                                              \r\n"
        "Node           Node ID Status                \r\n"
        "-------------- ------- --------------------- \r\n"
        "DS02DB02             2 Up                    \r\n"
        "DS02DB01             1 Up                    \r\n"
    )
    assert [(n.name, n.id) for n in cx.parse_nodes(text)] == [("DS02DB02", "2"), ("DS02DB01", "1")]
    indented = "".join("     " + ln + "\n" for ln in GROUPS.splitlines()) + (
        "     Cluster Group        NODE1           Online   \n"
    )
    assert cx.parse_groups(indented) == [GroupInfo("Cluster Group", GroupState.Online, "NODE1")]


def test_localized_caption_is_ignored() -> None:
    text = (
        "Status für alle verfügbaren Knoten wird aufgelistet:\r\n\r\n"
        "Knoten         Knoten-ID Status\r\n"
        "-------------- ------- ---------------------\r\n"
        "KNOTEN1              1 Up\r\n"
    )
    assert cx.parse_nodes(text) == [NodeInfo("KNOTEN1", NodeState.Up, id="1")]


def test_tabs_between_columns_and_as_indentation() -> None:
    text = "\t" + RESOURCES.replace("\n", "\n\t").rstrip("\t") + (
        "\tDisks K:\tDisk Group\tNODE1\tOnline Pending\n"
    )
    assert cx.parse_resources(text) == [
        ResourceInfo("Disks K:", "Disk Group", ResourceState.OnlinePending, owner="NODE1")
    ]
    assert cx.parse_groups(GROUPS + "Cluster Group\tNODE1\tPartially Online\n") == [
        GroupInfo("Cluster Group", GroupState.PartialOnline, "NODE1")
    ]


def test_resource_names_overflowing_both_text_columns() -> None:
    res = [
        ResourceInfo("SQL Server Agent (INST01)", "SQL Group", ResourceState.Online, owner="N1"),
        ResourceInfo("IP Address 10.0.0.1", "SQL Server (INST01) Group", ResourceState.Failed,
                     owner="N2"),
    ]
    assert cx.parse_resources(cx.format_resources(res)) == res


def test_truly_ambiguous_resource_row_is_refused_or_settled_by_group_names() -> None:
    # Both readings print the same characters: cluster.exe's output cannot tell them apart.
    a = ResourceInfo("A" * 20 + " B", "C" * 25, ResourceState.Online, owner="N1")
    b = ResourceInfo("A" * 20, "B " + "C" * 25, ResourceState.Online, owner="N1")
    assert cx.format_resources([a]) == cx.format_resources([b])
    with pytest.raises(ParseError, match="ambiguous"):
        cx.parse_resources(cx.format_resources([a]))
    assert cx.parse_resources(cx.format_resources([a]), groups=["C" * 25]) == [a]
    assert cx.parse_resources(cx.format_resources([a]), groups=["b " + "C" * 25]) == [b]


def test_empty_table_is_an_empty_list() -> None:
    assert cx.parse_groups(GROUPS) == []


# ---------------------------------------------------------------------------------------------
# Refusals: never a half-parsed result
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "text", "offending"),
    [
        (cx.parse_nodes, "Listing status for all available nodes:\n\nNODE1 1 Up\n", "dashes"),
        (cx.parse_nodes, NODES + "NODE1                1 Up\nNODE2                2 Degraded\n",
         "NODE2                2 Degraded"),
        (cx.parse_nodes, NODES + "NODE1                x Up\n", "NODE1                x Up"),
        (cx.parse_groups, GROUPS + "G1                   NODE1           Online\n\nSystem error",
         "System error"),
        (cx.parse_groups, GROUPS + "G1                   NODE1           Onlin\n", "Onlin"),
        (cx.parse_groups, GROUPS + GROUPS, "2 lines of dashes"),
        (cx.parse_resources, GROUPS + "G1                   NODE1           Online\n", "4 columns"),
        (cx.parse_owners, "Possible Owner Nodes\n--------------------\nNODE 1\n", "NODE 1"),
        (cx.parse_version, "Cluster Name: X\nCluster Vendor: Y\n", "Version"),
        (cx.parse_version, "Cluster Name: X\nCluster Version: 6.1\nCluster Vendor: Y\n", "6.1"),
    ],
)
def test_parse_errors_carry_the_offending_text(parse: object, text: str, offending: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)  # type: ignore[operator]
    assert info.value.text == text
    assert offending in str(info.value)


# ---------------------------------------------------------------------------------------------
# Owners, properties, version
# ---------------------------------------------------------------------------------------------


def test_owner_listing_from_the_reference() -> None:
    text = (
        "\r\nListing possible owners for resource 'SQL Server (SX01DBA03)':\r\n"
        "Possible Owner Nodes\r\n--------------------\r\nLST01DB02\r\nLST01DB01\r\n"
    )
    assert cx.parse_owners(text) == ["LST01DB02", "LST01DB01"]


def test_format_owners_both_kinds() -> None:
    res = cx.format_owners("resource", "SQL Server (SX01DBA03)", ["LST01DB02", "LST01DB01"])
    assert res.startswith(
        "Listing possible owners for resource 'SQL Server (SX01DBA03)':\r\n"
        "Possible Owner Nodes\r\n--------------------\r\nLST01DB02\r\n"
    )
    grp = cx.format_owners("group", "SQL Group", ["N2"])
    assert "Preferred Owner Nodes\r\n---------------------\r\nN2\r\n" in grp
    assert cx.parse_owners(grp) == ["N2"]
    with pytest.raises(ValueError, match="kind"):
        cx.format_owners("node", "x", [])  # type: ignore[arg-type]


def test_props_line_shape_from_the_reference() -> None:
    text = (
        "Listing properties for 'SQL Server (TSQ9)':\r\n\r\n"
        "T  Resource             Name                           Value\r\n"
        "-- -------------------- ------------------------------ -----------------------\r\n"
        "SR SQL Server (TSQ9)    Name                           SQL Server (TSQ9)\r\n"
        "S  SQL Server (TSQ9)    Type                           SQL Server\r\n"
        "S  SQL Server (TSQ9)    Description                    \r\n"
        "D  SQL Server (TSQ9)    RestartThreshold               3 (0x3)\r\n"
        "L  SQL Server (TSQ9)    Offset                         -1 (0xffffffff)\r\n"
    )
    assert cx.parse_props(text) == {
        "Name": "SQL Server (TSQ9)",
        "Type": "SQL Server",
        "Description": "",
        "RestartThreshold": 3,
        "Offset": -1,
    }


def test_props_round_trip_with_an_overflowing_object_name() -> None:
    props: dict[str, str | int] = {"UpgradeLock": "host=ADMIN1 since 12:00", "Count": 7,
                                   "Big": 2**40, "Neg": -5, "Empty": ""}
    name = "A cluster with a long name"
    text = cx.format_props(name, props, private=True)
    assert text.startswith(f"Listing private properties for '{name}':\r\n\r\nT  Cluster ")
    assert "D  A cluster with a long name Count                          7 (0x7)" in text
    assert cx.parse_props(text, object_name=name) == props


def test_version_round_trip_and_shape() -> None:
    version = cx.ClusterExeVersion("CLUS1", 5, 2, 3790, "Service Pack 2",
                                   "Microsoft(R) Cluster service")
    text = cx.format_version(version)
    assert text == (
        "Cluster Name:     CLUS1\r\n"
        "Cluster Version:  5.2 (Build 3790: Service Pack 2)\r\n"
        "Cluster Vendor:   Microsoft(R) Cluster service\r\n"
    )
    assert cx.parse_version(text) == version
    assert str(cx.parse_version(text).os_version) == "5.2.3790 Service Pack 2"


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_format_error_matches_cluster_exe_casing() -> None:
    assert cx.format_error(5050) == (
        "System error 5050 has occurred (0x000013ba).\r\n\r\nThe cluster node is down.\r\n"
    )
    assert "0x000013c9" in cx.format_error(5065)  # as in the captured Q&A output
    assert cx.format_error(4242).endswith("error code 0x1092\r\n")


@pytest.mark.parametrize(
    ("code", "symbol", "words"),
    [
        (5058, "ERROR_CLUSTER_NODE_NOT_PAUSED", "not paused"),
        (5050, "ERROR_CLUSTER_NODE_DOWN", "node is down"),
        (5075, "ERROR_CLUSTER_INCOMPATIBLE_VERSIONS", "incompatible software versions"),
    ],
)
def test_parse_error_maps_exit_code_and_text(code: int, symbol: str, words: str) -> None:
    command = cl.resume_node_command("NODE 2")
    err = cx.parse_error("", cx.format_error(code), code, command)
    assert isinstance(err, ClusterRefused)
    assert err.win32_code == code
    assert err.symbol == symbol
    assert words in err.message
    assert err.command == command


def test_parse_error_success_hresult_transient_and_unknown_text() -> None:
    assert cx.parse_error("Listing status...", "", 0, "x") is None
    err = cx.parse_error("", "", 0x80070005 - 2**32, None)
    assert err is not None and err.win32_code == 5
    busy = cx.parse_error(cx.format_error(5908), "", 5908, None)
    assert isinstance(busy, TransientClusterError)
    odd = cx.parse_error("", "Unexpected token 'x' (Column 9).", 87, None)
    assert odd is not None and odd.win32_code == 87 and "Unexpected token" in odd.message
    # The message text, not the code table, is what cluster.exe actually said.
    real = "System error 5065 has occurred (0x000013c9).\n\nThe cluster node is already a member\n"
    member = cx.parse_error("", real, 5065, None)
    assert member is not None and member.message == "The cluster node is already a member"


# ---------------------------------------------------------------------------------------------
# Quoting and command lines
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ch", "label"),
    [
        ('"', "quotation mark"),
        ("%", "percent sign"),
        ("!", "exclamation mark"),
        ("^", "circumflex accent"),
        ("&", "ampersand"),
        ("|", "vertical line"),
        ("<", "less-than sign"),
        (">", "greater-than sign"),
        ("\n", "newline"),
        ("\r", "carriage return"),
        ("\0", "NUL"),
        ("\t", "tab"),
        ("\x1b", "U+001B"),
    ],
)
def test_unsafe_names_are_refused_naming_the_character(ch: str, label: str) -> None:
    with pytest.raises(UnsafeName) as info:
        cl.GroupName(f"SQL{ch}Group")
    message = str(info.value)
    assert repr(f"SQL{ch}Group") in message
    assert label.lower() in message.lower()
    assert "not allowed" in message
    with pytest.raises(UnsafeName):
        cl.quote_arg(f"x{ch}")
    with pytest.raises(UnsafeName):
        cl.move_group_command("G", f"N{ch}")


def test_empty_name_is_refused_but_empty_property_value_is_allowed() -> None:
    with pytest.raises(UnsafeName, match="empty"):
        cl.NodeName("")
    assert cl.set_cluster_private_prop_command("Lock", "") == 'cluster.exe /priv Lock=""'


@pytest.mark.parametrize("name", ["SQL Group 1", "Knoten Ü", "群集 组", r"Disk E:\ (x), y=1", "/evict"])
def test_safe_names_are_quoted(name: str) -> None:
    assert cl.quote_arg(name) == f'"{name}"'
    assert cl.split_line(cl.build_line("cluster.exe", "group", cl.GroupName(name))) == [
        "cluster.exe", "group", name
    ]


def test_command_builders() -> None:
    assert cl.list_nodes_command() == "cluster.exe node"
    assert cl.list_nodes_command(cluster="CL 1") == 'cluster.exe /cluster:"CL 1" node'
    assert cl.node_status_command("N1") == 'cluster.exe node "N1" /status'
    assert cl.node_props_command("N1") == 'cluster.exe node "N1" /prop'
    assert cl.pause_node_command("N1", cluster="C") == 'cluster.exe /cluster:"C" node "N1" /pause'
    assert cl.resume_node_command("N1") == 'cluster.exe node "N1" /resume'
    assert cl.list_groups_command() == "cluster.exe group"
    assert cl.group_status_command("Cluster Group") == 'cluster.exe group "Cluster Group" /status'
    assert cl.group_props_command("G") == 'cluster.exe group "G" /prop'
    assert cl.group_owners_command("G") == 'cluster.exe group "G" /listowners'
    assert cl.move_group_command("SQL Group 1", "NODE 2", wait_seconds=60, cluster="C") == (
        'cluster.exe /cluster:"C" group "SQL Group 1" /moveto:"NODE 2" /wait:60'
    )
    assert cl.move_group_command("G", "N") == 'cluster.exe group "G" /moveto:"N"'
    assert cl.list_resources_command() == "cluster.exe res"
    assert cl.resource_owners_command("Disk K:") == 'cluster.exe res "Disk K:" /listowners'
    assert cl.version_command(cluster="C") == 'cluster.exe /cluster:"C" /ver'
    assert cl.cluster_private_props_command() == "cluster.exe /priv"
    assert cl.set_cluster_private_prop_command("UpgradeLock", "ADMIN1 2024-01-01") == (
        'cluster.exe /priv UpgradeLock="ADMIN1 2024-01-01"'
    )
    assert cl.set_cluster_private_prop_command("Epoch", 7) == "cluster.exe /priv Epoch=7:DWORD"
    with pytest.raises(UnsafeName, match="percent"):
        cl.set_cluster_private_prop_command("UpgradeLock", "%USERNAME%")
    with pytest.raises(ValueError, match="non-negative"):
        cl.move_group_command("G", "N", wait_seconds=-1)


def test_build_line_marks_names_and_refuses_plain_strings_that_are_not_words() -> None:
    node = cl.NodeName("NODE 2")
    line = cl.build_line("cluster", None, "group", cl.GroupName("SQL Group 1"), "/moveto:" + node,
                         "/wait:60")
    assert line == 'cluster group "SQL Group 1" /moveto:"NODE 2" /wait:60'
    assert "/moveto:" + node == cl.Switch("moveto", node)
    with pytest.raises(ValueError, match="wrap names"):
        cl.build_line("cluster", "group", "SQL Group 1")
    with pytest.raises(ValueError, match="wrap names"):
        cl.build_line("cluster", "group", "G&calc")
    with pytest.raises(TypeError):
        cl.build_line("cluster", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        # Only "/switch:" + name means something; any other concatenation is a bug.
        "group " + node


def test_split_line_follows_cluster_exe_lexer() -> None:
    assert cl.split_line('a hel"lo wor"ld "x""y" ""  \t/moveto:"N 2"') == [
        "a", "hello world", 'x"y', "", "/moveto:N 2"
    ]
    with pytest.raises(ParseError, match="closing quote") as info:
        cl.split_line('cluster group "SQL Group')
    assert info.value.text == 'cluster group "SQL Group'


# ---------------------------------------------------------------------------------------------
# Round trips (hypothesis)
# ---------------------------------------------------------------------------------------------

_REFUSED = set('"%!^&|<>')


def _best_fit_refused(ch: str) -> bool:
    # The documented rule: a best fit to a refused character, newline, carriage return or NUL.
    return ch in cl.BEST_FIT and (cl.BEST_FIT[ch] in _REFUSED or cl.BEST_FIT[ch] in "\n\r\0")


def _name_char(ch: str) -> bool:
    return (ch not in _REFUSED and unicodedata.category(ch) not in {"Cc", "Cs"}
            and not _best_fit_refused(ch))


_CHARS = st.characters(min_codepoint=32, max_codepoint=0x2FFF).filter(_name_char)
SAFE_NAMES = st.text(_CHARS, min_size=1, max_size=40)
# Names as a cluster has them: no leading/trailing blanks (the listing could not show them).
TABLE_NAMES = SAFE_NAMES.filter(lambda s: s == s.strip() and s != "")
WORD_NAMES = st.text(
    st.characters(min_codepoint=33, max_codepoint=0x2FFF).filter(
        lambda c: _name_char(c) and not c.isspace()
    ),
    min_size=1,
    max_size=24,
)
NODE_IDS = st.integers(min_value=0, max_value=999999).map(str)


@given(st.lists(st.one_of(
    SAFE_NAMES.map(cl.GroupName),
    st.tuples(st.sampled_from(["moveto", "cluster", "node"]), SAFE_NAMES).map(
        lambda t: cl.Switch(t[0], cl.NodeName(t[1]))),
    st.integers(min_value=0, max_value=10**6).map(lambda n: cl.Switch("wait", n)),
    st.sampled_from(["cluster.exe", "group", "/status", "/priv", "res"]),
    st.tuples(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
              st.one_of(st.text(_CHARS, max_size=20).map(cl.PropValue),
                        st.integers(0, 2**32 - 1))).map(lambda t: cl.SetProp(*t)),
), min_size=1, max_size=6))
def test_split_line_inverts_build_line(parts: list[cl.Part]) -> None:
    line = cl.build_line(*parts)
    expected = [p if isinstance(p, str) else p.plain() for p in parts]
    assert cl.split_line(line) == expected
    assert "\n" not in line and "%" not in line


@given(SAFE_NAMES)
def test_any_name_check_name_accepts_is_free_of_refused_characters(name: str) -> None:
    quoted = cl.quote_arg(name)
    assert quoted[0] == quoted[-1] == '"'
    assert not (set(quoted[1:-1]) & _REFUSED)


@given(st.text(min_size=1, max_size=10))
def test_check_name_refuses_exactly_the_documented_characters(name: str) -> None:
    bad = [c for c in name if c in _REFUSED or unicodedata.category(c) == "Cc"
           or _best_fit_refused(c)]
    if bad:
        with pytest.raises(UnsafeName) as info:
            cl.check_name(name)
        assert repr(bad[0]) in str(info.value)
    else:
        assert cl.check_name(name) == name


@given(st.lists(st.tuples(TABLE_NAMES, NODE_IDS, st.sampled_from(list(NodeState))), max_size=6))
def test_nodes_round_trip(rows: list[tuple[str, str, NodeState]]) -> None:
    nodes = [NodeInfo(name=n, state=s, id=i) for n, i, s in rows]
    assert cx.parse_nodes(cx.format_nodes(nodes)) == nodes


@given(st.lists(st.tuples(TABLE_NAMES, WORD_NAMES, st.sampled_from(list(GroupState))),
                max_size=6))
def test_groups_round_trip(rows: list[tuple[str, str, GroupState]]) -> None:
    groups = [GroupInfo(name=g, state=s, owner=o) for g, o, s in rows]
    assert cx.parse_groups(cx.format_groups(groups)) == groups
    for group in groups:
        assert cx.parse_groups(cx.format_group(group)) == [group]


_RES_STATES = [s for s in ResourceState if s is not ResourceState.Unknown] + [ResourceState.Unknown]


@given(st.lists(st.tuples(TABLE_NAMES, TABLE_NAMES.filter(lambda g: len(g) < 20), WORD_NAMES,
                          st.sampled_from(_RES_STATES)), max_size=6))
def test_resources_round_trip(rows: list[tuple[str, str, str, ResourceState]]) -> None:
    # Group names shorter than their column: then no row is ambiguous, whatever the resource
    # name (see test_truly_ambiguous_resource_row_is_refused_or_settled_by_group_names).
    res = [ResourceInfo(name=n, group=g, state=s, owner=o) for n, g, o, s in rows]
    assert cx.parse_resources(cx.format_resources(res)) == res


@given(st.lists(st.tuples(TABLE_NAMES, TABLE_NAMES, WORD_NAMES, st.sampled_from(_RES_STATES)),
                max_size=4))
@settings(max_examples=200)
def test_resources_round_trip_with_long_group_names_given_the_groups(
    rows: list[tuple[str, str, str, ResourceState]],
) -> None:
    res = [ResourceInfo(name=n, group=g, state=s, owner=o) for n, g, o, s in rows]
    groups = {r.group for r in res}
    text = cx.format_resources(res)
    try:
        parsed = cx.parse_resources(text, groups=groups)
    except ParseError as exc:
        # Only when two readings give groups that both exist may the row stay unresolved.
        assert "ambiguous" in str(exc)
        assume(False)
    assert parsed == res


@given(st.sampled_from(["resource", "group"]), TABLE_NAMES, st.lists(WORD_NAMES, max_size=5))
def test_owners_round_trip(kind: str, name: str, owners: list[str]) -> None:
    # A node cannot be named "---" (host names start with a letter or digit); such a row would
    # read as a second dash line.
    assume(not any(re.fullmatch(r"-+", o) for o in owners))
    text = cx.format_owners(kind, name, owners)  # type: ignore[arg-type]
    assert cx.parse_owners(text) == owners


_PROP_VALUES = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**64 - 1),
    st.text(_CHARS, max_size=30).filter(lambda s: s == s.strip() and not re.fullmatch(
        r"-?\d+ \(0x[0-9a-fA-F]+\)", s)),
)


@given(TABLE_NAMES, st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,34}", fullmatch=True),
                                    _PROP_VALUES, max_size=6))
def test_props_round_trip(object_name: str, props: dict[str, str | int]) -> None:
    text = cx.format_props(object_name, props, kind="group")
    assert cx.parse_props(text, object_name=object_name) == props


@given(WORD_NAMES, st.integers(0, 99), st.integers(0, 99), st.integers(0, 99999),
       st.text(_CHARS, max_size=20).filter(lambda s: s == s.strip() and ")" not in s))
def test_version_round_trip(name: str, major: int, minor: int, build: int, csd: str) -> None:
    version = cx.ClusterExeVersion(name, major, minor, build, csd, "Microsoft(R) Cluster service")
    assert cx.parse_version(cx.format_version(version)) == version


# ---------------------------------------------------------------------------------------------
# Names split by line breaks: read whole, never merged into a neighbour
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["A\nB", "tail\n", "\nhead", "0 \n", "0\n\t", "x\n\ny",
                                  "a\tb", "0000000000\t", "SQL Server (INSTANCE01)\nGroup",
                                  "a\nb\nc"])
def test_group_and_resource_names_with_line_breaks_are_read_whole(name: str) -> None:
    groups = [GroupInfo("Good", GroupState.Online, "NODE1"),
              GroupInfo(name, GroupState.Offline, "NODE2"),
              GroupInfo("Cluster Group", GroupState.Online, "NODE1")]
    assert cx.parse_groups(cx.format_groups(groups)) == groups
    res = [ResourceInfo(name=f"{name} Resource", group=name, state=ResourceState.Online,
                        owner="NODE2"),
           ResourceInfo(name="Disk Q:", group="Cluster Group", state=ResourceState.Online,
                        owner="NODE1")]
    assert cx.parse_resources(cx.format_resources(res), groups=[g.name for g in groups]) == res


def test_node_name_with_a_line_break_is_read_whole() -> None:
    nodes = [NodeInfo("N\n1", NodeState.Up, id="1"), NodeInfo("NODE2", NodeState.Paused, id="2")]
    assert cx.parse_nodes(cx.format_nodes(nodes)) == nodes


def test_an_unreadable_row_is_not_merged_into_the_next() -> None:
    # A status word the parser does not know must fail, not become part of the next row's name.
    text = (GROUPS + "G1                   NODE1           Degraded\n"
            "G2                   NODE1           Online\n")
    with pytest.raises(ParseError, match="unreadable row"):
        cx.parse_groups(text)
    nodes = NODES + "NODE1                1 Degraded\nNODE2                2 Up\n"
    with pytest.raises(ParseError, match="unreadable row"):
        cx.parse_nodes(nodes)


def test_text_after_a_blank_line_that_is_no_row_is_still_refused() -> None:
    text = GROUPS + "G1                   NODE1           Online\n\nSystem error 5 has occurred.\n"
    with pytest.raises(ParseError, match="System error"):
        cx.parse_groups(text)
