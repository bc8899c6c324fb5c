"""Score maps of an area across the antimeridian (±180°), e.g. Fiji or the Aleutians.

The area is a box given with ``west > east`` (``ScoreMapRequest.antimeridian_box``). Its chips
are fetched as the two halves ``closp_core.geo.split_at_antimeridian`` gives (two store or side
file selections), then **unwrapped**: every longitude below 0 gets +360°, so the area is one
continuous lon/lat frame (170° … 190°) and the grid is as fine as for any other area, not a
360° wide strip. Hence:

- the score raster is **one** GeoTIFF in EPSG:4326 whose longitudes run past 180° (as 0–360°
  climate grids do): GDAL, rasterio and QGIS place it right (QGIS draws it east of 180°);
- km² are exact: a lon/lat pixel's area depends on its latitude and width only;
- the area polygons are computed in the continuous frame (their geodesic km² too) and
  written split at 180° into MultiPolygons with longitudes in [-180, 180] (RFC 7946 §3.1.9);
- the STAC Item's ``bbox`` has ``west > east`` (STAC's rule for the antimeridian) and its
  geometry is split the same way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import shapely

from closp_core.errors import ScoreMapError
from closp_core.geo import Bounds, GeoError, check_lon_lat, split_at_antimeridian
from closp_core.scoremap.table import ChipTable

_WEST_WORLD = shapely.box(-180.0, -90.0, 180.0, 90.0)
_EAST_WORLD = shapely.box(180.0, -90.0, 540.0, 90.0)


def check_crossing_box(box: Sequence[float]) -> Bounds:
    """``(west, south, east, north)`` of a box across ±180° (``west > east``), checked;
    ``ScoreMapError`` otherwise."""
    try:
        west, south, east, north = (float(v) for v in box)
        check_lon_lat(west, south, "antimeridian box (west, south)")
        check_lon_lat(east, north, "antimeridian box (east, north)")
    except (TypeError, ValueError, GeoError) as exc:
        raise ScoreMapError(
            f"antimeridian box must be four numbers west,south,east,north in degrees: {exc}"
        ) from None
    if not west > east or not south < north:
        raise ScoreMapError(
            f"antimeridian box {box!r}: west must be > east (it crosses ±180°) and "
            "south < north; a box that does not cross ±180° is a plain bbox"
        )
    return west, south, east, north


def crossing_box(box: str | Sequence[float] | None) -> Bounds | None:
    """The box of ``"W,S,E,N"`` text or four numbers when it crosses ±180° (``W > E``), else
    ``None`` (not a box, or one that does not cross: the search checks it as usual)."""
    if box is None:
        return None
    parts = box.split(",") if isinstance(box, str) else box
    try:
        values = [float(v) for v in parts]
    except (TypeError, ValueError):
        return None
    if len(values) != 4 or not all(math.isfinite(v) for v in values) or values[0] <= values[2]:
        return None
    return check_crossing_box(values)


def halves(box: Bounds) -> list[Bounds]:
    """The two boxes west and east of ±180° that make ``box``."""
    return split_at_antimeridian(*box)


def unwrap(table: ChipTable) -> ChipTable:
    """``table`` with every longitude below 0 moved by +360° (centres and footprints)."""
    centers, quads = table.centers.copy(), table.quads.copy()
    centers[:, 0] = np.where(centers[:, 0] < 0, centers[:, 0] + 360.0, centers[:, 0])
    quads[..., 0] = np.where(quads[..., 0] < 0, quads[..., 0] + 360.0, quads[..., 0])
    return dataclasses.replace(table, centers=centers, quads=quads)


def split_at_180(shape: shapely.Geometry) -> shapely.Geometry:
    """A shape of the continuous frame (longitudes up to 540°) as longitudes in [-180, 180]:
    the part east of 180° moved by −360°; a MultiPolygon when it has parts on both sides."""
    west = shapely.intersection(shape, _WEST_WORLD)
    east = shapely.affinity.translate(shapely.intersection(shape, _EAST_WORLD), xoff=-360.0)
    parts = [
        p
        for g in (west, east)
        for p in getattr(g, "geoms", [g])
        if isinstance(p, shapely.Polygon) and not p.is_empty
    ]
    if len(parts) == 1:
        return parts[0]
    return shapely.MultiPolygon(parts)


def wrapped_bbox(bounds: Bounds) -> list[float]:
    """A STAC ``bbox`` of continuous-frame bounds: ``west > east`` when it crosses 180°."""
    west, south, east, north = bounds
    if east <= 180.0:
        return [west, south, east, north]
    if west >= 180.0:
        return [west - 360.0, south, east - 360.0, north]
    return [west, south, east - 360.0, north]
