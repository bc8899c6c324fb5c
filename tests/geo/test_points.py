"""closp_core.geo points and boxes: checks, the antimeridian, bounds, distances."""

from __future__ import annotations

import math

import pytest

from closp_core.geo import (
    GeoError,
    box_ring,
    check_box,
    check_lon_lat,
    distance_m,
    nearest_point,
    points_bounds,
    split_at_antimeridian,
    union_bounds,
)


@pytest.mark.parametrize(
    ("lon", "lat", "match"),
    [
        (0.0, 90.5, r"latitude 90.5 is outside \[-90, 90\]; \(0.0, 90.5\) is not a WGS84"),
        (-180.5, 0.0, r"longitude -180.5 is outside \[-180, 180\]"),
        (math.nan, 0.0, "must be finite"),
        (math.inf, 0.0, "must be finite"),
        ("east", 0.0, "are not numbers"),
    ],
)
def test_bad_coordinates_are_refused(lon: float, lat: float, match: str) -> None:
    with pytest.raises(GeoError, match=rf"^here: .*{match}"):
        check_lon_lat(lon, lat, "here")


def test_edges_of_the_globe_are_coordinates() -> None:
    assert check_lon_lat(180, -90, "x") == (180.0, -90.0)
    assert check_lon_lat("-180", "90", "x") == (-180.0, 90.0)


def test_a_box_across_the_antimeridian_is_refused_and_split() -> None:
    with pytest.raises(GeoError, match=r"bbox is reversed: west 170.0 > east -170.0.*split"):
        check_box(170, -10, -170, 10, "bbox")
    west, east = split_at_antimeridian(170, -10, -170, 10)
    assert west == (170.0, -10.0, 180.0, 10.0) and east == (-180.0, -10.0, -170.0, 10.0)
    assert split_at_antimeridian(-10, -5, 10, 5) == [(-10.0, -5.0, 10.0, 5.0)]
    with pytest.raises(GeoError, match=r"latitude 95.0 is outside"):
        split_at_antimeridian(170, -10, -170, 95)


def test_box_checks() -> None:
    assert check_box(1, 2, 1, 2, "point box") == (1.0, 2.0, 1.0, 2.0)  # a point is a box
    with pytest.raises(GeoError, match=r"area has no width: west 1.0 == east 1.0"):
        check_box(1, 2, 1, 3, "area", empty_ok=False)
    with pytest.raises(GeoError, match=r"area has no height"):
        check_box(1, 2, 3, 2, "area", empty_ok=False)
    with pytest.raises(GeoError, match=r"south 5.0 > north 1.0"):
        check_box(0, 5, 1, 1, "bbox")
    ring = box_ring(0, 0, 2, 1)
    assert ring[0] == ring[-1] and len(ring) == 5


def test_bounds_of_points_and_boxes() -> None:
    assert points_bounds([(1, 5), (-3, 2), (4, -1)]) == (-3.0, -1.0, 4.0, 5.0)
    assert points_bounds([]) is None
    assert union_bounds([(0, 0, 1, 1), (-5, 2, -4, 3)]) == (-5.0, 0.0, 1.0, 3.0)
    assert union_bounds([]) is None


def test_distances_against_known_values() -> None:
    # a degree of the mean-radius sphere: 2 pi R / 360 = 111,195 m
    assert distance_m((0, 0), (1, 0)) == pytest.approx(111_195.08, abs=0.01)
    assert distance_m((0, 0), (0, 1)) == pytest.approx(111_195.08, abs=0.01)
    # across the antimeridian: 0.2 degrees of longitude at the equator, not 359.8
    assert distance_m((179.9, 0), (-179.9, 0)) == pytest.approx(22_239.0, abs=0.1)
    assert distance_m((0, 0), (180, 0)) == pytest.approx(math.pi * 6_371_008.8)


def test_nearest_point() -> None:
    points = [(10.0, 45.0), (10.02, 45.0), (11.0, 46.0)]
    assert nearest_point(points, (10.015, 45.001), 0.05) == 1
    assert nearest_point(points, (12.0, 45.0), 0.05) is None
    assert nearest_point([], (0.0, 0.0), 1.0) is None
