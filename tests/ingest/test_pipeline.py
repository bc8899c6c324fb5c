"""The ingest pipeline's batching and hooks, on the shipped BigEarthNet patches (one chip each)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from closp_core.bands import Sensor
from closp_core.data import BigEarthNetSource, Chip, DataError, Tally
from closp_core.data.samples import SAMPLES_DIR
from closp_core.embedder import Embedder
from closp_core.errors import ConfigError
from closp_core.scoremap.sidefile import load_table, side_file_path
from closp_core.settings import Settings
from closp_core.store import VectorStore, open_store
from ingest.pipeline import Ingestor
from ingest.reading import choose_workers
from tests.store.conftest import make_records

S1_PATCHES = SAMPLES_DIR / "bigearthnet" / "BigEarthNet-S1-Example"  # 6 one-chip folders
S2_PATCHES = SAMPLES_DIR / "bigearthnet" / "BigEarthNet-S2-Example"  # 6 one-chip folders


@pytest.fixture
def store(settings: Settings, rn_embedder: Embedder) -> Iterator[VectorStore]:
    opened = open_store(settings, rn_embedder.model_id)
    yield opened
    opened.close()


@pytest.fixture
def forward_passes(rn_embedder: Embedder) -> Iterator[list[tuple[Sensor, int]]]:
    """(sensor, batch length) of every ``encode_images`` call while the test runs."""
    calls: list[tuple[Sensor, int]] = []
    original = rn_embedder.encode_images

    def counted(images: np.ndarray, sensor: Sensor | str, **kwargs: int | None) -> np.ndarray:
        calls.append((Sensor.parse(sensor), len(images)))
        return original(images, sensor, **kwargs)

    rn_embedder.encode_images = counted  # type: ignore[method-assign]
    yield calls
    del rn_embedder.encode_images


def test_batches_span_units_and_sources(
    rn_embedder: Embedder,
    store: VectorStore,
    settings: Settings,
    forward_passes: list[tuple[Sensor, int]],
) -> None:
    progress: list[tuple[int, int]] = []
    ingestor = Ingestor(
        rn_embedder,
        store,
        settings.data_dir,
        batch_size=8,
        progress=False,
        on_batch=lambda done, total: progress.append((done, total)),
    )
    summary = ingestor.run_many([BigEarthNetSource(S1_PATCHES), BigEarthNetSource(S2_PATCHES)])
    assert summary.indexed == store.count() == 12 and summary.ok and not summary.cancelled
    # twelve one-chip folders: one forward pass per sensor and batch, not one per folder
    assert sorted(forward_passes) == [(Sensor.S1, 6), (Sensor.S2, 6)]
    assert [done for done, _ in progress] == [6, 12] and progress[-1] == (12, 12)


def test_limit_counts_chips_over_all_sources(
    rn_embedder: Embedder, store: VectorStore, settings: Settings
) -> None:
    side = side_file_path(settings)
    ingestor = Ingestor(
        rn_embedder, store, settings.data_dir, batch_size=4, progress=False, side_file=side
    )
    sources = [BigEarthNetSource(S1_PATCHES), BigEarthNetSource(S2_PATCHES)]
    first = ingestor.run_many(sources, limit=7)
    assert first.indexed == store.count() == 7
    # the score-map side file is written after the run, and appended to by the next one
    assert first.side_file == "score-map side file rebuilt (none usable before): 7 chips"
    again = ingestor.run_many(sources)
    assert (again.indexed, again.already_indexed) == (5, 7) and store.count() == 12
    assert "score-map side file: +5 chips, 12 in all" in again.report()
    table = load_table(side, store.count())
    assert sorted(table.keys) == sorted(r.key for r in store.get(list(table.keys)))
    assert len(table) == 12 and len(list(side.glob("seg-*"))) == 2


def test_cancel_writes_nothing_after_it_is_seen(
    rn_embedder: Embedder, store: VectorStore, settings: Settings
) -> None:
    cancel = threading.Event()
    ingestor = Ingestor(
        rn_embedder,
        store,
        settings.data_dir,
        batch_size=2,
        progress=False,
        on_batch=lambda done, total: cancel.set(),
        cancel=cancel,
    )
    summary = ingestor.run(BigEarthNetSource(S2_PATCHES))
    # cancelled when the first batch was acknowledged, while the second was being embedded:
    # the second is dropped (nothing is written after a cancel), no third starts
    assert summary.cancelled and summary.indexed == store.count() == 2
    assert "cancelled" in summary.report()
    cancel.clear()
    ingestor.on_batch = None
    rest = ingestor.run(BigEarthNetSource(S2_PATCHES))
    assert (rest.indexed, rest.already_indexed, rest.cancelled) == (4, 2, False)


class HalfBroken:
    """A real reader's chips under two units; unit ``bad`` fails after its second chip."""

    name = "test"

    def __init__(self) -> None:
        source = BigEarthNetSource(S2_PATCHES)
        self.chips = [c for unit in source.units() for c in source.read(unit, Tally())]

    def units(self) -> list[str]:
        return ["good", "bad"]

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        tally.expect(len(self.chips))
        for i, chip in enumerate(self.chips):
            if unit == "bad" and i == 2:
                raise DataError("bad: truncated after two chips; re-download it")
            yield dataclasses.replace(chip, key=f"{unit}/{chip.key}")


