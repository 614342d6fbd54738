"""The examples run as a user would run them, so they cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_runs_and_prints_what_happened() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert "drained 'SQL Group 1': NODE1 -> NODE2" in out.stdout
    assert "refused: cannot move File Group 3 to NODE1: NODE1 is Paused" in out.stdout
    assert "NODE1 is Up" in out.stdout
    assert out.stdout.rstrip().endswith("health: healthy")
