"""Upgrade, lock and report commands on the simulator (CliRunner): plans, runs, safe stops (exit 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import clusterlib
from clusterlib.sim import NodeNeverReturns, SimCluster
from clusterlib_cli import options
from clusterlib_cli.main import app

PS = ["--sim", "classic-2012r2"]


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "CLUSTERLIB_PASSWORD": ""})
    return result


def test_plan_json_lists_steps_and_commands() -> None:
    result = invoke("upgrade", "plan", *PS, "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["ok"] is True and sorted(plan["order"]) == ["NODE1", "NODE2"]
    assert plan["simulated"] is True
    commands = [c for s in plan["steps"] for c in s["commands"]]
    assert "Suspend-ClusterNode -Name 'NODE2' -Drain -Wait" in commands


def test_plan_text_with_an_unknown_node_in_the_order_exit_1() -> None:
    result = invoke("upgrade", "plan", *PS, "--order", "NODE2,NODE9")
    assert result.exit_code == 1
    assert "NODE9" in result.output


def test_plan_on_a_real_host_needs_an_action_exit_2() -> None:
    result = invoke("upgrade", "plan", "--host", "h1", "--auth", "kerberos")
    assert result.exit_code == 2 and "--command" in result.output


def test_run_report_and_html(tmp_path: Path) -> None:
    journal, page = tmp_path / "j.json", tmp_path / "r.html"
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(journal), "--html", str(page))
    assert result.exit_code == 0, result.output
    assert "COMPLETED" in result.stdout and "[NODE2 drain]" in result.stderr
    # Progress numbers the plan's steps and estimates the time left from its estimates.
    first = next(line for line in result.stderr.splitlines() if "[NODE1 drain]" in line)
    assert "(step 1 of " in first and "left (estimate)" in first
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert "SIMULATED" in page.read_text()
    assert page.stat().st_mode & 0o777 == 0o600  # like the journal: it names nodes and commands
    page.chmod(0o644)  # an existing, more open file is tightened too
    report = invoke("upgrade", "report", str(journal), "--json", "--html", str(page))
    assert page.stat().st_mode & 0o777 == 0o600
    report = invoke("upgrade", "report", str(journal), "--json")
    assert report.exit_code == 0
    doc = json.loads(report.stdout)
    assert doc["outcome"] == "completed" and set(doc["nodes"]) == {"NODE1", "NODE2"}


def test_stopped_run_exits_4_and_prints_the_resume_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016", speed=5000)
    sim.faults.append(NodeNeverReturns("NODE2"))
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    journal = tmp_path / "j.json"
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(journal))
    assert result.exit_code == 4, result.output
    # A fresh --sim cannot resume this run: the CLI says so instead of printing a command that
    # would resume against a different, unchanged simulator.
    assert "cannot be resumed" in result.stderr and "clusterlib sim serve" in result.stderr
    assert f"clusterlib upgrade resume {journal}" not in result.stderr
    assert "STOPPED" in result.stdout
    lock = invoke("lock", "show", *PS, "--json")  # the stopped run keeps the lock for its resume
    assert lock.exit_code == 0 and json.loads(lock.stdout)["locked"] is True


def test_lock_show_and_break(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016")
    with clusterlib.connect(sim) as cluster:
        from clusterlib.upgrade import lock as locks

        locks.acquire(cluster, "run123", "CLUSTER1")
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    shown = invoke("lock", "show", *PS)
    assert shown.exit_code == 0 and "run run123" in shown.stdout
    blocked = invoke("upgrade", "run", *PS, "--yes")
    assert blocked.exit_code == 1 and "lock" in blocked.output
    broken = invoke("lock", "break", *PS, "--reason", "the run died", "--yes")
    assert broken.exit_code == 0, broken.output
    assert json.loads(invoke("lock", "show", *PS, "--json").stdout)["locked"] is False


def test_report_of_a_missing_journal_says_so_exit_2(tmp_path: Path) -> None:
    result = invoke("upgrade", "report", str(tmp_path / "nope.json"))
    assert result.exit_code == 2 and "no such journal file" in result.output
    assert "refused before sending anything" not in result.output


def test_upgrade_run_over_the_wire_reaches_node_shells_with_node_path(tmp_path: Path) -> None:
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016", speed=2000)
    with sim.serve() as endpoint:
        result = CliRunner().invoke(app, [
            "upgrade", "run", "--host", endpoint.host, "--port", str(endpoint.port), "--no-ssl",
            "--auth", "basic", "--user", endpoint.username, "--time-scale", "2000",
            "--node-path", "wsman/node/{node}", "--command", "D:\\setup.exe /auto upgrade",
            "--yes", "--journal", str(tmp_path / "j.json")],
            env={"NO_COLOR": "1", "CLUSTERLIB_PASSWORD": endpoint.password})
    assert result.exit_code == 0, result.output
    installs = [c.detail["node"] for c in sim.calls("cmd")]
    assert sorted(installs) == ["NODE1", "NODE2"]  # each installer ran on its own node's shell
    assert {n.release.key for n in sim.nodes.values()} == {"2016"}


def test_node_path_is_a_host_option() -> None:
    result = invoke("status", *PS, "--node-path", "wsman/node/{node}")
    assert result.exit_code == 2
    assert "--node-path" in result.output


def test_classic_plan_starts_the_installer_through_wmi_node_1_first() -> None:
    result = invoke("upgrade", "plan", "--sim", "classic", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["order"][0] == "NODE1" and plan["simulated"] is True
    assert plan["action"].startswith("wmic ") and "winnt32.exe" in plan["action"]
    commands = [c for s in plan["steps"] for c in s["commands"]]
    assert 'wmic /node:"NODE1" process call create "D:\\i386\\winnt32.exe /unattend"' \
        " (from the management host)" in commands
