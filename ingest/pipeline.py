"""Read -> batch -> embed -> upsert, streaming, in batches that span units and sources.

- **Batches**: the reading stage (``reading.py``) puts the chips of every unit of every source
  into batches of ``batch_size`` chips of one sensor, whatever the unit boundaries, so a folder
  of one-chip patches embeds as fast as a scene. Reading runs ahead of embedding on a thread
  (``workers=0``) or in worker processes (``workers>0``).
- **Crash rule**: a batch counts once the store acknowledges its upsert; a crash loses at most
  the batches in flight (read or embedded, not yet acknowledged). A rerun reads everything
  again and skips chips already indexed (point ids derive from chip keys, so re-upserting is
  idempotent and ``force`` re-embeds), which completes exactly the rest.
- **Budget and disk**: a run whose readers announce more than ``max_chips`` chips (the job
  budget, ``Settings.max_job_chips``) stops before embedding the batch that crossed it
  (``summary.failed["job budget"]``); a full disk (the store refusing a write, or a preview
  that cannot be written) stops the run cleanly with ``summary.failed["disk full"]`` saying
  how many chips were kept (the index stays whole; ``closp_core/store/space.py``).
- **Units**: a file that cannot be read lands in ``summary.failed[unit]`` and the run goes on;
  chips a unit yielded before failing stay valid and are indexed (see ``reading.py``).
- **Previews** are rendered off the main thread: by a preview thread while the batch is
  embedded (``workers=0``), or by the worker processes (``workers>0``; they cannot see the
  index, so a rerun re-renders previews of chips already indexed, overwriting identical files).
- **Hooks** for a job inside an app: ``on_batch(done, total_expected)`` after each
  acknowledged batch; ``cancel`` checked before every chip read,
  between chunks of ``EMBED_CHUNK`` chips embedded, before every preview written and before
  every write: once it is set the run writes nothing more (the batch embedded but not yet
  written is dropped), keeps what the store acknowledged, and ends with
  ``summary.cancelled``; ``threads`` torch threads for this run's forward passes in the
  calling thread (``embedder.threads_for("background", settings)`` leaves queries a core).
- **Score-map side file**: with ``side_file`` (the CLI passes
  ``closp_core.scoremap.sidefile.side_file_path``; an app job's writes go through the app,
  which refreshes the file when the job ends, ``ingest/jobs.py``), a finished run
  (cancelled, stopped or failed too) appends the chips it wrote to the side file, or
  rebuilds it when it was stale (``refresh_side_file``), so the first score map after an
  ingest is fast; a refresh that fails leaves the index as it is and says so in
  ``summary.side_file``.
- **Store**: anything with the ``IndexWriter`` methods: a ``VectorStore``, or the app job's
  link to the app's own store (``ingest/job_process.py``), which raises ``RunCancelledError``
  for a write refused after a cancel.
"""

from __future__ import annotations

import dataclasses
import errno
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from closp_core.data import ChipSource
from closp_core.data.chip import Chip, chip_record
from closp_core.embedder import Embedder
from closp_core.errors import ClospError
from closp_core.store import ChipRecord, StoreDiskFullError, VectorStore
from ingest.previews import write_chip_previews
from ingest.reading import CancelFlag, ChipBatch, Unit, UnitReport, open_reader
from ingest.summary import IngestSummary

__all__ = ["IndexWriter", "IngestSummary", "Ingestor", "RunCancelledError"]

BatchHook = Callable[[int, int], None]
JOB_BUDGET = "job budget"  # the ``summary.failed`` entry of a run stopped by ``max_chips``
DISK_FULL = "disk full"  # the ``summary.failed`` entry of a run stopped by a full disk
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
EMBED_CHUNK = 16  # chips per forward pass of a cancellable run: a cancel waits for one chunk


class RunCancelledError(ClospError):
    """A write was refused because the run was cancelled (nothing of it was written)."""


class Keyed(Protocol):
    @property
    def key(self) -> str: ...


class IndexWriter(Protocol):
    """What a run needs of the index: the chips already there, writes, the graph when due."""

    def get(self, keys: Sequence[str]) -> Sequence[Keyed]: ...

    def upsert(self, records: list[ChipRecord]) -> int: ...

    def optimize_if_due(self) -> bool: ...


