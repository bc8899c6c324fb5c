"""Read -> batch -> embed -> upsert, streaming: at most two batches of chips in memory.

Re-running skips chips already indexed (point ids derive from chip keys; ``force`` re-embeds).
Each batch is acknowledged by the store before the next is read, so a crash loses at most the
batch in flight. A file that cannot be read is reported and the run goes on with the others.
Previews of a batch are rendered on a worker thread while the batch is embedded, and the next
batch is read on another.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from closp_core.bands import Sensor
from closp_core.data import ChipSource
from closp_core.data.chip import Chip, DataError, Tally
from closp_core.data.keys import display_text
from closp_core.embedder import Embedder
from closp_core.store import ChipRecord, GeoPolygon, VectorStore
from ingest.previews import write_previews


@dataclasses.dataclass
class IngestSummary:
    """What a run did: counts, skip reasons, flagged labels and failed files with reasons."""

    indexed: int = 0
    already_indexed: int = 0
    skipped: Counter[str] = dataclasses.field(default_factory=Counter)
    flagged: Counter[str] = dataclasses.field(default_factory=Counter)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    flag_units: dict[str, str] = dataclasses.field(default_factory=dict)  # reason -> "chips" ...

    @property
    def ok(self) -> bool:
        return not self.failed

    def merge(self, other: IngestSummary) -> None:
        """Add another run's figures to this one."""
        self.indexed += other.indexed
        self.already_indexed += other.already_indexed
        self.skipped.update(other.skipped)
        self.flagged.update(other.flagged)
        self.flag_units.update(other.flag_units)
        self.failed.update(other.failed)
        self.seconds += other.seconds

    def report(self) -> str:
        """A few lines for people; each count names what it counts (chips, pixels, scenes),
        each failed file gets one ``FAILED <file>: <reason>`` line (printable: control
        characters in names are escaped)."""
        rate = self.indexed / self.seconds if self.seconds > 0 else 0.0
        lines = [f"indexed {self.indexed} chips in {self.seconds:.1f} s ({rate:.1f} chips/s)"]
        if self.already_indexed:
            lines.append(f"skipped {self.already_indexed} chips already indexed (use --force)")
        lines += [f"skipped {n} chips: {reason}" for reason, n in sorted(self.skipped.items())]
        lines += [
            f"flagged {n} {_unit(self.flag_units.get(reason, 'chips'), n)}: {reason}"
            for reason, n in sorted(self.flagged.items())
        ]
        lines += [
            f"FAILED {unit}: {reason.removeprefix(f'{unit}: ')}"
            for unit, reason in self.failed.items()
        ]
        if self.failed:
            lines.append(f"{len(self.failed)} input(s) failed; the others were indexed")
        return "\n".join(display_text(line, newlines=False) for line in lines)


