"""The score raster: chip scores burnt into a lon/lat grid over their footprints.

CRS EPSG:4326 (WGS84 lon/lat), square pixels of ``pixel_deg`` degrees, north up; ``(H, W)
float32``; NaN where no chip (the GeoTIFF's nodata). Where footprints overlap, a pixel takes the
highest score of its sensor. The pixel size is the
larger of the area's long side / ``max_pixels`` and the median chip side / ``CHIP_PIXELS``.
Rendered server-side in numpy (``burn``), not as one shape per chip in the browser.
"""

from __future__ import annotations

import dataclasses

import numpy as np
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
    ``rows`` must have finite scores); a pixel takes the highest score covering it.

    A footprint is drawn as the pixels whose centres fall in its lon/lat bounding box (at
    least one pixel), in numpy: ~10x faster than GDAL's polygon rasterizer, which spends its
    time converting shapes. A UTM chip's outline is a slightly rotated square in lon/lat; its
    box is wider by under 2 % of its side at |lat| < 60° (half a pixel at the finest grid)."""
    transform, width, height, pixel = frame
    out = np.full(height * width, np.nan, np.float32)
    if not len(rows):
        return out.reshape(height, width)
    quads = table.quads[rows]
    west, north = transform.c, transform.f
    c0 = np.clip(np.round((quads[..., 0].min(1) - west) / pixel), 0, width - 1).astype(np.int64)
    c1 = np.clip(np.round((quads[..., 0].max(1) - west) / pixel), c0 + 1, width).astype(np.int64)
    r0 = np.clip(np.round((north - quads[..., 1].max(1)) / pixel), 0, height - 1).astype(np.int64)
    r1 = np.clip(np.round((north - quads[..., 1].min(1)) / pixel), r0 + 1, height).astype(np.int64)
    w, h = c1 - c0, r1 - r0
    n = w * h
    chip = np.repeat(np.arange(len(rows)), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)  # pixel number in its chip
    flat = (r0[chip] + k // w[chip]) * width + c0[chip] + k % w[chip]
    np.fmax.at(out, flat, scores[rows][chip].astype(np.float32))
    return out.reshape(height, width)


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
