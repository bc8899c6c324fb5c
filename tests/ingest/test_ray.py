"""``--engine ray`` on a local Ray cluster this module starts (2 CPUs, 127.0.0.1, no dashboard):
the same index as the plain run though a worker was killed mid-unit (the embedded index, one
writer), a shared store that the encoders write (a worker killed there too), the embedded
index's one-machine rule. One Ray session for every test here (``ray_session``); what travels
to Ray's workers lives in ``ray_parts`` (no torch: workers start fast)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient

from closp_core.data import BigEarthNetSource, ChipSource, SceneSource
from closp_core.data.chip import Tally
from closp_core.data.samples import SAMPLES_DIR
from closp_core.embedder import Embedder
from closp_core.errors import ConfigError
from closp_core.scoremap.sidefile import load_table, side_file_path
from closp_core.settings import Settings
from closp_core.store import ChipRecord, open_store
from ingest.cli import EXIT_NOT_STARTED, EXIT_OK, main
from ingest.pipeline import Ingestor
from ingest.ray_engine import check_address, encoder_count, run_on_ray
from ingest.ray_writer import StoreOpener, StoreSettingsOpener
from tests.ingest.conftest import cli_args
from tests.ingest.ray_parts import DyingSource, ServerOpener, ShardOpener
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


@contextlib.contextmanager
def _opener(kind: str, tmp_path: Path, model_id: str) -> Iterator[StoreOpener]:
    """qdrant-client's local mode (``shards``: one folder per writing process), or (``pytest -m
    server``) a collection on the test server, deleted afterwards."""
    if kind == "shards":
        yield ShardOpener(tmp_path / "shards", model_id)
        return
    url, api_key = server_address()
    name = f"closp_test_ray_{uuid.uuid4().hex[:12]}"
    try:
        yield ServerOpener(url, api_key, name, model_id)
    finally:
        client = QdrantClient(url=url, api_key=api_key)
        try:
            if client.collection_exists(name):
                client.delete_collection(name)
        finally:
            client.close()


def _same_index(ours: list[ChipRecord], theirs: list[ChipRecord]) -> None:
    """Same keys, vectors within 1e-5, same payloads (previews included)."""
    assert sorted(r.key for r in ours) == sorted(r.key for r in theirs)
    by_key = {r.key: r for r in theirs}
    for record in ours:
        other = by_key[record.key]
        np.testing.assert_allclose(record.vector, other.vector, atol=1e-5)
        assert dataclasses.replace(record, vector=None) == dataclasses.replace(other, vector=None)


def test_same_index_as_the_plain_run_though_a_worker_died(
    ray_session: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two sources on Ray into the embedded index (the ledger actor its one writer), the
    worker reading the scene killed after 13 chips (3 batches sent) and the unit run again:
    the same keys, vectors, payloads and previews as the plain run, every chip once, counted
    once. Then the CLI on the same index embeds nothing again, ``--limit`` cutting what it
    takes."""
    plain = Settings(model="random:closp-rn", data_dir=tmp_path / "plain", batch_size=4)
    ours = dataclasses.replace(plain, data_dir=tmp_path / "ray")
    sources: list[ChipSource] = [BigEarthNetSource(S1_PATCHES), SceneSource(SPAIN_S1)]
    keys = _plain_keys(plain, sources)
    marker = tmp_path / "killed"
    dying = [sources[0], DyingSource(sources[1], marker, after=13)]
    model_id = Embedder.from_settings(plain, threads=1).model_id
    summary = run_on_ray(dying, ours, StoreSettingsOpener(ours, model_id), progress=False)
    assert marker.exists(), "the worker was not killed: this test tests less than it says"
    assert summary.ok, summary.report()
    assert (summary.indexed, summary.already_indexed, len(keys)) == (31, 0, 31)
    _compare_stores(plain, ours, model_id, keys)
    args = cli_args(ours, "scene", str(SPAIN_S1), "--engine", "ray", "--no-optimize")
    capsys.readouterr()
    assert main([*args, "--limit", "10"]) == EXIT_OK  # resumable, idempotent
    out = capsys.readouterr().out
    assert "indexed 0 chips" in out and "skipped 10 chips already indexed" in out
    assert len(load_table(side_file_path(ours), 31)) == 31  # the side file, rebuilt after


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


@pytest.mark.parametrize("kind", ["shards", pytest.param("server", marks=pytest.mark.server)])
def test_a_shared_store_takes_the_encoders_writes_and_a_killed_worker_loses_nothing(
    ray_session: Any, tmp_path: Path, kind: str
) -> None:
    """A store every machine reaches (``shards``: qdrant-client's local mode, a folder per
    writing process; ``server``: the test server): the encoder writes what it embeds, the
    ledger nothing. The worker reading the 25-chip scene dies after 13 chips; Ray runs the unit
    again, which gives back what the dead attempt took against ``--limit 20`` and skips what
    it had acknowledged: the first 20 chips, each once, counted once."""
    settings = Settings(model="random:closp-rn", data_dir=tmp_path / "ray", batch_size=4)
    marker = tmp_path / "killed"
    sources: list[ChipSource] = [DyingSource(SceneSource(SPAIN_S1), marker, after=13)]
    model_id = Embedder.from_settings(settings, threads=1).model_id
    scene = SceneSource(SPAIN_S1)
    keys = sorted([chip.key for chip in scene.read(scene.units()[0], Tally())][:20])
    with _opener(kind, tmp_path, model_id) as opener:
        if isinstance(opener, ServerOpener):  # the encoders may run on any machine then
            settings = settings.replace(store_url=opener.url)
        summary = run_on_ray(sources, settings, opener, progress=False, build=False, limit=20)
        assert marker.exists(), "the worker was not killed: this test tests less than it says"
        assert summary.ok, summary.report()
        assert (summary.indexed, summary.already_indexed) == (20, 0)
        stores = opener.shards() if isinstance(opener, ShardOpener) else [opener()]
        try:
            if isinstance(opener, ShardOpener):  # the ledger's folder empty, the encoder's full
                assert sorted(store.count() for store in stores) == [0, 20]
            else:
                assert stores[0].count() == 20  # ids are keys: a duplicate would not add
            assert sorted(r.key for store in stores for r in store.get(keys)) == keys
        finally:
            for store in stores:
                store.close()


def test_encoders_leave_a_cpu_for_reading() -> None:
    assert encoder_count({"CPU": 8.0}, None) == 2  # one per 4 CPUs
    assert encoder_count({"CPU": 8.0, "GPU": 2.0}, None) == 2  # one per GPU
    with pytest.raises(ConfigError, match=r"--encoders 2: each encoder holds a CPU .* has 2"):
        encoder_count({"CPU": 2.0}, 2)


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
