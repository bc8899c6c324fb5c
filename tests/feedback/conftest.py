"""Fixtures of the feedback tests: two-concept chips on both back ends, and the real samples
embedded by the shipped demo model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.data.chip import Tally
from closp_core.data.samples import sample_sources
from closp_core.embedder import Embedder
from closp_core.evaluate.feedback import records_from_chips
from closp_core.model.demo import load_demo_model
from closp_core.store import ChipRecord, VectorStore
from tests.store import conftest as store_fixtures
from tests.store.conftest import BACKENDS, open_backend, square

# the store tests' fixtures, shared: ``store`` (empty, each back end) and ``records``
store = store_fixtures.store
records = store_fixtures.records

N_PER_CONCEPT = 60


def concept_records(seed: int = 0) -> tuple[list[ChipRecord], np.ndarray]:
    """``3 * N_PER_CONCEPT`` chips around three concept centres, both sensors, and the centres.

    Concept 0 ("Water") is the target; concept 1 ("Crops") sits between the query and it, so
    the query alone ranks many concept-1 chips high; concept 2 ("Built") is far away.
    ``(3, 384)`` centres are returned for building queries."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 384))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = ("Water", "Crops", "Built")
    out = []
    t0 = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    for c in range(3):
        vecs = centres[c] + 0.9 * rng.normal(size=(N_PER_CONCEPT, 384)) / np.sqrt(384)
        for i, v in enumerate(vecs):
            lon, lat = float(rng.uniform(-10, 10)), float(rng.uniform(35, 45))
            sensor = Sensor.S1 if i % 2 else Sensor.S2
            out.append(
                ChipRecord(
                    key=f"concept{c}_{i:03d}",
                    vector=v / np.linalg.norm(v),
                    sensor=sensor,
                    source="benv2s1" if sensor is Sensor.S1 else "benv2s2",
                    labels=(labels[c],),
                    acquired=t0 + dt.timedelta(days=i),
                    center=(lon, lat),
                    footprint=square(lon, lat),
                )
            )
    return out, centres.astype(np.float32)


@pytest.fixture(scope="session")
def concepts() -> tuple[list[ChipRecord], np.ndarray]:
    return concept_records()


@pytest.fixture(params=BACKENDS, scope="module")
def concept_store(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    concepts: tuple[list[ChipRecord], np.ndarray],
) -> Iterator[VectorStore]:
    """The concept chips in a store of each back end (read-only)."""
    st = open_backend(request.param, tmp_path_factory.mktemp(request.param))
    st.upsert(concepts[0])
    yield st
    st.close()


@pytest.fixture(scope="session")
def demo_embedder() -> Embedder:
    """The shipped demo model on the CPU (the model the app falls back to offline)."""
    return Embedder(load_demo_model(), device="cpu", batch_size=32)


@pytest.fixture(scope="session")
def sample_records(demo_embedder: Embedder) -> list[ChipRecord]:
    """Every chip of the shipped samples (126: Virginia S2, Spain S1 + S2, BigEarthNet),
    embedded by the demo model; the same readers and labels as ``python -m ingest demo``."""
    tally = Tally()
    chips = [c for s in sample_sources() for u in s.units() for c in s.read(u, tally)]
    return records_from_chips(demo_embedder, chips)


@pytest.fixture(params=BACKENDS, scope="module")
def sample_store(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sample_records: list[ChipRecord],
    demo_embedder: Embedder,
) -> Iterator[VectorStore]:
    """The samples in a store of each back end, for the demo model."""
    folder = tmp_path_factory.mktemp(f"samples-{request.param}")
    st = open_backend(request.param, folder, demo_embedder.model_id)
    st.upsert(sample_records)
    yield st
    st.close()
