"""Chip location in WGS84 from corners in any CRS (rasterio): centre and footprint ring.

Coordinates are ``(lon, lat)`` in degrees, longitude first as in GeoJSON. A footprint is a
closed, counter-clockwise ring of 5 points (first repeated last) through the chip's four
corners: for a rotated or skewed pixel grid that is the true quadrilateral (``pixel_quad``),
not the axis-aligned box of two corners.

Checks that catch a CRS that does not match the coordinates (``DataError``): every corner must
transform to finite WGS84 within [-180, 180] x [-90, 90]; a ring must enclose an area; and
``check_pixel_size`` wants a grid's pixels to measure ``PIXEL_SIZE_M`` (1-100 m) on the ground
(Sentinel bands are 10-60 m; degree coordinates read as metres give ~0.0001 m pixels, metre
coordinates read as degrees give pixels of hundreds of kilometres).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import CRSError, RasterioError
from rasterio.warp import transform as warp_transform

from closp_core.errors import DataError
from closp_core.geo.points import LonLat, distance_m

WGS84 = "EPSG:4326"
PIXEL_SIZE_M = (1.0, 100.0)  # plausible ground size of one pixel of a chip grid, metres
Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


def parse_crs(value: object, what: str) -> CRS:
    """An EPSG code (``32633``, ``"32633"``, ``"EPSG:32633"``), WKT or PROJ string -> ``CRS``."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.generic):
        value = value.item()
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
            return CRS.from_epsg(int(value))
        if isinstance(value, str) and value.strip():
            return CRS.from_user_input(value.strip())
    except CRSError as err:
        raise DataError(f"{what}: cannot understand CRS {value!r} ({err})") from None
    raise DataError(f"{what}: no CRS given (got {value!r}); chips need a georeference")


def crs_name(crs: CRS) -> str:
    """``"EPSG:32618"`` when the CRS has an EPSG code, else its WKT."""
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else crs.to_wkt()


def box_quad(left: float, bottom: float, right: float, top: float) -> Quad:
    """Corners of an axis-aligned box, counter-clockwise from the top-left."""
    return ((left, top), (left, bottom), (right, bottom), (right, top))


def pixel_quad(transform: Affine, width: int, height: int) -> Quad:
    """Map corners of a ``width`` x ``height`` pixel window whose affine is ``transform``,
    in the order of ``box_quad`` (top-left, bottom-left, bottom-right, top-right for a north-up
    grid); reversed when the grid is mirrored, so the ring stays counter-clockwise."""
    corners = [transform @ (0, 0), transform @ (0, height), transform @ (width, height)]
    corners.append(transform @ (width, 0))
    if transform.determinant > 0:  # mirrored (e.g. south-up): corners run clockwise
        corners = [corners[0], corners[3], corners[2], corners[1]]
    (a, b, c, d) = ((float(x), float(y)) for x, y in corners)
    return a, b, c, d


def _to_wgs84(crs: CRS, xs: list[float], ys: list[float], what: str) -> tuple[np.ndarray, ...]:
    """Points in ``crs`` -> (lons, lats) arrays; ``DataError`` when any is not a valid place."""
    try:
        lons, lats = warp_transform(crs, WGS84, xs, ys)
    except (CRSError, RasterioError, CPLE_BaseError) as err:
        raise DataError(
            f"{what}: coordinates cannot be transformed from {crs_name(crs)} to WGS84 ({err}); "
            "do the CRS and the coordinates match?"
        ) from None
    lon_arr, lat_arr = np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)
    if not (np.isfinite(lon_arr).all() and np.isfinite(lat_arr).all()):
        raise DataError(f"{what}: chip corners do not transform to WGS84 (outside the CRS area?)")
    if (np.abs(lon_arr) > 180.0).any() or (np.abs(lat_arr) > 90.0).any():
        i = int(np.argmax((np.abs(lon_arr) > 180.0) | (np.abs(lat_arr) > 90.0)))
        raise DataError(
            f"{what}: coordinates ({xs[i]:.6g}, {ys[i]:.6g}) in {crs_name(crs)} fall outside the "
            f"globe (lon {lon_arr[i]:.6g}, lat {lat_arr[i]:.6g}); the CRS does not match the "
            "coordinates"
        )
    return lon_arr, lat_arr


def check_pixel_size(crs: CRS, transform: Affine, row: int, col: int, what: str) -> float:
    """Ground size (metres, the larger of both axes) of the pixel at (``row``, ``col``) of a
    grid; ``DataError`` outside ``PIXEL_SIZE_M`` (the CRS does not fit the coordinates, or the
    grid is no Sentinel-like chip grid)."""
    points = [transform @ (col, row), transform @ (col + 1, row), transform @ (col, row + 1)]
    xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
    lons, lats = _to_wgs84(crs, xs, ys, what)
    corner = (float(lons[0]), float(lats[0]))
    size = max(distance_m(corner, (float(lons[k]), float(lats[k]))) for k in (1, 2))
    low, high = PIXEL_SIZE_M
    if not low <= size <= high:
        raise DataError(
            f"{what}: one pixel measures {size:.3g} m on the ground in {crs_name(crs)}, outside "
            f"the {low:g}-{high:g} m of Sentinel chip grids; do the CRS and the coordinates "
            "match?"
        )
    return size


def locate_quads(
    crs: CRS, quads: Sequence[Quad], what: str
) -> list[tuple[LonLat, tuple[LonLat, ...]]]:
    """Each quad (4 corners in ``crs``) -> (centre, closed ring) in WGS84, in one transform call.

    The centre is the mean of the corners in ``crs``, transformed (so it is the chip's true
    centre for a grid, not the mean of the lon/lat corners).
    """
    if not quads:
        return []
    xs: list[float] = []
    ys: list[float] = []
    for quad in quads:
        xs.extend(p[0] for p in quad)
        ys.extend(p[1] for p in quad)
        xs.append(sum(p[0] for p in quad) / 4.0)
        ys.append(sum(p[1] for p in quad) / 4.0)
    lon_arr, lat_arr = _to_wgs84(crs, xs, ys, what)
    out: list[tuple[LonLat, tuple[LonLat, ...]]] = []
    for i in range(len(quads)):
        base = 5 * i
        ring = [(float(lon_arr[base + k]), float(lat_arr[base + k])) for k in range(4)]
        if shapely.Polygon(ring).area == 0.0:
            raise DataError(f"{what}: a chip's corners {ring} enclose no area in WGS84")
        ring.append(ring[0])
        out.append(((float(lon_arr[base + 4]), float(lat_arr[base + 4])), tuple(ring)))
    return out
