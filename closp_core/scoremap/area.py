"""Area figures and the area above the threshold, both read from the score grid, so the figure,
the map and the exported polygons always agree.

- km²: the sum of the geodesic areas of the pixels ≥ t (a lon/lat pixel's area on the WGS84
  authalic sphere, R = 6,371,007 m: ``R² · Δλ · (sin φ₂ − sin φ₁)``);
- chips: how many chips score ≥ t, per sensor, and the acquisition days they come from;
- polygons: the pixels ≥ t of the combined grid, dissolved into connected regions (4-connected,
  holes kept), each with the min / mean / max score of its pixels and its area.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import shapely
from pyproj import Geod

from closp_core.scoremap.grid import ScoreGrid

AUTHALIC_RADIUS_M = 6_371_007.2
_GEOD = Geod(ellps="WGS84")


@dataclasses.dataclass(frozen=True)
class SensorFigures:
    """Above the threshold for one sensor: ``km2`` (from its grid), ``chips`` (count), the
    ``dates`` (``YYYY-MM-DD``) of those chips, and ``scored`` (chips of that sensor)."""

    sensor: str
    km2: float
    chips: int
    scored: int
    dates: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class AreaPolygon:
    """One dissolved region ≥ t: ``geometry`` (shapely Polygon, lon/lat), its geodesic
    ``km2`` and the score statistics of its pixels."""

    geometry: shapely.Polygon
    km2: float
    score_min: float
    score_mean: float
    score_max: float


def pixel_km2(grid: ScoreGrid) -> np.ndarray:
    """``(H,) float64``: the area of one pixel of each grid row, km²."""
    h = grid.values.shape[0]
    north = grid.bounds[3]
    edges = np.radians(north - grid.pixel_deg * np.arange(h + 1))
    band = np.abs(np.sin(edges[:-1]) - np.sin(edges[1:]))
    return AUTHALIC_RADIUS_M**2 * np.radians(grid.pixel_deg) * band / 1e6


def km2_above(grid: ScoreGrid, threshold: float) -> float:
    """km² of the pixels of ``grid`` scoring ≥ ``threshold`` (NaN pixels never count)."""
    with np.errstate(invalid="ignore"):
        above = grid.values >= threshold
    return float(above.sum(axis=1) @ pixel_km2(grid))


def polygons_above(grid: ScoreGrid, threshold: float) -> list[AreaPolygon]:
    """The dissolved regions of ``grid`` ≥ ``threshold``, largest first."""
    from rasterio.features import shapes
    from scipy import ndimage

    with np.errstate(invalid="ignore"):
        mask = grid.values >= threshold
    labels, n = ndimage.label(mask)  # 4-connected, as rasterio's shapes
    if not n:
        return []
    index = np.arange(1, n + 1)
    stats = [
        ndimage.minimum(grid.values, labels, index),
        ndimage.mean(grid.values, labels, index),
        ndimage.maximum(grid.values, labels, index),
    ]
    parts: dict[int, list[shapely.Geometry]] = {}
    for geometry, value in shapes(labels.astype(np.int32), mask=mask, transform=grid.transform):
        parts.setdefault(int(value), []).append(shapely.geometry.shape(geometry))
    out = []
    for label, geoms in parts.items():
        shape = shapely.union_all(geoms) if len(geoms) > 1 else geoms[0]
        area, _ = _GEOD.geometry_area_perimeter(shape)
        i = label - 1
        out.append(
            AreaPolygon(
                shape, abs(area) / 1e6, float(stats[0][i]), float(stats[1][i]), float(stats[2][i])
            )
        )
    return sorted(out, key=lambda p: -p.km2)
