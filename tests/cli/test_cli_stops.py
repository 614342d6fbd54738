"""Stops that leave the truth behind, through the CLI (CliRunner): a journal write failure, the
resume's recorded-action check, --stop-after, --dry-run on every changing command, run policies."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import clusterlib.upgrade as upgrade_api
from clusterlib.sim import SimCluster
from clusterlib.upgrade import journal as journal_mod
from clusterlib_cli import options
from clusterlib_cli.main import app

PS = ["--sim", "classic-2012r2"]
SETUP = r"D:\setup.exe /unattend"
CHANGING = ("Suspend-ClusterNode", "Resume-ClusterNode", "Move-ClusterGroup", "cluster.exe", "cmd")


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=input,
                              env={"NO_COLOR": "1", "CLUSTERLIB_PASSWORD": "", "COLUMNS": "300",
                                   "CLUSTERLIB_HOST": "", "CLUSTERLIB_SIM": ""})


def _sim(monkeypatch: pytest.MonkeyPatch, speed: float = 20_000.0) -> SimCluster:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016", speed=speed)
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    return sim


def _changes(sim: SimCluster, since: int = 0) -> list[str]:
    """Subjects of every call since event ``since`` that could change the cluster."""
    return [e.subject for e in sim.events[since:]
            if e.kind == "call" and str(e.subject).startswith(CHANGING)]


# --- journal write failure -------------------------------------------------------------------------

def test_journal_write_failure_names_the_file_and_exits_4(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _sim(monkeypatch)
    journal = tmp_path / "j.json"
    real = journal_mod.atomic_write
    calls = {"n": 0}

    def full_disk(path: Path, text: str) -> None:
        calls["n"] += 1
        if calls["n"] > 3:  # the run has started and changed something by now
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, text)

    monkeypatch.setattr(journal_mod, "atomic_write", full_disk)
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(journal))
    assert calls["n"] > 3, result.output
    assert result.exit_code == 4, result.output
    assert "unexpected" not in result.output
    assert f"journal {journal} could not be written (No space left on device)" in result.stderr
    assert "free space or fix the file system" in result.stderr.lower()
    assert sim.calls("Suspend-ClusterNode")  # it did stop mid-run, not before starting


# --- resume: the recorded action -------------------------------------------------------------------

@pytest.fixture
def stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[SimCluster, Path]:
    """A run stopped by --stop-after on NODE1's first boundary, its sim kept for the resume."""
    from clusterlib.sim import NodeNeverReturns

    sim = _sim(monkeypatch)
    fault = NodeNeverReturns(sorted(sim.nodes)[0])
    sim.faults.append(fault)
    journal = tmp_path / "j.json"
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(journal), "--command", SETUP,
                    "--reboot-timeout", "60")
    assert result.exit_code == 4, result.output
    sim.faults.remove(fault)
    return sim, journal


def test_resume_with_another_command_is_refused_and_sends_nothing(
        stopped: tuple[SimCluster, Path]) -> None:
    sim, journal = stopped
    before = len(sim.events)
    result = invoke("upgrade", "resume", str(journal), *PS, "--yes", "--command",
                    r"\\evil\share\run.exe")
    # Refused by the CLI (usage, exit 2) or already by the library's own check (exit 1).
    assert result.exit_code in (1, 2), result.output
    assert "records the action" in result.output and SETUP in result.output
    assert _changes(sim, before) == []


def test_resume_without_a_command_and_without_a_terminal_shows_the_action_and_refuses(
        stopped: tuple[SimCluster, Path]) -> None:
    sim, journal = stopped
    before = len(sim.events)
    result = invoke("upgrade", "resume", str(journal), *PS, "--yes")
    assert result.exit_code == 2, result.output
    assert f"The journal's recorded action: command {SETUP!r}" in result.stderr
    assert "--command" in result.output
    assert _changes(sim, before) == []


def test_resume_with_the_matching_command_goes_ahead(stopped: tuple[SimCluster, Path]) -> None:
    sim, journal = stopped
    before = len(sim.events)
    result = invoke("upgrade", "resume", str(journal), *PS, "--yes", "--command", SETUP)
    assert "records the action" not in result.output
    assert result.exit_code in (0, 4), result.output  # it ran (the node may still be down)
    assert len(sim.events) > before


