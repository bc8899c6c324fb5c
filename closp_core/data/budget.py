"""Budgets on local files: what a raster may claim before a pixel of it is read.

Each check refuses with a ``DataError`` that names its setting (``closp_core/settings.py``,
block "budgets: local files"): ``max_file_pixels`` (width x height x bands of one file, from
its header, ``raster.BandGrid``), ``max_scene_chips`` (chips of one scene, from its grid,
``chipping.iter_grid_chips``). ``check_not_empty`` refuses a scene whose sample holds only
zeros: a sparse or never-written file (a 2 MB "pixel bomb" over 100,000 x 100,000 px reads as
zeros) would otherwise become chips of nothing (S1: -50 dB everywhere). The job budget
(``max_job_chips``) is the ingest pipeline's (``ingest/pipeline.py``).
"""

from __future__ import annotations

import numpy as np
from rasterio.io import DatasetReader

from closp_core.errors import DataError


def check_pixel_budget(dataset: DatasetReader, path: str, max_pixels: int | None) -> None:
    """``DataError`` when the header of ``dataset`` claims more than ``max_pixels`` pixels
    (width x height x bands): refused before a pixel is read (``Settings.max_file_pixels``)."""
    pixels = dataset.width * dataset.height * dataset.count
    if max_pixels is not None and pixels > max_pixels:
        raise DataError(
            f"{path}: refused: its header claims {dataset.width:,} x "
            f"{dataset.height:,} px in {dataset.count} band(s) ({pixels:,} pixels), more than "
            f"the {max_pixels:,} one file may hold (setting max_file_pixels, "
            "CLOSP_MAX_FILE_PIXELS); cut the scene into smaller files or raise the setting"
        )


def check_chip_budget(chips: int, max_chips: int | None, what: str) -> None:
    """``DataError`` when a scene's grid holds more than ``max_chips`` chips (known from the
    header, before the first read; ``Settings.max_scene_chips``)."""
    if max_chips is not None and chips > max_chips:
        raise DataError(
            f"{what}: refused: its grid holds {chips:,} chips, more than the {max_chips:,} one "
            "scene may add (setting max_scene_chips, CLOSP_MAX_SCENE_CHIPS); cut the scene, "
            "choose a smaller area, or raise the setting"
        )


def check_not_empty(sample: np.ndarray, what: str) -> None:
    """``DataError`` when every sampled value that is not no-data is exactly 0: a file whose
    pixels were never written (a sparse or empty GeoTIFF) would become chips of nothing
    (S1: -50 dB everywhere)."""
    valid = sample[np.isfinite(sample)]
    if valid.size and not valid.any():
        raise DataError(
            f"{what}: every sampled pixel is 0 in every band: an empty (never written or "
            "sparse) file, not an image; check the file"
        )
