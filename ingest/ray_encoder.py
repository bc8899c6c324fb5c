"""The encoder actor of ``--engine ray`` (``ray_engine`` wraps it with ``ray.remote``): it loads
the model once (``num_gpus=1`` per GPU, else a CPU) and turns batches into store records. For
the embedded index it hands them to the ledger actor, the one writer (``encode``); for a
server it writes them itself, from whichever machine it runs on (``encode_and_write``).

This is the only part of a Ray run that imports torch and the model: the reading tasks
(``ray_units``) and the ledger (``ray_writer``) start without them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from closp_core.bands import Sensor
from closp_core.data.chip import Chip, chip_record
from closp_core.embedder import Embedder
from closp_core.settings import Settings
from closp_core.store import ChipRecord, VectorStore
from ingest.ray_units import RayBatch
from ingest.ray_writer import StoreOpener


class ChipEncoder:
    """Loads the model of ``settings`` once. ``opener``: a shared store (a server) this actor
    writes to itself; ``None``: the ledger writes."""

    def __init__(self, settings: Settings, threads: int, opener: StoreOpener | None = None) -> None:
        self.embedder = Embedder.from_settings(settings, threads=threads)
        self.opener = opener
        self.store: VectorStore | None = None  # opened at the first batch (the ledger made it)

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

    def encode_and_write(self, unit: str, batch: RayBatch, force: bool, ledger: Any) -> int:
        """A shared store: embed the chips of ``batch`` not yet indexed (all with ``force``),
        upsert them, and report to ``ledger`` (the ``UnitWriter`` actor) what the store
        acknowledged and what was already there; returns the count written."""
        import ray

        if self.opener is None:
            raise RuntimeError("encode_and_write on an encoder started without a shared store")
        if self.store is None:
            self.store = self.opener()
        keys = [chip.key for chip in batch.chips]
        present = set() if force else {record.key for record in self.store.get(keys)}
        rows = [i for i, key in enumerate(keys) if key not in present]
        records: list[ChipRecord] = []
        if rows:
            kept = batch.select(rows)
            records = self.encode(kept.sensor, kept.chips, kept.pixels, kept.previews)
            self.store.upsert(records)
        written = [record.key for record in records]
        ray.get(ledger.acknowledge.remote(unit, written, sorted(present)))
        return len(written)

    def close(self) -> None:
        """Close the shared store's connection (the run's end)."""
        if self.store is not None:
            self.store.close()
