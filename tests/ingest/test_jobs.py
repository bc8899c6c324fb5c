"""The app's background ingest job (``ingest.jobs``): real readers, a real model, a real store.

A ``GatedScene`` is the real scene reader that waits at a gate before each chip, so a test can
hold a job in the middle of its run (to start a second one, to search, to cancel)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from closp_core.data import SceneSource
from closp_core.data.chip import Chip, Tally
from closp_core.data.samples import SAMPLES_DIR
from closp_core.embedder import Embedder
from closp_core.errors import DataError
from closp_core.settings import Settings
from closp_core.store import VectorStore, open_store
from ingest.jobs import CANCELLED, DONE, FAILED, RUNNING, JobBusyError, JobRunner
from ingest.pipeline import BatchHook, Ingestor

SPAIN_S1 = SAMPLES_DIR / "sen1floods11-spain" / "Spain_7370579_S1Hand.tif"  # 25 chips


class GatedScene(SceneSource):
    """The scene reader, one chip per ``gate`` release (``None``: no gate)."""

    def __init__(self, path: Path, gate: threading.Semaphore | None = None) -> None:
        super().__init__(path)
        self.gate = gate

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        for chip in super().read(unit, tally):
            if self.gate is not None and not self.gate.acquire(timeout=60):
                raise DataError("test gate never opened")
            yield chip


@pytest.fixture
def store(tmp_path: Path, rn_embedder: Embedder) -> Iterator[VectorStore]:
    with open_store(Settings(data_dir=tmp_path), rn_embedder.model_id) as opened:
        yield opened


def ingestor_of(embedder: Embedder, store: VectorStore, data_dir: Path):  # type: ignore[no-untyped-def]
    def make(on_batch: BatchHook, cancel: threading.Event) -> Ingestor:
        return Ingestor(
            embedder, store, data_dir, batch_size=4, progress=False, threads=1,
            on_batch=on_batch, cancel=cancel,
        )  # fmt: skip

    return make


def test_job_runs_in_the_background_and_reports(
    store: VectorStore, rn_embedder: Embedder, tmp_path: Path
) -> None:
    runner = JobRunner()
    runner.start(
        "Spain S1", lambda: [SceneSource(SPAIN_S1)], ingestor_of(rn_embedder, store, tmp_path)
    )
    status = runner.wait(timeout=300)
    assert status.state == DONE and status.done == 25 == store.count()
    assert "indexed 25 chips" in status.report and status.rate > 0
    assert status.eta_s is None and not status.active


def test_one_job_at_a_time_searching_goes_on_and_cancel_keeps_acknowledged_chips(
    store: VectorStore, rn_embedder: Embedder, tmp_path: Path
) -> None:
    gate = threading.Semaphore(0)
    runner = JobRunner()
    make = ingestor_of(rn_embedder, store, tmp_path)
    runner.start("gated", lambda: [GatedScene(SPAIN_S1, gate)], make)
    assert runner.status().state == RUNNING
    with pytest.raises(JobBusyError, match="already running"):
        runner.start("second", lambda: [SceneSource(SPAIN_S1)], make)
    for _ in range(12):  # three batches of 4: two are acknowledged while the third embeds
        gate.release()
    while runner.status().done < 8:
        runner.wait(timeout=0.05)
    assert store.count() >= 8  # searchable while the job runs
    first = store.get([next(store.iter_records()).key], with_vectors=True)[0]
    assert first.vector is not None
    assert store.search(first.vector, limit=5)[0].key == first.key
    runner.cancel()
    for _ in range(25):
        gate.release()
    status = runner.wait(timeout=300)
    assert status.state == CANCELLED
    assert status.done == store.count() < 25
    assert "cancelled" in status.report


def test_a_job_that_cannot_start_says_why(
    store: VectorStore, rn_embedder: Embedder, tmp_path: Path
) -> None:
    runner = JobRunner()
    runner.start(
        "missing",
        lambda: [SceneSource(tmp_path / "nowhere")],
        ingestor_of(rn_embedder, store, tmp_path),
    )
    status = runner.wait(timeout=60)
    assert status.state == FAILED and "no such file or folder" in status.report
    assert store.count() == 0
    runner.start(
        "again", lambda: [SceneSource(SPAIN_S1)], ingestor_of(rn_embedder, store, tmp_path)
    )
    assert runner.wait(timeout=300).state == DONE  # a failed job does not block the next


def test_the_engines_advice_reaches_web_users_in_the_pages_words() -> None:
    import datetime as dt

    import numpy as np

    from closp_core.bands import Sensor
    from closp_core.data.timestamps import check_acquired
    from closp_core.data.values import SHIFT_FLAG, check_scene_values
    from ingest.jobs import ALREADY_INDEXED, for_web
    from ingest.pipeline import IngestSummary

    messages = [SHIFT_FLAG]
    for values, linear in ((np.full(9, 0.05), False), (np.full(9, -12.0), True)):
        with pytest.raises(DataError) as caught:
            check_scene_values(values, Sensor.S1, linear, "x.tif")
        messages.append(str(caught.value))
    with pytest.raises(DataError) as caught:
        check_scene_values(np.full(9, 1e6), Sensor.S2, False, "x.tif")
    messages.append(str(caught.value))
    with pytest.raises(DataError) as caught:
        check_acquired(dt.datetime(1990, 1, 1, tzinfo=dt.UTC), "x.tif")
    messages.append(str(caught.value))
    summary = IngestSummary(already_indexed=3)
    messages.append(summary.report(already_hint=ALREADY_INDEXED))
    for message in messages:
        assert "--" in message or "already indexed" in message  # the CLI's words ...
        assert "--" not in for_web(message), for_web(message)  # ... never on the page
    assert "tick 'Index the values as they are'" in for_web(messages[1])
    assert "choose 'Linear power' under 'Sentinel-1 values'" in for_web(messages[1])
    assert "choose 'dB' under 'Sentinel-1 values'" in for_web(messages[2])
