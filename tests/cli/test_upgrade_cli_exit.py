"""CLI exit codes of a finished upgrade that is not a clean completion, the SIMULATED mark, --force-drain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clusterlib.sim import InstallerFails, SimCluster
from clusterlib_cli import options, render
from clusterlib_cli.main import app

PS = ["--sim", "classic-2012r2"]


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "CLUSTERLIB_PASSWORD": ""})
    return result


def test_incomplete_run_exits_5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NODE1's installer fails; --max-failed-nodes 1 lets the run finish: "incomplete", exit 5."""
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016", speed=5000)
    sim.inject(InstallerFails("NODE1"))
    monkeypatch.setattr(options, "build_sim", lambda target: sim)
    journal = tmp_path / "j.json"
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(journal),
                    "--max-failed-nodes", "1", "--order", "NODE2,NODE1")
    assert result.exit_code == render.FINISHED_WITH_PROBLEMS == 5, result.output
    assert "INCOMPLETE" in result.stdout
    assert "exit 5" in result.stderr


def test_completed_run_still_exits_0(tmp_path: Path) -> None:
    result = invoke("upgrade", "run", *PS, "--yes", "--journal", str(tmp_path / "j.json"))
    assert result.exit_code == 0, result.output


def test_exit_code_for_report() -> None:
    class R:
        def __init__(self, outcome: str) -> None:
            self.outcome = outcome
    assert render.exit_code_for_report(R("completed")) == 0
    assert render.exit_code_for_report(R("degraded")) == 5
    assert render.exit_code_for_report(R("incomplete")) == 5
    assert render.exit_code_for_report(R("stopped")) == 4
    assert render.exit_code_for_report(None) == 1


def test_docs_exit_code_table_lists_5() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    table = text.split("## Exit codes", 1)[1].split("\n\n", 2)[1]
    assert "| 5 |" in table and "degraded" in table and "incomplete" in table


def test_report_and_history_of_a_simulated_run_say_simulated(tmp_path: Path) -> None:
    journal = tmp_path / "j.json"
    assert invoke("upgrade", "run", *PS, "--yes", "--journal", str(journal)).exit_code == 0
    text = invoke("upgrade", "report", str(journal))
    assert text.exit_code == 0 and "SIMULATED" in text.stdout
    doc = json.loads(invoke("upgrade", "report", str(journal), "--json").stdout)
    assert doc["simulated"] is True and doc["endpoint"]["kind"] == "sim"
    page = tmp_path / "r.html"
    assert invoke("upgrade", "report", str(journal), "--html", str(page)).exit_code == 0
    assert "SIMULATED" in page.read_text(encoding="utf-8")
    hist = invoke("upgrade", "history", str(tmp_path))
    assert hist.exit_code == 0 and "COMPLETED (SIMULATED)" in hist.stdout
    runs = json.loads(invoke("upgrade", "history", str(tmp_path), "--json").stdout)["runs"]
    assert runs[0]["simulated"] is True
    out = tmp_path / "site"
    assert invoke("upgrade", "history", str(tmp_path), "--html", str(out)).exit_code == 0
    pages = [p for p in out.iterdir() if p.name.startswith("report-")]
    assert pages and "SIMULATED" in pages[0].read_text(encoding="utf-8")
    assert "SIMULATED" in (out / "index.html").read_text(encoding="utf-8")


def test_force_drain_warns_loudly_and_sends_the_switch(tmp_path: Path) -> None:
    journal = tmp_path / "j.json"
    result = invoke("upgrade", "run", *PS, "--yes", "--force-drain", "--journal", str(journal))
    assert result.exit_code == 0, result.output
    assert "--force-drain" in result.stderr and "STOPPED" in result.stderr
    outer = json.loads(journal.read_text(encoding="utf-8"))
    assert outer["journal"]["options"]["force_drain"] is True
    assert any("-ForceDrain" in c for s in outer["plan"]["steps"] for c in s["commands"])


def test_force_drain_without_yes_and_no_terminal_is_refused_unchanged(tmp_path: Path) -> None:
    journal = tmp_path / "j.json"
    result = invoke("upgrade", "run", *PS, "--force-drain", "--journal", str(journal))
    assert result.exit_code == 2 and "Force-drain" in result.output
    assert "--force-drain" in result.stderr  # the warning came first


def test_force_drain_refused_where_the_cluster_has_none() -> None:
    result = invoke("upgrade", "plan", "--sim", "classic-2008r2", "--force-drain")
    assert result.exit_code == 1, result.output
    assert "force-drain" in result.stdout and "ForceDrain" in result.stdout


def test_a_fenced_out_run_names_the_new_holder_not_a_resume_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """LockLost: another holder owns the cluster now; the CLI says who (escaped), exit 4, and
    does not invite a resume that would fight it."""
    from typer.testing import CliRunner

    from clusterlib.upgrade import RollingUpgrade
    from clusterlib.upgrade.errors import LockLost
    from clusterlib_cli.main import app

    class Holder:
        def describe(self) -> str:
            return "run abc by ops@\x1b[31mmgmt2 (pid 4242)"

    def fenced(self: RollingUpgrade) -> None:
        raise LockLost("the upgrade lock was taken over", holder=Holder())

    monkeypatch.setattr(RollingUpgrade, "run", fenced)
    result = CliRunner().invoke(app, ["upgrade", "run", "--sim", "classic-2012r2", "--yes",
                                      "--speed", "5000"], env={"NO_COLOR": "1"})
    assert result.exit_code == 4, result.output
    assert "no longer holds the cluster's upgrade lock" in result.output
    assert "ops@\\x1b[31mmgmt2" in result.output and "\x1b[31m" not in result.output
    assert "Resume with" not in result.output
