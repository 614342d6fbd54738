"""Every report (text, JSON, HTML) carries when, who, where, which clusterlib and the exact options;
a node whose version check failed is shown failed, never done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from upgrade_helpers import classic_ps, connect, installer

import clusterlib
from clusterlib.upgrade import Report, RollingUpgrade, UpgradeStopped
from clusterlib.upgrade import report_html as chtml
from clusterlib.upgrade.lock import whoami


def _completed(tmp_path: Path) -> Report:
    path = tmp_path / "j.json"
    with connect(classic_ps()) as cluster:
        RollingUpgrade(cluster, action=installer(), journal=path, retries_per_node=2).run()
    return Report.from_journal(path)


def test_report_header_in_text_json_and_html(tmp_path: Path) -> None:
    report = _completed(tmp_path)
    assert report.outcome == "completed"
    assert report.started and report.started.endswith("+00:00")
    assert report.finished and report.finished >= report.started
    assert report.operator == whoami() and "@" in report.operator
    assert report.clusterlib_version == clusterlib.__version__
    assert report.options["retries_per_node"] == 2
    text = report.to_text()
    for needle in ("Started:", "Finished:", " UTC", f"Operator:   {whoami()}",
                   f"clusterlib: {clusterlib.__version__}", '"retries_per_node": 2',
                   f"Cluster:    {report.cluster}"):
        assert needle in text, needle
    doc = json.loads(report.to_json())
    assert doc["started"] == report.started and doc["finished"] == report.finished
    assert doc["operator"] == whoami() and doc["clusterlib_version"] == clusterlib.__version__
    assert doc["options"]["retries_per_node"] == 2 and doc["duration_seconds"] >= 0
    assert all(n["result"] == "upgraded" for n in doc["nodes"].values())
    for page in (chtml.report_document(report), report._repr_html_()):
        for needle in ("Started", " UTC", whoami(), clusterlib.__version__,
                       "retries_per_node", report.cluster):
            assert needle in page, needle


def test_a_failed_version_check_shows_the_node_failed_not_done(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    with connect(classic_ps()) as cluster, pytest.raises(UpgradeStopped) as err:
        RollingUpgrade(cluster, action=installer(), journal=path, verify="cmd /c exit 3").run()
    assert err.value.phase == "verify"
    report = Report.from_journal(path)
    assert report.nodes["NODE1"]["after"], "the versions were read before the check failed"
    assert report.node_result("NODE1") == "failed"
    assert report.node_result("NODE2") == "not upgraded"
    assert report.finished is not None
    row = next(line for line in report.to_text().splitlines() if line.startswith("NODE1 "))
    assert row.endswith("FAILED") and "upgraded" not in row
    page = chtml.report_document(report)
    cells = page.split("<b>NODE1</b>", 1)[1].split("</tr>", 1)[0]
    assert "failed" in cells and ">done<" not in cells


def test_an_old_journal_without_the_version_says_unknown(tmp_path: Path) -> None:
    report = _completed(tmp_path)
    doc = report.to_dict()
    doc.pop("clusterlib_version")
    page = chtml.report_document(doc)
    assert "unknown (not recorded)" in page
