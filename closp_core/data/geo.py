"""Chip location in WGS84: centre (lon, lat) and footprint ring, from a box in any CRS.

Coordinates are ``(lon, lat)`` in degrees, longitude first as in GeoJSON. A footprint is a
closed, counter-clockwise ring of 5 points (first repeated last) through the chip's corners.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.warp import transform as warp_transform

from closp_core.data.chip import DataError, LonLat

WGS84 = "EPSG:4326"
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
    lons, lats = warp_transform(crs, WGS84, xs, ys)
    lon_arr, lat_arr = np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)
    if not (np.isfinite(lon_arr).all() and np.isfinite(lat_arr).all()):
        raise DataError(f"{what}: chip corners do not transform to WGS84 (outside the CRS area?)")
    out: list[tuple[LonLat, tuple[LonLat, ...]]] = []
    for i in range(len(quads)):
        base = 5 * i
        ring = [(float(lon_arr[base + k]), float(lat_arr[base + k])) for k in range(4)]
        ring.append(ring[0])
        out.append(((float(lon_arr[base + 4]), float(lat_arr[base + 4])), tuple(ring)))
    return out
