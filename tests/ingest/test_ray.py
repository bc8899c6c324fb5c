"""``--engine ray`` on a local Ray cluster this module starts (2 CPUs, 127.0.0.1, no dashboard):
the same index as the plain run, a worker killed mid-unit (one writer, and a shared store that
the encoders write), the embedded index's one-machine rule. One Ray session for every test here
(``ray_session``)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient

from closp_core.data import BigEarthNetSource, ChipSource, SceneSource
from closp_core.data.chip import Chip, Tally
from closp_core.data.samples import SAMPLES_DIR
from closp_core.embedder import Embedder
from closp_core.errors import ConfigError
from closp_core.settings import Settings
from closp_core.store import ChipRecord, VectorStore, open_store
from closp_core.store.remote import RemoteStore
from ingest.cli import EXIT_NOT_STARTED, EXIT_OK, main
from ingest.pipeline import Ingestor
from ingest.ray_engine import check_address, encoder_count, run_on_ray
from ingest.ray_writer import StoreOpener, StoreSettingsOpener
from tests.ingest.conftest import cli_args
from tests.store.conftest import server_address

S1_PATCHES = SAMPLES_DIR / "bigearthnet" / "BigEarthNet-S1-Example"  # 6 one-chip folders
SPAIN_S1 = SAMPLES_DIR / "sen1floods11-spain" / "Spain_7370579_S1Hand.tif"  # 25 chips
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ray_session() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}},
        logging_level="WARNING",
    )
    yield ray
    ray.shutdown()


@dataclasses.dataclass(frozen=True)
class _RemoteOpener:
    """qdrant-client's local mode (a folder), opened in the writer actor."""

    path: Path
    model_id: str
    shared = False

    def __call__(self) -> VectorStore:
        return RemoteStore(self.model_id, path=self.path)


@dataclasses.dataclass(frozen=True)
class _ShardOpener:
    """A shared store as the engine sees one (every encoder writes), made of qdrant-client's
    local mode: one folder per process that opens it (local mode admits one process a folder;
    a server is one store for all). The union of the folders is the index."""

    root: Path
    model_id: str
    shared = True

    def __call__(self) -> VectorStore:
        return RemoteStore(self.model_id, path=self.root / f"process-{os.getpid()}")

    def shards(self) -> list[VectorStore]:
        return [RemoteStore(self.model_id, path=path) for path in sorted(self.root.iterdir())]


@dataclasses.dataclass(frozen=True)
class _ServerOpener:
    """A ``closp_test_*`` collection on the server at ``CLOSP_TEST_QDRANT_URL``."""

    url: str
    api_key: str | None
    collection: str
    model_id: str
    shared = True

    def __call__(self) -> VectorStore:
        return RemoteStore(
            self.model_id, url=self.url, api_key=self.api_key, collection=self.collection
        )


@contextlib.contextmanager
def _opener(kind: str, tmp_path: Path, model_id: str) -> Iterator[StoreOpener]:
    """qdrant-client's local mode (one writer, or ``shards``: one folder per writing process),
    or (``pytest -m server``) a collection on the test server, deleted afterwards."""
    if kind == "local":
        yield _RemoteOpener(tmp_path / "local-qdrant", model_id)
        return
    if kind == "shards":
        yield _ShardOpener(tmp_path / "shards", model_id)
        return
    url, api_key = server_address()
    name = f"closp_test_ray_{uuid.uuid4().hex[:12]}"
    try:
        yield _ServerOpener(url, api_key, name, model_id)
    finally:
        client = QdrantClient(url=url, api_key=api_key)
        try:
            if client.collection_exists(name):
                client.delete_collection(name)
        finally:
            client.close()


@dataclasses.dataclass
class _DyingSource(ChipSource):
    """``inner``, whose worker SIGKILLs itself after ``after`` chips of its first unit, once
    (``marker`` remembers it across processes)."""

    inner: ChipSource
    marker: Path
    after: int

    def units(self) -> list[str]:
        return self.inner.units()

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        for number, chip in enumerate(self.inner.read(unit, tally)):
            if number == self.after and not self.marker.exists():
                self.marker.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
            yield chip


def _same_index(ours: list[ChipRecord], theirs: list[ChipRecord]) -> None:
    """Same keys, vectors within 1e-5, same payloads (previews included)."""
    assert sorted(r.key for r in ours) == sorted(r.key for r in theirs)
    by_key = {r.key: r for r in theirs}
    for record in ours:
        other = by_key[record.key]
        np.testing.assert_allclose(record.vector, other.vector, atol=1e-5)
        assert dataclasses.replace(record, vector=None) == dataclasses.replace(other, vector=None)


def test_same_index_as_the_plain_run(ray_session: Any, tmp_path: Path) -> None:
    plain = Settings(model="random:closp-rn", data_dir=tmp_path / "plain", batch_size=4)
    ours = dataclasses.replace(plain, data_dir=tmp_path / "ray")
    sources: list[ChipSource] = [BigEarthNetSource(S1_PATCHES), SceneSource(SPAIN_S1)]
    keys = _plain_keys(plain, sources)
    embedder = Embedder.from_settings(plain, threads=1)
    summary = run_on_ray(
        sources, ours, StoreSettingsOpener(ours, embedder.model_id), progress=False
    )
    assert summary.ok and summary.indexed == len(keys) == 31
    _compare_stores(plain, ours, embedder.model_id, keys)
    again = run_on_ray(sources, ours, StoreSettingsOpener(ours, embedder.model_id), progress=False)
    assert (again.indexed, again.already_indexed) == (0, 31)  # resumable, idempotent


