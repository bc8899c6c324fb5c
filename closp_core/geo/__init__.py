"""Geometry of the engine, on shapely (pyproj for geodesic areas): the one place where
points, boxes, polygons, the antimeridian, areas and overlaps are computed.

Coordinates are WGS84 ``(lon, lat)`` in degrees, longitude first as in GeoJSON; boxes are
``(west, south, east, north)``. Bad input raises ``closp_core.errors.GeoError``; callers that
own an error class of their own (the store's records, the readers' AOI) re-raise it as theirs.

- ``points``: coordinate and box checks, the antimeridian split, bounds, distances.
- ``polygons``: ring checks, containment, overlap shares, areas in km², ``Region`` (an area
  of interest and which footprints meet it).
- ``crs`` (imported on its own: it needs rasterio): CRS parsing and chip corners in any CRS
  to WGS84 centres and footprints, with the checks readers need.
"""

from __future__ import annotations

from closp_core.errors import GeoError
from closp_core.geo.points import (
    EARTH_RADIUS_M,
    Bounds,
    LonLat,
    box_ring,
    check_box,
    check_lon_lat,
    distance_m,
    nearest_point,
    points_bounds,
    split_at_antimeridian,
    union_bounds,
)
from closp_core.geo.polygons import (
    MAX_POLYGON_POINTS,
    Region,
    Ring,
    area_km2,
    check_ring,
    covers_point,
    overlap_share,
    ring_bounds,
    segments_intersect,
)

__all__ = [
    "EARTH_RADIUS_M",
    "MAX_POLYGON_POINTS",
    "Bounds",
    "GeoError",
    "LonLat",
    "Region",
    "Ring",
    "area_km2",
    "box_ring",
    "check_box",
    "check_lon_lat",
    "check_ring",
    "covers_point",
    "distance_m",
    "nearest_point",
    "overlap_share",
    "points_bounds",
    "ring_bounds",
    "segments_intersect",
    "split_at_antimeridian",
    "union_bounds",
]
