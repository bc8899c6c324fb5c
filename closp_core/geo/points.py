"""Points and boxes in WGS84: checks, distances, bounds, the antimeridian.

Coordinates are ``(lon, lat)`` in degrees, longitude first as in GeoJSON. A box is
``(west, south, east, north)`` in degrees; a box never crosses the antimeridian here
(``west <= east``): ``split_at_antimeridian`` turns one that does into the two that do not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from closp_core.errors import GeoError

LonLat = tuple[float, float]
Bounds = tuple[float, float, float, float]  # (west, south, east, north), degrees
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG), metres


def check_lon_lat(lon: float, lat: float, what: str) -> LonLat:
    """Return ``(lon, lat)`` as floats; finite, ``|lon| <= 180`` and ``|lat| <= 90`` or
    ``GeoError``."""
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise GeoError(f"{what}: ({lon!r}, {lat!r}) are not numbers") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise GeoError(f"{what}: coordinates must be finite, got ({x}, {y})")
    if not -90.0 <= y <= 90.0:
        raise GeoError(
            f"{what}: latitude {y} is outside [-90, 90]; ({x}, {y}) is not a WGS84 longitude, "
            "latitude (coordinates are (lon, lat) in degrees)"
        )
    if not -180.0 <= x <= 180.0:
        raise GeoError(
            f"{what}: longitude {x} is outside [-180, 180]; ({x}, {y}) is not a WGS84 "
            "longitude, latitude (coordinates are (lon, lat) in degrees)"
        )
    return x, y


def check_box(
    west: float, south: float, east: float, north: float, what: str, *, empty_ok: bool = True
) -> Bounds:
    """A valid ``(west, south, east, north)`` box as floats, or ``GeoError``.

    ``empty_ok``: ``west == east`` or ``south == north`` (a line or a point) is allowed;
    otherwise the box must have an area. A box with ``west > east`` would cross the
    antimeridian and is refused (``split_at_antimeridian`` gives its two halves)."""
    w, s = check_lon_lat(west, south, f"{what} (west, south)")
    e, n = check_lon_lat(east, north, f"{what} (east, north)")
    if w > e or (not empty_ok and w == e):
        raise GeoError(
            f"{what} is reversed: west {w} > east {e}; give (west, south, east, north) "
            "(a box across the antimeridian must be split in two at ±180°)"
            if w > e
            else f"{what} has no width: west {w} == east {e}; west must be < east"
        )
    if s > n or (not empty_ok and s == n):
        raise GeoError(
            f"{what} is reversed: south {s} > north {n}; give (west, south, east, north)"
            if s > n
            else f"{what} has no height: south {s} == north {n}; south must be < north"
        )
    return w, s, e, n


def split_at_antimeridian(west: float, south: float, east: float, north: float) -> list[Bounds]:
    """A box given with ``west > east`` (it crosses ±180°) -> its two halves, west half first;
    any other box -> itself. Each result passes ``check_box``."""
    if west <= east:
        return [check_box(west, south, east, north, "box")]
    return [
        check_box(west, south, 180.0, north, "box (west half)"),
        check_box(-180.0, south, east, north, "box (east half)"),
    ]


def box_ring(west: float, south: float, east: float, north: float) -> tuple[LonLat, ...]:
    """The closed counter-clockwise ring of a box (5 points, first repeated last)."""
    return ((west, south), (east, south), (east, north), (west, north), (west, south))


def points_bounds(points: Iterable[Sequence[float]]) -> Bounds | None:
    """``(west, south, east, north)`` of ``(lon, lat)`` points (``None`` for none)."""
    pts = np.asarray(list(points), dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return None
    (west, south), (east, north) = pts.min(axis=0), pts.max(axis=0)
    return float(west), float(south), float(east), float(north)


def union_bounds(boxes: Iterable[Bounds]) -> Bounds | None:
    """The box around several ``(west, south, east, north)`` boxes (``None`` for none)."""
    corners = [p for w, s, e, n in boxes for p in ((w, s), (e, n))]
    return points_bounds(corners)


def distance_m(a: LonLat, b: LonLat) -> float:
    """Great-circle distance between two (lon, lat) points, metres (haversine, mean radius)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def nearest_point(points: Sequence[LonLat], target: LonLat, max_deg: float) -> int | None:
    """Index of the point nearest ``target`` in plain degrees (a map click), when it lies
    within ``max_deg`` degrees; ``None`` otherwise or for no points."""
    if not points:
        return None
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    dist2 = ((pts - np.asarray(target, dtype=np.float64)) ** 2).sum(axis=1)
    best = int(np.argmin(dist2))
    return best if float(dist2[best]) <= max_deg**2 else None
