"""The automation example (examples/automation.py) runs as a script would: exit codes, SIMULATED,
a stopped run resumed by running the same command again."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "automation.py"


def _load() -> object:
    spec = importlib.util.spec_from_file_location("automation_example", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_automation_example_rehearses_on_the_simulator(tmp_path: Path) -> None:
    journal = tmp_path / "upgrade.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--journal", str(journal)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("SIMULATED")
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last == {"outcome": "completed", "simulated": True, "journal": str(journal)}
    again = subprocess.run([sys.executable, str(SCRIPT), "--journal", str(journal)],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert again.returncode == 1 and "cannot resume" in again.stderr


def test_automation_example_stops_with_4_and_the_same_call_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import clusterlib
    from clusterlib.sim import NodeNeverReturns, SimCluster

    module = _load()
    sim = SimCluster.classic(os="2012R2", upgrade_to="2016", speed=20_000)
    fault = NodeNeverReturns("NODE1")
    sim.faults.append(fault)
    # The script's --host path, served by this simulator (nothing leaves the process).
    monkeypatch.setattr(module, "_connect", lambda args: (clusterlib.connect(sim), False))
    journal = tmp_path / "upgrade.json"
    argv = ["--host", "mgmt1.example", "--journal", str(journal)]
    assert module.main(argv) == 4  # type: ignore[attr-defined]
    sim.faults.remove(fault)
    result = module.main(argv)  # type: ignore[attr-defined]
    assert result in (0, 4)
    assert json.loads(journal.read_text(encoding="utf-8"))["journal"]["outcome"] in (
        "completed", "stopped", "degraded")
