"""The fleet journal file: atomic write, checked read, and the report/runner modules standing on it."""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest

from clusterlib.fleet import FleetError, FleetReport
from clusterlib.fleet.journal import FLEET_JOURNAL, FORMAT, journal_path, read_journal, write_journal

FLEET_DIR = Path(__file__).resolve().parents[2] / "clusterlib" / "fleet"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, lazy imports inside functions included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


# Inside the fleet, doors run one way: errors, journal, records <- report <- runner.
BELOW = {"errors.py": set(), "journal.py": {"errors"}, "records.py": set(),
         "report.py": {"journal"}, "progress.py": {"records"}}


@pytest.mark.parametrize("name", sorted(BELOW))
def test_fleet_modules_import_only_the_floors_below(name: str) -> None:
    fleet = {m.rsplit(".", 1)[1] for m in _imports(FLEET_DIR / name)
             if m.startswith("clusterlib.fleet.")}
    assert fleet <= BELOW[name], f"{name} imports {sorted(fleet - BELOW[name])}"


def test_write_then_read_keeps_the_body_and_tags_the_format(tmp_path: Path) -> None:
    path = journal_path(tmp_path)
    assert path.name == FLEET_JOURNAL
    write_journal(path, {"state": "running", "clusters": {"a": {"status": "completed"}}})
    body = read_journal(path)
    assert body["format"] == FORMAT
    assert body["clusters"] == {"a": {"status": "completed"}}
    assert not path.with_suffix(".json.tmp").exists()
    if sys.platform != "win32":
        assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_missing_journal_names_the_path_and_the_hint(tmp_path: Path) -> None:
    with pytest.raises(FleetError, match=r"no fleet journal at .*fleet\.json: start over"):
        read_journal(journal_path(tmp_path), missing=": start over")


@pytest.mark.parametrize(("text", "why"), [
    ("{not json", "cannot be read"),
    ('{"format": "something-else/1"}', "not a clusterlib fleet journal"),
    ("[1, 2]", "not a clusterlib fleet journal"),
])
def test_a_journal_that_is_not_one_is_refused(tmp_path: Path, text: str, why: str) -> None:
    journal_path(tmp_path).write_text(text, encoding="utf-8")
    with pytest.raises(FleetError, match=why):
        read_journal(journal_path(tmp_path))
    with pytest.raises(FleetError, match=why):
        FleetReport.from_journal(tmp_path)


def test_the_report_reads_what_the_journal_wrote(tmp_path: Path) -> None:
    write_journal(journal_path(tmp_path), {
        "state": "incomplete", "started": "2026-01-01T00:00:00Z",
        "updated": "2026-01-01T00:05:00Z", "options": {"parallel": 2},
        "clusters": {"a": {"name": "a", "status": "completed"},
                     "b": {"name": "b", "status": "failed", "message": "boom"}}})
    report = FleetReport.from_journal(tmp_path)
    assert report.outcome == "incomplete"
    assert [(c.name, c.status) for c in report.clusters] == [("a", "completed"), ("b", "failed")]
    assert report.options == {"parallel": 2}
