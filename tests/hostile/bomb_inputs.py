"""Files that claim more than they hold: pixel bombs (a huge header over a few real or no
tiles) and all-zero (never written) files, for the local-file budgets of ``settings.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from tests.hostile.harness import sample_crop

S2_NAMES = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
BOMB_SIDE = 100_000  # px: 10^10 pixels per band


def pixel_bomb(path: Path, kind: str = "s2", side: int = BOMB_SIDE, write: bool = False) -> Path:
    """A tiled GeoTIFF whose header claims ``side`` x ``side`` px (13 S2 bands, or VV/VH)
    while the file holds ~1 MB: its tiles are sparse (never written, read as 0). With
    ``write`` the first tile holds a real crop of the sample (the rest stays sparse)."""
    names = S2_NAMES if kind == "s2" else ("VV", "VH")
    dtype = "uint16" if kind == "s2" else "float32"
    profile = {
        "driver": "GTiff", "width": side, "height": side, "count": len(names), "dtype": dtype,
        "crs": "EPSG:32630", "transform": Affine(10, 0, 400_000, 0, -10, 4_500_000),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
        "interleave": "pixel", "sparse_ok": True, "bigtiff": "if_safer",
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.descriptions = names
        if write:
            data, _, _ = sample_crop(kind)
            window = rasterio.windows.Window(0, 0, data.shape[2], data.shape[1])
            dst.write(data[: len(names)].astype(dtype), window=window)
    return path


def all_zero(path: Path, kind: str = "s1", side: int = 240) -> Path:
    """A fully written file of ``side`` x ``side`` px whose every pixel is 0."""
    _, profile, descriptions = sample_crop(kind)
    profile = profile | {"driver": "GTiff", "width": side, "height": side, "nodata": None}
    for key in ("blockxsize", "blockysize", "tiled"):
        profile.pop(key, None)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.zeros((profile["count"], side, side), profile["dtype"]))
        dst.descriptions = descriptions
    return path
