"""The HTML renderers (html, upgrade.report_html): everything escaped, reports self-contained."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import clusterlib
from clusterlib import html as chtml
from clusterlib.sim import SimCluster
from clusterlib.upgrade import report_html


def _snapshot(**kw: Any) -> clusterlib.ClusterSnapshot:
    sim = SimCluster({"NODE1": ["<script>alert(1)</script>"], "NODE2": ["Web & Co"]}, **kw)
    with clusterlib.connect(sim) as cluster:
        return cluster.snapshot(owners=True)


def test_snapshot_html_escapes_names_and_shows_health() -> None:
    out = chtml.snapshot_html(_snapshot())
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "Web &amp; Co" in out and "healthy" in out
    assert out.startswith('<div class="clusterlib">')


def test_repr_html_hooks_on_records() -> None:
    snap = _snapshot()
    assert snap._repr_html_() == chtml.snapshot_html(snap)
    assert "NODE1" in snap.nodes[0]._repr_html_()
    assert "Web &amp; Co" in snap.group("Web & Co")._repr_html_()


def _report_doc() -> dict[str, Any]:
    steps = []
    t = 0
    for node in ("NODE1", "NODE2"):
        for kind, secs in (("drain", 4), ("action", 120), ("reboot", 60), ("resume", 2)):
            steps.append({"id": f"{node}-{kind}", "kind": kind, "node": node, "status": "done",
                          "attempts": 1, "started": f"2026-01-01T00:{t // 60:02d}:{t % 60:02d}+00:00",
                          "finished": f"2026-01-01T00:{(t + secs) // 60:02d}:{(t + secs) % 60:02d}"
                          "+00:00", "seconds": float(secs), "message": ""})
            t += secs
    return {
        "run_id": "r1", "cluster": "CLUSTER1", "outcome": "completed", "message": "all good",
        "journal": "/tmp/j.json",
        "nodes": {"NODE1": {"before": {"highest": "3.2195", "os": "5.0.2195"},
                            "after": {"highest": "4.3790", "os": "5.2.3790"}, "failed": False},
                  "NODE2": {"before": {"highest": "3.2195", "os": "5.0.2195"}, "after": None,
                            "failed": True}},
        "steps": steps,
        "moves": [{"group": "SQL Group 1", "source": "NODE1", "target": "NODE2", "state": "Online",
                   "purpose": "drain", "attempts": 2, "seconds": 3.0}],
        "retries": [{"node": "NODE1", "phase": "drain", "group": "SQL Group 1", "attempt": 1,
                     "error": "busy (Win32 5908)"}],
        "warnings": ["a <warning>"], "misplaced": {"File Group 3": ["NODE2", "NODE1"]},
        "phase_seconds": {"drain": 8.0}, "functional_level": {}, "audit": [], "stopped_at": None,
    }


def test_report_document_is_self_contained() -> None:
    page = report_html.report_document(_report_doc())
    assert page.startswith("<!DOCTYPE html>")
    # No scripts, no external resources: viewable offline, safe to mail around.
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"(src|href)=", page)
    assert [u for u in re.findall(r"https?://[^\"' )]+", page)
            if u != "http://www.w3.org/2000/svg"] == []
    for text in ("CLUSTER1", "3.2195 (5.0.2195)", "4.3790 (5.2.3790)", "SQL Group 1",
                 "busy (Win32 5908)", "a &lt;warning&gt;", "File Group 3", "Timeline"):
        assert text in page


def test_timeline_has_one_row_per_node_and_a_bar_per_step() -> None:
    bars = report_html.timeline_bars(_report_doc()["steps"])
    assert len(bars) == 8 and bars[0]["start"] == 0 and bars[-1]["end"] == 372
    svg = report_html.timeline_svg(bars)
    root = ET.fromstring(svg)  # noqa: S314 - our own output, checked for being well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    rects = [r for r in root.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    assert len(rects) == 8
    labels = [t.text for t in root.iter(f"{ns}text")]
    assert "NODE1" in labels and "NODE2" in labels


def test_plan_html_from_a_mapping() -> None:
    out = report_html.plan_html({"cluster": "C", "steps": [
        {"node": "NODE1", "kind": "drain", "description": "drain it",
         "commands": ["Suspend-ClusterNode -Name 'NODE1' -Drain"]}]})
    assert "Suspend-ClusterNode -Name &#x27;NODE1&#x27; -Drain" in out


def test_notebook_progress_without_ipython_prints(capsys: Any) -> None:
    progress = chtml.NotebookProgress()

    class Ev:
        def to_dict(self) -> dict[str, Any]:
            return {"type": "PhaseStarted", "node": "NODE1", "phase": "drain",
                    "text": "[NODE1 drain] draining"}

    progress(Ev())
    assert "[NODE1 drain] draining" in capsys.readouterr().out
    assert "NODE1" in progress._repr_html_()


def test_records_do_not_know_how_they_are_drawn() -> None:
    """model.py and cluster.py import no HTML; html.py gives them their reprs; the upgrade views
    moved up a floor and the old names still resolve from clusterlib.html, with a warning."""
    import ast
    import warnings
    from pathlib import Path

    import pytest

    root = Path(clusterlib.__file__).parent
    for name in ("model.py", "cluster.py", "html.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert "clusterlib.html" not in mods or name == "html.py", name
        assert not any(m.startswith("clusterlib.upgrade") for m in mods), (name, mods)
    snap = _snapshot()
    handle = clusterlib.Group(None, "G", snap.groups[0])  # type: ignore[arg-type]
    assert handle._repr_html_() == chtml.group_html(snap.groups[0])  # type: ignore[attr-defined]
    bare = clusterlib.Node(None, "<b>x</b>")  # type: ignore[arg-type]
    assert "&lt;b&gt;" in bare._repr_html_()  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match="report_html.report_document"):
        moved = chtml.report_document
    assert moved is report_html.report_document
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            _ = chtml.no_such_view
