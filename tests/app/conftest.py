"""Fixtures of the web-app tests: a small real index built once, copied per test.

The index holds the shipped Sen1Floods11 Spain (S1 + S2, some chips labelled "Flooded Area")
and BigEarthNet samples, embedded with the shipped demo model — the model the app itself falls
back to offline (``HF_HUB_OFFLINE=1`` is set by ``tests/conftest.py``), so app and index agree.
The app is pointed at a copy through ``CLOSP_DATA_DIR`` (one process may own an index).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from closp_core.data.samples import sample_sources
from closp_core.embedder import Embedder
from closp_core.model.demo import load_demo_model
from closp_core.settings import Settings
from closp_core.store import open_store
from ingest.pipeline import Ingestor

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"


def build_index(data_dir: Path) -> int:
    """Index the Spain + BigEarthNet samples into ``data_dir`` with the demo model."""
    embedder = Embedder(load_demo_model(), device="cpu", batch_size=32)
    settings = Settings(data_dir=data_dir)
    store = open_store(settings, embedder.model_id)
    try:
        ingestor = Ingestor(embedder, store, data_dir, batch_size=32, progress=False)
        for source in sample_sources()[1:]:  # skip the Virginia strip to stay small
            ingestor.run(source)
        store.optimize()
        return store.count()
    finally:
        store.close()


@pytest.fixture(scope="session")
def index_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder (index + previews) built once per test session; copy before use."""
    data_dir = tmp_path_factory.mktemp("app-index") / "data"
    assert build_index(data_dir) >= 50
    return data_dir


@pytest.fixture
def app_data(index_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the index; the app (run in this process by AppTest) reads it."""
    data_dir = tmp_path / "data"
    shutil.copytree(index_template, data_dir)
    monkeypatch.setenv("CLOSP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CLOSP_DEVICE", "cpu")
    return data_dir
