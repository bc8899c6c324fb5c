"""``ChipTable``: the chips of an area as columns (vectors, footprints, sensors, times), the
input of a score map. Built from the store (a scroll of the area's payloads, then a bulk
retrieve of their vectors) or from a side file (``sidefile``), and selected in numpy.

Columns, one row per chip: ``keys (N,) object`` (str), ``ids (N,) 'S16'`` (the 16 bytes of the
point id), ``sensors (N,) uint8`` (0 = S1, 1 = S2), ``times (N,) int64`` (acquisition, seconds
since 1970 UTC; ``NO_TIME`` when unknown), ``centers (N, 2) float64`` (lon, lat degrees),
``quads (N, 4, 2) float64`` (footprint corners, lon/lat degrees; a footprint that is not a
quadrilateral is stored as its bounding box), ``vectors (N, 384) float32`` (unit vectors).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable, Sequence

import numpy as np

from closp_core.bands import Sensor
from closp_core.errors import ScoreMapError
from closp_core.records import DIM, ChipRecord
from closp_core.store import SearchFilters, VectorStore
from closp_core.store.payload import point_id

SENSORS = (Sensor.S1, Sensor.S2)  # code = position
NO_TIME = np.iinfo(np.int64).min
PAGE = 1000


@dataclasses.dataclass(frozen=True, eq=False)
class ChipTable:
    """The chips of one area, as columns (see the module docstring for shapes and units)."""

    keys: np.ndarray
    ids: np.ndarray
    sensors: np.ndarray
    times: np.ndarray
    centers: np.ndarray
    quads: np.ndarray
    vectors: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.keys)
        for name in ("ids", "sensors", "times", "centers", "quads", "vectors"):
            if len(getattr(self, name)) != n:
                raise ScoreMapError(f"chip table: column {name} has not {n} rows; rebuild it")
        if self.vectors.shape[1:] != (DIM,) or self.quads.shape[1:] != (4, 2):
            raise ScoreMapError("chip table: vectors must be (N, 384) and quads (N, 4, 2)")

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def empty(cls) -> ChipTable:
        """A table without chips."""
        return cls.from_records([])

    @classmethod
    def from_records(cls, records: Sequence[ChipRecord]) -> ChipTable:
        """Columns of ``records``; each needs a vector, a centre and a footprint (others
        are skipped: they cannot be drawn)."""
        rows = [
            r
            for r in records
            if r.vector is not None and r.center is not None and r.footprint is not None
        ]
        return cls(
            keys=np.array([r.key for r in rows], dtype=object),
            ids=np.array([uuid.UUID(point_id(r.key)).bytes for r in rows], dtype="S16"),
            sensors=np.array([SENSORS.index(r.sensor) for r in rows], dtype=np.uint8),
            times=np.array([_seconds(r.acquired) for r in rows], dtype=np.int64),
            centers=np.array([r.center for r in rows], dtype=np.float64).reshape(-1, 2),
            quads=np.array([_quad(r) for r in rows], dtype=np.float64).reshape(-1, 4, 2),
            vectors=np.array([r.vector for r in rows], dtype=np.float32).reshape(-1, DIM),
        )

    @classmethod
    def concat(cls, tables: Sequence[ChipTable]) -> ChipTable:
        """The rows of ``tables`` one after the other (one table: itself, not copied)."""
        if len(tables) == 1:
            return tables[0]
        if not tables:
            return cls.empty()
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{n: np.concatenate([getattr(t, n) for t in tables]) for n in names})

    def take(self, rows: np.ndarray) -> ChipTable:
        """The rows ``rows`` (a boolean mask or indices)."""
        return ChipTable(*(getattr(self, f.name)[rows] for f in dataclasses.fields(self)))

    def bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` of every footprint, degrees."""
        if not len(self):
            raise ScoreMapError("no chips in this area: move the map or widen the filters")
        lon, lat = self.quads[..., 0], self.quads[..., 1]
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())

    def dates(self, rows: np.ndarray | None = None) -> tuple[str, ...]:
        """The acquisition days (``YYYY-MM-DD``, sorted, unique) of ``rows`` (all chips)."""
        times = self.times if rows is None else self.times[rows]
        known = np.unique(times[times != NO_TIME])
        return tuple(dt.datetime.fromtimestamp(int(t), dt.UTC).date().isoformat() for t in known)


def _seconds(when: dt.datetime | None) -> int:
    return NO_TIME if when is None else int(when.timestamp())


def _quad(record: ChipRecord) -> list[tuple[float, float]]:
    ring = record.footprint.exterior if record.footprint is not None else ()
    if len(ring) == 5:
        return list(ring[:4])
    west, south, east, north = record.footprint.bounds  # type: ignore[union-attr]
    return [(west, south), (east, south), (east, north), (west, north)]


def too_many(n: int, max_chips: int) -> str:
    """The message for an area of ``n`` chips over the limit."""
    return (
        f"{n:,} chips match this area, more than the {max_chips:,} a score map scores "
        "(CLOSP_SCORE_MAP_MAX_CHIPS): zoom in, draw a smaller area or add filters"
    )


def fetch_table(store: VectorStore, filters: SearchFilters, max_chips: int) -> ChipTable:
    """Every chip of ``store`` matching ``filters`` with its vector: the payloads page by page
    (scroll), then each page's vectors in one retrieve. ``ScoreMapError`` past ``max_chips``."""
    n = store.count(filters)
    if n > max_chips:
        raise ScoreMapError(too_many(n, max_chips))
    return ChipTable.from_records(list(_with_vectors(store, filters)))


def _with_vectors(store: VectorStore, filters: SearchFilters) -> Iterable[ChipRecord]:
    cursor: str | None = None
    while True:
        page = store.browse(filters, limit=PAGE, cursor=cursor)
        ids = [point_id(r.key) for r in page.records]
        yield from store.get_by_ids(ids, with_vectors=True)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
