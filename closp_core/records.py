"""Records shared by the readers, the store and the search: chips as stored, hits, boxes,
polygons and UTC times.

Below both ``closp_core.data`` and ``closp_core.store`` (it imports neither), so a reader can
build a ``ChipRecord`` without the store. Vectors are CLOSP embeddings: ``(384,) float32``,
L2-normalised, compared by cosine. Coordinates are WGS84 ``(lon, lat)`` in degrees (checked by
``closp_core.geo``); times are timezone-aware UTC datetimes (a naive datetime is taken as UTC).
Bad values raise ``StoreInputError`` (``closp_core.errors``), as the store always did.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from closp_core.bands import Sensor
from closp_core.errors import BandContractError, GeoError, StoreInputError
from closp_core.geo import (
    Bounds,
    LonLat,
    check_box,
    check_lon_lat,
    check_ring,
    overlap_share,
    ring_bounds,
)
from closp_core.labels import sort_labels

__all__ = [
    "DIM",
    "BBox",
    "ChipOrigin",
    "ChipRecord",
    "GeoPolygon",
    "Hit",
    "LonLat",
    "OriginBand",
    "as_utc",
    "check_vector",
    "parse_sensor",
]

DIM = 384  # CLOSP embedding size


@contextlib.contextmanager
def _store_input() -> Iterator[None]:
    """Re-raise a ``GeoError`` as the ``StoreInputError`` records have always raised."""
    try:
        yield
    except GeoError as err:
        raise StoreInputError(str(err)) from None


def as_utc(value: dt.datetime, what: str = "time") -> dt.datetime:
    """A datetime in UTC; naive values are taken as UTC, aware ones converted.
    ``StoreInputError`` for anything that is no datetime."""
    if not isinstance(value, dt.datetime):
        raise StoreInputError(f"{what}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def parse_sensor(value: Sensor | str) -> Sensor:
    """``Sensor.parse`` with the store's error class."""
    try:
        return Sensor.parse(value)
    except BandContractError as exc:
        raise StoreInputError(str(exc)) from None


