"""How much of one chip footprint another covers, in plain numpy (no shapely).

Footprints are small (1.2 km chips) polygons in WGS84 degrees. Both are projected onto a local
equirectangular plane around the first footprint's first corner (``x = Δlon · cos(lat0)``,
``y = Δlat``; longitudes unwrapped across the antimeridian), where area ratios are exact to
well under 0.1 % at this size. The intersection is Sutherland–Hodgman clipping of the first
footprint by the convex hull of the second: exact for convex footprints (a chip is a
reprojected square: a convex quadrilateral); a non-convex clip polygon would be replaced by
its hull (overlap overestimated), which chip footprints never need.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from closp_core.store import GeoPolygon

LonLat = tuple[float, float]


def local_xy(ring: Sequence[LonLat], origin: LonLat) -> np.ndarray:
    """``(n, 2)`` plane coordinates (degrees of latitude) of an open ring around ``origin``."""
    pts = np.asarray(ring, dtype=np.float64)
    dlon = (pts[:, 0] - origin[0] + 180.0) % 360.0 - 180.0  # unwrap across ±180°
    return np.column_stack([dlon * math.cos(math.radians(origin[1])), pts[:, 1] - origin[1]])


def area(xy: np.ndarray) -> float:
    """Unsigned area of a polygon given as an ``(n, 2)`` open ring (shoelace)."""
    if len(xy) < 3:
        return 0.0
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def convex_hull(xy: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull (Andrew's monotone chain) of ``(n, 2)`` points."""
    pts = sorted(set(map(tuple, xy.tolist())))
    if len(pts) < 3:
        return np.asarray(pts, dtype=np.float64)

    def cross(o: Sequence[float], a: Sequence[float], b: Sequence[float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, ...]] = []
    upper: list[tuple[float, ...]] = []
    for seq, chain in ((pts, lower), (pts[::-1], upper)):
        for p in seq:
            while len(chain) >= 2 and cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
    return np.asarray(lower[:-1] + upper[:-1], dtype=np.float64)


def clip_convex(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """``subject ∩ clip`` (Sutherland–Hodgman); ``clip`` convex and counter-clockwise."""
    out = subject
    for i in range(len(clip)):
        if len(out) == 0:
            break
        a, b = clip[i], clip[(i + 1) % len(clip)]
        edge = b - a
        side = edge[0] * (out[:, 1] - a[1]) - edge[1] * (out[:, 0] - a[0])  # >= 0: inside
        kept: list[np.ndarray] = []
        for j in range(len(out)):
            p, q = out[j], out[(j + 1) % len(out)]
            sp, sq = side[j], side[(j + 1) % len(out)]
            if sp >= 0:
                kept.append(p)
            if (sp >= 0) != (sq >= 0):
                kept.append(p + (q - p) * (sp / (sp - sq)))
        out = np.asarray(kept, dtype=np.float64).reshape(-1, 2)
    return out


def overlap_share(footprint: GeoPolygon, other: GeoPolygon) -> float:
    """Share (0..1) of ``footprint``'s area that ``other`` covers."""
    ring = footprint.exterior[:-1]
    origin = ring[0]
    a = local_xy(ring, origin)
    b = convex_hull(local_xy(other.exterior[:-1], origin))
    full = area(a)
    if full == 0.0 or len(b) < 3:
        return 0.0
    return min(1.0, area(clip_convex(a, b)) / full)


def bounds(footprint: GeoPolygon) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of a footprint in degrees."""
    xs = [p[0] for p in footprint.exterior]
    ys = [p[1] for p in footprint.exterior]
    return min(xs), min(ys), max(xs), max(ys)