def _plain_keys(settings: Settings, sources: list[ChipSource]) -> list[str]:
    embedder = Embedder.from_settings(settings, threads=1)
    store = open_store(settings, embedder.model_id)
    try:
        summary = Ingestor(embedder, store, settings.data_dir, progress=False).run_many(sources)
        assert summary.ok
        return sorted(_all_keys(sources))
    finally:
        store.close()


def _all_keys(sources: list[ChipSource]) -> set[str]:
    tally = Tally()
    return {chip.key for s in sources for unit in s.units() for chip in s.read(unit, tally)}


def _compare_stores(plain: Settings, ours: Settings, model_id: str, keys: list[str]) -> None:
    theirs_store = open_store(plain, model_id)
    try:
        theirs = theirs_store.get(keys, with_vectors=True)
    finally:
        theirs_store.close()
    ours_store = open_store(ours, model_id)
    try:
        mine = ours_store.get(keys, with_vectors=True)
        assert ours_store.count() == len(keys)
    finally:
        ours_store.close()
    _same_index(mine, theirs)
    for record in mine:  # the same preview files, byte for byte
        for path in record.previews.values():
            assert (plain.data_dir / path).read_bytes() == (ours.data_dir / path).read_bytes()


@pytest.mark.parametrize(
    "kind", ["local", "shards", pytest.param("server", marks=pytest.mark.server)]
)
def test_a_worker_killed_mid_unit_loses_and_duplicates_nothing(
    ray_session: Any, tmp_path: Path, kind: str
) -> None:
    """The worker reading the 25-chip scene dies after 13 chips (3 batches sent); Ray runs the
    unit again; the store holds every chip once, counted once. ``local``: the ledger actor is
    the one writer; ``shards`` and ``server``: the encoder writes what it embeds."""
    settings = Settings(model="random:closp-rn", data_dir=tmp_path / "ray", batch_size=4)
    marker = tmp_path / "killed"
    sources: list[ChipSource] = [_DyingSource(SceneSource(SPAIN_S1), marker, after=13)]
    model_id = Embedder.from_settings(settings, threads=1).model_id
    with _opener(kind, tmp_path, model_id) as opener:
        if isinstance(opener, _ServerOpener):  # the writer may run on any machine then
            settings = settings.replace(store_url=opener.url)
        summary = run_on_ray(sources, settings, opener, progress=False, build=False)
        assert marker.exists(), "the worker was not killed: this test tests nothing"
        assert summary.ok, summary.report()
        assert (summary.indexed, summary.already_indexed) == (25, 0)
        if isinstance(opener, _ShardOpener):
            _check_shards(opener, 25)
            return
        store = opener()
        try:
            assert store.count() == 25  # ids are keys: a duplicate would not add, a loss would
            keys = sorted(_all_keys([SceneSource(SPAIN_S1)]))
            assert sorted(r.key for r in store.get(keys)) == keys
        finally:
            store.close()


def _check_shards(opener: _ShardOpener, chips: int) -> None:
    """The ledger's folder is empty, the encoder's holds every chip of the scene, once: the
    writes came from the encoder, not through the ledger."""
    shards = opener.shards()
    try:
        assert sorted(shard.count() for shard in shards) == [0, chips]
        keys = sorted(_all_keys([SceneSource(SPAIN_S1)]))
        assert sorted(r.key for shard in shards for r in shard.get(keys)) == keys
    finally:
        for shard in shards:
            shard.close()


def test_encoders_leave_a_cpu_for_reading() -> None:
    assert encoder_count({"CPU": 8.0}, None) == 2  # one per 4 CPUs
    assert encoder_count({"CPU": 8.0, "GPU": 2.0}, None) == 2  # one per GPU
    with pytest.raises(ConfigError, match=r"--encoders 2: each encoder holds a CPU .* has 2"):
        encoder_count({"CPU": 2.0}, 2)


def test_limit_and_the_cli(ray_session: Any, tmp_path: Path) -> None:
    settings = Settings(model="random:closp-rn", data_dir=tmp_path / "data", batch_size=4)
    args = cli_args(settings, "scene", str(SPAIN_S1), "--engine", "ray", "--no-optimize")
    assert main([*args, "--limit", "10"]) == EXIT_OK
    embedder = Embedder.from_settings(settings, threads=1)
    store = open_store(settings, embedder.model_id)
    try:
        assert store.count() == 10
    finally:
        store.close()


def test_the_embedded_index_stays_on_one_machine() -> None:
    with pytest.raises(ConfigError, match=r"embedded one \(Qdrant Edge\).*--store-url"):
        check_address("ray://ray-head.invalid:10001", embedded=True)
    check_address("ray://ray-head.invalid:10001", embedded=False)  # a server takes every machine
    check_address("ray://127.0.0.1:10001", embedded=True)
    with pytest.raises(ConfigError, match="use auto or ray://HOST:PORT"):
        check_address("ray-head.invalid:6379", embedded=True)


def test_ray_options_need_the_ray_engine(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = cli_args(settings, "scene", str(SPAIN_S1), "--address", "auto")
    assert main(args) == EXIT_NOT_STARTED
    assert "--address and --encoders go with --engine ray" in capsys.readouterr().err


def test_the_cli_refuses_another_machine_for_the_embedded_index(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray")
    remote = ("--engine", "ray", "--address", "ray://ray-head.invalid:10001")
    assert main(cli_args(settings, "scene", str(SPAIN_S1), *remote)) == EXIT_NOT_STARTED
    err = capsys.readouterr().err
    assert "ray://ray-head.invalid:10001 is another machine" in err and "--store-url" in err
    assert not (settings.data_dir / "index").exists()  # nothing was opened
