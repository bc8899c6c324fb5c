"""What runs inside the Ray cluster for ``--engine ray``: one task per unit, encoder actors, one
writer actor. Plain classes and functions here; ``ray_engine`` wraps them with ``ray.remote``
when it starts (so importing this module never needs Ray).

- ``read_unit`` (a task, 1 CPU, on any machine): reads one unit (a scene, a patch folder, a
  key range, a STAC item) into batches of one sensor and shape, asks the writer which chips are
  not indexed yet, renders their previews, sends them to an encoder actor and the records on
  to the writer, with one batch in flight while it reads the next. It returns the unit's
  ``UnitReport`` once every batch it sent has been acknowledged by the store.
- ``ChipEncoder`` (an actor; ``num_gpus=1`` per GPU, else CPU): loads the model once.
- ``UnitWriter`` (one actor): the only process that opens the store, so the embedded index
  keeps its single writer; its methods run one at a time. It also keeps the run's figures
  (chips indexed, already indexed, ``limit``) and the keys each unit in flight has written, so a
  unit retried after its worker died neither re-embeds nor counts twice what the dead attempt
  had acknowledged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from closp_core.bands import Sensor
from closp_core.data import ChipSource
from closp_core.data.chip import Chip, Tally, chip_record
from closp_core.embedder import Embedder
from closp_core.errors import DataError
from closp_core.settings import Settings
from closp_core.store import ChipRecord, VectorStore
from ingest.previews import write_chip_previews
from ingest.reading import NO_PIXELS, ChipBatch, UnitReport

StoreOpener = Callable[[], VectorStore]


@dataclasses.dataclass(frozen=True)
class RunFigures:
    """The writer's count so far: chips written by this run and chips found already indexed."""

    indexed: int
    already_indexed: int
    exhausted: bool


class UnitWriter:
    """The run's single store writer (see the module docstring). ``unit`` ids are
    ``"<source index>:<unit>"``; ``limit`` caps the chips taken over all units (``None``: all)."""

    def __init__(self, opener: StoreOpener, limit: int | None, build: bool) -> None:
        self.store = opener()
        self.store.check_writable()
        self.limit, self.build = limit, build
        self.taken = 0
        self.claimed: dict[str, int] = {}  # chips each unit in flight took against ``limit``
        self.written: dict[str, set[str]] = {}  # keys each unit in flight wrote in this run
        self.indexed = 0
        self.already_indexed = 0

    def admit(self, unit: str, keys: list[str], force: bool, first: bool) -> tuple[list[int], bool]:
        """Rows of a batch's ``keys`` to embed: within ``limit``, and not in the store (with
        ``force``: not written by this unit in this run, so a retried unit never re-embeds
        what was acknowledged). ``first``: the unit's first batch in this attempt (a unit run
        again after its worker died gives back what it took against ``limit``). Also returns
        whether ``limit`` cut this batch (the unit stops)."""
        if first:
            self.taken -= self.claimed.pop(unit, 0)
        mine = self.written.setdefault(unit, set())
        granted = len(keys)
        if self.limit is not None:
            granted = max(0, min(granted, self.limit - self.taken))
        self.taken += granted
        self.claimed[unit] = self.claimed.get(unit, 0) + granted
        cut, keys = granted < len(keys), keys[:granted]
        if force:
            return [i for i, key in enumerate(keys) if key not in mine], cut
        present = {record.key for record in self.store.get(keys)} if keys else set()
        self.already_indexed += len(present - mine)
        return [i for i, key in enumerate(keys) if key not in present], cut

    def upsert(self, unit: str, records: list[ChipRecord]) -> int:
        """Write ``records``; returns once the store acknowledged them."""
        self.store.upsert(records)
        mine = self.written[unit]
        new = {record.key for record in records} - mine
        mine.update(new)
        self.indexed += len(new)
        if self.build:
            self.store.optimize_if_due()
        return len(records)

    def finish(self, unit: str) -> None:
        """The unit is done: forget its keys (memory stays bounded by the units in flight)."""
        self.written.pop(unit, None)
        self.claimed.pop(unit, None)

    def figures(self) -> RunFigures:
        exhausted = self.limit is not None and self.taken >= self.limit
        return RunFigures(self.indexed, self.already_indexed, exhausted)

    def close(self, optimize: bool) -> RunFigures:
        """Build the search graph (``optimize``), flush and close the store."""
        try:
            if optimize:
                self.store.optimize()
        finally:
            self.store.close()
        return self.figures()


