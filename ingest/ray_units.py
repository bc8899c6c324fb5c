"""What runs inside the Ray cluster for ``--engine ray``: one task per unit (here), encoder
actors (``ray_encoder``), one ledger actor (``ray_writer``). Plain classes and functions;
``ray_engine`` wraps them with ``ray.remote`` when it starts (so importing this never needs Ray).

``read_unit`` (a task, 1 CPU, on any machine) reads one unit (a scene, a patch folder, a key
range, a STAC item) into batches of one sensor and shape, asks the ledger which chips to send
on, renders their previews and sends them to an encoder actor, with one batch in flight while
it reads the next. It returns once every batch it sent has been acknowledged by the store.

This module imports neither torch nor the model (only the encoder needs them): a reading
worker starts in about a second, and so does the one that runs a unit again after its worker
died.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from closp_core.bands import Sensor
from closp_core.data import ChipSource
from closp_core.data.chip import Chip, Tally
from closp_core.errors import DataError
from ingest.previews import write_chip_previews

NO_PIXELS = np.zeros((0, 0, 0), np.float32)  # a stripped chip's pixels: they travel stacked


@dataclasses.dataclass(frozen=True)
class RayBatch:
    """Chips of one sensor and shape on their way to an encoder: ``pixels[i]`` ``(C, H, W)
    float32`` belongs to ``chips[i]`` (stripped of its own pixels); ``previews[i]``: the paths
    of its previews, written by the reading task."""

    sensor: Sensor
    chips: list[Chip]
    pixels: np.ndarray
    previews: list[dict[str, str]]

    def select(self, rows: list[int]) -> RayBatch:
        """The batch restricted to ``rows``."""
        return RayBatch(
            self.sensor,
            [self.chips[i] for i in rows],
            self.pixels[rows],
            [self.previews[i] for i in rows] if self.previews else [],
        )


class UnitEnd(NamedTuple):
    """What a unit's task returns: it was read to its end (``error`` None) or failed."""

    unit: str
    tally: Tally
    error: str | None


@dataclasses.dataclass(frozen=True)
class UnitJob:
    """One unit to read: ``sources[source].read(unit)``; ``uid`` names it for the ledger."""

    source: int
    unit: str
    batch_size: int
    data_dir: Path
    force: bool
    encoders_write: bool = False  # a shared store: ``ChipEncoder.encode_and_write``

    @property
    def uid(self) -> str:
        return f"{self.source}:{self.unit}"


def read_unit(sources: Sequence[ChipSource], job: UnitJob, writer: Any, encoder: Any) -> UnitEnd:
    """The Ray task of one unit (module docstring); ``writer`` (the ledger) and ``encoder`` are
    actor handles. A ``DataError`` ends the unit with its chips so far indexed and the error
    reported; a worker that dies mid-unit makes Ray run this again (the ledger and the store
    skip what the dead attempt had acknowledged)."""
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
    return UnitEnd(job.unit, tally, error)


def _send(batch: RayBatch, job: UnitJob, writer: Any, encoder: Any) -> Any:
    """Previews here, vectors on ``encoder``, records to the store (by ``writer``, or by the
    encoder for a shared store): the reference of the acknowledged upsert."""
    previews = [
        write_chip_previews(chip.key, chip.sensor, chip_pixels, job.data_dir)
        for chip, chip_pixels in zip(batch.chips, batch.pixels, strict=True)
    ]
    if job.encoders_write:
        ready = dataclasses.replace(batch, previews=previews)
        return encoder.encode_and_write.remote(job.uid, ready, job.force, writer)
    records = encoder.encode.remote(batch.sensor, batch.chips, batch.pixels, previews)
    return writer.upsert.remote(job.uid, records)


def _batches(chips: Iterator[Chip], size: int) -> Iterator[RayBatch]:
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


def _stack(chips: list[Chip]) -> RayBatch:
    pixels = np.stack([chip.pixels for chip in chips])
    stripped = [dataclasses.replace(chip, pixels=NO_PIXELS) for chip in chips]
    return RayBatch(chips[0].sensor, stripped, pixels, [])
