"""Footprint overlap in plain numpy, against areas known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from closp_core.store import GeoPolygon
from closp_core.timeline.overlap import area, clip_convex, convex_hull, overlap_share
from tests.store.conftest import square

H = 0.006  # half a chip, degrees (as tests/store's square)


@pytest.mark.parametrize(
    ("dx", "dy", "share"),
    [(0, 0, 1.0), (H, 0, 0.5), (H, H, 0.25), (1.5 * H, 0, 0.25), (2 * H, 0, 0.0), (5, 5, 0.0)],
)
def test_shifted_squares(dx: float, dy: float, share: float) -> None:
    a, b = square(10.0, 0.0), square(10.0 + dx, 0.0 + dy)
    assert overlap_share(a, b) == pytest.approx(share, abs=1e-9)
    assert overlap_share(b, a) == pytest.approx(share, abs=1e-9)


def test_sizes_orientation_and_latitude() -> None:
    big, small = square(5.0, 60.0, half=2 * H), square(5.0, 60.0, half=H)
    assert overlap_share(big, small) == pytest.approx(0.25, abs=1e-6)
    assert overlap_share(small, big) == pytest.approx(1.0)
    clockwise = GeoPolygon(tuple(reversed(small.exterior)))
    assert overlap_share(small, clockwise) == pytest.approx(1.0)
    # at 60 deg a degree of longitude is half as long on the ground as one of latitude; the
    # local projection scales x only, so half the width in degrees is still half the area
    wide = square(5.0 + H, 60.0)
    assert overlap_share(small, wide) == pytest.approx(0.5, abs=1e-6)


def test_rotated_and_antimeridian() -> None:
    diamond = GeoPolygon(((0.0, -H), (H, 0.0), (0.0, H), (-H, 0.0), (0.0, -H)))
    box = square(0.0, 0.0, half=H / 2)  # the square inscribed in the diamond
    assert overlap_share(diamond, box) == pytest.approx(0.5, abs=1e-9)
    east = GeoPolygon(
        ((179.994, 0.0), (180.0, 0.0), (180.0, 0.01), (179.994, 0.01), (179.994, 0.0))
    )
    west = GeoPolygon(
        ((-180.0, 0.0), (-179.994, 0.0), (-179.994, 0.01), (-180.0, 0.01), (-180.0, 0.0))
    )
    shifted = GeoPolygon(
        ((179.997, 0.0), (-179.997, 0.0), (-179.997, 0.01), (179.997, 0.01), (179.997, 0.0))
    )
    assert overlap_share(east, shifted) == pytest.approx(0.5, abs=1e-6)
    assert overlap_share(west, shifted) == pytest.approx(0.5, abs=1e-6)


def test_helpers() -> None:
    pts = np.array([[0, 0], [2, 0], [1, 1], [2, 2], [0, 2]], float)  # non-convex (a notch)
    hull = convex_hull(pts)
    assert area(hull) == pytest.approx(4.0) and len(hull) == 4
    assert area(pts) == pytest.approx(3.0)
    unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    assert area(clip_convex(unit, unit + 2)) == 0.0
    assert area(clip_convex(unit, convex_hull(unit + 0.5))) == pytest.approx(0.25)
    tri = np.array([[0, 0], [1, 0], [0, 1]], float)
    assert area(clip_convex(unit, tri)) == pytest.approx(0.5)
    assert area(np.zeros((2, 2))) == 0.0 and not math.isnan(area(unit))
