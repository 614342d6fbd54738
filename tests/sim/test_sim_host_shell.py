"""A simulated node's shell behaves like a host's cmd.exe, and only the installer upgrades it.

Sources: cmd.exe's "is not recognized" text and exit code 9009, ``exit``/``cmd /c`` (cmd /?);
``ver`` lines as Windows prints them; the installer window and lost answers model issue-tracked
behaviour of real OS upgrades (files are copied for minutes before the first restart).
"""

from __future__ import annotations

import pytest
from conftest import ConnectSim
from hypothesis import given, settings
from hypothesis import strategies as st

import clusterlib
from clusterlib import NodeState
from clusterlib.sim import (
    DEFAULT_INSTALL_WINDOW,
    InstallerAnswerLost,
    InstallerFails,
    InstallerHangs,
    NodeReturnsIncompatible,
    SimAnswerLost,
    SimCluster,
)
from clusterlib.sim.cmdshell import run_command_line
from clusterlib.sim.transport import InProcessTransport
from clusterlib.wire import CmdLine


def _shell(sim: SimCluster, node: str) -> InProcessTransport:
    return InProcessTransport(sim).for_node(node)


def test_host_commands_over_both_transports(connect_sim: ConnectSim) -> None:
    sim = SimCluster.classic(os="2016", upgrade_to="2019")
    cluster = connect_sim(sim)
    shell = cluster.transport.for_node("NODE2")  # type: ignore[attr-defined]
    try:
        host = shell.run_cmd(CmdLine("hostname"))
        assert (host.stdout, host.exit_code) == ("NODE2\r\n", 0)
        ver = shell.run_cmd(CmdLine("ver"))
        assert ver.stdout.strip() == "Microsoft Windows [Version 10.0.14393]"
        assert shell.run_cmd(CmdLine("exit 7")).exit_code == 7
        assert shell.run_cmd(CmdLine("cmd /c exit 3")).exit_code == 3
        chain = shell.run_cmd(CmdLine("echo one& hostname & echo two"))
        assert chain.stdout == "one\r\nNODE2\r\ntwo\r\n"
        assert shell.run_cmd(CmdLine("echo a & echo b")).stdout == "a \r\nb\r\n"
        missing = shell.run_cmd(CmdLine("frobnicate --now"))
        assert missing.exit_code == 9009
        assert missing.stderr == ("'frobnicate' is not recognized as an internal or external"
                                  " command,\r\noperable program or batch file.\r\n")
    finally:
        shell.close()
    # None of that touched the node.
    assert sim.node("NODE2").release.key == "2016" and sim.node("NODE2").install is None
    assert not [e for e in sim.events if e.kind == "upgrade-start"]


def test_ver_per_release() -> None:
    expected = {
        "2000": "Microsoft Windows 2000 [Version 5.00.2195]",
        "2003": "Microsoft Windows [Version 5.2.3790]",
        "2008R2": "Microsoft Windows [Version 6.1.7601]",
        "2012R2": "Microsoft Windows [Version 6.3.9600]",
        "2025": "Microsoft Windows [Version 10.0.26100]",
    }
    for os_key, line in expected.items():
        sim = SimCluster.classic(os=os_key)
        assert run_command_line(sim, "ver", node="NODE1").stdout == f"\r\n{line}\r\n"


def test_exit_stops_the_line_and_cmd_c_is_a_child() -> None:
    sim = SimCluster.classic(os="2016")
    out = run_command_line(sim, "echo a& exit 4 & echo never", node="NODE1")
    assert (out.stdout, out.exit_code) == ("a\r\n", 4)
    child = run_command_line(sim, 'cmd /c "exit 5" & echo after', node="NODE1")
    assert (child.stdout, child.exit_code) == ("after\r\n", 0)
    assert run_command_line(sim, "exit", node="NODE1").exit_code == 0
    assert run_command_line(sim, "echo", node="NODE1").stdout == "ECHO is on.\r\n"
    # One delimiter after echo is dropped; the rest, trailing blanks included, is printed.
    assert run_command_line(sim, "echo  two  spaces ", node="NODE1").stdout == " two  spaces \r\n"
    assert run_command_line(sim, "echo.", node="NODE1").stdout == "\r\n"


