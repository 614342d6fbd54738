"""`clusterlib fleet plan|run|resume|status|report`: output, files and exit codes (CliRunner, simulators)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner
from upgrade_helpers import SETUP

from clusterlib.fleet import ClusterResult, FleetReport
from clusterlib_cli import fleet_cmds, render
from clusterlib_cli.main import app

INVENTORY = f"""
[fleet]
parallel = 2
waves = ["canary", "rest"]
installer = '{SETUP}'

[[cluster]]
name = "lab-a"
sim = "classic-2012r2"
speed = 5000
tags = ["canary"]

[[cluster]]
name = "lab-b"
sim = "classic"
speed = 5000
"""


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    base = {"CLUSTERLIB_PASSWORD": "", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, list(args), env={**base, **(env or {})})
    render._SECRETS.clear()
    return result


def test_plan_run_status_report(tmp_path: Path) -> None:
    inv = tmp_path / "fleet.toml"
    inv.write_text(INVENTORY, encoding="utf-8")
    plan = invoke("fleet", "plan", str(inv))
    assert plan.exit_code == 0, plan.output
    assert "SIMULATED" in plan.stdout and "wave 1: lab-a" in plan.stdout
    run = invoke("fleet", "run", str(inv), "--json", "--html", str(tmp_path / "f.html"))
    assert run.exit_code == 0, run.output
    doc = json.loads(run.stdout)
    assert doc["outcome"] == "completed" and doc["simulated"] is True
    assert [c["status"] for c in doc["clusters"]] == ["completed", "completed"]
    journals = tmp_path / "fleet.journals"
    assert (journals / "index.html").exists() and (journals / "lab-a.html").exists()
    assert "lab-b" in (tmp_path / "f.html").read_text(encoding="utf-8")
    # Another run into the same folder is refused; status and report read it.
    again = invoke("fleet", "run", str(inv))
    assert again.exit_code == 1 and "already records a fleet run" in again.output
    status = invoke("fleet", "status", str(journals))
    assert status.exit_code == 0 and "fleet completed: 2 completed" in status.stdout
    report = invoke("fleet", "report", str(inv), "--json")
    assert report.exit_code == 0 and json.loads(report.stdout)["counts"] == {"completed": 2}


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[fleet]\ninstaller = "x"\n[[cluster]]\nname = "a"\nhots = "h"\n',
                   encoding="utf-8")
    result = invoke("fleet", "plan", str(bad))
    assert result.exit_code == 2 and "unknown key 'hots'" in result.output
    creds = tmp_path / "creds.toml"
    creds.write_text('[fleet]\ninstaller = "x"\n[[cluster]]\nname = "a"\nhost = "a.example"\n'
                     'user = "admin"\npassword_env = "FLEET_NO_SUCH_VAR"\n', encoding="utf-8")
    result = invoke("fleet", "run", str(creds))
    assert result.exit_code == 2 and "$FLEET_NO_SUCH_VAR" in result.output
    inv = tmp_path / "fleet.toml"
    inv.write_text(INVENTORY, encoding="utf-8")
    result = invoke("fleet", "resume", str(inv))
    assert result.exit_code == 2 and "nothing to resume" in result.output


@pytest.mark.parametrize("outcome,statuses,code", [
    ("completed", ["completed", "already-upgraded"], 0),
    ("refused", ["preflight-failed", "not-started"], 1),
    ("stopped", ["completed", "stopped", "not-started"], 4),
    ("budget-exceeded", ["stopped", "stopped", "not-started"], 4),
    ("incomplete", ["completed", "preflight-failed"], 1),
    ("incomplete", ["completed", "degraded"], 5),
])
def test_exit_codes(outcome: str, statuses: list[str], code: int) -> None:
    report = FleetReport(outcome=outcome, clusters=[ClusterResult(name=f"c{i}", status=s)
                                                    for i, s in enumerate(statuses)])
    assert fleet_cmds.exit_code(report) == code
