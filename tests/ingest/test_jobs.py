"""The app's ingest job (``ingest.jobs``): real readers, a real model, a real store.

Two ways to run the job's child: a real process (``launch_process``: the app's way; its model
is the seeded random CLOSP-RN, the same as the ``rn_embedder`` fixture), and a thread running
the same child code with the fixture's model (``launch_thread``: cheap, and where a test slows
one phase down to cancel inside it). Phase tests give the child a grace period of 10 s, so a
cancel that ends within 2 s was the child's own check, not the kill."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.data import SceneSource
from closp_core.data.chip import Chip, Tally
from closp_core.data.samples import SAMPLES_DIR
from closp_core.embedder import Embedder
from closp_core.errors import DataError
from closp_core.settings import Settings
from closp_core.sources import _REGISTRY
from closp_core.store import ChipRecord, VectorStore, open_store
from ingest import jobs
from ingest.job_link import JobStartError, launch_thread
from ingest.job_process import JobSpec, SourceSpec
from ingest.jobs import CANCELLED, DONE, FAILED, RUNNING, JobBusyError, JobRunner, JobStatus

SPAIN_S1 = SAMPLES_DIR / "sen1floods11-spain" / "Spain_7370579_S1Hand.tif"  # 25 chips
CANCEL_S = 2.0  # the bound on a cancel, in every phase


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(model="random:closp-rn", data_dir=tmp_path / "data", batch_size=8)


@pytest.fixture
def store(settings: Settings, rn_embedder: Embedder) -> Iterator[VectorStore]:
    with open_store(settings, rn_embedder.model_id) as opened:
        yield opened


def spec(settings: Settings, kind: str = "scene", target: object = SPAIN_S1) -> JobSpec:
    return JobSpec("Spain S1", (SourceSpec(kind, target),), settings, "closp-rn:random-seed0")


def until(runner: JobRunner, test: object, timeout: float = 300) -> JobStatus:
    """Poll ``runner`` until ``test(status)`` holds (or the job ended); that status."""
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        status = runner.status()
        if test(status) or not status.active:  # type: ignore[operator]
            return status
        time.sleep(0.01)
    raise AssertionError(f"still {runner.status()} after {timeout} s")


def cancel_timed(runner: JobRunner) -> tuple[float, JobStatus]:
    """Cancel; seconds until the job has ended (its slot free), and its final status."""
    start = time.monotonic()
    runner.cancel()
    status = runner.wait(timeout=30)
    return time.monotonic() - start, status


class SlowScene(SceneSource):
    """The scene reader, ``delay_s`` per chip (a slow disk or asset)."""

    def __init__(self, path: Path, delay_s: float) -> None:
        super().__init__(path)
        self.delay_s = delay_s

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        for chip in super().read(unit, tally):
            time.sleep(self.delay_s)
            yield chip


class SlowEmbedder(Embedder):
    """The real model, each forward pass ``delay_s`` slower; ``embedding`` set at the first."""

    delay_s = 0.4
    embedding = threading.Event()

    def encode_images(
        self, images: np.ndarray, sensor: Sensor | str, *, threads: int | None = None
    ) -> np.ndarray:
        self.embedding.set()
        time.sleep(self.delay_s)
        return super().encode_images(images, sensor, threads=threads)


class SlowWrites:
    """The real store, each write ``delay_s`` slower; ``writing`` set while one is under way."""

    def __init__(self, store: VectorStore, delay_s: float = 0.5) -> None:
        self.store, self.delay_s = store, delay_s
        self.writing = threading.Event()

    def get(self, keys: Sequence[str]) -> list[ChipRecord]:
        return self.store.get(keys)

    def upsert(self, records: list[ChipRecord]) -> int:
        self.writing.set()
        time.sleep(self.delay_s)
        written = self.store.upsert(records)
        self.writing.clear()
        return written

    def optimize_if_due(self) -> bool:
        return False


@pytest.fixture
def slow_scene(monkeypatch: pytest.MonkeyPatch) -> str:
    """A source kind (for thread-run jobs) reading Spain S1 at 0.15 s per chip."""
    monkeypatch.setitem(_REGISTRY, "slow-scene", lambda target, options: SlowScene(target, 0.15))
    return "slow-scene"


def test_a_job_runs_in_its_own_process_and_knows_its_total_before_the_first_batch(
    settings: Settings, store: VectorStore
) -> None:
    runner = JobRunner()
    start = time.monotonic()
    runner.start(spec(settings), store)
    first = until(runner, lambda s: s.expected > 0)
    total_s = time.monotonic() - start
    assert first.state == RUNNING and first.expected == 25 and first.done == 0
    assert total_s < 10, total_s  # ~0.3 s on an idle laptop, 2 s on a loaded 2-core machine
    assert first.pid is not None and first.pid != os.getpid()
    os.kill(first.pid, 0)  # a process of its own, alive
    with pytest.raises(JobBusyError, match="already running"):
        runner.start(spec(settings), store)
    status = runner.wait(timeout=300)
    assert status.state == DONE and status.done == 25 == store.count()
    assert "indexed 25 chips" in status.report and status.rate > 0
    assert status.eta_s is None and not status.active


def test_a_killed_job_process_is_reported_with_what_was_kept(
    settings: Settings, store: VectorStore
) -> None:
    runner = JobRunner()
    runner.start(spec(settings), store)
    status = until(runner, lambda s: s.pid is not None)
    assert status.pid is not None
    half_written = settings.data_dir / "previews" / "ab" / f"ab12.s2.jpg.{status.pid}-7.tmp"
    not_its_own = half_written.with_name(f"ab12.s2.jpg.{status.pid + 1}-7.tmp")
    half_written.parent.mkdir(parents=True)
    half_written.write_bytes(b"half a JPEG")
    not_its_own.write_bytes(b"another writer's")
    os.kill(status.pid, signal.SIGKILL)
    status = runner.wait(timeout=60)
    assert status.state == FAILED and not status.active
    assert "killed by signal 9 (SIGKILL)" in status.report, status.report
    assert f"The {store.count()} chips it had added are in the index" in status.report
    assert "add the same imagery again" in status.report and "--" not in status.report
    assert not half_written.exists() and not_its_own.exists()  # its partial previews went


def test_cancel_while_reading_ends_within_2_s_and_writes_nothing(
    settings: Settings, store: VectorStore, rn_embedder: Embedder, slow_scene: str
) -> None:
    runner = JobRunner(launcher=launch_thread(rn_embedder), grace_s=10)
    runner.start(spec(settings, slow_scene), store)
    assert until(runner, lambda s: s.expected > 0).expected == 25  # from the header
    time.sleep(0.5)  # a few chips into the first batch of 8 (1.2 s of reading)
    took, status = cancel_timed(runner)
    assert took < CANCEL_S and status.state == CANCELLED, (took, status)
    assert "cancelled" in status.report and "process was ended" not in status.report
    assert store.count() == 0


def test_cancel_while_embedding_ends_within_2_s_and_lets_no_batch_in(
    settings: Settings, store: VectorStore, rn_model: object
) -> None:
    embedder = SlowEmbedder(rn_model, device="cpu", batch_size=8)  # type: ignore[arg-type]
    embedder.embedding = threading.Event()
    runner = JobRunner(launcher=launch_thread(embedder), grace_s=10)
    runner.start(spec(settings), store)
    assert embedder.embedding.wait(timeout=120)
    took, status = cancel_timed(runner)
    assert took < CANCEL_S and status.state == CANCELLED, (took, status)
    assert "process was ended" not in status.report
    assert store.count() == 0  # the batch being embedded was not written after the cancel
    assert not list((settings.data_dir / "previews").rglob("*.tmp"))


def test_cancel_while_writing_keeps_that_batch_and_writes_nothing_after(
    settings: Settings, store: VectorStore, rn_embedder: Embedder
) -> None:
    writes = SlowWrites(store)
    runner = JobRunner(launcher=launch_thread(rn_embedder), grace_s=10)
    runner.start(spec(settings), writes)
    assert writes.writing.wait(timeout=120)
    took, status = cancel_timed(runner)
    kept = store.count()
    assert took < CANCEL_S and status.state == CANCELLED, (took, status)
    assert kept == 8  # the write under way was acknowledged and kept, none after it
    time.sleep(0.3)
    assert store.count() == kept


def test_a_job_that_cannot_start_says_why(
    settings: Settings, store: VectorStore, rn_embedder: Embedder, tmp_path: Path
) -> None:
    runner = JobRunner(launcher=launch_thread(rn_embedder))
    runner.start(spec(settings, target=tmp_path / "nowhere"), store)
    status = runner.wait(timeout=60)
    assert status.state == FAILED and "no such file or folder" in status.report
    assert store.count() == 0
    runner.start(spec(settings), store)
    assert runner.wait(timeout=300).state == DONE  # a failed job does not block the next


def test_a_job_its_process_cannot_take_is_refused_before_one_starts(
    settings: Settings, store: VectorStore
) -> None:
    runner = JobRunner()
    unpicklable = JobSpec("odd", (SourceSpec("scene", lambda: SPAIN_S1),), settings, "m")
    with pytest.raises(JobStartError, match=r"cannot hand this job to its process \(.*\)"):
        runner.start(unpicklable, store)
    assert runner.status().state == "idle" and runner.status().pid is None


def test_the_engines_advice_reaches_web_users_in_the_pages_words() -> None:
    import datetime as dt

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


def test_a_report_names_uploads_as_they_were_sent(tmp_path: Path) -> None:
    """The job report calls an uploaded file by its given name (two uploads of ``scene.tif``
    are stored as ``scene.tif`` and ``scene-2.tif``), a band group by its path inside the
    upload, and never shows the server's folder."""
    folder = tmp_path / "imports" / "upload-0123"
    names = {"scene.tif": "scene.tif", "scene-2.tif": "scene.tif (2)"}
    spec = JobSpec(
        "two scenes",
        (SourceSpec("scene", folder, {"names": names}), SourceSpec("scene", tmp_path / "else")),
        Settings(data_dir=tmp_path),
        "m",
    )
    given = jobs.given_names(spec)
    assert given[str(folder / "scene-2.tif")] == "scene.tif (2)"
    report = jobs._web(
        (),
        f"FAILED {folder}/scene-2.tif: not a raster\nFAILED {folder}/x_*: missing bands",
        given,
    )
    assert report.splitlines() == [
        "FAILED scene.tif (2): not a raster",
        "FAILED x_*: missing bands",
    ]
