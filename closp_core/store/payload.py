"""Chip records <-> Qdrant payloads, point ids and the payload schema (back-end neutral).

Payload of a point (JSON)::

    key            str            chip key (e.g. "benv2s2_S2A_..._12_34")     (not indexed)
    sensor         "s1" | "s2"                                               keyword index
    labels         [str]          our label space                            keyword index
    source_labels  [str]          the source's original labels               (not indexed)
    source         str            source dataset (key prefix, e.g. "mmflood") keyword index
    scene_id       str | null                                                keyword index
    acquired       RFC3339 UTC    "2021-07-04T10:21:00Z" or null             datetime index
    month          "YYYY-MM"      derived from acquired, for counts          keyword index
    center         {lon, lat}     chip centre, WGS84 degrees                 geo index
    tile           "row:col"      5-degree grid cell of the centre           keyword index
    tile_labels    ["s2|Water|row:col", ...]  sensor, label and tile         keyword index
    footprint      GeoJSON Polygon in WGS84 or null                          (not indexed)
    crs            str | null     CRS of the source raster                   (not indexed)
    previews       {name: relative path}                                     (not indexed)
    origin         {bands, row, col, size, crs, transform, ...} or null:     (not indexed)
                   where the pixels can be read again (``ChipOrigin.as_json``)

Why ``tile`` and ``tile_labels``: Qdrant answers a selective filter by walking the posting list
of its most selective condition and checking every condition on each point it meets (~150 ns a
point). For a map box that list comes from the geo index, which covers the box with at most 12
geohash cells: for a box of a few tens of degrees they are 45 degrees wide and hold ~4x the
points in the box. So a map filter also asks for one of the 5-degree tiles under the box, and
when labels are filtered too, for one of the sensor|label|tile keys, whose posting lists hold
little more than the chips that pass. The original conditions stay, so results are exact.
Measured at 647k chips with bench/search.py's label+sensor+box filter: 11-15 ms per search with
the geo index alone, 6-12 ms with tiles, 3.1-4.5 ms with tile_labels (2-core machine).

Indexes of ``RAM_FIELDS`` (label, sensor and map checks) are loaded into memory when the index
opens (unless the collection keeps its vectors on disk, ``IndexParams.on_disk``: then they are
read through mmap too, which at 1M chips saved 0.3 GB and cost no filtered-search time); the
others are read through mmap, because loading them cost more than it saved. Measured
at 647k chips: the time index in RAM cost 0.3 s of reopen and saved ~3 ms on a one-year time
filter (6.7 -> 3.9 ms); ``tile`` and ``tile_labels`` in RAM cost ~0.9 s of reopen and saved
nothing (their posting lists are read in order); source, scene and month are only counted.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

import numpy as np

from closp_core.bands import Sensor
from closp_core.errors import StoreInputError
from closp_core.records import ChipOrigin
from closp_core.store.types import BBox, ChipRecord, GeoPolygon, SearchFilters

# Fixed namespace of chip point ids: never change it (ids of existing indexes depend on it).
CHIP_NAMESPACE = uuid.UUID("5d0b5a3c-3f2e-5c61-9a8e-c105b0000001")

# Payload indexes: only the fields that filters and counts use (key, crs and source labels are
# stored but never filtered on; a keyword index on 647k unique keys costs memory and reopen time).
KEYWORD_FIELDS = ("sensor", "labels", "tile", "tile_labels", "source", "scene_id", "month")
DATETIME_FIELDS = ("acquired",)
GEO_FIELDS = ("center",)
INDEXED_FIELDS = (*KEYWORD_FIELDS, *DATETIME_FIELDS, *GEO_FIELDS)
RAM_FIELDS = ("sensor", "labels", "center")
TILE_DEG = 5.0
# a box over more tiles than this (a quarter of the globe) is not selective: no tile condition
MAX_TILES = 648
# above this many sensor|label|tile keys the map filter asks for tiles only
MAX_TILE_LABEL_KEYS = 2048
# counts_by() name -> payload field
COUNT_FIELD_PAYLOAD = {"label": "labels", "sensor": "sensor", "source": "source", "month": "month"}


def point_id(key: str) -> str:
    """Point id of a chip: ``uuid5(CHIP_NAMESPACE, key)`` as a string (stable across runs)."""
    return str(uuid.uuid5(CHIP_NAMESPACE, key))


def rfc3339(value: dt.datetime) -> str:
    """UTC datetime -> ``"2021-07-04T10:21:00Z"`` (microseconds kept when present)."""
    text = value.astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def _parse_time(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# Qdrant's geo index loses points when a box edge or a polygon vertex lies on a pole or on the
# antimeridian (measured with Edge: the box (-180, -90, 0, 90) found 220 of 1,046 chips). Such
# coordinates are moved 1e-9 degrees inwards; a point exactly on an edge is outside anyway.
_GEO_INSET = 1e-9


def engine_lon_lat(lon: float, lat: float) -> tuple[float, float]:
    """A box corner or polygon vertex as sent to Qdrant (see ``_GEO_INSET``)."""
    lon = min(max(lon, -180.0 + _GEO_INSET), 180.0 - _GEO_INSET)
    return lon, min(max(lat, -90.0 + _GEO_INSET), 90.0 - _GEO_INSET)


def engine_box(box: BBox) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of a box as sent to Qdrant (see ``_GEO_INSET``)."""
    (west, south), (east, north) = (
        engine_lon_lat(box.west, box.south),
        engine_lon_lat(box.east, box.north),
    )
    return west, south, east, north


