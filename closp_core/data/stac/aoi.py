"""The area of interest of a search: a WGS84 box or (multi)polygon, and which chips meet it.

``Aoi.from_bbox("W,S,E,N")`` or ``Aoi.from_geojson(path)`` (a GeoJSON Polygon or MultiPolygon,
or a Feature / FeatureCollection of them; RFC 7946: https://datatracker.ietf.org/doc/html/rfc7946
-- longitude, latitude in WGS84). Anything else (a point, a line, an open ring, coordinates
outside -180..180 / -90..90, a box crossing the antimeridian) is a ``DataError`` saying what to
give instead.

The rings are checked and the overlap computed by ``closp_core.geo`` (``Region``): a ring must
be closed, simple (no crossing edges) and enclose an area, holes inside their polygon. A chip
is kept when its footprint overlaps the AOI with a positive area (``Aoi.meets(ring)``): a chip
that only touches the AOI's edge is left out, so an item that only touches the AOI gives no
chips. Reads are limited to the AOI's bounding box transformed
into the scene's CRS first (see ``chipping.offsets_in_bounds``; that box is a little larger
than the AOI); the overlap test then drops the chips read there that miss the AOI itself (a
polygon's concave parts, a box's corners turned by the projection), counted as skipped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from closp_core.errors import DataError, GeoError
from closp_core.geo import Bounds, LonLat, Region, Ring, box_ring, check_box


@contextlib.contextmanager
def _as_data_error() -> Iterator[None]:
    """Re-raise a ``GeoError`` as the ``DataError`` readers and their callers handle."""
    try:
        yield
    except GeoError as err:
        raise DataError(str(err)) from None


@dataclasses.dataclass(frozen=True)
class Aoi:
    """``polygons``: each an exterior ring then its holes, closed (lon, lat) rings."""

    polygons: tuple[tuple[Ring, ...], ...]
    is_box: bool = False

    @functools.cached_property
    def region(self) -> Region:
        """The polygons as a ``closp_core.geo.Region`` (checked when the AOI was built)."""
        return Region(self.polygons)

    @property
    def bounds(self) -> Bounds:
        """(west, south, east, north)."""
        return self.region.bounds

    def geometry(self) -> dict[str, Any]:
        """GeoJSON geometry (for the STAC API ``intersects`` parameter)."""
        coords = [[[list(p) for p in ring] for ring in poly] for poly in self.polygons]
        if len(coords) == 1:
            return {"type": "Polygon", "coordinates": coords[0]}
        return {"type": "MultiPolygon", "coordinates": coords}

    @classmethod
    def from_bbox(cls, value: str | Sequence[float]) -> Aoi:
        """``"W,S,E,N"`` or four numbers (degrees) -> a box AOI."""
        parts = value.split(",") if isinstance(value, str) else list(value)
        try:
            west, south, east, north = (float(p) for p in parts)
        except ValueError:
            raise DataError(
                f"bbox {value!r}: give four numbers W,S,E,N in degrees (e.g. -0.8,38.0,-0.7,38.1)"
            ) from None
        with _as_data_error():
            box = check_box(west, south, east, north, f"bbox {value!r}", empty_ok=False)
        return cls(((box_ring(*box),),), is_box=True)

    @classmethod
    def from_geojson(cls, source: str | Path | dict[str, Any]) -> Aoi:
        """A GeoJSON file (or parsed object) holding a Polygon / MultiPolygon -> AOI."""
        what = f"AOI {source}" if not isinstance(source, dict) else "AOI"
        doc = source if isinstance(source, dict) else _read_json(Path(source), what)
        polygons = _polygons(doc, what)
        if not polygons:
            raise DataError(f"{what}: holds no polygon; give a Polygon or MultiPolygon")
        with _as_data_error():
            region = Region.of(polygons, what)
        return cls(region.polygons)

    def meets(self, ring: Sequence[LonLat]) -> bool:
        """Whether the closed ring (a chip footprint) overlaps the AOI with positive area."""
        return self.region.meets(ring)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{what}: no such file; give a GeoJSON file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{what}: not readable GeoJSON ({err})") from None


def _polygons(doc: Any, what: str) -> list[tuple[Ring, ...]]:
    if not isinstance(doc, dict):
        raise DataError(f"{what}: not a GeoJSON object")
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise DataError(f"{what}: FeatureCollection without a features list")
        return [p for f in features for p in _polygons(f, what)]
    if kind == "Feature":
        return _polygons(doc.get("geometry"), what)
    coords = doc.get("coordinates")
    if kind == "Polygon":
        return [_polygon(coords, what)]
    if kind == "MultiPolygon" and isinstance(coords, list):
        return [_polygon(c, what) for c in coords]
    raise DataError(
        f"{what}: is a {kind or 'non-geometry'}, not an area; give a Polygon or MultiPolygon "
        "(a GeoJSON geometry, Feature or FeatureCollection of them)"
    )


def _polygon(coords: Any, what: str) -> tuple[Ring, ...]:
    """Rings of one GeoJSON polygon as float pairs (checked later, by ``Region.of``)."""
    if not isinstance(coords, list) or not coords:
        raise DataError(f"{what}: a polygon needs a list of rings")
    rings: list[Ring] = []
    for raw in coords:
        try:
            ring = tuple((float(p[0]), float(p[1])) for p in raw)
        except (TypeError, ValueError, IndexError):
            raise DataError(f"{what}: ring positions must be [lon, lat] numbers") from None
        rings.append(ring)
    return tuple(rings)
