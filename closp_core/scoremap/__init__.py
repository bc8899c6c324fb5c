"""Score maps: every chip of an area scored against the current ranking signal, drawn as a
raster, with area figures and exports a GIS opens ("where is it flooded, how much, since when").

- ``request``: ``ScoreMapRequest`` (a ``SearchRequest`` for the signal and the area, how S1
  and S2 combine, the threshold, the change date, the raster size).
- ``table``: ``ChipTable``, the area's chips as columns (vectors, footprints, sensors, times).
- ``score``: per-chip scores (cosine, or P(relevant) with marks) and the suggested threshold.
- ``change``: after − before per place (the change map).
- ``grid``: the score raster (EPSG:4326, float32, NaN = no chip).
- ``area``: km², chips and dates above the threshold; the dissolved polygons.
- ``run``: ``score_map(store, request, encoder) -> ScoreMap``; ``AreaCache``.
- ``export``: COG, GeoPackage / GeoJSON, STAC ItemCollection.
"""

from __future__ import annotations

from closp_core.scoremap.request import Combine, ScoreMapRequest
from closp_core.scoremap.run import AreaCache, ScoreMap, score_map
from closp_core.scoremap.score import ScoreKind
from closp_core.scoremap.table import ChipTable

__all__ = [
    "AreaCache",
    "ChipTable",
    "Combine",
    "ScoreKind",
    "ScoreMap",
    "ScoreMapRequest",
    "score_map",
]
