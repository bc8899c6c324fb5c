"""A place over time: the chips of either sensor that cover a selected chip, by date.

**Overlap rule.** A chip belongs to the place of a selected chip when it covers at least
``min_overlap`` (default ``0.25``) of the selected chip's footprint area
(``overlap_share``: area of the intersection / area of the selected footprint). Why 0.25: a
scene that covers the place is cut into chips on its own grid, offset from the selected chip's
by up to half a chip in each direction, so its best-placed chip always covers at least
0.5 × 0.5 = 25 % of the place; a higher threshold would drop whole acquisitions whose grid
happens to be offset. With ``one_per_scene`` (default) only that best-placed chip of each
scene (same sensor, ``scene_id`` and time; two uploads may share a name) is
kept, so the strip shows one thumbnail per acquisition.

**Candidates** come from the store's box filter (on chip centres): the selected footprint's
bounding box grown by its own width and height on every side, so every chip no larger than
the selected one that touches the footprint has its centre inside. The exact overlap is then
computed on the footprint rings (``closp_core.geo.overlap_share``). Boxes are clipped at
±180°/±90°: a chip whose neighbours straddle the antimeridian only sees its own side.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from closp_core.bands import Sensor
from closp_core.errors import TimelineError
from closp_core.records import BBox, ChipRecord, GeoPolygon, as_utc
from closp_core.store import SearchFilters, VectorStore

DEFAULT_MIN_OVERLAP = 0.25
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class PlaceChip:
    """A chip of a place: the record and the share of the place's footprint it covers (0..1)."""

    record: ChipRecord
    overlap: float

    @property
    def key(self) -> str:
        return self.record.key


def check_overlap(min_overlap: float) -> float:
    """``0 < min_overlap <= 1`` or ``TimelineError``."""
    if isinstance(min_overlap, bool) or not isinstance(min_overlap, int | float):
        raise TimelineError(f"min_overlap must be a number, got {min_overlap!r}")
    if not 0.0 < float(min_overlap) <= 1.0:
        raise TimelineError(f"min_overlap must be in (0, 1], got {min_overlap}")
    return float(min_overlap)


def footprint_of(record: ChipRecord) -> GeoPolygon:
    """The chip's footprint, or ``TimelineError`` when it has none."""
    if record.footprint is None:
        raise TimelineError(f"chip {record.key!r} has no footprint; re-ingest it to get one")
    return record.footprint


def search_box(footprint: GeoPolygon) -> BBox:
    """The footprint's bounding box grown by its own size on each side, clipped to the globe."""
    west, south, east, north = footprint.bounds
    dx, dy = east - west, north - south
    return BBox(
        max(-180.0, west - dx), max(-90.0, south - dy), min(180.0, east + dx), min(90.0, north + dy)
    )


def _time_key(record: ChipRecord) -> tuple[dt.datetime, str, str]:
    return (record.acquired or _LATEST, record.sensor.value, record.key)


def same_place(
    store: VectorStore,
    record: ChipRecord,
    *,
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    one_per_scene: bool = True,
    filters: SearchFilters | None = None,
) -> list[PlaceChip]:
    """Every chip (either sensor) covering ``min_overlap`` of ``record``'s footprint, by time.

    ``record`` itself is included (overlap 1.0). ``filters`` (optional) narrow the chips, e.g.
    a sensor or a time range; their box and polygon are replaced by the search box. Sorted by
    acquisition time (chips without a time last), then sensor and key.
    """
    min_overlap = check_overlap(min_overlap)
    footprint = footprint_of(record)
    box = search_box(footprint)
    base = filters or SearchFilters()
    candidates = store.iter_records(dataclasses.replace(base, bbox=box, polygon=None))
    found: dict[str, PlaceChip] = {record.key: PlaceChip(record, 1.0)}
    for other in candidates:
        if other.key == record.key or other.footprint is None:
            continue
        share = footprint.overlap_share(other.footprint)
        if share >= min_overlap:
            found[other.key] = PlaceChip(other, share)
    chips = list(found.values())
    if one_per_scene:
        groups: dict[tuple[str, str, str], list[PlaceChip]] = {}
        for chip in chips:
            rec = chip.record
            when = rec.acquired.isoformat() if rec.acquired else ""
            scene = rec.scene_id or when or rec.key  # names repeat (uploads): the time too
            groups.setdefault((rec.sensor.value, scene, when), []).append(chip)
        # per scene: the largest overlap (the selected chip itself first, then by key on ties)
        chips = [
            min(group, key=lambda c: (-c.overlap, c.key != record.key, c.key))
            for group in groups.values()
        ]
    return sorted(chips, key=lambda c: _time_key(c.record))


def as_instant(when: dt.date | dt.datetime) -> dt.datetime:
    """A date (its start, 00:00 UTC) or a datetime (naive = UTC) as a UTC datetime."""
    if isinstance(when, dt.datetime):
        return as_utc(when, "date")
    if isinstance(when, dt.date):
        return dt.datetime(when.year, when.month, when.day, tzinfo=dt.UTC)
    raise TimelineError(f"expected a date or datetime, got {type(when).__name__}")


def default_pair(
    records: Sequence[ChipRecord],
    when: dt.date | dt.datetime | None = None,
    *,
    sensor: Sensor | None = None,
) -> tuple[ChipRecord | None, ChipRecord | None]:
    """The default comparison of a place: ``(last before when, first at or after when)``.

    ``when`` a date means its start (00:00 UTC): a chip acquired that day counts as *after*.
    Without ``when``: the two latest chips (older, newer). ``sensor`` restricts both to one
    sensor (S1 vs S1, S2 vs S2); by default either sensor (S1 vs S2 allowed). Records without
    a time are ignored; a side with no chip is ``None`` (the UI says "no chip before ...").
    """
    dated = sorted(
        (r for r in records if r.acquired is not None and (sensor is None or r.sensor is sensor)),
        key=_time_key,
    )
    if when is None:
        if len(dated) < 2:
            return None, (dated[-1] if dated else None)
        return dated[-2], dated[-1]
    instant = as_instant(when)
    before = [r for r in dated if r.acquired is not None and r.acquired < instant]
    after = [r for r in dated if r.acquired is not None and r.acquired >= instant]
    return (before[-1] if before else None), (after[0] if after else None)
