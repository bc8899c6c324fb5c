"""Write the tiny raster scenes the scene-reader tests use (seeded; run to regenerate).

``python -m tests.data.scene.make_data`` writes into this folder:

- ``s2_bands/T99XYZ_20160112T160632_B??.tif``: a 13-band Sentinel-2 L1C-like scene, one GeoTIFF
  per band, UTM 18N (EPSG:32618), uint16 digital numbers. 10 m bands 240x240 px, 20 m bands
  120x120, 60 m bands 40x40. As in the real Virginia tile, the 10 m grid's origin is offset by
  10 m (east and south) from the 20/60 m grids. A bright 60x60 m square (``FEATURE``, map
  coordinates) is drawn in every band at the same map position.
- ``s1_stack.tif``: a 2-band float32 stack in dB, band descriptions ``VH``, ``VV`` (VH first on
  purpose), EPSG:4326 (geographic, ~10 m pixels), 240x240 px; VV = -10 dB, VH = -20 dB.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

HERE = Path(__file__).resolve().parent
UTM = "EPSG:32618"
X0, Y0 = 435720.0, 4179480.0  # origin of the 20/60 m grids (10 m grid: +10 m east, -10 m south)
SIZE_10M = 240
FEATURE = (X0 + 600.0, Y0 - 660.0, X0 + 660.0, Y0 - 600.0)  # left, bottom, right, top (m)
RESOLUTION = {
    "B01": 60,
    "B02": 10,
    "B03": 10,
    "B04": 10,
    "B05": 20,
    "B06": 20,
    "B07": 20,
    "B08": 10,
    "B8A": 20,
    "B09": 60,
    "B10": 60,
    "B11": 20,
    "B12": 20,
}
PROFILE = {"driver": "GTiff", "compress": "deflate", "predictor": 2}


def band_grid(res: int) -> tuple[rasterio.Affine, int]:
    """Transform and size of the grid of a ``res`` m band."""
    if res == 10:
        return from_origin(X0 + 10.0, Y0 - 10.0, 10.0, 10.0), SIZE_10M
    return from_origin(X0, Y0, res, res), SIZE_10M * 10 // res + (1 if res == 60 else 0)


def s2_band(res: int, band_number: int, seed: int = 0) -> np.ndarray:
    """``(n, n) uint16`` smooth digital numbers with ``FEATURE`` at 9000 (map-aligned)."""
    transform, n = band_grid(res)
    rows, cols = np.mgrid[0:n, 0:n]
    dn = 1000 + 100 * band_number + seed + (rows + cols) * (600 // n)
    xs, ys = transform @ (cols + 0.5, rows + 0.5)
    left, bottom, right, top = FEATURE
    dn[(xs > left) & (xs < right) & (ys > bottom) & (ys < top)] = 9000
    return dn.astype(np.uint16)


def write_band(
    path: Path,
    data: np.ndarray,
    transform: object,
    crs: str | None = UTM,
    nodata: float | None = None,
    description: str | None = None,
) -> Path:
    """One single-band GeoTIFF."""
    profile = dict(
        PROFILE,
        height=data.shape[0],
        width=data.shape[1],
        count=1,
        dtype=str(data.dtype),
        transform=transform,
        crs=crs,
        nodata=nodata,
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        if description:
            dst.set_band_description(1, description)
    return path


def write_s2_folder(
    folder: Path,
    bands: Sequence[str] = tuple(RESOLUTION),
    seed: int = 0,
    prefix: str = "T99XYZ_20160112T160632_",
) -> Path:
    """The per-band S2 scene (see the module docstring), only ``bands``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in bands:
        res = RESOLUTION[name]
        transform, _ = band_grid(res)
        number = int(name[1:3]) if name != "B8A" else 8
        write_band(folder / f"{prefix}{name}.tif", s2_band(res, number, seed), transform)
    return folder


def write_stack(
    path: Path,
    data: np.ndarray,
    descriptions: Sequence[str | None],
    crs: str | None = "EPSG:4326",
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
    transform: object = None,
) -> Path:
    """A multi-band GeoTIFF ``(bands, h, w)``; geographic ~10 m pixels unless ``transform``."""
    if transform is None:
        transform = from_origin(-0.78, 38.13, 9e-5, 9e-5)
    profile = dict(
        PROFILE,
        height=data.shape[1],
        width=data.shape[2],
        count=data.shape[0],
        dtype=str(data.dtype),
        transform=transform,
        crs=crs,
        nodata=nodata,
    )
    if data.dtype.kind == "f":
        profile["predictor"] = 3
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for i, text in enumerate(descriptions, start=1):
            if text:
                dst.set_band_description(i, text)
        if tags:
            dst.update_tags(**tags)
    return path


def s1_db(size: int = SIZE_10M, vv: float = -10.0, vh: float = -20.0) -> np.ndarray:
    """``(2, size, size) float32`` VV, VH in dB (constant, so it compresses to almost nothing)."""
    return np.stack([np.full((size, size), vv), np.full((size, size), vh)]).astype(np.float32)


def main() -> None:
    write_s2_folder(HERE / "s2_bands")
    write_stack(HERE / "s1_stack.tif", s1_db()[::-1].copy(), ["VH", "VV"])


if __name__ == "__main__":
    main()
