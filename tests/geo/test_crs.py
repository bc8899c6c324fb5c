"""closp_core.geo.crs: chip corners in a projected CRS -> WGS84 centres and footprints."""

from __future__ import annotations

import pytest
import shapely
from affine import Affine

from closp_core.errors import DataError
from closp_core.geo import area_km2, check_ring
from closp_core.geo.crs import (
    box_quad,
    check_pixel_size,
    crs_name,
    locate_quads,
    parse_crs,
    pixel_quad,
)

UTM33 = parse_crs(32633, "test")
# a 10 m grid in UTM 33N near (15.0 E, 45.1 N)
GRID = Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 4_995_000.0)


def test_parse_crs_forms_and_names() -> None:
    for value in (32633, "32633", "EPSG:32633", b"EPSG:32633"):
        assert crs_name(parse_crs(value, "test")) == "EPSG:32633"


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (None, r"^meta.json: no CRS given \(got None\); chips need a georeference"),
        ("  ", "no CRS given"),
        ("EPSG:99999999", r"meta.json: cannot understand CRS 'EPSG:99999999'"),
    ],
)
def test_bad_crs_is_a_data_error(value: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        parse_crs(value, "meta.json")


def test_a_1200_m_chip_lands_as_a_valid_ring_of_1_44_km2() -> None:
    ((center, ring),) = locate_quads(UTM33, [pixel_quad(GRID, 120, 120)], "chip")
    assert center == pytest.approx((15.0076, 45.1031), abs=1e-3)  # 600 m east of 15° E
    assert check_ring(ring, "chip") == ring
    assert area_km2(ring) == pytest.approx(1.44, rel=0.01)  # UTM scale error near 0.04 %


def test_mirrored_grid_keeps_the_ring_counter_clockwise() -> None:
    south_up = Affine(10.0, 0.0, 500_000.0, 0.0, 10.0, 4_995_000.0)
    quad = pixel_quad(south_up, 120, 120)
    ((_, ring),) = locate_quads(UTM33, [quad], "chip")
    assert shapely.LinearRing(ring).is_ccw
    ((_, north_up),) = locate_quads(UTM33, [pixel_quad(GRID, 120, 120)], "chip")
    assert shapely.LinearRing(north_up).is_ccw
    assert box_quad(0, 0, 1, 1) == ((0, 1), (0, 0), (1, 0), (1, 1))


def test_pixel_size_catches_a_crs_that_does_not_fit() -> None:
    assert check_pixel_size(UTM33, GRID, 0, 0, "scene") == pytest.approx(10.0, rel=0.01)
    degrees = Affine(0.0001, 0.0, 15.0, 0.0, -0.0001, 45.0)  # degree coordinates read as metres
    with pytest.raises(DataError, match=r"scene: one pixel measures 0.000\d+ m on the ground"):
        check_pixel_size(UTM33, degrees, 0, 0, "scene")


def test_corners_off_the_globe_or_flat_are_refused() -> None:
    wgs84 = parse_crs(4326, "test")
    off = ((500_000.0, 0.0), (500_000.0, -10.0), (500_010.0, -10.0), (500_010.0, 0.0))
    with pytest.raises(DataError, match=r"chip: .*fall outside the globe|do not transform"):
        locate_quads(wgs84, [off], "chip")
    flat = ((10.0, 45.0), (10.0, 45.0), (10.0, 45.0), (10.0, 45.0))
    with pytest.raises(DataError, match=r"chip: a chip's corners .* enclose no area"):
        locate_quads(wgs84, [flat], "chip")