class ChipEncoder:
    """Loads the model of ``settings`` once; turns batches into store records."""

    def __init__(self, settings: Settings, threads: int) -> None:
        self.embedder = Embedder.from_settings(settings, threads=threads)

    def encode(
        self,
        sensor: Sensor,
        chips: list[Chip],
        pixels: np.ndarray,
        previews: list[dict[str, str]],
    ) -> list[ChipRecord]:
        """``pixels`` ``(N, C, H, W) float32`` of ``chips`` -> their records."""
        vectors = self.embedder.encode_images(pixels, sensor)
        return [
            chip_record(chip, vector, paths)
            for chip, vector, paths in zip(chips, vectors, previews, strict=True)
        ]


@dataclasses.dataclass(frozen=True)
class UnitJob:
    """One unit to read: ``sources[source].read(unit)``; ``uid`` names it for the writer."""

    source: int
    unit: str
    batch_size: int
    data_dir: Path
    force: bool

    @property
    def uid(self) -> str:
        return f"{self.source}:{self.unit}"


def read_unit(sources: Sequence[ChipSource], job: UnitJob, writer: Any, encoder: Any) -> UnitReport:
    """The Ray task of one unit (module docstring); ``writer`` and ``encoder`` are actor
    handles. A ``DataError`` ends the unit with its chips so far indexed and the error
    reported; a worker that dies mid-unit makes Ray run this again (the writer skips what the
    dead attempt had acknowledged)."""
    import ray

    tally = Tally()
    error = None
    chips: Iterator[Chip] | None = None
    in_flight: list[Any] = []
    try:
        chips = sources[job.source].read(job.unit, tally)
        for number, batch in enumerate(_batches(chips, job.batch_size)):
            keys = [chip.key for chip in batch.chips]
            admit = writer.admit.remote(job.uid, keys, job.force, number == 0)
            if len(in_flight) > 1:  # one batch embeds and writes while the next is read
                ray.get(in_flight.pop(0))
            rows, cut = ray.get(admit)
            if rows:
                in_flight.append(_send(batch.select(rows), job, writer, encoder))
            if cut:
                break  # ``limit`` reached
    except DataError as exc:
        error = str(exc)
    finally:
        if isinstance(chips, Generator):
            chips.close()
    ray.get(in_flight)
    writer.finish.remote(job.uid)  # no need to wait: it only frees the unit's key set
    return UnitReport(job.unit, tally, error)


def _send(batch: ChipBatch, job: UnitJob, writer: Any, encoder: Any) -> Any:
    """Previews here, vectors on ``encoder``, records to ``writer``: the upsert's reference."""
    pixels = batch.array()
    previews = [
        write_chip_previews(chip.key, chip.sensor, chip_pixels, job.data_dir)
        for chip, chip_pixels in zip(batch.chips, pixels, strict=True)
    ]
    records = encoder.encode.remote(batch.sensor, batch.chips, pixels, previews)
    return writer.upsert.remote(job.uid, records)


def _batches(chips: Iterator[Chip], size: int) -> Iterator[ChipBatch]:
    """Batches of at most ``size`` chips of one sensor and shape, full ones as they fill, then
    the partial ones; chips travel stripped of their pixels, which go stacked."""
    pending: dict[tuple[Sensor, tuple[int, ...]], list[Chip]] = {}
    for chip in chips:
        bucket = pending.setdefault((chip.sensor, chip.pixels.shape), [])
        bucket.append(chip)
        if len(bucket) >= size:
            yield _stack(pending.pop((chip.sensor, chip.pixels.shape)))
    for bucket in pending.values():
        yield _stack(bucket)


def _stack(chips: list[Chip]) -> ChipBatch:
    pixels = np.stack([chip.pixels for chip in chips])
    stripped = [dataclasses.replace(chip, pixels=NO_PIXELS) for chip in chips]
    return ChipBatch(chips[0].sensor, stripped, pixels)
