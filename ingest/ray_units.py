"""What runs inside the Ray cluster for ``--engine ray``: one task per unit, encoder actors, one
ledger actor. Plain classes and functions here; ``ray_engine`` wraps them with ``ray.remote``
when it starts (so importing this module never needs Ray).

- ``read_unit`` (a task, 1 CPU, on any machine): reads one unit (a scene, a patch folder, a
  key range, a STAC item) into batches of one sensor and shape, asks the ledger which chips to
  send on, renders their previews and sends them to an encoder actor, with one batch in flight
  while it reads the next. It returns the unit's ``UnitReport`` once every batch it sent has
  been acknowledged by the store.
- ``ChipEncoder`` (an actor; ``num_gpus=1`` per GPU, else CPU): loads the model once. For the
  embedded index it hands its records to the ledger, the one writer; for a server
  (``UnitJob.encoders_write``) it writes them itself, from whichever machine it runs on.
- ``UnitWriter`` (one actor, ``ray_writer``): the ledger, and the writer of the embedded index.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from closp_core.bands import Sensor
from closp_core.data import ChipSource
from closp_core.data.chip import Chip, Tally, chip_record
from closp_core.embedder import Embedder
from closp_core.errors import ConfigError, DataError
from closp_core.settings import Settings
from closp_core.store import ChipRecord
from ingest.previews import write_chip_previews
from ingest.ray_writer import StoreOpener
from ingest.reading import NO_PIXELS, ChipBatch, UnitReport


class ChipEncoder:
    """Loads the model of ``settings`` once; turns batches into store records. ``opener``: a
    shared store (a server) this actor writes to itself (``encode_and_write``); ``None``: the
    ledger writes (``encode``)."""

    def __init__(self, settings: Settings, threads: int, opener: StoreOpener | None = None) -> None:
        self.embedder = Embedder.from_settings(settings, threads=threads)
        self.store = None if opener is None else opener()

    def encode(
        self,
        sensor: Sensor,
        chips: list[Chip],
        pixels: np.ndarray,
        previews: list[dict[str, str]],
    ) -> list[ChipRecord]:
        """``pixels`` ``(N, C, H, W) float32`` of ``chips`` -> their records."""
        pixels = np.require(pixels, requirements="W")  # Ray hands read-only views to torch
        vectors = self.embedder.encode_images(pixels, sensor)
        return [
            chip_record(chip, vector, paths)
            for chip, vector, paths in zip(chips, vectors, previews, strict=True)
        ]

    def encode_and_write(self, unit: str, batch: ChipBatch, force: bool, ledger: Any) -> int:
        """A shared store: embed the chips of ``batch`` (with its ``previews``) not yet indexed
        (all with ``force``), upsert them, and report to ``ledger`` (the ``UnitWriter`` actor)
        what the store acknowledged and what was already there; returns the count written."""
        import ray

        if self.store is None or batch.previews is None:
            raise ConfigError("encode_and_write needs a shared store and the batch's previews")
        keys = [chip.key for chip in batch.chips]
        present = set() if force else {record.key for record in self.store.get(keys)}
        rows = [i for i, key in enumerate(keys) if key not in present]
        records: list[ChipRecord] = []
        if rows:
            kept = batch.select(rows)
            records = self.encode(kept.sensor, kept.chips, kept.array(), kept.previews or [])
            self.store.upsert(records)
        written = [record.key for record in records]
        ray.get(ledger.acknowledge.remote(unit, written, sorted(present)))
        return len(written)

    def close(self) -> None:
        """Close the shared store's connection (the run's end)."""
        if self.store is not None:
            self.store.close()


@dataclasses.dataclass(frozen=True)
class UnitJob:
    """One unit to read: ``sources[source].read(unit)``; ``uid`` names it for the writer."""

    source: int
    unit: str
    batch_size: int
    data_dir: Path
    force: bool
    encoders_write: bool = False  # a shared store: ``ChipEncoder.encode_and_write``

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
    """Previews here, vectors on ``encoder``, records to the store (by ``writer``, or by the
    encoder for a shared store): the reference of the acknowledged upsert."""
    pixels = batch.array()
    previews = [
        write_chip_previews(chip.key, chip.sensor, chip_pixels, job.data_dir)
        for chip, chip_pixels in zip(batch.chips, pixels, strict=True)
    ]
    if job.encoders_write:
        stacked = ChipBatch(batch.sensor, batch.chips, pixels, previews)
        return encoder.encode_and_write.remote(job.uid, stacked, job.force, writer)
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
