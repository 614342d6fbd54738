"""``upgrade plan/run --drain-ahead`` reaches UpgradeOptions.drain_ahead and the run's moves."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from clusterlib.upgrade import Journal
from clusterlib_cli.main import app

FOUR = ["--sim", "build:4x8@2012r2"]


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "CLUSTERLIB_PASSWORD": ""})
    return result.exit_code, result.stdout


def test_the_flag_sets_the_option_and_off_is_the_default() -> None:
    for flag, want in (([], False), (["--drain-ahead"], True)):
        code, out = _invoke("upgrade", "plan", *FOUR, "--json", *flag)
        assert code == 0, out
        assert json.loads(out)["options"]["drain_ahead"] is want


def test_a_run_with_the_flag_drains_ahead_and_journals_the_option(tmp_path: Path) -> None:
    journal = tmp_path / "j.json"
    code, out = _invoke("upgrade", "run", *FOUR, "--drain-ahead", "--yes", "--json",
                        "--journal", str(journal))
    assert code == 0, out
    report = json.loads(out)
    assert report["outcome"] == "completed"
    sources = {m["source"] for m in report["moves"] if m["purpose"] == "drain-ahead"}
    assert sources == {"NODE02", "NODE03", "NODE04"}
    assert Journal.load(journal).state.options["drain_ahead"] is True  # resume keeps it
