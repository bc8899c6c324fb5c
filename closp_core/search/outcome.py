"""``SearchOutcome``: the hits of one search, how they were ranked, notes and timings; and the
same hits as GeoJSON, CSV or a GeoDataFrame (geopandas, imported only when asked for)."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from closp_core.feedback import FeedbackLabels, RankMethod
from closp_core.search.export import hits_csv, hits_geojson
from closp_core.search.request import SearchRequest
from closp_core.store import Hit

if TYPE_CHECKING:
    import geopandas


@dataclasses.dataclass(frozen=True, eq=False)
class SearchOutcome:
    """What one ``SearchRequest`` gave.

    ``hits``: best first (``Hit.score``: cosine −1..1, or P(relevant) 0..1 when a classifier
    ranked); ``method``: how they were ranked; ``title``: what was searched for, in words;
    ``notes``: sentences for the user (e.g. what more 👍 / 👎 marks would change);
    ``encode_ms`` / ``search_ms``: wall time of the query vector and of the store call(s).
    """

    request: SearchRequest
    hits: tuple[Hit, ...]
    method: RankMethod
    title: str
    notes: tuple[str, ...] = ()
    encode_ms: float = 0.0
    search_ms: float = 0.0

    @property
    def note(self) -> str:
        """The notes as one line ("" when there are none)."""
        return " ".join(self.notes)

    @property
    def keys(self) -> list[str]:
        """Chip keys of the hits, best first."""
        return [hit.key for hit in self.hits]

    def _marks(self) -> FeedbackLabels | None:
        return self.request.marks if self.request.marks else None

    def to_geojson(self) -> str:
        """A GeoJSON FeatureCollection: one feature per hit (footprint, else centre point) with
        ``rank``, ``score``, ``key``, ``sensor``, ``acquired``, ``labels``... and, with marks,
        ``label`` ("relevant" / "not relevant" / "")."""
        return hits_geojson(self.hits, self._marks())

    def to_csv(self) -> str:
        """One CSV row per hit, the GeoJSON's properties (centre as ``lon`` / ``lat``)."""
        return hits_csv(self.hits, self._marks())

    def to_records(self) -> list[dict[str, Any]]:
        """The GeoJSON features' properties, one dict per hit (``--json`` of the CLI)."""
        return [f["properties"] for f in json.loads(self.to_geojson())["features"]]

    def to_geodataframe(self) -> geopandas.GeoDataFrame:
        """The hits as a GeoDataFrame in EPSG:4326: the GeoJSON properties as columns, the
        footprint (or centre point) as geometry, one row per hit, best first.

        Needs geopandas (``pip install geopandas``); imported here only."""
        import geopandas

        features = json.loads(self.to_geojson())["features"]
        if not features:
            empty: dict[str, list[Any]] = {"rank": [], "score": [], "key": []}
            return geopandas.GeoDataFrame(empty, geometry=[], crs="EPSG:4326")
        columns = [*features[0]["properties"], "geometry"]
        return geopandas.GeoDataFrame.from_features(features, crs="EPSG:4326", columns=columns)
