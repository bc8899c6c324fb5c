"""changed_into on both back ends: the SYNTHETIC pre-flood Spain fixture, and every empty case.

Measured with the demo model, "flooded area" after 2019-09-01 over the Spain scene (16 places
per sensor after de-duplication; 11 S2 and 11 S1 places whose real chip is labelled Flooded
Area): the first 19 of the 32 places are all flooded ones, S1 and S2 interleaved by the robust
z-score (3.0 ... 0.13; every dry place scores <= 0.0). On S2 alone all 11 flooded places rank
above the 5 dry ones (delta +0.29 ... +0.05 against +0.02 ... -0.004); on S1 alone the first 10.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.embedder import Embedder
from closp_core.store import BBox, GeoPolygon, SearchFilters, VectorStore
from closp_core.timeline import (
    SCORE_DELTA,
    SCORE_Z,
    ChangeReason,
    TimelineError,
    changed_into,
)
from tests.timeline.conftest import preflood_id

SPAIN = BBox(-0.79, 38.08, -0.73, 38.13)
EVENT = dt.date(2019, 9, 1)
PORTUGAL = BBox(-8.3, 39.3, -8.1, 39.4)  # one BigEarthNet place: S1 06:42, S2 11:25 UTC
OCEAN = BBox(-30.0, 30.0, -29.0, 31.0)


@pytest.fixture(scope="module")
def flood_query(demo_embedder: Embedder) -> np.ndarray:
    return demo_embedder.encode_text(["flooded area"])[0]


def test_flooded_places_rank_first(multidate_store: VectorStore, flood_query: np.ndarray) -> None:
    result = changed_into(multidate_store, flood_query, EVENT, SPAIN, limit=100)
    assert result.reason is None and result.score_name == SCORE_Z
    assert (result.before_chips, result.after_chips, result.candidate_pairs) == (50, 50, 50)
    assert (
        len(result.pairs) == 32 and "32 places seen before and after 2019-09-01" in result.message
    )
    instant = dt.datetime(2019, 9, 1, tzinfo=dt.UTC)
    for pair in result.pairs:
        assert pair.before.sensor is pair.after.sensor
        assert pair.before.acquired < instant <= pair.after.acquired  # type: ignore[operator]
        assert pair.before.scene_id == preflood_id(pair.after.sensor)
        assert pair.delta == pytest.approx(pair.sim_after - pair.sim_before)
        assert pair.overlap == pytest.approx(1.0)
    scores = [p.score for p in result.pairs]
    assert scores == sorted(scores, reverse=True)
    assert [(h.key, h.score) for h in result.as_hits()] == [(p.key, p.score) for p in result.pairs]
    flooded = ["Flooded Area" in p.after.labels for p in result.pairs]
    assert all(flooded[:15]) and sum(flooded) == 22
    assert {p.after.sensor for p in result.pairs[:6]} == {Sensor.S1, Sensor.S2}
    assert max(p.score for p, f in zip(result.pairs, flooded, strict=True) if not f) < 0.5
    for i, a in enumerate(result.pairs):  # one pair per place and sensor
        for b in result.pairs[i + 1 :]:
            if a.after.sensor is b.after.sensor:
                assert a.after.footprint.overlap_share(b.after.footprint) < 0.25  # type: ignore[union-attr,arg-type]


def test_per_sensor_rankings(multidate_store: VectorStore, flood_query: np.ndarray) -> None:
    polygon = GeoPolygon(((-0.79, 38.08), (-0.73, 38.08), (-0.73, 38.13), (-0.79, 38.08)))
    only_s2 = SearchFilters(sensor=Sensor.S2, polygon=polygon)  # replaced by the area below
    result = changed_into(multidate_store, flood_query, EVENT, SPAIN, only_s2, limit=100)
    flooded = ["Flooded Area" in p.after.labels for p in result.pairs]
    assert {p.after.sensor for p in result.pairs} == {Sensor.S2}
    assert flooded == sorted(flooded, reverse=True) and sum(flooded) == 11 and len(flooded) == 16
    assert result.pairs[0].delta > 0.2
    triangle = changed_into(multidate_store, flood_query, EVENT, polygon, only_s2)
    assert 0 < len(triangle.pairs) < len(result.pairs)
    only_s1 = SearchFilters(sensor=Sensor.S1)
    s1 = changed_into(multidate_store, flood_query, EVENT, SPAIN, only_s1, limit=100)
    assert len(s1.pairs) == 16 and {p.after.sensor for p in s1.pairs} == {Sensor.S1}
    assert all("Flooded Area" in p.after.labels for p in s1.pairs[:10])


def test_few_pairs_fall_back_to_the_raw_change(
    multidate_store: VectorStore, flood_query: np.ndarray
) -> None:
    small = BBox(-0.7830, 38.1060, -0.7500, 38.1300)  # the north-west 3 x 2 chips
    result = changed_into(multidate_store, flood_query, EVENT, small, limit=5)
    assert result.reason is None and result.score_name == SCORE_DELTA
    assert [p.score for p in result.pairs] == [p.delta for p in result.pairs]
    assert len(result.pairs) <= 5


@pytest.mark.parametrize(
    ("when", "area", "filters", "reason", "words"),
    [
        (
            dt.date(2010, 1, 1),
            SPAIN,
            None,
            ChangeReason.DATE_OUTSIDE_INDEX,
            "from 2017-06 to 2019-09",
        ),
        (
            dt.date(2030, 1, 1),
            SPAIN,
            None,
            ChangeReason.DATE_OUTSIDE_INDEX,
            "no chip is acquired after",
        ),
        (EVENT, OCEAN, None, ChangeReason.NO_CHIPS, "no chips in this area"),
        (
            dt.date(2019, 8, 1),
            SPAIN,
            None,
            ChangeReason.NO_BEFORE,
            "acquired before 2019-08-01 (100 after it)",
        ),
        (EVENT, PORTUGAL, None, ChangeReason.NO_AFTER, "on or after 2019-09-01 (2 before it)"),
        (
            dt.datetime(2017, 12, 21, 9, 0),
            PORTUGAL,
            None,
            ChangeReason.NO_PAIRS,
            "1 chips before and 1 after 2017-12-21T09:00:00+00:00 in this area, but no place was "
            "seen twice by one sensor",
        ),
        (
            EVENT,
            SPAIN,
            SearchFilters(labels=("Snow and Ice",)),
            ChangeReason.NO_CHIPS,
            "widen the area or the filters",
        ),
    ],
)
def test_empty_results_say_why(
    multidate_store: VectorStore,
    flood_query: np.ndarray,
    when: dt.date,
    area: BBox,
    filters: SearchFilters | None,
    reason: ChangeReason,
    words: str,
) -> None:
    result = changed_into(multidate_store, flood_query, when, area, filters)
    assert result.pairs == () and result.reason is reason
    assert words in result.message


def test_time_window_filters_intersect_the_sides(
    multidate_store: VectorStore, flood_query: np.ndarray
) -> None:
    from closp_core.store import TimeRange

    late = SearchFilters(time=TimeRange(dt.datetime(2019, 9, 10), None))  # hides the August copies
    result = changed_into(multidate_store, flood_query, EVENT, SPAIN, late)
    assert result.reason is ChangeReason.NO_BEFORE
    early = SearchFilters(time=TimeRange(None, dt.datetime(2019, 8, 20)))  # hides September
    assert changed_into(multidate_store, flood_query, EVENT, SPAIN, early).reason is (
        ChangeReason.NO_AFTER
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"limit": 0}, "limit must be an integer between 1"),
        ({"min_overlap": 0.0}, "min_overlap must be in"),
        ({"area": (0, 0, 1, 1)}, "area must be a BBox or a GeoPolygon"),
        ({"when": "2019-09-01"}, "expected a date or datetime"),
    ],
)
def test_bad_input(
    multidate_store: VectorStore, flood_query: np.ndarray, kwargs: dict, match: str
) -> None:
    args = {"when": EVENT, "area": SPAIN, **kwargs}
    with pytest.raises(TimelineError, match=match):
        changed_into(multidate_store, flood_query, **args)