def test_a_unit_failing_half_way_keeps_its_earlier_chips(
    rn_embedder: Embedder, store: VectorStore, settings: Settings
) -> None:
    summary = Ingestor(rn_embedder, store, settings.data_dir, progress=False).run(HalfBroken())
    assert summary.failed == {"bad": "bad: truncated after two chips; re-download it"}
    assert summary.indexed == store.count() == 6 + 2
    assert len(store.get([f"bad/{c.key}" for c in HalfBroken().chips[:2]])) == 2


def test_threads_apply_to_the_run_only(
    rn_embedder: Embedder, store: VectorStore, settings: Settings
) -> None:
    seen: list[int] = []
    inside: list[int] = []
    hook = rn_embedder.model.s1_encoder.register_forward_hook(
        lambda *_: inside.append(torch.get_num_threads())
    )
    before = torch.get_num_threads()
    ingestor = Ingestor(
        rn_embedder,
        store,
        settings.data_dir,
        progress=False,
        threads=1,
        on_batch=lambda done, total: seen.append(torch.get_num_threads()),
    )
    try:
        ingestor.run(BigEarthNetSource(S1_PATCHES))
    finally:
        hook.remove()
    assert inside == [1, 1]  # two batches of 4 and 2 chips, each on one thread
    assert torch.get_num_threads() == before and seen == [before, before]  # restored after


def test_workers_per_machine() -> None:
    assert choose_workers(2) == choose_workers(1) == 0
    assert choose_workers(16, "cuda") == 14
    assert choose_workers(8, "cpu") == 2


def test_previews_folder_may_vanish_between_runs(
    rn_embedder: Embedder, store: VectorStore, settings: Settings
) -> None:
    ingestor = Ingestor(rn_embedder, store, settings.data_dir, progress=False, force=True)
    ingestor.run(BigEarthNetSource(S1_PATCHES))
    previews = Path(settings.data_dir) / "previews"
    for file in previews.rglob("*.jpg"):
        file.unlink()
    for folder in sorted(previews.iterdir()):
        folder.rmdir()
    ingestor.run(BigEarthNetSource(S1_PATCHES))
    assert len(list(previews.rglob("*.jpg"))) == 6 and not list(previews.rglob("*.tmp"))


def test_workers_need_picklable_sources(
    rn_embedder: Embedder, store: VectorStore, settings: Settings
) -> None:
    source = BigEarthNetSource(S1_PATCHES)
    source.options = dataclasses.replace(source.options, chip_labeler=lambda window: [])
    ingestor = Ingestor(rn_embedder, store, settings.data_dir, progress=False, workers=1)
    with pytest.raises(ConfigError, match="use workers=0"):
        ingestor.run(source)


@pytest.mark.parametrize("build", [True, False])
def test_a_long_ingest_builds_the_graph_segment_by_segment(
    build: bool, rn_embedder: Embedder, settings: Settings
) -> None:
    """With ``build`` (the CLI's default) a segment's graph is built as soon as
    ``segment_chips`` chips wait, between batches, rather than all at once at the end."""
    settings = settings.replace(store_segment_chips=10_000)
    with open_store(settings, rn_embedder.model_id) as store:
        store.upsert(make_records(9_994, seed=2))  # as if a long run had written these
        ingestor = Ingestor(
            rn_embedder, store, settings.data_dir, batch_size=4, progress=False, build=build
        )
        summary = ingestor.run_many([BigEarthNetSource(S1_PATCHES), BigEarthNetSource(S2_PATCHES)])
        assert summary.indexed == 12 and summary.ok
        info = store.info()
        assert info.points == 10_006
        # batches of 4: the one that took the waiting chips to 10,002 built their graph; the
        # last 4 wait for the next segment (or the CLI's optimize at the end)
        assert info.indexed_vectors == (10_002 if build else 0)
