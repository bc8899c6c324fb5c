"""The score raster: chip scores burnt into a lon/lat grid over their footprints.

CRS EPSG:4326 (WGS84 lon/lat), square pixels of ``pixel_deg`` degrees, north up; ``(H, W)
float32``; NaN where no chip (the GeoTIFF's nodata). Where footprints overlap, a pixel takes the
highest score of its sensor (chips are burnt in rising score order). The pixel size is the
larger of the area's long side / ``max_pixels`` and the median chip side / ``CHIP_PIXELS``.
Rendered by GDAL (``rasterio.features.rasterize``), not as one shape per chip in the browser.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import shapely
from affine import Affine

from closp_core.errors import ScoreMapError
from closp_core.scoremap.request import Combine
from closp_core.scoremap.table import ChipTable

CRS = "EPSG:4326"
CHIP_PIXELS = 16  # finest pixel: 1/16 of the median chip side


@dataclasses.dataclass(frozen=True, eq=False)
class ScoreGrid:
    """``values (H, W) float32`` (NaN = no chip) on ``transform`` (pixel -> lon/lat) in
    ``CRS``; ``pixel_deg``: pixel side in degrees."""

    values: np.ndarray
    transform: Affine
    pixel_deg: float
    crs: str = CRS

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` degrees."""
        h, w = self.values.shape
        west, north = self.transform.c, self.transform.f
        return west, north - h * self.pixel_deg, west + w * self.pixel_deg, north


def grid_frame(table: ChipTable, max_pixels: int) -> tuple[Affine, int, int, float]:
    """``(transform, width, height, pixel_deg)`` of a grid over every footprint of ``table``."""
    west, south, east, north = table.bounds()
    sides = np.abs(table.quads[:, 2] - table.quads[:, 0])
    chip = float(np.median(sides.max(axis=1))) if len(sides) else 0.0
    pixel = max(east - west, north - south) / max_pixels, chip / CHIP_PIXELS
    pixel_deg = max(*pixel, 1e-7)
    width = max(1, int(np.ceil((east - west) / pixel_deg)))
    height = max(1, int(np.ceil((north - south) / pixel_deg)))
    return Affine(pixel_deg, 0, west, 0, -pixel_deg, north), width, height, pixel_deg


def burn(
    table: ChipTable, scores: np.ndarray, rows: np.ndarray, frame: tuple[Affine, int, int, float]
) -> np.ndarray:
    """``(H, W) float32`` of ``scores[rows]`` over the footprints of ``rows`` (NaN elsewhere;
    ``rows`` must have finite scores)."""
    from rasterio.features import rasterize  # GDAL: only when drawing

    transform, width, height, _ = frame
    out = np.full((height, width), np.nan, np.float32)
    if not len(rows):
        return out
    rows = rows[np.argsort(scores[rows], kind="stable")]
    polygons = shapely.polygons(table.quads[rows])
    values = scores[rows].astype(np.float32)
    rasterize(
        zip(polygons, values.tolist(), strict=True),
        out=out,
        transform=transform,
        all_touched=False,
        dtype="float32",
    )
    return out


def combine(s1: np.ndarray, s2: np.ndarray, how: Combine) -> np.ndarray:
    """One ``(H, W)`` grid from the sensors' grids: either one, the higher (``EITHER``; where
    only one saw a place, its score), or the lower where both saw it (``BOTH``)."""
    if how is Combine.S1:
        return s1
    if how is Combine.S2:
        return s2
    if how is Combine.EITHER:
        return np.fmax(s1, s2)
    if how is Combine.BOTH:
        return np.minimum(s1, s2)  # NaN where either is NaN
    raise ScoreMapError(f"unknown combine {how!r}")


def draw(
    table: ChipTable, scores: np.ndarray, how: Combine, max_pixels: int
) -> tuple[ScoreGrid, dict[str, ScoreGrid]]:
    """The combined grid and one grid per sensor (``"s1"``, ``"s2"``) on one frame."""
    frame = grid_frame(table, max_pixels)
    scored = np.isfinite(scores)  # a change map leaves before chips unscored (NaN)
    per_sensor = {
        name: burn(table, scores, np.flatnonzero((table.sensors == code) & scored), frame)
        for code, name in enumerate(("s1", "s2"))
    }
    grids = {name: ScoreGrid(values, frame[0], frame[3]) for name, values in per_sensor.items()}
    merged = combine(per_sensor["s1"], per_sensor["s2"], how)
    return ScoreGrid(merged, frame[0], frame[3]), grids
