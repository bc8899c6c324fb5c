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

from closp_core.data import SceneOptions, SceneSource
from closp_core.data.samples import sample_sources
from closp_core.embedder import Embedder
from closp_core.model.demo import load_demo_model
from closp_core.settings import Settings
from closp_core.store import open_store
from ingest.pipeline import Ingestor
from tests.data.multidate.make_data import PREFLOOD_DATES, make_preflood

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


def add_preflood(data_dir: Path) -> int:
    """Index the SYNTHETIC pre-flood copies of the Spain scenes (``tests/data/multidate``:
    the flood painted out, dated a month earlier) next to the real flooded ones."""
    embedder = Embedder(load_demo_model(), device="cpu", batch_size=32)
    store = open_store(Settings(data_dir=data_dir), embedder.model_id)
    try:
        sources = [
            SceneSource(path, SceneOptions(sensor=sensor, acquired=PREFLOOD_DATES[sensor]),
                        scene_id=f"synthetic-preflood-Spain_7370579-{sensor.value}")
            for sensor, path in make_preflood(data_dir / "preflood").items()
        ]  # fmt: skip
        Ingestor(embedder, store, data_dir, batch_size=32, progress=False).run_many(sources)
        return store.count()
    finally:
        store.close()


@pytest.fixture(scope="session")
def multidate_template(index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test index plus the synthetic pre-flood Spain scenes (two dates per sensor)."""
    data_dir = tmp_path_factory.mktemp("app-multidate") / "data"
    shutil.copytree(index_template, data_dir)
    assert add_preflood(data_dir) == 62 + 50
    return data_dir


@pytest.fixture
def multidate_data(
    multidate_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A private copy of ``multidate_template`` for the app."""
    data_dir = tmp_path / "data"
    shutil.copytree(multidate_template, data_dir)
    monkeypatch.setenv("CLOSP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CLOSP_DEVICE", "cpu")
    return data_dir
