"""wmic process call create: the line clusterlib builds for a node without WinRM, and its answer."""

from __future__ import annotations

import pytest

from clusterlib.errors import ParseError, UnsafeName
from clusterlib.wire import cluster_text as cx
from clusterlib.wire import cmdline as cl

OK = (
    "Executing (Win32_Process)->Create()\r\n"
    "Method execution successful.\r\n"
    "Out Parameters:\r\n"
    "instance of __PARAMETERS\r\n"
    "{\r\n"
    "\tProcessId = 1234;\r\n"
    "\tReturnValue = 0;\r\n"
    "};\r\n"
)


def test_builds_the_documented_line_and_is_never_retried() -> None:
    cmd = cl.wmic_process_create("NODE1", r"D:\i386\winnt32.exe /unattend /s:D:\i386")
    assert cmd.line == r'wmic /node:"NODE1" process call create "D:\i386\winnt32.exe /unattend /s:D:\i386"'
    assert cmd.idempotent is False
    # cluster.exe's lexer (same quoting rules as wmic's for these tokens) reads it back whole.
    assert cl.split_line(cmd.line) == [
        "wmic", "/node:NODE1", "process", "call", "create",
        r"D:\i386\winnt32.exe /unattend /s:D:\i386",
    ]


def test_host_names_with_dots_and_dashes_are_carried() -> None:
    cmd = cl.wmic_process_create("sql-node-2.corp.example", "setup.exe")
    assert '/node:"sql-node-2.corp.example"' in cmd.line


@pytest.mark.parametrize(
    ("line", "char"),
    [
        ('setup.exe /x:"a b"', "quotation mark"),
        ("setup.exe %PATH%", "percent"),
        ("setup.exe !x!", "exclamation"),
        ("setup.exe & del x", "ampersand"),
        ("setup.exe | more", "vertical line"),
        ("setup.exe > out", "greater-than"),
        ("setup.exe < in", "less-than"),
        ("setup.exe ^x", "circumflex"),
        ("setup.exe\r\ndel x", "carriage return"),
        ("setup.exe\nx", "newline"),
        ("setup.exe /a,b", "comma"),
    ],
)
def test_refuses_what_the_quoting_cannot_carry(line: str, char: str) -> None:
    with pytest.raises(UnsafeName) as err:
        cl.wmic_process_create("NODE1", line)
    assert char in str(err.value)
    assert "command line" in str(err.value)


@pytest.mark.parametrize("node", ["@nodes.txt", "A,B", "NODE 1", 'N"1', "", "-x", "N&1", "N%x%"])
def test_refuses_node_names_wmic_would_read_otherwise(node: str) -> None:
    with pytest.raises(UnsafeName) as err:
        cl.wmic_process_create(node, "setup.exe")
    assert "node name" in str(err.value)


def test_refuses_blank_and_overlong_lines() -> None:
    with pytest.raises(UnsafeName, match="empty or blank"):
        cl.wmic_process_create("NODE1", "   ")
    with pytest.raises(UnsafeName, match="8191"):
        cl.wmic_process_create("NODE1", "setup.exe " + "x" * 8000)


def test_parses_success_with_process_id() -> None:
    assert cx.parse_wmic_create(OK) == (0, 1234)
    # LF only, other order, spaces instead of tabs.
    assert cx.parse_wmic_create(
        "instance of __PARAMETERS\n{\n    ReturnValue = 0;\n    ProcessId = 77;\n};\n"
    ) == (0, 77)


def test_parses_a_failed_create_without_process_id() -> None:
    text = OK.replace("\tProcessId = 1234;\r\n", "").replace("ReturnValue = 0", "ReturnValue = 9")
    assert cx.parse_wmic_create(text) == (9, None)
    assert cx.WMI_CREATE_RESULTS[9] == "Path not found"


def test_the_localized_lines_around_the_block_are_not_needed() -> None:
    german = OK.replace("Method execution successful.", "Die Methode wurde erfolgreich ausgefuehrt.")
    assert cx.parse_wmic_create(german) == (0, 1234)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ERROR:\r\nCode = 0x800706ba\r\nDescription = The RPC server is unavailable.\r\n"
        "Facility = Win32\r\n",
        OK.replace("ReturnValue = 0;", ""),
        OK.replace("ReturnValue = 0;", "ReturnValue = zero;"),
        OK.replace("ProcessId = 1234;", "ProcessId = -1;"),
        OK.replace("};", "}"),
        OK + OK,
        OK.replace("ProcessId = 1234;", "ProcessId = 1234"),
    ],
)
def test_anything_else_is_a_parse_error_with_the_text(text: str) -> None:
    with pytest.raises(ParseError) as err:
        cx.parse_wmic_create(text)
    assert err.value.text == text


def test_wmic_error_code_is_read_from_the_code_line() -> None:
    text = ("ERROR:\r\nCode = 0x800706ba\r\nDescription = The RPC server is unavailable.\r\n"
            "Facility = Win32\r\n")
    assert cx.wmic_error_code(text) == 1722  # RPC_S_SERVER_UNAVAILABLE
    german = text.replace("The RPC server is unavailable.", "Der RPC-Server ist nicht verfuegbar.")
    assert cx.wmic_error_code(german) == 1722
    assert cx.wmic_error_code("ERROR:\r\nCode = 0x80041003\r\n") == 0x80041003  # WBEM_E_ACCESS_DENIED
    assert cx.wmic_error_code(OK) is None


def test_the_simulated_management_host_answers_what_the_parser_reads() -> None:
    from clusterlib.sim import SimCluster
    from clusterlib.sim.cmdshell import run_command_line

    sim = SimCluster.classic()
    started = run_command_line(sim, cl.wmic_process_create("NODE1", "hostname").line)
    value, pid = cx.parse_wmic_create(started.stdout)
    assert value == 0 and pid is not None and pid > 0
    missing = run_command_line(sim, cl.wmic_process_create("NODE1", r"C:\none.exe /x").line)
    assert cx.parse_wmic_create(missing.stdout) == (9, None)
    down = run_command_line(sim, cl.wmic_process_create("NODE9", "hostname").line)
    with pytest.raises(ParseError):
        cx.parse_wmic_create(down.stdout)
    assert cx.wmic_error_code(down.stderr) == 1722
    assert [c.detail["line"] for c in sim.calls("wmic")] == ["hostname", r"C:\none.exe /x",
                                                            "hostname"]
