"""``examples/responder.ipynb`` runs offline, top to bottom, in a real Jupyter kernel (nbclient),
on the shipped samples: search, marks, re-rank, a leafmap map with footprints and previews."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "responder.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells
               if c["cell_type"] == "code")  # fmt: skip


def test_the_responder_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOSP_NOTEBOOK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOK.parents[1]))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    where = {"metadata": {"path": str(NOTEBOOK.parents[1])}}
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources=where).execute()
    _, search, rerank, leaflet, _ = [c.outputs for c in notebook.cells if c.cell_type == "code"]
    assert "Flooded Area" in json.dumps(search)  # the results table shows the labels
    said = "".join(o.get("text", "") for o in rerank if o.get("name") == "stdout")
    assert said.split("|")[0].strip().lower() in ("rocchio", "classifier"), said
    assert "3 relevant, 2 not relevant" in said, said
    widget = leaflet[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in widget  # the leafmap (ipyleaflet) map
    assert (tmp_path / "closp").is_dir()
