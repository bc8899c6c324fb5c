"""Readers: every source format -> ``Chip`` records (see ``chip.py``), one sub-package per
format over shared modules.

- ``scene``: raster scenes (GeoTIFF/COG/JP2, band files or stacks, any CRS; ``scene.safe``:
  Sentinel-2 .SAFE products, folder or zip)
- ``bigearthnet``: BigEarthNet patch folders with ``*_labels_metadata.json``
- ``crisislandmark``: the CrisisLandMark HDF5 shards + ``metadata.parquet``, local or from the hub
- ``stac``: STAC Items / ItemCollections / Catalogs (``stac.static``) and STAC API searches
  (``stac.api``) -> band assets -> the scene reader, remote COGs read in windows

Shared: ``chip`` (the record and the tally), ``base`` (the ``ChipSource`` protocol), ``raster``
(bands on one grid, windowed reads), ``chipping`` (grid -> chips), ``values`` (units, physical
ranges, the S2 offset guard), ``keys`` (every chip key), ``budget`` (limits on what a file may
claim), ``timestamps``, ``vrt`` (safe local files), ``samples`` (the shipped corpus).
The source registry (``closp_core.sources``) names them by kind.

All implement ``ChipSource``: ``units()`` lists independently readable units, ``read(unit,
tally)`` streams chips and counts skips in the ``Tally``; problems are ``DataError``s naming the
file and what is wrong.
"""

from __future__ import annotations

from closp_core.data.base import ChipSource, harmonise_labels
from closp_core.data.bigearthnet.source import BigEarthNetSource
from closp_core.data.chip import Chip, Tally
from closp_core.data.chipping import ChipLabeler, ChipWindow, SceneOptions
from closp_core.data.crisislandmark.source import CrisisLandMarkSource
from closp_core.data.scene.source import MaskLabeler, SceneSource
from closp_core.data.stac.api import StacSearchSource
from closp_core.data.stac.static import StacSource
from closp_core.errors import DataError

__all__ = [
    "BigEarthNetSource",
    "Chip",
    "ChipLabeler",
    "ChipSource",
    "ChipWindow",
    "CrisisLandMarkSource",
    "DataError",
    "MaskLabeler",
    "SceneOptions",
    "SceneSource",
    "StacSearchSource",
    "StacSource",
    "Tally",
    "harmonise_labels",
]
