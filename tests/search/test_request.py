"""``SearchRequest`` and ``make_request``: what a search may ask for, and the clear errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from closp_core.argv import attach_values
from closp_core.bands import Sensor
from closp_core.errors import SearchError
from closp_core.feedback import FeedbackLabels
from closp_core.search import SearchRequest, make_request, marks_of, parse_box, read_area
from closp_core.store import BBox, GeoPolygon, StoreInputError

RING = ((-0.765, 38.08), (-0.73, 38.08), (-0.73, 38.13), (-0.76, 38.13), (-0.765, 38.08))


def polygon_feature() -> dict[str, object]:
    return {"type": "Feature", "properties": {}, "geometry": GeoPolygon(RING).to_geojson()}


def test_request_filters_are_whole_days_and_labels_canonical() -> None:
    request = SearchRequest(
        text="  flooded   fields ",
        labels=("flooded area", "Water"),
        sensor=Sensor.S2,
        date_from=dt.date(2019, 9, 17),
        date_to=dt.date(2019, 9, 17),
        bbox=BBox(-0.8, 38.0, -0.7, 38.2),
        area=GeoPolygon(RING),
    )
    assert request.text == "flooded fields" and request.has_query
    filters = request.filters()
    assert filters.labels == ("Flooded Area", "Water") and filters.sensor is Sensor.S2
    assert filters.time is not None and filters.time.start is not None
    assert filters.time.start == dt.datetime(2019, 9, 17, tzinfo=dt.UTC)
    assert filters.time.end - filters.time.start == dt.timedelta(days=1, microseconds=-1)
    assert filters.bbox == BBox(-0.8, 38.0, -0.7, 38.2) and filters.polygon == GeoPolygon(RING)
    assert SearchRequest().filters().is_empty


def test_what_counts_as_a_query() -> None:
    assert not SearchRequest().has_query
    assert not SearchRequest(marks=FeedbackLabels.of({"a": -1})).has_query  # 👎 alone
    assert SearchRequest(marks=FeedbackLabels.of({"a": 1})).has_query
    assert SearchRequest(like="chip").has_query and SearchRequest(near=(-0.7, 38.1)).has_query
    vector = np.eye(384, dtype=np.float32)[0]
    request = SearchRequest(vector=vector)
    assert request.has_query and request.vector is not None
    vector[1] = 1.0  # the request keeps its own read-only copy
    assert request.vector[1] == 0.0 and not request.vector.flags.writeable


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"limit": 0}, "between 1 and 10000"),
        ({"limit": 2.5}, "must be an integer"),
        ({"limit": True}, "must be an integer"),
        ({"text": 5}, "text must be a string"),
        ({"text": "x" * 1001}, "at most 1000 characters"),
        ({"like": "k", "text": "water"}, "leave out text, vector and near"),
        ({"like": "  "}, "like must be a chip key"),
        ({"near": (200.0, 0.0)}, "is not a place"),
        ({"near": "somewhere"}, "pair of numbers"),
        ({"text_weight": 1.5}, "between 0 and 1"),
        ({"text_weight": "half"}, "a number between 0 and 1"),
        ({"labels": ("Lava",)}, "unknown label 'Lava'"),
        ({"sensor": "s1"}, "Sensor.S1, Sensor.S2 or None"),
        ({"date_from": "2020-01-01"}, "datetime.date"),
        ({"date_to": dt.datetime(2020, 1, 1)}, "a whole day"),
        ({"date_from": dt.date(2020, 2, 1), "date_to": dt.date(2020, 1, 1)}, "swap them"),
        ({"bbox": (0, 0, 1, 1)}, "bbox must be a BBox"),
        ({"area": RING}, "area must be a GeoPolygon"),
        ({"marks": {"a": 1}}, "FeedbackLabels.of"),
    ],
)
def test_invalid_requests_say_what_to_fix(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SearchError, match=message):
        SearchRequest(**changes)  # type: ignore[arg-type]


def test_a_bad_query_vector_is_the_stores_error() -> None:
    with pytest.raises(StoreInputError, match=r"expected shape \(384,\)"):
        SearchRequest(vector=np.ones(3, np.float32))


def test_make_request_reads_loose_values(tmp_path: Path) -> None:
    area_file = tmp_path / "area.geojson"
    area_file.write_text(json.dumps({"type": "FeatureCollection", "features": [polygon_feature()]}))
    request = make_request(
        "water",
        bbox="-0.8,38.0,-0.7,38.2",
        intersects=area_file,
        labels="Flooded Area",
        sensor="S1",
        date_from="2019-09-01",
        date_to=dt.date(2019, 9, 30),
        near="-0.75,38.1",
        relevant=["a", "b"],
        not_relevant=["c"],
        limit=10,
    )
    assert request.bbox == BBox(-0.8, 38.0, -0.7, 38.2)
    assert request.area == GeoPolygon(RING) and request.labels == ("Flooded Area",)
    assert request.sensor is Sensor.S1 and request.date_from == dt.date(2019, 9, 1)
    assert request.near == (-0.75, 38.1) and request.limit == 10
    assert request.marks == FeedbackLabels.of({"a": 1, "b": 1, "c": -1})
    assert make_request("x", sensor="both").sensor is None
    assert make_request("x", intersects=polygon_feature()["geometry"]).area == GeoPolygon(RING)
    assert parse_box((-1, 2, 3, 4)) == BBox(-1.0, 2.0, 3.0, 4.0)


def test_marks_merge_and_conflicts() -> None:
    earlier = FeedbackLabels.of({"a": 1, "b": -1})
    assert marks_of(["b"], [], earlier) == FeedbackLabels.of({"a": 1, "b": 1})
    with pytest.raises(SearchError, match=r"both relevant and not relevant: \['a'\]"):
        marks_of(["a"], ["a"])


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"bbox": "1,2,3"}, SearchError, "four numbers west,south,east,north; got 3"),
        ({"bbox": "a,b,c,d"}, SearchError, "four numbers"),
        ({"bbox": "10,0,5,1"}, StoreInputError, "bbox is reversed"),
        ({"bbox": "0,0,1,95"}, StoreInputError, "latitude"),
        ({"sensor": "s3"}, SearchError, "s1, s2 or both"),
        ({"date_from": "2020-13-01"}, SearchError, "YYYY-MM-DD"),
        ({"near": "1"}, SearchError, "two numbers lon,lat"),
        ({"labels": ["Fire"]}, SearchError, "unknown label 'Fire'"),
        ({"intersects": {"type": "Point", "coordinates": [0, 0]}}, SearchError, "'Point'"),
        ({"intersects": [1, 2]}, SearchError, "expected a GeoJSON object"),
    ],
)
def test_make_request_errors(options: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make_request("water", **options)  # type: ignore[arg-type]


def test_area_files_that_are_not_one_polygon(tmp_path: Path) -> None:
    missing = tmp_path / "missing.geojson"
    with pytest.raises(SearchError, match=r"cannot read the area file .*missing\.geojson"):
        read_area(missing)
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    with pytest.raises(SearchError, match=r"broken\.geojson is not GeoJSON"):
        read_area(broken)
    two = tmp_path / "two.geojson"
    collection = {"type": "FeatureCollection", "features": [polygon_feature()] * 2}
    two.write_text(json.dumps(collection))
    with pytest.raises(SearchError, match="with 2 features; give one polygon"):
        read_area(two)
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    with pytest.raises(StoreInputError, match="cross"):
        read_area(bowtie)


def test_negative_values_attach_to_their_option() -> None:
    argv = ["x", "--bbox", "-75.7,37.6,-75.6,37.7", "--near", "-.5,1", "--limit", "-3"]
    assert attach_values(argv) == [
        "x", "--bbox=-75.7,37.6,-75.6,37.7", "--near=-.5,1", "--limit", "-3",
    ]  # fmt: skip
    assert attach_values(["--bbox=-1,2,3,4"]) == ["--bbox=-1,2,3,4"]
    assert attach_values(["--bbox", "1,2,3,4"]) == ["--bbox", "1,2,3,4"]
    assert attach_values(["--", "--bbox", "-1,2"]) == ["--", "--bbox", "-1,2"]
    assert attach_values(["--bbox", "--json"]) == ["--bbox", "--json"]
    assert attach_values(["--area", "-1,2"], ["--area"]) == ["--area=-1,2"]
