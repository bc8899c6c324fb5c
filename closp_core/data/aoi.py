"""The area of interest of a search: a WGS84 box or (multi)polygon, and which chips meet it.

``Aoi.from_bbox("W,S,E,N")`` or ``Aoi.from_geojson(path)`` (a GeoJSON Polygon or MultiPolygon,
or a Feature / FeatureCollection of them; RFC 7946: https://datatracker.ietf.org/doc/html/rfc7946
-- longitude, latitude in WGS84). Anything else (a point, a line, an open ring, coordinates
outside -180..180 / -90..90, a box crossing the antimeridian) is a ``DataError`` saying what to
give instead.

A chip is kept when its footprint overlaps the AOI with a positive area
(``Aoi.meets(ring)``): a chip that only touches the AOI's edge is left out, so an item that
only touches the AOI gives no chips. Reads are limited to the AOI's bounding box transformed
into the scene's CRS first (see ``chipping.offsets_in_bounds``; that box is a little larger
than the AOI); the overlap test then drops the chips read there that miss the AOI itself (a
polygon's concave parts, a box's corners turned by the projection), counted as skipped.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from closp_core.data.chip import LonLat
from closp_core.errors import DataError

Ring = tuple[LonLat, ...]
Bounds = tuple[float, float, float, float]
_EPS = 1e-12


@dataclasses.dataclass(frozen=True)
class Aoi:
    """``polygons``: each an exterior ring then its holes, closed (lon, lat) rings."""

    polygons: tuple[tuple[Ring, ...], ...]
    is_box: bool = False

    @property
    def bounds(self) -> Bounds:
        """(west, south, east, north)."""
        lons = [p[0] for poly in self.polygons for p in poly[0]]
        lats = [p[1] for poly in self.polygons for p in poly[0]]
        return min(lons), min(lats), max(lons), max(lats)

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
        _check_lonlat(((west, south), (east, north)), f"bbox {value!r}")
        if not (west < east and south < north):
            raise DataError(
                f"bbox {value!r}: west must be < east and south < north (a box crossing the "
                "antimeridian must be split in two searches)"
            )
        ring = ((west, south), (east, south), (east, north), (west, north), (west, south))
        return cls(((ring,),), is_box=True)

    @classmethod
    def from_geojson(cls, source: str | Path | dict[str, Any]) -> Aoi:
        """A GeoJSON file (or parsed object) holding a Polygon / MultiPolygon -> AOI."""
        what = f"AOI {source}" if not isinstance(source, dict) else "AOI"
        doc = source if isinstance(source, dict) else _read_json(Path(source), what)
        polygons = _polygons(doc, what)
        if not polygons:
            raise DataError(f"{what}: holds no polygon; give a Polygon or MultiPolygon")
        return cls(tuple(polygons))

    def meets(self, ring: Sequence[LonLat]) -> bool:
        """Whether the closed ring (a chip footprint) overlaps the AOI with positive area."""
        return any(_overlap(poly, tuple(ring)) for poly in self.polygons)


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
    if not isinstance(coords, list) or not coords:
        raise DataError(f"{what}: a polygon needs a list of rings")
    rings: list[Ring] = []
    for raw in coords:
        try:
            ring = tuple((float(p[0]), float(p[1])) for p in raw)
        except (TypeError, ValueError, IndexError):
            raise DataError(f"{what}: ring positions must be [lon, lat] numbers") from None
        if len(ring) < 4 or ring[0] != ring[-1]:
            raise DataError(f"{what}: a ring needs >= 4 positions, the first repeated last")
        _check_lonlat(ring, what)
        rings.append(ring)
    return tuple(rings)


def _check_lonlat(points: Sequence[LonLat], what: str) -> None:
    for lon, lat in points:
        if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
            raise DataError(f"{what}: ({lon}, {lat}) is not a WGS84 longitude, latitude")


def _inside(point: LonLat, ring: Ring) -> bool:
    """Strictly inside a closed ring (even-odd rule); points on the boundary are not."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if _on_segment(point, (x1, y1), (x2, y2)):
            return False
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def _in_polygon(point: LonLat, poly: tuple[Ring, ...]) -> bool:
    return _inside(point, poly[0]) and not any(_inside(point, hole) for hole in poly[1:])


def _cross(o: LonLat, a: LonLat, b: LonLat) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _on_segment(p: LonLat, a: LonLat, b: LonLat) -> bool:
    if abs(_cross(a, b, p)) > _EPS:
        return False
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _proper_cross(a: LonLat, b: LonLat, c: LonLat, d: LonLat) -> bool:
    """Segments ab and cd cross at a single interior point of both."""
    d1, d2 = _cross(c, d, a), _cross(c, d, b)
    d3, d4 = _cross(a, b, c), _cross(a, b, d)
    return d1 * d2 < -_EPS and d3 * d4 < -_EPS


def _overlap(poly: tuple[Ring, ...], ring: Ring) -> bool:
    """Positive-area overlap of a polygon and a small convex ring (a chip footprint)."""
    center = (sum(p[0] for p in ring[:-1]) / (len(ring) - 1),
              sum(p[1] for p in ring[:-1]) / (len(ring) - 1))  # fmt: skip
    if any(_in_polygon(p, poly) for p in (*ring[:-1], center)):
        return True
    if any(_inside(p, ring) for p in poly[0][:-1]):
        return True
    edges = list(itertools.pairwise(ring))
    return any(_proper_cross(a, b, c, d) for c, d in itertools.pairwise(poly[0]) for a, b in edges)
