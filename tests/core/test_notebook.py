"""examples/notebook.ipynb runs: headless in a Jupyter kernel (nbclient), and as plain Python."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.ipynb"


def _code_cells() -> list[str]:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_notebook_code_runs_without_jupyter(capsys: Any) -> None:
    # The same cells, executed as a script: no IPython needed (progress prints plain lines).
    namespace: dict[str, Any] = {}
    for source in _code_cells():
        exec(compile(source, str(NOTEBOOK), "exec"), namespace)  # noqa: S102 - our own example
    assert namespace["report"].outcome == "completed"
    assert namespace["page"].read_text().startswith("<!DOCTYPE html>")
    assert "[NODE1 drain]" in capsys.readouterr().out


def test_notebook_executes_headless_in_a_kernel() -> None:
    nbformat = pytest.importorskip("nbformat", reason="needs nbformat (pip install nbformat)")
    nbclient = pytest.importorskip("nbclient", reason="needs nbclient (pip install nbclient)")
    pytest.importorskip("ipykernel", reason="needs a Python kernel (pip install ipykernel)")
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    html_outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                    if "text/html" in o.get("data", {})]
    # snapshot, plan, live progress, report, final snapshot
    assert len(html_outputs) >= 4
    assert any("Timeline" in o["data"]["text/html"] for o in html_outputs)
    # the live view was updated in place to its end, with the plan's step count
    live = [o["data"]["text/html"] for o in html_outputs if "In phase" in o["data"]["text/html"]]
    assert live and "finished: completed" in live[-1]


# ---- live progress: step n of N, time left, a clock that moves between events ------------------

class _Handle:
    """Stands in for IPython's display handle: records every update."""

    def __init__(self) -> None:
        self.updates: list[str] = []

    def update(self, obj: Any) -> None:
        self.updates.append(str(obj))


def _live(progress: Any) -> _Handle:
    handle = _Handle()
    progress._handle, progress._display = handle, (None, str)
    return handle


PLAN = {"steps": [{"id": "N1:drain", "expected_seconds": 100.0},
                  {"id": "N1:reboot", "expected_seconds": 300.0},
                  {"id": "N1:resume", "expected_seconds": 50.0}]}


def test_progress_shows_step_n_of_n_and_the_time_left_from_the_estimates() -> None:
    from clusterlib.html import NotebookProgress

    now = [1000.0]
    progress = NotebookProgress("run", plan=PLAN, time_scale=10.0)
    progress._clock = lambda: now[0]
    assert progress.remaining_seconds() == 450.0
    progress({"type": "RunStarted", "text": "started"})
    progress({"type": "PhaseStarted", "node": "N1", "phase": "drain", "step": "N1:drain"})
    now[0] += 3.0  # 30 cluster seconds
    progress({"type": "PhaseStarted", "node": "N1", "phase": "reboot", "step": "N1:reboot"})
    now[0] += 12.0  # 120 cluster seconds into a 300-second reboot
    line = progress.status_line()
    assert line.startswith("step 2 of 3: N1 reboot, 2 min 00 s (expected 5 min 00 s)"), line
    assert "elapsed 2 min 30 s" in line
    assert progress.remaining_seconds() == 180.0 + 50.0
    assert "about 3 min 50 s left (plan estimates)" in line
    now[0] += 100.0  # the reboot overruns its estimate: what is left never goes negative
    assert progress.remaining_seconds() == 50.0
    progress({"type": "PhaseStarted", "node": "N1", "phase": "failback", "step": "N1:extra"})
    assert progress.step_position() == (None, 3) and progress.remaining_seconds() is None
    assert progress.status_line().startswith("step ? of 3: N1 failback")
    progress({"type": "RunFinished", "outcome": "completed"})
    assert progress.status_line().startswith("finished: completed after")


