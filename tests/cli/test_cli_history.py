"""``clusterlib upgrade history``: a folder of journals listed newest first, refused ones named,
an HTML index with one page per run (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from clusterlib_cli.main import app


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "CLUSTERLIB_PASSWORD": "",
                                                      "COLUMNS": "300"})
    return result


def test_history_lists_runs_newest_first_and_names_refused_journals(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir(mode=0o700)
    for name, layout in (("a.json", "classic-2012r2"), ("b.json", "build:3x4")):
        done = invoke("upgrade", "run", "--sim", layout, "--yes", "--journal", str(runs / name))
        assert done.exit_code == 0, done.output
    (runs / "notes.json").write_text('{"not": "a journal"}', encoding="utf-8")
    broken = runs / "c.json"
    broken.write_text((runs / "a.json").read_text(encoding="utf-8").replace("NODE1", "NODE7", 1),
                      encoding="utf-8")
    broken.chmod(0o600)
    result = invoke("upgrade", "history", str(runs), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "clusterlib.history/1"
    listed = {Path(r["journal"]).name: r for r in doc["runs"]}
    assert set(listed) == {"a.json", "b.json", "c.json"}  # notes.json is no journal
    assert listed["a.json"]["outcome"] == "completed" and listed["a.json"]["cluster"] == "CLUSTER1"
    assert listed["c.json"]["refused"]  # edited: named, with the reason, never dropped
    good = [r for r in doc["runs"] if not r["refused"]]
    assert [Path(r["journal"]).name for r in good] == ["b.json", "a.json"]  # newest first
    text = invoke("upgrade", "history", str(runs), "--last", "1")
    assert text.exit_code == 0 and "COMPLETED" in text.stdout
    assert len(text.stdout.strip().splitlines()) == 2  # header + the newest run


def test_history_html_index_links_each_report(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir(mode=0o700)
    done = invoke("upgrade", "run", "--sim", "classic-2012r2", "--yes", "--journal",
                  str(runs / "a.json"))
    assert done.exit_code == 0, done.output
    out = tmp_path / "site"
    result = invoke("upgrade", "history", str(runs), "--html", str(out))
    assert result.exit_code == 0, result.output
    index = (out / "index.html").read_text(encoding="utf-8")
    pages = sorted(p.name for p in out.glob("report-*.html"))
    assert len(pages) == 1 and f'href="{pages[0]}"' in index
    assert (out / pages[0]).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in out.iterdir())
    assert "<script" not in index


def test_history_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("upgrade", "history", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "no such folder" in result.output


def test_history_lists_a_version_1_journal_without_rewriting_it(tmp_path: Path) -> None:
    """A journal written before the format's version 2 (tests/fixtures/journal_v1.json) is read
    through the migration; listing it writes nothing."""
    runs = tmp_path / "runs"
    runs.mkdir(mode=0o700)
    old = runs / "v1.json"
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "journal_v1.json"
    old.write_bytes(fixture.read_bytes())
    old.chmod(0o600)
    result = invoke("upgrade", "history", str(runs), "--json")
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.stdout)["runs"]
    assert run["refused"] is None and run["run_id"] == "2f760426804e"
    assert run["outcome"] == "stopped" and run["nodes"] == ["NODE1", "NODE2"] and run["simulated"]
    assert old.read_bytes() == fixture.read_bytes()
