"""Checks of WGS84 coordinates and polygon rings (numpy, no shapely).

Coordinates are ``(lon, lat)`` pairs in degrees, longitude first as in GeoJSON.

Polygon size: a ring may have at most ``MAX_POLYGON_POINTS`` (20,000) points; the
self-intersection test is bucketed (edges are only compared with edges in the same cell of a
grid of about one cell per edge, the comparisons vectorised), so a 10,000-point ring drawn or
generated on a map is checked in tens of milliseconds. A ring whose edges are so tangled that
more than ``MAX_EDGE_PAIRS`` edge pairs share cells (thousands of long edges across each other,
e.g. a star of thousands of spikes) is refused as too complex instead of taking seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from closp_core.errors import StoreInputError

LonLat = tuple[float, float]
MAX_POLYGON_POINTS = 20_000
MAX_EDGE_PAIRS = 4_000_000  # candidate pairs the self-intersection test may compare
_BRUTE_FORCE_EDGES = 64  # below this, compare every pair directly
_PAIR_CHUNK = 1_000_000


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
    at most ``MAX_POLYGON_POINTS`` points, enclose a non-zero area and not cross or touch
    itself (see the module docstring for the cost).
    """
    if len(points) > MAX_POLYGON_POINTS:
        raise StoreInputError(
            f"{what}: {len(points)} points is more than the {MAX_POLYGON_POINTS} a polygon may "
            "have; simplify it (fewer corners)"
        )
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
    pts = np.asarray(ring, dtype=np.float64)
    n = len(ring) - 1  # edges: i -> i + 1
    if n <= _BRUTE_FORCE_EDGES:
        i, j = np.triu_indices(n, k=1)
    else:
        i, j = _candidate_pairs(pts, n, what)
    keep = (j - i > 1) & ~((i == 0) & (j == n - 1))  # neighbours share a corner by construction
    i, j = i[keep], j[keep]
    for start in range(0, len(i), _PAIR_CHUNK):
        a, b = i[start : start + _PAIR_CHUNK], j[start : start + _PAIR_CHUNK]
        hits = _intersecting(pts[a], pts[a + 1], pts[b], pts[b + 1])
        if hits.any():
            k = int(np.argmax(hits))
            e1, e2 = int(a[k]), int(b[k])
            raise StoreInputError(
                f"{what}: polygon is self-intersecting (edge {e1} {(ring[e1], ring[e1 + 1])} "
                f"crosses edge {e2} {(ring[e2], ring[e2 + 1])}); draw it without crossing lines"
            )


def _candidate_pairs(pts: np.ndarray, n: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Edge pairs (i < j) whose bounding boxes share a cell of a ~sqrt(n) x sqrt(n) grid."""
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    cells = max(1, math.isqrt(n))
    scale = np.where(hi > lo, cells / np.where(hi > lo, hi - lo, 1.0), 0.0)
    cell = np.minimum(((pts - lo) * scale).astype(np.int64), cells - 1)  # (n + 1, 2)
    c0 = np.minimum(cell[:-1], cell[1:])
    c1 = np.maximum(cell[:-1], cell[1:])
    spans = (c1 - c0 + 1).prod(axis=1)
    if int(spans.sum()) > MAX_EDGE_PAIRS:
        _too_complex(what, n)
    edge_ids: list[np.ndarray] = []
    cell_ids: list[np.ndarray] = []
    for e in np.flatnonzero(spans > 1):
        xs = np.arange(c0[e, 0], c1[e, 0] + 1)
        ys = np.arange(c0[e, 1], c1[e, 1] + 1)
        cell_ids.append((xs[:, None] * cells + ys[None, :]).ravel())
        edge_ids.append(np.full(int(spans[e]), e))
    single = np.flatnonzero(spans == 1)
    edge_ids.append(single)
    cell_ids.append(c0[single, 0] * cells + c0[single, 1])
    edges, keys = np.concatenate(edge_ids), np.concatenate(cell_ids)
    order = np.lexsort((edges, keys))
    edges, keys = edges[order], keys[order]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    groups = [g for g in np.split(edges, bounds) if len(g) > 1]
    if sum(len(g) * (len(g) - 1) // 2 for g in groups) > MAX_EDGE_PAIRS:
        _too_complex(what, n)
    if not groups:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    firsts, seconds = [], []
    for group in groups:  # sorted, so pairs come out with i < j
        a, b = np.triu_indices(len(group), k=1)
        firsts.append(group[a])
        seconds.append(group[b])
    pairs = np.unique(np.concatenate(firsts) * (n + 1) + np.concatenate(seconds))
    return pairs // (n + 1), pairs % (n + 1)


def _too_complex(what: str, n: int) -> None:
    raise StoreInputError(
        f"{what}: polygon of {n} edges is too tangled to check (more than {MAX_EDGE_PAIRS} "
        "crossing candidates); simplify it (fewer, shorter edges)"
    )


def _intersecting(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Vectorised ``segments_intersect`` over rows of ``(k, 2)`` end points."""

    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        return (q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (q[:, 1] - p[:, 1]) * (r[:, 0] - p[:, 0])

    def within(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        lo, hi = np.minimum(p, q), np.maximum(p, q)
        return ((lo <= r) & (r <= hi)).all(axis=1)

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    proper = (((o1 > 0) & (o2 < 0)) | ((o1 < 0) & (o2 > 0))) & (
        ((o3 > 0) & (o4 < 0)) | ((o3 < 0) & (o4 > 0))
    )
    touching = (
        ((o1 == 0) & within(a, b, c))
        | ((o2 == 0) & within(a, b, d))
        | ((o3 == 0) & within(c, d, a))
        | ((o4 == 0) & within(c, d, b))
    )
    return np.asarray(proper | touching)