@dataclasses.dataclass
class Ingestor:
    """Puts the chips of ``ChipSource``s into a store, with previews under ``data_dir``.

    ``batch_size`` ``None``: the embedder's; ``workers``: reader processes (0: one reader
    thread; ``reading.choose_workers`` picks per machine); ``threads``: torch threads for the
    forward passes in the calling thread (``None``: the embedder's); ``on_batch``/``cancel``:
    see the module docstring; ``build``: let the store build its graph between batches when it
    is due (``VectorStore.optimize_if_due``: bounded segments in a long ingest; off in the app,
    which never builds).
    """

    embedder: Embedder
    store: IndexWriter
    data_dir: Path
    batch_size: int | None = None
    force: bool = False
    progress: bool = True
    workers: int = 0
    threads: int | None = None
    on_batch: BatchHook | None = None
    cancel: CancelFlag | None = None
    build: bool = False
    max_chips: int | None = None  # job budget (``Settings.max_job_chips``); None: none
    side_file: Path | None = None  # score-map side file refreshed after a run; None: not

    def run(self, source: ChipSource, limit: int | None = None) -> IngestSummary:
        """Ingest every unit of ``source`` (at most ``limit`` chips); never raises for a bad
        unit — it lands in ``summary.failed``. ``source.units()`` errors (e.g. a missing path)
        propagate as ``DataError``."""
        return self.run_many([source], limit)

    def run_many(self, sources: Sequence[ChipSource], limit: int | None = None) -> IngestSummary:
        """``run`` over several sources at once: batches span sources too; ``limit`` counts
        chips over all of them."""
        summary = IngestSummary()
        self._added: list[str] = []
        start = time.perf_counter()
        units = [(i, unit) for i, source in enumerate(sources) for unit in source.units()]
        size = self.batch_size or self.embedder.batch_size
        pin = self.workers > 0 and self.embedder.device.type == "cuda"
        bar = tqdm(unit="chip", disable=not self.progress, smoothing=0.1, dynamic_ncols=True)
        progress = _Progress(units, limit, bar, self.on_batch)
        with (
            bar,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="previews") as previews,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="upsert") as writer,
            open_reader(
                sources, units, size, self.workers, self.data_dir, pin, self.cancel
            ) as events,
        ):
            try:
                over = self._consume(events, summary, progress, previews, writer)
            except RunCancelledError:
                over, summary.cancelled = 0, True
            except (StoreDiskFullError, OSError) as err:
                if isinstance(err, OSError) and err.errno not in DISK_FULL_ERRNOS:
                    raise
                over = 0
                summary.failed[DISK_FULL] = (
                    f"disk full: stopped; kept the {summary.indexed} chips acknowledged "
                    f"before, the index is whole ({err}); free space, then run the same "
                    "input again: chips already indexed are skipped"
                )
            bar.total = bar.n
        if over:
            summary.failed[JOB_BUDGET] = (
                f"stopped: the readers announced {over:,} chips, more than the "
                f"{self.max_chips:,} one job may add (setting max_job_chips, "
                f"CLOSP_MAX_JOB_CHIPS); kept the {summary.indexed} chips indexed before; "
                "split the imagery into smaller jobs or raise the setting"
            )
        summary.seconds = time.perf_counter() - start
        if self.side_file is not None:
            summary.side_file = self._refresh_side_file(self.side_file)
        return summary

    def _refresh_side_file(self, folder: Path) -> str:
        """Append this run's chips to the score-map side file (or rebuild it); one line."""
        from closp_core.scoremap.sidefile import refresh_after_run

        if not isinstance(self.store, VectorStore):  # an app job's link: the app refreshes
            return ""
        return refresh_after_run(self.store, folder, self._added)

    def _consume(
        self,
        events: Iterable[ChipBatch | UnitReport],
        summary: IngestSummary,
        progress: _Progress,
        previews: ThreadPoolExecutor,
        writer: ThreadPoolExecutor,
    ) -> int:
        """Embed and write the readers' batches, each written while the next one embeds;
        the chips announced when the job budget stopped the run, else 0."""
        held: _Embedded | None = None  # embedded, written while the next batch embeds
        over = 0
        for event in events:
            if isinstance(event, UnitReport):
                _note_unit(event, summary, progress)
                continue
            if self._cancelled():
                break
            progress.announce(event.expected)
            if over := _over_budget(progress, self.max_chips):
                break
            taken = progress.take(event)
            batch = self._unindexed(taken, summary)
            writing = self._write(writer, held)
            embedded = self._embed(batch, previews, handled=len(taken))
            _acknowledge(writing, held, progress, summary)
            if embedded is None:  # cancelled while embedding: nothing of it is written
                break
            held = embedded
            if progress.exhausted:
                break
        if self._cancelled():
            summary.cancelled = True
            return over  # ``held`` is dropped: nothing is written after a cancel
        _acknowledge(self._write(writer, held), held, progress, summary)
        return over

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def _unindexed(self, batch: ChipBatch, summary: IngestSummary) -> ChipBatch:
        """``batch`` without the chips already in the store (all of it with ``force``)."""
        if self.force or not len(batch):
            return batch
        present = {rec.key for rec in self.store.get([chip.key for chip in batch.chips])}
        if not present:
            return batch
        summary.already_indexed += len(present)
        return batch.select([i for i, chip in enumerate(batch.chips) if chip.key not in present])

    def _embed(self, batch: ChipBatch, pool: ThreadPoolExecutor, handled: int) -> _Embedded | None:
        """Vectors and previews (rendered on ``pool`` meanwhile) -> records to write; None
        when the run was cancelled meanwhile."""
        if not len(batch):
            return _Embedded([], handled)
        rendered: Future[list[dict[str, str]]] | None = None
        if batch.previews is None:
            rendered = pool.submit(
                _write_previews, batch.chips, batch.array(), self.data_dir, self.cancel
            )
        vectors = self._encode(batch)
        paths = rendered.result() if rendered is not None else batch.previews or []
        if vectors is None or self._cancelled():
            return None
        records = [
            chip_record(chip, vector, chip_paths)
            for chip, vector, chip_paths in zip(batch.chips, vectors, paths, strict=True)
        ]
        return _Embedded(records, handled)

    def _encode(self, batch: ChipBatch) -> np.ndarray | None:
        """``(N, 384)`` vectors of ``batch``; with a ``cancel`` flag in chunks of
        ``EMBED_CHUNK`` chips, None as soon as it is set."""
        pixels = batch.array()
        if self.cancel is None:
            return self.embedder.encode_images(pixels, batch.sensor, threads=self.threads)
        chunks = []
        for start in range(0, len(pixels), EMBED_CHUNK):
            if self._cancelled():
                return None
            chunk = pixels[start : start + EMBED_CHUNK]
            chunks.append(self.embedder.encode_images(chunk, batch.sensor, threads=self.threads))
        return np.concatenate(chunks)

    def _write(self, writer: ThreadPoolExecutor, held: _Embedded | None) -> Future[int] | None:
        """Start writing ``held`` on the writer thread (store calls never overlap: the next
        skip check runs before this starts, and this ends before the next one)."""
        if held is None or not held.records:
            return None
        return writer.submit(self._upsert, held.records)

    def _upsert(self, records: list[ChipRecord]) -> int:
        if self._cancelled():
            raise RunCancelledError("cancelled before this batch was written")
        written = self.store.upsert(records)
        self._added += [r.key for r in records]
        if self.build:
            self.store.optimize_if_due()
        return written


