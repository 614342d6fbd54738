"""examples/notebook.ipynb runs: headless in a Jupyter kernel (nbclient), and as plain Python."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "notebook.ipynb"


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