# --- --stop-after -------------------------------------------------------------------------------------

def test_stop_after_stops_at_a_boundary_exit_4(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _sim(monkeypatch, speed=300.0)
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(tmp_path / "j.json"),
                    "--stop-after", "1")
    assert result.exit_code == 4, result.output
    assert "--stop-after 1 s reached" in result.stderr
    assert "stopped safely between two steps at your request (--stop-after)" in result.stderr
    assert "STOPPED" in result.stdout
    assert sim.calls("Suspend-ClusterNode")  # it had started


# --- --dry-run changes nothing ------------------------------------------------------------------------

@pytest.mark.parametrize("args, expect", [
    (["node", "pause", "NODE1"], "Suspend-ClusterNode -Name 'NODE1' -Drain"),
    (["node", "pause", "NODE1", "--no-drain"], "Suspend-ClusterNode -Name 'NODE1'"),
    (["node", "resume", "NODE1", "--failback", "immediate"], "Resume-ClusterNode -Name 'NODE1'"),
    (["group", "move", "SQL Group 1", "--to", "NODE2"],
     "Move-ClusterGroup -Name 'SQL Group 1' -Node 'NODE2'"),
    (["upgrade", "run", "--command", SETUP], "Suspend-ClusterNode -Name 'NODE1' -Drain -Wait"),
])
def test_dry_run_prints_the_commands_and_changes_nothing(
        monkeypatch: pytest.MonkeyPatch, args: list[str], expect: str) -> None:
    sim = _sim(monkeypatch)
    result = invoke(*args, *PS, "--dry-run")
    assert result.exit_code == 0, result.output
    assert expect in result.stdout
    assert "nothing was changed" in result.output.lower()
    assert _changes(sim) == []
    assert all(n.state.name == "Up" for n in sim.nodes.values())