@dataclasses.dataclass
class _Embedded:
    """Records of one batch, ready to write; ``handled`` counts its already-indexed chips too."""

    records: list[ChipRecord]
    handled: int


def _acknowledge(
    writing: Future[int] | None,
    held: _Embedded | None,
    progress: _Progress,
    summary: IngestSummary,
) -> None:
    """Wait until the store acknowledged ``held`` (raising its error), then count it."""
    if held is None:
        return
    if writing is not None:
        writing.result()
    summary.indexed += len(held.records)
    progress.done(held.handled)


class _Progress:
    """Chips done, and an estimate of the chips this run will handle: what the readers
    announced for the units seen so far, extrapolated to the units not yet seen, less what
    they skipped, at most ``limit`` (exact once every unit has been read)."""

    def __init__(
        self, units: Sequence[Unit], limit: int | None, bar: tqdm, hook: BatchHook | None
    ) -> None:
        self.units, self.limit, self.bar, self.hook = len(units), limit, bar, hook
        self.expected: dict[str, int] = {}
        self.skipped = 0
        self.taken = 0  # chips taken from the readers
        self.handled = 0  # of those, acknowledged by the store or found already indexed

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.taken >= self.limit

    def announce(self, expected: Mapping[str, int]) -> None:
        self.expected.update(expected)

    def take(self, batch: ChipBatch) -> ChipBatch:
        """The part of ``batch`` within ``limit``."""
        self.announce(batch.expected)
        if self.limit is not None and self.taken + len(batch) > self.limit:
            batch = batch.head(self.limit - self.taken)
        self.taken += len(batch)
        return batch

    def total(self) -> int:
        seen, known = len(self.expected), sum(self.expected.values())
        estimate = known + (known / seen * (self.units - seen) if seen else 0) - self.skipped
        if self.limit is not None:
            estimate = min(estimate, self.limit)
        return max(self.handled, round(estimate))

    def done(self, count: int) -> None:
        self.handled += count
        self.bar.total = self.total()
        self.bar.update(count)
        if self.hook is not None:
            self.hook(self.handled, self.bar.total)


def _over_budget(progress: _Progress, max_chips: int | None) -> int:
    """The chips announced so far when they exceed ``max_chips``, else 0."""
    announced = sum(progress.expected.values())
    return announced if max_chips is not None and announced > max_chips else 0


def _note_unit(report: UnitReport, summary: IngestSummary, progress: _Progress) -> None:
    summary.add_unit(report)
    progress.announce({report.unit: report.tally.expected})
    progress.skipped += sum(report.tally.skipped.values())
    progress.bar.set_description(_short(report.unit))


def _write_previews(
    chips: Iterable[Chip], pixels: np.ndarray, data_dir: Path, cancel: CancelFlag | None
) -> list[dict[str, str]]:
    """The previews of each chip, written; stops (a shorter list) once ``cancel`` is set."""
    paths = []
    for chip, chip_pixels in zip(chips, pixels, strict=True):
        if cancel is not None and cancel.is_set():
            break
        paths.append(write_chip_previews(chip.key, chip.sensor, chip_pixels, data_dir))
    return paths


def _short(unit: str, width: int = 40) -> str:
    return unit if len(unit) <= width else "…" + unit[-(width - 1) :]
