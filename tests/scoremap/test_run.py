"""score_map on both back ends: every chip of the area scored, the raster, the figures, the
change variant and every bad request."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from closp_core.embedder import Embedder
from closp_core.errors import ScoreMapError
from closp_core.feedback import FeedbackLabels
from closp_core.scoremap import AreaCache, Combine, ScoreKind, ScoreMapRequest, score_map
from closp_core.scoremap.change import ONLY_AFTER, ONLY_BEFORE
from closp_core.search import SearchRequest
from closp_core.settings import Settings
from closp_core.store import BBox, SearchFilters, VectorStore

SPAIN = BBox(-0.79, 38.08, -0.73, 38.13)
EVENT = dt.date(2019, 9, 1)
OCEAN = BBox(-30.0, 30.0, -29.0, 31.0)


def request(**options: object) -> ScoreMapRequest:
    search = SearchRequest(text="flooded area", bbox=SPAIN, limit=10)
    return ScoreMapRequest(search=search, **options)  # type: ignore[arg-type]


def test_every_chip_of_the_area_is_scored(
    multidate_store: VectorStore, demo_embedder: Embedder
) -> None:
    smap = score_map(multidate_store, request(), demo_embedder)
    assert len(smap.table) == multidate_store.count(SearchFilters(bbox=SPAIN)) > 50
    assert smap.kind is ScoreKind.COSINE
    q = demo_embedder.encode_text(["flooded area"])[0]
    np.testing.assert_allclose(smap.scores, smap.table.vectors @ q, atol=1e-5)
    best = multidate_store.search(q, limit=10, filters=SearchFilters(bbox=SPAIN), exact=True)
    assert smap.top_keys == [h.key for h in best]
    # the raster: lon/lat, NaN outside every footprint, the highest score of the area inside
    grid = smap.grid
    assert grid.crs == "EPSG:4326" and grid.values.dtype == np.float32
    assert np.nanmax(grid.values) == pytest.approx(float(smap.scores.max()), abs=1e-6)
    west, _, east, _ = grid.bounds
    assert west <= SPAIN.west + 0.01 and east >= SPAIN.east - 0.01


def test_figures_follow_the_threshold(
    multidate_store: VectorStore, demo_embedder: Embedder
) -> None:
    smap = score_map(multidate_store, request(), demo_embedder)
    low, high = float(np.min(smap.scores)) - 1, float(np.max(smap.scores)) + 1
    everything = smap.figures(low)
    assert everything["s1"].chips + everything["s2"].chips == len(smap.table)
    assert everything["s2"].km2 > 10  # the Spain scene is 5.1 x 5.1 km per sensor-date...
    assert smap.figures(high)["s2"].chips == 0 and smap.km2(high) == 0.0
    mid = smap.suggested
    assert 0 < smap.km2(mid) < smap.km2(low)
    assert set(everything["s2"].dates) == {"2019-08-18", "2019-09-18"}


def test_sensors_combine(multidate_store: VectorStore, demo_embedder: Embedder) -> None:
    maps = {c: score_map(multidate_store, request(combine=c), demo_embedder) for c in Combine}
    s1, s2 = maps[Combine.S1].grid.values, maps[Combine.S2].grid.values
    np.testing.assert_array_equal(maps[Combine.EITHER].grid.values, np.fmax(s1, s2))
    both = maps[Combine.BOTH].grid.values
    assert np.all(np.isnan(both[np.isnan(s1) | np.isnan(s2)]))
    t = maps[Combine.EITHER].suggested
    assert maps[Combine.BOTH].km2(t) <= min(maps[Combine.S1].km2(t), maps[Combine.S2].km2(t))


def test_marks_give_probabilities(multidate_store: VectorStore, demo_embedder: Embedder) -> None:
    plain = score_map(multidate_store, request(), demo_embedder)
    keys = plain.top_keys
    worst = [str(k) for k in plain.table.keys[np.argsort(plain.scores)[:3]]]
    marks = FeedbackLabels.of({**dict.fromkeys(keys[:3], 1), **dict.fromkeys(worst, -1)})
    search = SearchRequest(text="flooded area", bbox=SPAIN, marks=marks)
    smap = score_map(multidate_store, ScoreMapRequest(search), demo_embedder)
    assert smap.kind is ScoreKind.PROBABILITY and smap.suggested == 0.5
    assert smap.scores.min() >= 0 and smap.scores.max() <= 1
    assert all(smap.scores[list(smap.table.keys).index(k)] > 0.5 for k in keys[:3])


def test_change_map(multidate_store: VectorStore, demo_embedder: Embedder) -> None:
    smap = score_map(multidate_store, request(change_after=EVENT), demo_embedder)
    assert smap.kind is ScoreKind.CHANGE
    after = smap.table.times >= dt.datetime(2019, 9, 1, tzinfo=dt.UTC).timestamp()
    # every real (after) chip of Spain has its synthetic pre-flood partner: a change score
    assert np.isfinite(smap.scores[after]).all() and np.isnan(smap.scores[~after]).all()
    labelled = {
        r.key
        for r in multidate_store.iter_records(SearchFilters(bbox=SPAIN))
        if "Flooded Area" in r.labels
    }
    flooded = np.array([k in labelled for k in smap.table.keys])
    assert smap.scores[after & flooded].mean() > smap.scores[after & ~flooded].mean() + 0.02
    assert np.abs(smap.scores[after & ~flooded]).max() < 0.1  # little change without water
    assert smap.side is not None and np.isnan(smap.side.values).all()  # both sides seen
    # the grid shows the after chips' changes (the unscored before chips never cover them)
    assert np.nanmax(smap.grid.values) == pytest.approx(float(np.nanmax(smap.scores)), abs=1e-6)


def test_places_seen_on_one_side(multidate_store: VectorStore, demo_embedder: Embedder) -> None:
    late = score_map(multidate_store, request(change_after=dt.date(2030, 1, 1)), demo_embedder)
    assert late.side is not None and np.nanmax(late.side.values) == ONLY_BEFORE
    assert np.isnan(late.scores).all()
    early = score_map(multidate_store, request(change_after=dt.date(2000, 1, 1)), demo_embedder)
    assert early.side is not None and np.nanmin(early.side.values) == ONLY_AFTER


def test_the_cache_serves_the_same_area(
    multidate_store: VectorStore, demo_embedder: Embedder
) -> None:
    cache = AreaCache(2)
    first = score_map(multidate_store, request(), demo_embedder, cache=cache)
    again = score_map(multidate_store, request(threshold=0.1), demo_embedder, cache=cache)
    assert again.table is first.table and again.threshold == 0.1


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"threshold": float("nan")}, "threshold must be a finite number"),
        ({"threshold": "0.3"}, "threshold must be a finite number"),
        ({"combine": "neither"}, "combine must be one of s1, s2, either, both"),
        ({"max_pixels": 3}, "max_pixels must be an integer from 16"),
        ({"change_after": dt.datetime(2019, 9, 1)}, "change_after must be a datetime.date"),
    ],
)
def test_bad_requests(options: dict[str, object], match: str) -> None:
    with pytest.raises(ScoreMapError, match=match):
        request(**options)
    with pytest.raises(ScoreMapError, match="search must be a SearchRequest"):
        ScoreMapRequest("flooded")  # type: ignore[arg-type]


def test_areas_it_cannot_map(multidate_store: VectorStore, demo_embedder: Embedder) -> None:
    ocean = ScoreMapRequest(SearchRequest(text="flooded area", bbox=OCEAN))
    with pytest.raises(ScoreMapError, match="no chips in this area"):
        score_map(multidate_store, ocean, demo_embedder)
    tiny = Settings(score_map_max_chips=5)
    with pytest.raises(ScoreMapError, match="more than the 5 a score map scores"):
        score_map(multidate_store, request(), demo_embedder, settings=tiny)
    with pytest.raises(ScoreMapError, match="score_map takes a ScoreMapRequest"):
        score_map(multidate_store, request().search, demo_embedder)  # type: ignore[arg-type]
    marks_only = ScoreMapRequest(SearchRequest(bbox=SPAIN), change_after=EVENT)
    with pytest.raises(ScoreMapError, match="nothing to score by"):
        score_map(multidate_store, marks_only, demo_embedder)
