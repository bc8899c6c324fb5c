"""closp_core.geo polygons: ring checks, overlap shares, areas, regions, containment."""

from __future__ import annotations

import math
import time

import pytest

from closp_core.geo import (
    MAX_POLYGON_POINTS,
    GeoError,
    Region,
    area_km2,
    box_ring,
    check_ring,
    covers_point,
    overlap_share,
    ring_bounds,
    segments_intersect,
)

H = 0.006  # half a chip, degrees
BOWTIE = ((0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0))


def square(lon: float, lat: float, half: float = H) -> tuple[tuple[float, float], ...]:
    """A ~1.2 km chip footprint around (lon, lat), counter-clockwise, closed."""
    return box_ring(lon - half, lat - half, lon + half, lat + half)


def star(n: int, radius: float = 10.0, spike: float = 6.0) -> tuple[tuple[float, float], ...]:
    """A closed ``n``-corner ring around (0, 45) whose radius zig-zags: simple, but every long
    edge lies next to thousands of others (what a grid-bucketed check found too tangled)."""
    points = [
        (
            (radius + spike * (i % 2)) * math.cos(2 * math.pi * i / n),
            45 + (radius + spike * (i % 2)) * math.sin(2 * math.pi * i / n) / 2,
        )
        for i in range(n)
    ]
    return (*points, points[0])


BAD_RINGS = {
    "open": (((0, 0), (1, 0), (1, 1), (0, 1)), r"not closed: first point \(0.0, 0.0\)"),
    "too_few": (((0, 0), (1, 1), (0, 0)), r"at least 4 points \(3 corners, the first repeated"),
    "flat": (((0, 0), (1, 1), (2, 2), (0, 0)), "zero area"),
    "bowtie": (BOWTIE, r"self-intersecting \(Self-intersection\[0.5 0.5\]\)"),
    "repeat": (((0, 0), (1, 0), (1, 1), (1, 0), (0, 0)), "repeats a corner"),
    "latitude": (((0, 0), (1, 95), (1, 0), (0, 0)), r"ring: point 1: .*latitude 95.0"),
    "not_pairs": (((0, 0), (1, 0, 3), (1, 1), (0, 0)), r"point 1 is \(1, 0, 3\)"),
    "too_big": (star(MAX_POLYGON_POINTS + 1, spike=0.0), r"20002 points is more than the 20000"),
}


@pytest.mark.parametrize("name", list(BAD_RINGS))
def test_invalid_rings_are_refused(name: str) -> None:
    ring, match = BAD_RINGS[name]
    with pytest.raises(GeoError, match=match):
        check_ring(ring, "ring")  # type: ignore[arg-type]


def test_good_rings_pass_in_either_direction() -> None:
    concave = ((0, 0), (4, 0), (4, 4), (2, 1), (0, 4), (0, 0))
    assert check_ring(concave, "ring")[3] == (2.0, 1.0)
    assert check_ring(tuple(reversed(concave)), "ring")[0] == (0.0, 0.0)
    assert len(check_ring(star(MAX_POLYGON_POINTS + 1, spike=0.0), "r", max_points=None)) > 20_000


def test_a_10000_point_star_is_checked_without_quadratic_work() -> None:
    ring = star(10_000)
    start = time.process_time()  # CPU time: other processes on the machine do not count
    assert len(check_ring(ring, "ring")) == 10_001
    crossed = (*ring[:-1], (0.0, 45.0), (16.0, 60.0), ring[0])  # one edge back across it
    with pytest.raises(GeoError, match="self-intersecting"):
        check_ring(crossed, "ring")
    # ~0.05 s with GEOS; a pairwise edge check (5e7 pairs) takes minutes
    assert time.process_time() - start < 2.0


def test_segments_intersect() -> None:
    assert segments_intersect((0, 0), (2, 2), (0, 2), (2, 0))
    assert not segments_intersect((0, 0), (1, 0), (0, 1), (1, 1))
    assert segments_intersect((0, 0), (2, 0), (1, 0), (3, 0))  # collinear overlap
    assert segments_intersect((0, 0), (1, 1), (1, 1), (2, 0))  # touching end points


@pytest.mark.parametrize(
    ("dx", "dy", "share"),
    [(0, 0, 1.0), (H, 0, 0.5), (H, H, 0.25), (1.5 * H, 0, 0.25), (2 * H, 0, 0.0), (5, 5, 0.0)],
)
def test_overlap_of_shifted_squares(dx: float, dy: float, share: float) -> None:
    a, b = square(10.0, 0.0), square(10.0 + dx, 0.0 + dy)
    assert overlap_share(a, b) == pytest.approx(share, abs=1e-9)
    assert overlap_share(b, a) == pytest.approx(share, abs=1e-9)