def test_progress_ticks_while_no_event_arrives() -> None:
    """During a long reboot no event comes: the ticker re-draws, and the clock has moved."""
    from clusterlib.html import NotebookProgress

    progress = NotebookProgress("run", plan=PLAN, time_scale=1000.0, tick=0.01)
    handle = _live(progress)
    progress({"type": "PhaseStarted", "node": "N1", "phase": "reboot", "step": "N1:reboot"})
    try:
        deadline = time.monotonic() + 10
        while len(handle.updates) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        ticks = list(handle.updates)
        assert len(ticks) >= 6, "the view was not re-drawn between events"
        clocks = {re.search(r"N1 reboot, ([^(|]+)", t).group(1) for t in ticks}  # type: ignore[union-attr]
        assert len(clocks) >= 3, clocks  # the elapsed time moves
        assert all("step 2 of 3" in t for t in ticks)
    finally:
        progress({"type": "RunFinished", "outcome": "stopped"})
    settled = len(handle.updates)
    time.sleep(0.1)
    assert len(handle.updates) == settled, "the ticker stops when the run ends"
    assert "finished: stopped" in handle.updates[-1]


def test_progress_follows_a_real_run(tmp_path: Path) -> None:
    from upgrade_helpers import classic_ps, connect, installer

    from clusterlib.html import NotebookProgress
    from clusterlib.upgrade import RollingUpgrade

    with connect(classic_ps()) as cluster:
        upgrade = RollingUpgrade(cluster, action=installer(), journal=tmp_path / "j.json")
        plan = upgrade.plan()
        progress = NotebookProgress("run", plan=plan, time_scale=cluster.time_scale, tick=0)
        handle = _live(progress)
        upgrade.subscribe(progress)
        report = upgrade.run()
    assert report.outcome == "completed"
    total = len(plan.steps)
    seen = [int(m.group(1)) for u in handle.updates
            for m in [re.search(rf"step (\d+) of {total}:", u)] if m]
    assert seen[0] == 1 and max(seen) >= total - 1 and seen == sorted(seen)
    lefts = [m.group(1) for u in handle.updates for m in [re.search(r"about (.+?) left", u)] if m]
    assert lefts, "an estimate of the time left was shown"
    assert "finished: completed" in handle.updates[-1]


def test_progress_ticks_in_a_real_kernel() -> None:
    """In a Jupyter kernel the ticker thread's redraws reach the front end as display updates
    while the cell is still busy (a reboot that sends no event), with the clock moving."""
    nbformat = pytest.importorskip("nbformat", reason="needs nbformat (pip install nbformat)")
    nbclient = pytest.importorskip("nbclient", reason="needs nbclient (pip install nbclient)")
    pytest.importorskip("ipykernel", reason="needs a Python kernel (pip install ipykernel)")
    source = (
        "import time\n"
        "from clusterlib.html import NotebookProgress\n"
        "plan = {'steps': [{'id': 'N1:reboot', 'expected_seconds': 300.0}]}\n"
        "p = NotebookProgress('run', plan=plan, time_scale=100.0, tick=0.05)\n"
        "p({'type': 'PhaseStarted', 'node': 'N1', 'phase': 'reboot', 'step': 'N1:reboot'})\n"
        "time.sleep(1.0)  # no event: only the ticker redraws\n"
        "p({'type': 'RunFinished', 'outcome': 'completed'})\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    seen: list[str] = []

    class Client(nbclient.NotebookClient):  # type: ignore[misc, name-defined]
        def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
            seen.append(msg["content"]["data"].get("text/html", ""))
            super()._update_display_id(display_id, msg)

    Client(nb, timeout=60, kernel_name="python3").execute()
    ticks = [s for s in seen if "N1 reboot" in s]
    assert len(ticks) >= 5, f"{len(ticks)} redraws while waiting"
    clocks = {re.search(r"N1 reboot, ([^(|]+)", t).group(1) for t in ticks}  # type: ignore[union-attr]
    assert len(clocks) >= 3, clocks
    assert "step 1 of 1" in ticks[0] and "finished: completed" in seen[-1]