def test_not_recognized_names_the_word_typed() -> None:
    """cmd.exe repeats the word as typed: path, extension and quotes included."""
    sim = SimCluster.classic(os="2016")
    out = run_command_line(sim, r'"C:\Tools\thing.exe" /x', node="NODE1")
    assert out.stderr.startswith("'\"C:\\Tools\\thing.exe\"' is not recognized")
    # No cluster.exe on 2016: the word typed, 'cluster' or 'cluster.exe'.
    assert run_command_line(sim, "cluster node").stderr.startswith("'cluster' is not recognized")
    assert run_command_line(sim, "cluster.exe node").stderr.startswith(
        "'cluster.exe' is not recognized")


def test_only_the_installer_upgrades_the_node() -> None:
    sim = SimCluster.classic(os="2000", upgrade_to="2003")
    for line in ("hostname", "echo D:\\setup.exe", "cmd /c exit 0", "ver", "setupx.exe /u"):
        run_command_line(sim, line, node="NODE1")
    sim.settle()
    assert sim.node("NODE1").release.key == "2000"
    out = run_command_line(sim, r"D:\i386\winnt32.exe /unattend", node="NODE1")
    assert out.exit_code == 0
    sim.settle()
    assert sim.node("NODE1").release.key == "2003"


@pytest.mark.parametrize("line", [
    r"D:\setup.exe /unattend",
    r"D:\i386\winnt32.exe /unattend",
    r"wusa.exe C:\updates\Windows6.1-KB976932-X64.msu /quiet /norestart",
    r"C:\updates\Windows6.1-KB976932-X64.msu /quiet",
    r"C:\sp2\i386\update\update.exe /quiet",
    r'"D:\Install Media\setup.exe" /auto upgrade /quiet',
    "WindowsServer2003-KB914961-SP2-x86-ENU.exe /quiet",
    r"cmd /c D:\setup.exe /unattend",
])
def test_default_installer_pattern_covers_the_documented_examples(line: str) -> None:
    assert SimCluster.classic(os="2016", upgrade_to="2019").is_installer(line)


def test_custom_installer_pattern() -> None:
    sim = SimCluster.classic(os="2016", upgrade_to="2019", installer=r"^\\\\fs\\media\\go\.cmd\b")
    assert not sim.is_installer(r"D:\setup.exe /unattend")
    missing = run_command_line(sim, r"D:\setup.exe /unattend", node="NODE1")
    assert missing.exit_code == 9009  # without the installer it is just a missing program
    assert run_command_line(sim, r"\\fs\media\go.cmd", node="NODE1").exit_code == 0
    sim.settle()
    assert sim.node("NODE1").release.key == "2019"
    with pytest.raises(ValueError, match="not a valid regular expression"):
        SimCluster.classic(os="2016", installer="(")


def test_install_window_then_restarts_then_new_release() -> None:
    sim = SimCluster.classic(os="2016", upgrade_to="2019", install_window=600, restarts=3,
                             speed=10_000)
    node = sim.node("NODE1")
    t0 = sim.now()
    assert run_command_line(sim, r"D:\setup.exe /unattend", node="NODE1").exit_code == 0
    assert node.state is NodeState.Up and node.install is not None
    assert sim.wait_until(lambda: node.state is NodeState.Down, 5000)
    went_down = sim.now() - t0
    assert went_down >= 600  # Up for the whole window
    sim.settle()
    assert node.state is NodeState.Up and node.release.key == "2019"
    restarts = [e for e in sim.events if e.kind == "restart" and e.subject == "NODE1"]
    assert len(restarts) == 2  # three restarts: two setup phases, then the join
    joined = next(e for e in sim.events if e.kind == "joined" and e.subject == "NODE1")
    assert joined.t - t0 >= 600 + 3 * node.reboot_time
    assert DEFAULT_INSTALL_WINDOW > 0