def test_overlap_sizes_orientation_latitude_and_concave() -> None:
    big, small = square(5.0, 60.0, half=2 * H), square(5.0, 60.0)
    assert overlap_share(big, small) == pytest.approx(0.25, abs=1e-6)
    assert overlap_share(small, big) == pytest.approx(1.0)
    assert overlap_share(small, tuple(reversed(small))) == pytest.approx(1.0)
    # at 60 deg a degree of longitude is half as long as one of latitude: the local plane
    # scales x only, so half the width in degrees is still half the area
    assert overlap_share(small, square(5.0 + H, 60.0)) == pytest.approx(0.5, abs=1e-6)
    # a notched square (area 3 of 4) covers 3/4 of the full one: the notch is not filled in
    notched = ((0, 0), (2, 0), (1, 1), (2, 2), (0, 2), (0, 0))
    assert overlap_share(box_ring(0, 0, 2, 2), notched) == pytest.approx(0.75)


def test_overlap_with_a_ring_that_crosses_itself() -> None:
    bowtie = ((0, 0), (2, 2), (2, 0), (0, 1), (0, 0))  # triangles of 1/3 and 4/3 (sum 5/3)
    full = box_ring(0, 0, 2, 2)
    assert overlap_share(full, bowtie) == pytest.approx((5 / 3) / 4)
    assert overlap_share(bowtie, full) == pytest.approx(1.0)


def test_overlap_of_rotated_and_antimeridian_footprints() -> None:
    diamond = ((0.0, -H), (H, 0.0), (0.0, H), (-H, 0.0), (0.0, -H))
    inscribed = square(0.0, 0.0, half=H / 2)
    assert overlap_share(diamond, inscribed) == pytest.approx(0.5, abs=1e-9)
    east = box_ring(179.994, 0.0, 180.0, 0.01)
    west = box_ring(-180.0, 0.0, -179.994, 0.01)
    across = ((179.997, 0.0), (-179.997, 0.0), (-179.997, 0.01), (179.997, 0.01), (179.997, 0.0))
    assert overlap_share(east, across) == pytest.approx(0.5, abs=1e-6)
    assert overlap_share(west, across) == pytest.approx(0.5, abs=1e-6)
    assert overlap_share(across, east) == pytest.approx(0.5, abs=1e-6)


def test_areas_in_km2_against_known_values() -> None:
    # one degree square at the equator on the WGS84 ellipsoid: 12,308.78 km²
    assert area_km2(box_ring(0, 0, 1, 1)) == pytest.approx(12_308.78, abs=0.01)
    assert area_km2(tuple(reversed(box_ring(0, 0, 1, 1)))) == pytest.approx(12_308.78, abs=0.01)
    # the same square across the antimeridian
    across = ((179.5, 0.0), (-179.5, 0.0), (-179.5, 1.0), (179.5, 1.0), (179.5, 0.0))
    assert area_km2(across) == pytest.approx(12_308.78, abs=0.01)
    # the geodesic triangle equator/0°/90°E/pole is one octant of the ellipsoid (510,065,622 km²)
    octant = ((0, 0), (90, 0), (0, 90), (0, 0))
    assert area_km2(octant) == pytest.approx(510_065_622 / 8, rel=1e-6)
    hole = box_ring(0.25, 0.25, 0.75, 0.75)
    with_hole = area_km2(box_ring(0, 0, 1, 1), holes=[hole])
    assert with_hole == pytest.approx(12_308.78 - area_km2(hole), abs=0.01)


def test_bounds_and_containment() -> None:
    ring = ((0, 0), (4, 0), (4, 4), (2, 1), (0, 4), (0, 0))
    assert ring_bounds(ring) == (0.0, 0.0, 4.0, 4.0)
    assert covers_point(ring, 1.0, 0.5) and covers_point(ring, 0.0, 2.0)  # inside, on an edge
    assert not covers_point(ring, 2.0, 3.0)  # in the notch
    with pytest.raises(GeoError, match="no points"):
        ring_bounds(())


def test_region_meets_footprints_with_a_positive_area() -> None:
    outer, hole = box_ring(0, 0, 1, 1), box_ring(0.4, 0.4, 0.6, 0.6)
    region = Region.of([[outer, hole], [box_ring(5, 5, 6, 6)]], "AOI")
    assert region.bounds == (0.0, 0.0, 6.0, 6.0)
    assert region.meets(square(0.1, 0.1))
    assert region.meets(square(5.5, 5.5))
    assert not region.meets(square(0.5, 0.5, half=0.05))  # inside the hole
    assert not region.meets(box_ring(1.0, 0.0, 2.0, 1.0))  # shares an edge only
    assert not region.meets(square(3.0, 3.0))


BAD_REGIONS = {
    "no_polygon": ([], r"AOI: holds no polygon"),
    "no_rings": ([[]], r"AOI: polygon 0 has no rings"),
    "hole_outside": (
        [[box_ring(0, 0, 1, 1), box_ring(2, 2, 3, 3)]],
        r"AOI: polygon 0 is invalid \(Hole lies outside shell.*holes must lie inside",
    ),
    "bowtie": ([[BOWTIE]], r"AOI: polygon is self-intersecting"),
}


@pytest.mark.parametrize("name", list(BAD_REGIONS))
def test_invalid_regions_are_refused(name: str) -> None:
    polygons, match = BAD_REGIONS[name]
    with pytest.raises(GeoError, match=match):
        Region.of(polygons, "AOI")  # type: ignore[arg-type]
    with pytest.raises(GeoError, match="holds no polygon"):
        _ = Region(()).bounds
