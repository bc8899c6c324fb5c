"""CrisisLandMark: the HDF5 shards and ``metadata.parquet`` (``source``), their
key index (``index``), samples -> chips (``sample``), and the hub dataset
(``hub``, ``snapshot``).
"""

from closp_core.data.crisislandmark.hub import open_crisislandmark
from closp_core.data.crisislandmark.source import CrisisLandMarkSource

__all__ = ["CrisisLandMarkSource", "open_crisislandmark"]