def test_a_second_start_while_running_is_refused_1618() -> None:
    sim = SimCluster.classic(os="2016", upgrade_to="2019", install_window=10_000)
    assert run_command_line(sim, r"D:\setup.exe /unattend", node="NODE1").exit_code == 0
    again = run_command_line(sim, r"D:\setup.exe /unattend", node="NODE1")
    assert again.exit_code == 1618  # ERROR_INSTALL_ALREADY_RUNNING
    starts = [e for e in sim.events if e.kind == "upgrade-start"]
    assert len(starts) == 1


def test_installer_fails_with_its_exit_code() -> None:
    sim = SimCluster.classic(os="2016", upgrade_to="2019")
    sim.inject(InstallerFails("NODE1", exit_code=1603))
    out = run_command_line(sim, r"D:\setup.exe /unattend", node="NODE1")
    assert out.exit_code == 1603
    sim.settle()
    assert sim.node("NODE1").release.key == "2016" and sim.node("NODE1").state is NodeState.Up
    assert run_command_line(sim, r"D:\setup.exe /unattend", node="NODE1").exit_code == 1603
    sim.clear_faults("NODE1")
    assert run_command_line(sim, r"D:\setup.exe /unattend", node="NODE1").exit_code == 0


def test_answer_lost_is_a_connection_failure_but_the_install_runs() -> None:
    sim = SimCluster.classic(os="2016", upgrade_to="2019")
    sim.inject(InstallerAnswerLost("NODE2"))
    shell = _shell(sim, "NODE2")
    with pytest.raises(clusterlib.ConnectionFailed, match="lost before the answer"):
        shell.run_cmd(CmdLine(r"D:\setup.exe /unattend"))
    assert sim.node("NODE2").install is not None
    sim.settle()
    assert sim.node("NODE2").release.key == "2019"
    # Fires once: the next call answers.
    assert shell.run_cmd(CmdLine("hostname")).stdout == "NODE2\r\n"
    with pytest.raises(SimAnswerLost):  # the raw simulator exception, for front ends
        sim.inject(InstallerAnswerLost("NODE1"))
        run_command_line(sim, r"D:\setup.exe", node="NODE1")


def test_installer_hangs_never_restarts_and_loses_the_answer() -> None:
    sim = SimCluster.classic(os="2016", upgrade_to="2019")
    sim.inject(InstallerHangs("NODE1", answer_after=30))
    with pytest.raises(clusterlib.ConnectionFailed):
        _shell(sim, "NODE1").run_cmd(CmdLine(r"D:\setup.exe /unattend"))
    node = sim.node("NODE1")
    assert node.install is not None and node.install.state == "hung"
    sim.settle()
    assert node.state is NodeState.Up and node.release.key == "2016"
    assert run_command_line(sim, r"D:\setup.exe", node="NODE1").exit_code == 1618


def test_a_down_host_cannot_be_reached() -> None:
    sim = SimCluster.classic(os="2016", upgrade_to="2019")
    sim.reboot_node("NODE2")
    with pytest.raises(clusterlib.ConnectionFailed, match="down"):
        _shell(sim, "NODE2").run_cmd(CmdLine("hostname"))
    with pytest.raises(clusterlib.ConnectionFailed, match="no such host"):
        _shell(sim, "NODE9").run_cmd(CmdLine("hostname"))


def test_incompatible_return_through_the_installer() -> None:
    sim = SimCluster.classic(os="2016", upgrade_to="2019")
    sim.inject(NodeReturnsIncompatible("NODE1", release="2025"))
    run_command_line(sim, r"D:\setup.exe", node="NODE1")
    sim.settle()
    node = sim.node("NODE1")
    assert node.release.key == "2025" and node.state is NodeState.Down
    assert any(e.kind == "join-refused" and e.detail["code"] == 5075 for e in sim.events)