def test_dry_run_on_the_windows_2000_layout_shows_cluster_exe(
        monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke("node", "pause", "NODE1", "--sim", "classic", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["changed"] is False and doc["simulated"] is True
    assert doc["commands"][0] == 'cluster.exe node "NODE1" /pause'


def test_lock_break_dry_run_keeps_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    import clusterlib
    from clusterlib.upgrade import lock as locks

    sim = _sim(monkeypatch)
    with clusterlib.connect(sim) as cluster:
        locks.acquire(cluster, "run123", "CLUSTER1")
    result = invoke("lock", "break", *PS, "--reason", "test", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "nothing was changed" in result.stdout
    assert json.loads(invoke("lock", "show", *PS, "--json").stdout)["locked"] is True


# --- run policies map to the library's options ----------------------------------------------------

def test_run_policies_reach_the_upgrade_options(monkeypatch: pytest.MonkeyPatch) -> None:
    _sim(monkeypatch)
    result = invoke("upgrade", "plan", *PS, "--json", "--max-retries-per-node", "3",
                    "--drain-timeout", "600", "--reboot-timeout", "1200",
                    "--allow-nodes-offline")
    assert result.exit_code == 0, result.output
    opts = json.loads(result.stdout)["options"]
    assert opts["retries_per_node"] == 3 and opts["drain_timeout"] == 600
    assert opts["reboot_timeout"] == 1200 and opts["require_all_up"] is False


def test_notify_not_a_url_is_a_usage_error() -> None:
    result = invoke("upgrade", "run", *PS, "--yes", "--notify", "not-a-url")
    assert result.exit_code == 2 and "not an http(s) URL" in result.output


# --- pre-update / verify hooks ------------------------------------------------------------------

def _has_hooks() -> bool:
    import inspect

    return "verify" in inspect.signature(upgrade_api.RollingUpgrade).parameters


def test_a_failing_verify_command_stops_the_run_safely(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _sim(monkeypatch)
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(tmp_path / "j.json"),
                    "--verify", "cmd /c exit 3")
    if not _has_hooks():
        # This build's engine has no hooks: said plainly, before anything is changed.
        assert result.exit_code == 1 and "--verify" in result.stderr, result.output
        assert _changes(sim) == []
        return
    assert result.exit_code == 4, result.output
    assert "STOPPED" in result.stdout
    paused = [n.name for n in sim.nodes.values() if n.state.name == "Paused"]
    assert len(paused) <= 1  # stopped on the first node, which stays paused and empty


def test_a_passing_pre_update_command_lets_the_run_complete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not _has_hooks():
        pytest.skip("this build's upgrade engine has no pre_update/verify hooks")
    _sim(monkeypatch)
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(tmp_path / "j.json"),
                    "--pre-update", "echo ready", "--verify", "hostname")
    assert result.exit_code == 0, result.output
    assert "COMPLETED" in result.stdout


def test_a_journal_that_cannot_be_created_means_nothing_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _sim(monkeypatch)

    def full_disk(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(journal_mod, "atomic_write", full_disk)
    journal = tmp_path / "j.json"
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(journal))
    assert result.exit_code == 1, result.output
    assert "could not be created (No space left on device)" in result.stderr
    assert "nothing was changed" in result.stderr and "Resume" not in result.output
    assert _changes(sim) == []


def test_the_resume_names_the_action_the_run_used() -> None:
    from clusterlib_cli import upgrade_args

    assert upgrade_args.action_args(upgrade_api.RemoteCommand(SETUP)) == ["--command", SETUP]
    assert upgrade_args.action_args(upgrade_api.ManualAction("do it")) == ["--manual"]
    assert upgrade_args.action_args(upgrade_api.RemoteCommand("x /key:s3cr3t", secret=True)) == []


def test_resume_with_manual_on_a_command_journal_is_refused(
        stopped: tuple[SimCluster, Path]) -> None:
    sim, journal = stopped
    before = len(sim.events)
    result = invoke("upgrade", "resume", str(journal), *PS, "--yes", "--manual")
    assert result.exit_code in (1, 2), result.output  # the CLI's check or the library's
    assert "records the action" in result.output
    assert _changes(sim, before) == []


def test_a_hostile_action_line_in_a_journal_is_shown_escaped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _sim(monkeypatch)
    from clusterlib.sim import NodeNeverReturns

    fault = NodeNeverReturns(sorted(sim.nodes)[0])
    sim.faults.append(fault)
    journal = tmp_path / "j.json"
    hostile = "D:\\setup.exe /q \x1b]0;owned\x07\x1b[2J"
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(journal), "--command",
                    hostile, "--reboot-timeout", "60")
    assert result.exit_code in (1, 4), result.output
    sim.faults.remove(fault)
    resumed = invoke("upgrade", "resume", str(journal), *PS, "--yes")
    assert resumed.exit_code in (1, 2), resumed.output
    for raw in ("\x1b", "\x07"):
        assert raw not in result.output and raw not in resumed.output


# --- resume: --resend-action -----------------------------------------------------------------------

def test_resend_action_names_a_node_of_the_run_or_is_refused(
        stopped: tuple[SimCluster, Path]) -> None:
    sim, journal = stopped
    before = len(sim.events)
    result = invoke("upgrade", "resume", str(journal), *PS, "--yes", "--command", SETUP,
                    "--resend-action", "NODE9")
    assert result.exit_code == 2, result.output
    assert "NODE9: not a node of this run (its nodes: NODE1, NODE2)" in result.output
    assert _changes(sim, before) == []


def test_resend_action_reaches_the_engine_with_the_run_s_spelling(
        stopped: tuple[SimCluster, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, journal = stopped
    seen: dict[str, Any] = {}
    real = upgrade_api.RollingUpgrade.from_journal

    def spy(cluster: Any, **kw: Any) -> Any:
        seen.update(kw)
        return real(cluster, **kw)

    monkeypatch.setattr(upgrade_api.RollingUpgrade, "from_journal", spy)
    result = invoke("upgrade", "resume", str(journal), *PS, "--yes", "--command", SETUP,
                    "--resend-action", "node1")
    assert seen.get("resend_action") == ["NODE1"], result.output
