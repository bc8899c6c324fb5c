"""Plain-Python checks of WGS84 coordinates and polygon rings (no shapely).

Coordinates are ``(lon, lat)`` pairs in degrees, longitude first as in GeoJSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from closp_core.store.errors import StoreInputError

LonLat = tuple[float, float]


def check_lon_lat(lon: float, lat: float, what: str) -> LonLat:
    """Return ``(lon, lat)`` as floats; finite, ``|lon| <= 180`` and ``|lat| <= 90`` or an error."""
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise StoreInputError(f"{what}: ({lon!r}, {lat!r}) are not numbers") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise StoreInputError(f"{what}: coordinates must be finite, got ({x}, {y})")
    if not -90.0 <= y <= 90.0:
        raise StoreInputError(
            f"{what}: latitude {y} is outside [-90, 90]; coordinates are (lon, lat) in degrees"
        )
    if not -180.0 <= x <= 180.0:
        raise StoreInputError(
            f"{what}: longitude {x} is outside [-180, 180]; coordinates are (lon, lat) in degrees"
        )
    return x, y


def _orientation(a: LonLat, b: LonLat, c: LonLat) -> float:
    """Twice the signed area of triangle ``abc`` (> 0: counter-clockwise)."""
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: LonLat, b: LonLat, p: LonLat) -> bool:
    """``p`` (collinear with ``ab``) lies within the bounding box of segment ``ab``."""
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def segments_intersect(a: LonLat, b: LonLat, c: LonLat, d: LonLat) -> bool:
    """Whether closed segments ``ab`` and ``cd`` share at least one point."""
    o1, o2 = _orientation(a, b, c), _orientation(a, b, d)
    o3, o4 = _orientation(c, d, a), _orientation(c, d, b)
    if ((o1 > 0 > o2) or (o1 < 0 < o2)) and ((o3 > 0 > o4) or (o3 < 0 < o4)):
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )


def check_ring(points: Sequence[Sequence[float]], what: str) -> tuple[LonLat, ...]:
    """Validate a closed linear ring of ``(lon, lat)`` points and return it as float tuples.

    The ring must be closed (first point == last point), have at least 3 distinct corners,
    enclose a non-zero area and not cross or touch itself (O(n^2) segment test; rings are
    short: a chip footprint or a polygon drawn on a map).
    """
    ring: list[LonLat] = []
    for i, point in enumerate(points):
        if len(point) != 2:
            raise StoreInputError(f"{what}: point {i} is {point!r}, expected (lon, lat)")
        ring.append(check_lon_lat(point[0], point[1], f"{what} point {i}"))
    if len(ring) < 4:
        raise StoreInputError(
            f"{what}: a polygon needs at least 4 points (3 corners + the first point repeated), "
            f"got {len(ring)}"
        )
    if ring[0] != ring[-1]:
        raise StoreInputError(
            f"{what}: polygon is not closed: first point {ring[0]} != last point {ring[-1]}; "
            "repeat the first point at the end"
        )
    if len(set(ring[:-1])) != len(ring) - 1:
        raise StoreInputError(f"{what}: polygon repeats a corner (self-intersecting)")
    _check_simple(ring, what)
    area2 = sum(_orientation(ring[0], ring[i], ring[i + 1]) for i in range(1, len(ring) - 2))
    if area2 == 0:
        raise StoreInputError(f"{what}: polygon has zero area (all corners on a line)")
    return tuple(ring)


def _check_simple(ring: list[LonLat], what: str) -> None:
    """Non-adjacent edges of the closed ring must not intersect."""
    edges = [(ring[i], ring[i + 1]) for i in range(len(ring) - 1)]
    n = len(edges)
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbours share a corner by construction
            if segments_intersect(*edges[i], *edges[j]):
                raise StoreInputError(
                    f"{what}: polygon is self-intersecting (edge {i} {edges[i]} crosses edge "
                    f"{j} {edges[j]}); draw it without crossing lines"
                )