@settings(max_examples=150, deadline=None)
@given(line=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_any_line_is_answered_and_only_the_installer_upgrades(line: str) -> None:
    """Whatever is typed, the shell answers (a result, never a crash) and nothing but an
    installer line changes the node."""
    sim = SimCluster.classic(os="2016", upgrade_to="2019")
    result = run_command_line(sim, line, node="NODE1")
    assert isinstance(result.exit_code, int)
    sim.settle()
    started = [e for e in sim.events if e.kind == "upgrade-start"]
    parts = [p for p in line.split("&") if p.strip()]
    if not any(sim.is_installer(p) for p in parts):
        assert not started and sim.node("NODE1").release.key == "2016"


def test_answer_lost_over_both_transports_and_never_resent(connect_sim: ConnectSim) -> None:
    """Over the wire too: the installer ran once, the caller saw a failed connection."""
    sim = SimCluster.classic(os="2016", upgrade_to="2019")
    cluster = connect_sim(sim)
    sim.inject(InstallerAnswerLost("NODE1"))
    shell = cluster.transport.for_node("NODE1")  # type: ignore[attr-defined]
    try:
        with pytest.raises(clusterlib.ConnectionFailed):
            shell.run_cmd(CmdLine(r"D:\setup.exe /unattend"))  # not idempotent: sent once
    finally:
        shell.close()
    assert len([e for e in sim.events if e.kind == "upgrade-start"]) == 1
    sim.settle()
    assert sim.node("NODE1").release.key == "2019"


def test_tasklist_shows_a_running_installer_as_its_marker() -> None:
    """tasklist (XP / 2003 and later) lists the installer while it runs, by image name; an
    ``.msu`` package runs in wusa.exe."""
    sim = SimCluster.classic(os="2016", upgrade_to="2019", install_window=1000)
    query = 'tasklist /fi "imagename eq wusa.exe" /fo csv /nh'
    none = run_command_line(sim, query, node="NODE1")
    assert none.stdout.startswith("INFO: No tasks are running")
    run_command_line(sim, r"C:\u\windows10.0-kb5005112-x64.msu /quiet", node="NODE1")
    pid = sim.node("NODE1").install.pid  # type: ignore[union-attr]
    found = run_command_line(sim, query, node="NODE1")
    assert found.stdout == f'"wusa.exe","{pid}","Services","0","24,576 K"\r\n'
    table = run_command_line(sim, f'tasklist /fi "pid eq {pid}"', node="NODE1").stdout
    assert table.splitlines()[1].startswith("Image Name") and "wusa.exe" in table
    assert "wusa.exe" not in run_command_line(sim, "tasklist", node="NODE2").stdout
    sim.settle()  # restarted and joined: no installer process any more
    assert run_command_line(sim, query, node="NODE1").stdout.startswith("INFO:")
    assert run_command_line(sim, "tasklist /x", node="NODE1").exit_code == 1  # not simulated
    # Windows 2000 has no tasklist.
    old = SimCluster.classic()
    assert run_command_line(old, "tasklist", node="NODE1").exit_code == 9009


@pytest.mark.parametrize("line,word", [("ipconfig /all", "ipconfig"), ("whoami", "whoami"),
                                       ("net start", "net")])
def test_real_windows_programs_are_not_simulated_never_not_recognized(line: str, word: str) -> None:
    """A program every Windows Server has must never be claimed missing: it is "not simulated"."""
    sim = SimCluster.classic(os="2016")
    result = run_command_line(sim, line, node="NODE1")
    assert result.exit_code == 1
    assert f"not simulated: the program '{word}'" in result.stderr
    assert "not recognized" not in result.stderr
    assert sim.node("NODE1").release.key == "2016"


def test_windows_2000_lacks_whoami_and_powershell() -> None:
    """whoami came with the Support Tools and PowerShell much later: cmd.exe on Windows 2000 does
    not find them."""
    sim = SimCluster.classic(os="2000")
    for word in ("whoami", "powershell"):
        result = run_command_line(sim, word, node="NODE1")
        assert result.exit_code == 9009 and f"'{word}' is not recognized" in result.stderr


def test_powershell_exe_on_a_node_shell_runs_the_cmdlet() -> None:
    sim = SimCluster.classic(os="2016")
    result = run_command_line(sim, "powershell -NoProfile -Command Get-ClusterNode -Name NODE9",
                              node="NODE1")
    assert result.exit_code == 1 and "ClusterNodeNotFound" in result.stderr