def check_vector(vector: Any, what: str = "vector") -> np.ndarray:
    """Return ``vector`` as a finite ``(384,) float32`` array, or raise ``StoreInputError``."""
    try:
        arr = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError):
        raise StoreInputError(f"{what}: not a numeric vector") from None
    if arr.shape != (DIM,):
        raise StoreInputError(
            f"{what}: expected shape ({DIM},) (a CLOSP embedding), got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise StoreInputError(f"{what}: contains NaN or infinite values")
    if not arr.any():
        raise StoreInputError(f"{what}: is all zeros; cosine similarity is undefined")
    return arr


@dataclasses.dataclass(frozen=True)
class BBox:
    """A lon/lat box in degrees: ``west <= east`` and ``south <= north``.

    A point exactly on an edge is outside the box (Qdrant's rule, on both back ends).

    Boxes crossing the antimeridian are not accepted: split them into two searches
    (``closp_core.geo.split_at_antimeridian``).
    """

    west: float
    south: float
    east: float
    north: float

    def __post_init__(self) -> None:
        with _store_input():
            box = check_box(self.west, self.south, self.east, self.north, "bbox")
        for name, value in zip(("west", "south", "east", "north"), box, strict=True):
            object.__setattr__(self, name, value)


@dataclasses.dataclass(frozen=True)
class GeoPolygon:
    """A simple polygon: a closed ring of ``(lon, lat)`` points (first == last), no holes
    (checked by ``closp_core.geo.check_ring``)."""

    exterior: tuple[LonLat, ...]

    def __post_init__(self) -> None:
        with _store_input():
            object.__setattr__(self, "exterior", check_ring(self.exterior, "polygon"))

    @classmethod
    def from_geojson(cls, geometry: Mapping[str, Any]) -> GeoPolygon:
        """From a GeoJSON ``Polygon`` geometry (only its exterior ring is used)."""
        if geometry.get("type") != "Polygon" or not geometry.get("coordinates"):
            raise StoreInputError(
                f"expected a GeoJSON Polygon with coordinates, got type {geometry.get('type')!r}"
            )
        return cls(tuple((p[0], p[1]) for p in geometry["coordinates"][0]))

    def to_geojson(self) -> dict[str, Any]:
        """GeoJSON ``Polygon`` geometry (WGS84 lon/lat)."""
        return {"type": "Polygon", "coordinates": [[list(p) for p in self.exterior]]}

    @property
    def bounds(self) -> Bounds:
        """``(west, south, east, north)`` in degrees."""
        return ring_bounds(self.exterior)

    def overlap_share(self, other: GeoPolygon) -> float:
        """Share (0..1) of this polygon's area that ``other`` covers
        (``closp_core.geo.overlap_share``: across the antimeridian too)."""
        return overlap_share(self.exterior, other.exterior)


@dataclasses.dataclass(frozen=True)
class OriginBand:
    """One band of a chip's source: ``name`` (canonical, ``"B8A"``, ``"VV"``), the file path or
    URL ``href``, its 1-based ``index`` there and the S2 ``dn_offset`` read from the product
    (``closp_core.data.raster.BandRef``)."""

    name: str
    href: str
    index: int = 1
    dn_offset: float | None = None


@dataclasses.dataclass(frozen=True)
class ChipOrigin:
    """Where a chip's pixels come from, so they can be read again (the imagery export).

    ``bands``: the bands as read, in order. ``row``, ``col``, ``size``: the chip's window, in
    pixels of the reference (finest) band's full grid; ``crs`` and ``transform`` (the 6 affine
    coefficients ``a, b, c, d, e, f`` of the chip window, CRS units) place it. How the reader
    read it: ``zero_is_nodata`` (S2 DN 0 is no-data), ``resampling`` (coarser bands onto the
    reference grid, a ``rasterio.enums.Resampling`` name), ``s1_linear`` (S1 stored as linear
    power, converted to dB). ``dataset``: for a chip of an HDF5 shard (CrisisLandMark), the
    path of its ``image`` dataset in the file ``bands[i].href`` (``index``: the band's plane
    there, source conventions applied; the window is the whole image). Stored in the payload
    as ``origin`` (``as_json``)."""

    bands: tuple[OriginBand, ...]
    row: int
    col: int
    size: int
    crs: str
    transform: tuple[float, float, float, float, float, float]
    zero_is_nodata: bool = False
    resampling: str = "bilinear"
    s1_linear: bool = False
    dataset: str | None = None

    def __post_init__(self) -> None:
        if not self.bands or self.size < 1 or len(self.transform) != 6:
            raise StoreInputError(
                f"chip origin: needs bands, a size >= 1 and 6 affine numbers, got {self!r}"
            )
        object.__setattr__(self, "transform", tuple(float(v) for v in self.transform))

    def as_json(self) -> dict[str, Any]:
        """The payload form, compact (hrefs once, their common folder once, defaults left
        out): ``{"root": "/data/scene/", "files": ["B02.tif", ...], "bands": [[name, file,
        index, dn_offset], ...], "row", "col", "size", "crs", "transform": [6]}`` plus
        ``zero_is_nodata`` / ``resampling`` / ``s1_linear`` / ``dataset`` when not the
        default."""
        hrefs = list(dict.fromkeys(b.href for b in self.bands))
        root = _common_folder(hrefs)
        body: dict[str, Any] = {
            "root": root,
            "files": [h[len(root) :] for h in hrefs],
            "bands": [[b.name, hrefs.index(b.href), b.index, b.dn_offset] for b in self.bands],
            "row": self.row,
            "col": self.col,
            "size": self.size,
            "crs": self.crs,
            "transform": list(self.transform),
        }
        for field in dataclasses.fields(self)[6:]:
            value = getattr(self, field.name)
            if value != field.default:
                body[field.name] = value
        return body

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ChipOrigin:
        """Back from ``as_json``; ``StoreInputError`` when it is not one."""
        try:
            files = [str(body["root"]) + str(f) for f in body["files"]]
            bands = tuple(
                OriginBand(str(name), files[int(file)], int(index), offset)
                for name, file, index, offset in body["bands"]
            )
            fields = {k: body[k] for k in ("row", "col", "size", "crs")}
            rest = {f.name: body[f.name] for f in dataclasses.fields(cls)[6:] if f.name in body}
            return cls(bands, transform=tuple(body["transform"]), **fields, **rest)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise StoreInputError(f"chip origin: not a stored origin ({exc!r})") from None


def _common_folder(hrefs: list[str]) -> str:
    """The longest common prefix of ``hrefs`` (paths or URLs) that ends with ``/`` (``""`` if
    none); the common prefix of the first and last in sort order is everyone's."""
    first, last = min(hrefs), max(hrefs)
    pairs = enumerate(zip(first, last, strict=False))  # first may be shorter
    size = next((i for i, (a, b) in pairs if a != b), len(first))
    return first[: first.rfind("/", 0, size) + 1]


@dataclasses.dataclass(frozen=True, eq=False)
class ChipRecord:
    """One chip as stored: its embedding and what the map, filters and gallery need.

    ``vector``: ``(384,) float32`` unit vector (``None`` when read back without vectors).
    ``labels``: our label space (``closp_core.labels.LABELS``), canonicalised and sorted.
    ``source_labels``: the source's own labels, kept verbatim. ``center``: ``(lon, lat)``.
    ``footprint``: chip outline in WGS84. ``crs``: CRS of the source raster (e.g.
    ``"EPSG:32633"``). ``previews``: name -> path relative to the data folder.
    ``origin``: where its pixels can be read again (``None``: indexed before that was kept).
    """

    key: str
    vector: np.ndarray | None
    sensor: Sensor
    source: str
    labels: tuple[str, ...] = ()
    source_labels: tuple[str, ...] = ()
    scene_id: str | None = None
    acquired: dt.datetime | None = None
    center: LonLat | None = None
    footprint: GeoPolygon | None = None
    crs: str | None = None
    previews: Mapping[str, str] = dataclasses.field(default_factory=dict)
    origin: ChipOrigin | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise StoreInputError(f"chip key must be a non-empty string, got {self.key!r}")
        what = f"chip {self.key!r}"
        if self.vector is not None:
            object.__setattr__(self, "vector", check_vector(self.vector, f"{what} vector"))
        object.__setattr__(self, "sensor", parse_sensor(self.sensor))
        if not isinstance(self.source, str) or not self.source:
            raise StoreInputError(f"{what}: source must be a non-empty string (e.g. 'benv2s2')")
        try:
            object.__setattr__(self, "labels", tuple(sort_labels(self.labels)))
        except ValueError as exc:
            raise StoreInputError(f"{what}: {exc}") from None
        object.__setattr__(self, "source_labels", tuple(str(x) for x in self.source_labels))
        if self.acquired is not None:
            object.__setattr__(self, "acquired", as_utc(self.acquired, f"{what} acquired"))
        if self.center is not None:
            lon, lat = self.center
            with _store_input():
                center = check_lon_lat(lon, lat, f"{what} center")
            object.__setattr__(self, "center", center)
        if self.footprint is not None and not isinstance(self.footprint, GeoPolygon):
            raise StoreInputError(f"{what}: footprint must be a GeoPolygon")
        object.__setattr__(self, "previews", {str(k): str(v) for k, v in self.previews.items()})
        if self.origin is not None and not isinstance(self.origin, ChipOrigin):
            raise StoreInputError(f"{what}: origin must be a ChipOrigin")

    def __eq__(self, other: object) -> bool:
        """Field-wise; vectors within 1e-6 and coordinates within 1e-9 degrees (storage as
        JSON or float32 may change the last bits)."""
        if not isinstance(other, ChipRecord):
            return NotImplemented
        for field in dataclasses.fields(self):
            a, b = getattr(self, field.name), getattr(other, field.name)
            if field.name in {"vector", "center", "footprint"}:
                if (a is None) != (b is None):
                    return False
                if a is None:
                    continue
                if field.name == "footprint":
                    a, b = a.exterior, b.exterior
                atol = 1e-6 if field.name == "vector" else 1e-9
                if np.shape(a) != np.shape(b) or not np.allclose(a, b, rtol=0, atol=atol):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True)
class Hit:
    """A search result: the chip and its cosine similarity to the query (-1..1)."""

    record: ChipRecord
    score: float

    @property
    def key(self) -> str:
        """The chip key."""
        return self.record.key