@dataclasses.dataclass
class Ingestor:
    """Puts the chips of a ``ChipSource`` into a store, with previews under ``data_dir``."""

    embedder: Embedder
    store: VectorStore
    data_dir: Path
    batch_size: int = 64
    force: bool = False
    progress: bool = True

    def run(self, source: ChipSource, limit: int | None = None) -> IngestSummary:
        """Ingest every unit of ``source`` (at most ``limit`` chips); never raises for a bad
        unit — it lands in ``summary.failed``. ``source.units()`` errors (e.g. a missing path)
        propagate as ``DataError``."""
        summary = IngestSummary()
        start = time.perf_counter()
        units = source.units()
        remaining = limit
        bar = tqdm(unit="chip", disable=not self.progress, smoothing=0.1, dynamic_ncols=True)
        previews = ThreadPoolExecutor(max_workers=1, thread_name_prefix="previews")
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reader")
        with previews as pool, reader, bar:
            for unit in units:
                if remaining is not None and remaining <= 0:
                    break
                bar.set_description(_short(unit))
                tally = Tally()
                known = bar.n  # chips done so far; this unit's expected count is added to it
                read = functools.partial(
                    _read_batches, source, unit, tally, self.batch_size, remaining
                )
                try:
                    for batch in _prefetched(read, reader):
                        bar.total = known + tally.expected  # readers say what a unit holds
                        self._ingest_batch(batch, pool, summary)
                        bar.update(len(batch))
                        remaining = None if remaining is None else remaining - len(batch)
                except DataError as exc:
                    summary.failed[unit] = str(exc)
                summary.skipped.update(tally.skipped)
                summary.flagged.update(tally.flagged)
                summary.flag_units.update(tally.flag_units)
            bar.total = bar.n
        summary.seconds = time.perf_counter() - start
        return summary

    def _ingest_batch(
        self, batch: list[Chip], pool: ThreadPoolExecutor, summary: IngestSummary
    ) -> None:
        if not self.force:
            present = {rec.key for rec in self.store.get([chip.key for chip in batch])}
            summary.already_indexed += len(present)
            batch = [chip for chip in batch if chip.key not in present]
        if not batch:
            return
        data_dir = self.data_dir
        previews = pool.submit(lambda: [write_previews(chip, data_dir) for chip in batch])
        vectors = self._embed(batch)
        records = [
            _record(chip, vector, paths)
            for chip, vector, paths in zip(batch, vectors, previews.result(), strict=True)
        ]
        self.store.upsert(records)
        summary.indexed += len(records)

    def _embed(self, batch: list[Chip]) -> np.ndarray:
        """``(len(batch), 384)`` vectors, each sensor through its own encoder."""
        vectors = np.zeros((len(batch), self.embedder.dim), np.float32)
        for sensor in Sensor:
            rows = [i for i, chip in enumerate(batch) if chip.sensor is sensor]
            if rows:
                pixels = np.stack([batch[i].pixels for i in rows])
                vectors[rows] = self.embedder.encode_images(pixels, sensor)
        return vectors


Batches = Generator[list[Chip], None, None]


def _read_batches(
    source: ChipSource, unit: str, tally: Tally, size: int, limit: int | None
) -> Batches:
    return _batches(source.read(unit, tally), size, limit)


def _batches(chips: Iterator[Chip], size: int, limit: int | None) -> Batches:
    """Groups of ``size`` chips, at most ``limit`` chips in all (``None``: no limit); closing
    this closes ``chips`` too (a reader stopped early releases its files at once)."""
    stream = chips if limit is None else itertools.islice(chips, limit)
    try:
        while batch := list(itertools.islice(stream, size)):
            yield batch
    finally:
        if isinstance(chips, Generator):
            chips.close()


def _prefetched(make_batches: Callable[[], Batches], pool: ThreadPoolExecutor) -> Batches:
    """The batches of ``make_batches()``, the next one read on ``pool``'s single thread while
    the caller embeds this one (at most two batches in memory). The reader is created, advanced
    and closed on that one thread (GDAL handles are thread-bound); its exceptions surface here.
    """
    batches = pool.submit(make_batches).result()
    try:
        future = pool.submit(next, batches, None)
        while (batch := future.result()) is not None:
            future = pool.submit(next, batches, None)
            yield batch
    finally:
        pool.submit(batches.close).result()


def _unit(noun: str, count: int) -> str:
    """``"chips"`` -> ``"chip"`` for a count of one."""
    return noun[:-1] if count == 1 and noun.endswith("s") else noun


def _short(unit: str, width: int = 40) -> str:
    return unit if len(unit) <= width else "…" + unit[-(width - 1) :]


def _record(chip: Chip, vector: np.ndarray, previews: dict[str, str]) -> ChipRecord:
    return ChipRecord(
        key=chip.key,
        vector=vector,
        sensor=chip.sensor,
        source=chip.source,
        labels=chip.labels,
        source_labels=chip.original_labels,
        scene_id=chip.scene_id,
        acquired=chip.acquired,
        center=chip.center,
        footprint=GeoPolygon(chip.footprint),
        crs=chip.crs,
        previews=previews,
    )