def tile_of(lon: float, lat: float) -> str:
    """The ``tile`` of a point: ``"row:col"`` of its ``TILE_DEG`` grid cell."""
    return f"{math.floor(lat / TILE_DEG)}:{math.floor(lon / TILE_DEG)}"


def tiles_covering(
    west: float, south: float, east: float, north: float, *, open_edges: bool = False
) -> list[str] | None:
    """The tiles that hold every point of the box, or None when there are over ``MAX_TILES``.

    Points on a tile edge belong to the tile above/right of it; ``floor`` on both sides keeps
    the box's own edges inside the tiles listed. ``open_edges``: points on the box's edges are
    outside it (a ``BBox``), so when its east or north edge lies on a tile edge the tiles
    beyond it hold no point of the box and are left out (a 10x7-tile box lists 70, not 88)."""
    last_row, last_col = math.floor(north / TILE_DEG), math.floor(east / TILE_DEG)
    if open_edges and north > south and last_row * TILE_DEG == north:
        last_row -= 1
    if open_edges and east > west and last_col * TILE_DEG == east:
        last_col -= 1
    rows = range(math.floor(south / TILE_DEG), last_row + 1)
    cols = range(math.floor(west / TILE_DEG), last_col + 1)
    if len(rows) * len(cols) > MAX_TILES:
        return None
    return [f"{r}:{c}" for r in rows for c in cols]


def tile_label_key(sensor: str, label: str, tile: str) -> str:
    """One value of ``tile_labels``: ``"s2|Flooded Area|7:-2"``."""
    return f"{sensor}|{label}|{tile}"


def map_prefilter(filters: SearchFilters) -> tuple[str, list[str]] | None:
    """``(field, values)``: the payload keyword condition that narrows a map filter, if any.

    ``tile_labels`` when labels are filtered as well (and the keys are not too many), else
    ``tile``; None without a box or polygon, or when they cover more than ``MAX_TILES``."""
    tiles = filter_tiles(filters)
    if tiles is None:
        return None
    if filters.labels:
        sensors = [filters.sensor] if filters.sensor is not None else list(Sensor)
        if len(sensors) * len(filters.labels) * len(tiles) <= MAX_TILE_LABEL_KEYS:
            keys = [
                tile_label_key(s.value, label, t)
                for s in sensors
                for label in filters.labels
                for t in tiles
            ]
            return "tile_labels", keys
    return "tile", tiles


def implies_labels_and_sensor(prefilter: tuple[str, list[str]] | None) -> bool:
    """Whether the ``map_prefilter`` condition already says everything the filters' labels and
    sensor say: its ``tile_labels`` keys are exactly sensor x label x tile, so those two
    conditions can be left out (Qdrant checks every condition on every candidate: measured at
    1M chips, the bench's label+sensor+box filter counted in 2.6 ms instead of 4.2)."""
    return prefilter is not None and prefilter[0] == "tile_labels"


def filter_tiles(filters: SearchFilters) -> list[str] | None:
    """Tiles a point must lie in to pass the filters' box and polygon (None: no such limit)."""
    cover = []
    if filters.bbox is not None:
        b = filters.bbox
        cover.append(tiles_covering(b.west, b.south, b.east, b.north, open_edges=True))
    if filters.polygon is not None:
        cover.append(tiles_covering(*filters.polygon.bounds))
    known = [set(c) for c in cover if c is not None]
    if not known:
        return None
    return sorted(set.intersection(*known))


def to_payload(record: ChipRecord) -> dict[str, Any]:
    """The JSON payload stored with a chip's vector."""
    acquired = record.acquired
    tile = None if record.center is None else tile_of(*record.center)
    return {
        "key": record.key,
        "sensor": record.sensor.value,
        "labels": list(record.labels),
        "source_labels": list(record.source_labels),
        "source": record.source,
        "scene_id": record.scene_id,
        "acquired": None if acquired is None else rfc3339(acquired),
        "month": None if acquired is None else f"{acquired.year:04d}-{acquired.month:02d}",
        "center": None
        if record.center is None
        else {"lon": record.center[0], "lat": record.center[1]},
        "tile": tile,
        "tile_labels": []
        if tile is None
        else [tile_label_key(record.sensor.value, x, tile) for x in record.labels],
        "footprint": None if record.footprint is None else record.footprint.to_geojson(),
        "crs": record.crs,
        "previews": dict(record.previews),
        "origin": None if record.origin is None else record.origin.as_json(),
    }


def from_payload(payload: dict[str, Any], vector: Any | None) -> ChipRecord:
    """Rebuild a ``ChipRecord`` from a stored payload (and optionally its vector)."""
    center = payload.get("center")
    footprint = payload.get("footprint")
    return ChipRecord(
        key=payload["key"],
        vector=None if vector is None else np.asarray(vector, dtype=np.float32),
        sensor=payload["sensor"],
        source=payload["source"],
        labels=tuple(payload.get("labels") or ()),
        source_labels=tuple(payload.get("source_labels") or ()),
        scene_id=payload.get("scene_id"),
        acquired=_parse_time(payload.get("acquired")),
        center=None if center is None else (center["lon"], center["lat"]),
        footprint=None if footprint is None else GeoPolygon.from_geojson(footprint),
        crs=payload.get("crs"),
        previews=payload.get("previews") or {},
        origin=_origin(payload.get("origin")),
    )


def _origin(body: Any) -> ChipOrigin | None:
    """The stored origin; ``None`` for chips indexed before it was kept, or a damaged one (the
    export says so per chip)."""
    if not isinstance(body, dict):
        return None
    try:
        return ChipOrigin.from_json(body)
    except StoreInputError:
        return None
