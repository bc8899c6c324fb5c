"""Readers: every source format -> ``Chip`` records (see ``chip.py``), one module per format.

- ``scene.SceneSource``: raster scenes (GeoTIFF/COG/JP2, one file per band or stacks, any CRS)
- ``bigearthnet.BigEarthNetSource``: BigEarthNet patch folders with ``*_labels_metadata.json``
- ``crisislandmark.CrisisLandMarkSource``: the CrisisLandMark HDF5 shards + ``metadata.parquet``
  (``crisislandmark_hub.open_crisislandmark`` also takes the hub dataset id, see ``hub.py``)
- ``stac.StacSource``: STAC Item / ItemCollection / Catalog -> band assets -> scene reader
- ``stac_api.StacSearchSource``: a STAC API search (pystac-client) -> the chips of an AOI, read
  from remote COGs in windows (``remote.py``: GDAL's HTTP options, signing)

All implement ``ChipSource``: ``units()`` lists independently readable units, ``read(unit,
tally)`` streams chips and counts skips in the ``Tally``; problems are ``DataError``s naming the
file and what is wrong.
"""

from __future__ import annotations

from closp_core.data.base import ChipSource, harmonise_labels
from closp_core.data.bigearthnet import BigEarthNetSource
from closp_core.data.chip import Chip, Tally
from closp_core.data.chipping import ChipLabeler, ChipWindow, SceneOptions
from closp_core.data.crisislandmark import CrisisLandMarkSource
from closp_core.data.scene import MaskLabeler, SceneSource
from closp_core.data.stac import StacSource
from closp_core.data.stac_api import StacSearchSource
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
