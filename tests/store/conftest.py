"""Shared fixtures of the store tests: seeded realistic chips and one store per back end.

Back ends: ``edge`` (Qdrant Edge in a temporary folder), ``memory`` (qdrant-client's
``":memory:"``) and ``server`` (marked ``server``): a real Qdrant server or cluster at
``CLOSP_TEST_QDRANT_URL`` (API key: ``CLOSP_TEST_QDRANT_API_KEY``), where every test gets its own
collection, deleted at the end of the session. ``make test`` deselects ``server``;
``CLOSP_TEST_QDRANT_URL=http://localhost:6333 pytest -m server`` runs every back-end test
against the server; without the variable those tests are skipped and the summary says why.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from closp_core.bands import Sensor
from closp_core.labels import LABELS
from closp_core.store import ChipRecord, GeoPolygon, IndexParams, VectorStore
from closp_core.store.edge import EdgeStore
from closp_core.store.remote import RemoteStore

MODEL = "DarthReca/CLOSP-RN"
N_CHIPS = 300
SOURCES = {Sensor.S1: ("benv2s1", "mmflood", "quakeset"), Sensor.S2: ("benv2s2", "cabuar")}
SERVER_URL_ENV = "CLOSP_TEST_QDRANT_URL"
SERVER_KEY_ENV = "CLOSP_TEST_QDRANT_API_KEY"
SERVER_SKIP_REASON = (
    f"{SERVER_URL_ENV} is not set: the server suite needs a running Qdrant "
    f"(deploy/README.md), then {SERVER_URL_ENV}=http://localhost:6333 pytest -m server"
)
SERVER = pytest.param("server", marks=pytest.mark.server)
BACKENDS = ("edge", "memory", SERVER)
# one prefix per test session, so parallel or repeated sessions never share a collection
_SESSION = uuid.uuid4().hex[:8]
_server_collections: set[str] = set()
_server_checked: dict[str, str] = {}


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


def open_backend(
    kind: str, folder: Path, model_id: str = MODEL, params: IndexParams | None = None
) -> VectorStore:
    """An empty store of the given kind; reopening the same ``folder`` reopens the same
    collection for ``edge`` and ``server`` (``memory`` always starts empty)."""
    if kind == "edge":
        return EdgeStore(folder / "index", model_id, params)
    if kind == "memory":
        return RemoteStore(model_id, url=":memory:", params=params)
    url, api_key = server_address()
    name = f"closp_test_{_SESSION}_{uuid.uuid5(uuid.NAMESPACE_URL, str(folder)).hex[:12]}"
    _server_collections.add(name)
    return RemoteStore(model_id, url=url, api_key=api_key, collection=name, params=params)


def server_address() -> tuple[str, str | None]:
    """URL and API key of the test server: skips without one, fails when it does not answer."""
    url = os.environ.get(SERVER_URL_ENV, "").strip()
    if not url:
        pytest.skip(SERVER_SKIP_REASON)
    api_key = os.environ.get(SERVER_KEY_ENV) or None
    if url not in _server_checked:
        client = QdrantClient(url=url, api_key=api_key, timeout=5, check_compatibility=False)
        try:
            client.get_collections()
            _server_checked[url] = ""
        except (ResponseHandlingException, UnexpectedResponse, httpx.HTTPError) as exc:
            _server_checked[url] = (
                f"{SERVER_URL_ENV}={url} is set but no Qdrant answers there "
                f"({type(exc).__name__}: {exc}); start it (deploy/README.md), check "
                f"{SERVER_KEY_ENV}, or unset {SERVER_URL_ENV} to skip the server suite"
            )
        finally:
            client.close()
    if _server_checked[url]:
        pytest.fail(_server_checked[url], pytrace=False)
    return url, api_key


@pytest.fixture(scope="session", autouse=True)
def _delete_server_collections() -> Iterator[None]:
    """Delete every collection the server tests created (only ever ``closp_test_*`` ones)."""
    yield
    url = os.environ.get(SERVER_URL_ENV, "").strip()
    if not url or not _server_collections or _server_checked.get(url):
        return
    client = QdrantClient(url=url, api_key=os.environ.get(SERVER_KEY_ENV) or None)
    try:
        for name in sorted(_server_collections):
            client.delete_collection(name)
    finally:
        client.close()


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
