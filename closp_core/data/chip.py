"""The ``Chip``: one image chip as every reader yields it and every consumer takes it.

Data flows one way: reader -> Chip -> Embedder -> ChipRecord -> store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Mapping

import numpy as np

from closp_core.bands import Sensor
from closp_core.records import ChipOrigin, ChipRecord, GeoPolygon, LonLat

__all__ = ["Chip", "Tally", "chip_record"]


@dataclasses.dataclass(frozen=True, eq=False)
class Chip:
    """One chip, in the band contract of its sensor, located in WGS84.

    ``pixels``: ``(13, H, W) float32`` reflectance/10000 (S2) or ``(2, H, W) float32`` dB VV, VH
    (S1) — the output of ``bands.prepare_s2`` / ``prepare_s1``; usually 120x120 at 10 m.
    ``labels`` are in our label space (``labels.LABELS``); ``original_labels`` are the source's own;
    ``unmapped_labels`` are source labels with no mapping (kept, and flagged in summaries).
    ``footprint`` is a closed ring of (lon, lat) — first point repeated last.
    """

    key: str  # unique and stable across re-reads: the store derives the point id from it
    sensor: Sensor
    pixels: np.ndarray
    center: LonLat
    footprint: tuple[LonLat, ...]
    crs: str  # CRS of origin, e.g. "EPSG:32618"
    source: str  # dataset / reader, e.g. "bigearthnet", "scene", "crisislandmark/mmflood"
    scene_id: str
    acquired: dt.datetime | None = None  # UTC
    labels: tuple[str, ...] = ()
    original_labels: tuple[str, ...] = ()
    unmapped_labels: tuple[str, ...] = ()
    origin: ChipOrigin | None = None  # where its pixels can be read again (raster readers)


@dataclasses.dataclass
class Tally:
    """What a read skipped (reason -> count of chips), what it flagged (reason -> count, in the
    unit ``flag_units[reason]`` names: "chips" unless the reader said "pixels", "scenes" ...),
    and how many chips it expects (readers call ``expect`` once they know, for progress bars).
    ``bad_items``: inputs inside the unit that could not be read (one sample of a shard); the
    unit's other chips are indexed, and the run reports the unit as failed (exit status 1)."""

    skipped: Counter[str] = dataclasses.field(default_factory=Counter)
    flagged: Counter[str] = dataclasses.field(default_factory=Counter)
    expected: int = 0
    flag_units: dict[str, str] = dataclasses.field(default_factory=dict)
    bad_items: list[str] = dataclasses.field(default_factory=list)

    def expect(self, count: int) -> None:
        self.expected += count

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] += count

    def flag(self, reason: str, count: int = 1, unit: str = "chips") -> None:
        self.flagged[reason] += count
        self.flag_units[reason] = unit

    def bad_item(self, message: str) -> None:
        self.bad_items.append(message)


def chip_record(
    chip: Chip, vector: np.ndarray, previews: Mapping[str, str] | None = None
) -> ChipRecord:
    """The store's record of ``chip`` with its ``(384,)`` embedding and preview paths."""
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
        previews=previews or {},
        origin=chip.origin,
    )
