"""Shared fixtures of the store tests: seeded realistic chips and one store per back end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.labels import LABELS
from closp_core.store import ChipRecord, GeoPolygon, VectorStore
from closp_core.store.edge import EdgeStore
from closp_core.store.remote import RemoteStore

MODEL = "DarthReca/CLOSP-RN"
N_CHIPS = 300
SOURCES = {Sensor.S1: ("benv2s1", "mmflood", "quakeset"), Sensor.S2: ("benv2s2", "cabuar")}
BACKENDS = ("edge", "memory")


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 384) float32`` unit vectors around 8 cluster centres (like real embeddings)."""
    centres = rng.normal(size=(8, 384))
    vecs = centres[rng.integers(0, 8, n)] + 0.6 * rng.normal(size=(n, 384))
    return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)


def square(lon: float, lat: float, half: float = 0.006) -> GeoPolygon:
    """A ~1.2 km chip footprint around (lon, lat), counter-clockwise, closed."""
    ring = [
        (lon - half, lat - half),
        (lon + half, lat - half),
        (lon + half, lat + half),
        (lon - half, lat + half),
        (lon - half, lat - half),
    ]
    return GeoPolygon(tuple(ring))


def make_records(n: int = N_CHIPS, seed: int = 0) -> list[ChipRecord]:
    """``n`` seeded chips: 2 sensors, 5 sources, 12 labels, 10 years, world-wide centres."""
    rng = np.random.default_rng(seed)
    vectors = unit_vectors(rng, n)
    t0 = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
    records = []
    for i in range(n):
        sensor = Sensor.S1 if i % 2 else Sensor.S2
        source = SOURCES[sensor][i % len(SOURCES[sensor])]
        lon = float(rng.uniform(-179, 179))
        lat = float(rng.uniform(-80, 80))
        labels = tuple(rng.choice(LABELS, size=int(rng.integers(1, 4)), replace=False))
        records.append(
            ChipRecord(
                key=f"{source}_{i:05d}",
                vector=vectors[i],
                sensor=sensor,
                source=source,
                labels=labels,
                source_labels=tuple(f"corine {x.lower()}" for x in labels),
                scene_id=f"scene_{i // 10}",
                acquired=t0 + dt.timedelta(hours=int(rng.integers(0, 24 * 365 * 10))),
                center=(lon, lat),
                footprint=square(lon, lat),
                crs=f"EPSG:326{(i % 60) + 1:02d}",
                previews={"rgb": f"previews/{source}_{i:05d}.png"},
            )
        )
    return records


@pytest.fixture(scope="session")
def records() -> list[ChipRecord]:
    return make_records()


def open_backend(kind: str, folder: Path, model_id: str = MODEL) -> VectorStore:
    """An empty (or existing, for Edge) store of the given kind."""
    if kind == "edge":
        return EdgeStore(folder / "index", model_id)
    return RemoteStore(model_id, url=":memory:")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    """An empty store of each back end."""
    st = open_backend(request.param, tmp_path)
    yield st
    st.close()


@pytest.fixture(params=BACKENDS, scope="module")
def filled(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    records: list[ChipRecord],
) -> Iterator[VectorStore]:
    """A store of each back end holding ``records`` (read-only tests share it)."""
    st = open_backend(request.param, tmp_path_factory.mktemp(request.param))
    st.upsert(records, batch_size=64)
    yield st
    st.close()


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[[str], VectorStore]]:
    """Factory opening a fresh store per back-end name; closes them all afterwards."""
    opened: list[VectorStore] = []

    def make(kind: str) -> VectorStore:
        st = open_backend(kind, tmp_path / kind)
        opened.append(st)
        return st

    yield make
    for st in opened:
        st.close()


@pytest.fixture(scope="session")
def record_factory() -> Callable[..., list[ChipRecord]]:
    """``make_records(n, seed)`` for tests that need their own chips."""
    return make_records


@pytest.fixture(scope="session")
def model_id() -> str:
    return MODEL
