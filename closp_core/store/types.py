"""The store's own filters and parameters: what goes in and comes out (never Qdrant's types).

The records themselves (``ChipRecord``, ``Hit``, ``BBox``, ``GeoPolygon``, ``as_utc``,
``check_vector``) live in ``closp_core.records``, below the readers and the store; they are
re-exported here so ``from closp_core.store.types import ...`` keeps working.

Vectors are CLOSP embeddings: ``(384,) float32``, L2-normalised, compared by cosine.
Coordinates are WGS84 ``(lon, lat)`` in degrees; times are timezone-aware UTC datetimes
(a naive datetime is taken as UTC).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from closp_core.bands import Sensor
from closp_core.errors import StoreInputError
from closp_core.labels import sort_labels
from closp_core.records import (
    DIM,
    BBox,
    ChipRecord,
    GeoPolygon,
    Hit,
    LonLat,
    as_utc,
    check_vector,
    parse_sensor,
)

__all__ = [
    "COUNT_FIELDS",
    "DIM",
    "LEGACY_FULL_SCAN_KB",
    "MAX_LIMIT",
    "MIN_SEGMENT",
    "BBox",
    "ChipRecord",
    "CollectionInfo",
    "GeoPolygon",
    "Hit",
    "IndexParams",
    "LonLat",
    "Page",
    "SearchFilters",
    "TimeRange",
    "as_utc",
    "check_limit",
    "check_vector",
    "parse_sensor",
]

MAX_LIMIT = 10_000  # largest page / result list the store hands out at once


def check_limit(limit: int, what: str = "limit") -> int:
    """``1 <= limit <= MAX_LIMIT`` or ``StoreInputError``."""
    if isinstance(limit, bool) or not isinstance(limit, int | np.integer):
        raise StoreInputError(f"{what} must be an integer, got {limit!r}")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise StoreInputError(
            f"{what} must be between 1 and {MAX_LIMIT}, got {limit}; page through larger "
            "results with browse()"
        )
    return int(limit)


@dataclasses.dataclass(frozen=True)
class TimeRange:
    """Acquisition time window, both ends inclusive, UTC; ``None`` = open end."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def __post_init__(self) -> None:
        start = None if self.start is None else as_utc(self.start, "time range start")
        end = None if self.end is None else as_utc(self.end, "time range end")
        if start is not None and end is not None and start > end:
            raise StoreInputError(
                f"time range is reversed: start {start.isoformat()} is after end {end.isoformat()}"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)


@dataclasses.dataclass(frozen=True)
class SearchFilters:
    """Filters combined with AND. ``labels`` matches chips carrying any of them.

    Geo filters apply to the chip centre.
    """

    labels: tuple[str, ...] = ()
    sensor: Sensor | None = None
    time: TimeRange | None = None
    bbox: BBox | None = None
    polygon: GeoPolygon | None = None
    source: str | None = None
    scene_id: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.labels, str):
            raise StoreInputError("labels must be a list of labels, not one string")
        try:
            labels = tuple(sort_labels(self.labels))
        except ValueError as exc:  # LabelError lists the known labels
            raise StoreInputError(str(exc)) from None
        object.__setattr__(self, "labels", labels)
        if self.sensor is not None:
            object.__setattr__(self, "sensor", parse_sensor(self.sensor))
        for name, kind in (("time", TimeRange), ("bbox", BBox), ("polygon", GeoPolygon)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise StoreInputError(f"{name} must be a {kind.__name__}, got {value!r}")

    @property
    def is_empty(self) -> bool:
        """True when no condition is set."""
        return self == SearchFilters()


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of ``browse``: records in id order and the cursor of the next page (or None)."""

    records: tuple[ChipRecord, ...]
    next_cursor: str | None


# full_scan_kb of collections created before it was a parameter (Qdrant's default)
LEGACY_FULL_SCAN_KB = 10_000
# Edge indexes a segment only above its indexing threshold, 10,000 KB (6,667 chips)
MIN_SEGMENT = 10_000


@dataclasses.dataclass(frozen=True)
class IndexParams:
    """How the collection is indexed (fixed when it is created).

    ``m``/``ef_construct``: HNSW graph degree and build beam (``m=0``: no graph, exact search
    only). ``payload_m``: extra graph links within each indexed payload value (label, sensor,
    source ...), for fast filtered search; 0 = off. ``hnsw_ef``: search beam.
    ``full_scan_kb``: a filtered search whose matching vectors (as estimated from the payload
    indexes) total less than this many KB of float32 (1.5 KB a vector: 100,000 KB = 66,666
    chips) scans exactly those chips instead of walking the graph; Qdrant's default, 10,000,
    sent the bench's label+sensor+box filter at 1M chips (7,216 candidates) into the graph:
    recall@10 0.73 at 73-108 ms, against 1.0 at 8 ms scanned. ``int8``: int8
    scalar quantisation (4x smaller, kept in RAM, rescored with the original vectors).
    ``on_disk``: the original vectors stay on disk (mmap, read on demand to rescore) instead
    of being loaded into memory, and so do the label, sensor and map indexes (``RAM_FIELDS``;
    at 1M chips: 0.3 GB less RSS, filtered search as fast); with ``int8`` only the int8 copy and
    the graph are loaded (figures at 1M-2M chips and the 10M estimate: ``docs/scale.md``).
    ``segment_chips`` (Edge): the graph is built in segments of at most this many chips (the
    ingest CLI builds one each time that many wait, and Edge never merges two past it), so
    building takes the memory and time of one segment, not of the whole index; a search visits
    every segment (figures: ``docs/scale.md``).
    ``shards``/``replication``/``write_consistency``: Qdrant cluster settings (server only).
    """

    m: int = 16
    ef_construct: int = 100
    payload_m: int = 0
    hnsw_ef: int = 512
    full_scan_kb: int = 100_000
    int8: bool = False
    on_disk: bool = False
    segment_chips: int = 500_000
    shards: int = 1
    replication: int = 1
    write_consistency: int = 1

    def __post_init__(self) -> None:
        names = ("m", "ef_construct", "payload_m", "hnsw_ef", "full_scan_kb", "shards")
        for name in (*names, "replication", "write_consistency"):
            value = getattr(self, name)
            low = 0 if name in ("m", "payload_m") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise StoreInputError(f"index parameter {name} must be an integer >= {low}")
        segment = self.segment_chips
        if isinstance(segment, bool) or not isinstance(segment, int) or segment < MIN_SEGMENT:
            raise StoreInputError(
                f"index parameter segment_chips must be an integer >= {MIN_SEGMENT:,} (Edge "
                "gives smaller segments no graph)"
            )

    @property
    def segment_kb(self) -> int:
        """``segment_chips`` in Qdrant's unit: KB of float32 vectors."""
        return -(-self.segment_chips * DIM * 4 // 1024)


@dataclasses.dataclass(frozen=True)
class CollectionInfo:
    """What the Collection page shows. ``disk_bytes`` is ``None`` where unknown (server)."""

    points: int
    indexed_vectors: int
    model_id: str | None
    backend: str  # "edge" | "qdrant"
    location: str  # folder or URL (never the API key)
    disk_bytes: int | None
    params: IndexParams


COUNT_FIELDS = ("label", "sensor", "source", "month")  # what counts_by() groups by
