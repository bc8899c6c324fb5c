"""``search()`` on a real store (Qdrant Edge, seeded chips): the same answer as the store or
``rerank`` called directly, and clear errors when there is nothing to rank by."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.embedder import Embedder
from closp_core.errors import SearchError
from closp_core.feedback import FeedbackLabels, RankMethod, rerank
from closp_core.model import create_model
from closp_core.search import SearchRequest, blend_near, search
from closp_core.store import BBox, ChipRecord, SearchFilters, VectorStore
from tests.store.conftest import make_records, open_backend


@pytest.fixture(scope="module")
def chips() -> list[ChipRecord]:
    return make_records(200, seed=3)


@pytest.fixture
def store(chips: list[ChipRecord], tmp_path: Path) -> Iterator[VectorStore]:
    with open_backend("edge", tmp_path) as opened:
        opened.upsert(chips)
        yield opened


@pytest.fixture(scope="module")
def geo_embedder() -> Embedder:
    """A seeded, randomly initialised GeoCLOSP-RN (it has a location encoder)."""
    return Embedder(create_model("geoclosp-rn", seed=1), "cpu", batch_size=4)


def test_a_vector_search_is_the_stores_search(store: VectorStore, chips: list[ChipRecord]) -> None:
    query = chips[7].vector
    box = BBox(-180.0, -90.0, 0.0, 90.0)
    request = SearchRequest(text="west", vector=query, sensor=Sensor.S2, bbox=box, limit=15)
    outcome = search(store, request)
    expected = store.search(query, limit=15, filters=SearchFilters(sensor=Sensor.S2, bbox=box))
    assert outcome.keys == [hit.key for hit in expected] and len(outcome.keys) == 15
    assert [h.score for h in outcome.hits] == pytest.approx([h.score for h in expected])
    assert outcome.method is RankMethod.QUERY and outcome.notes == () and outcome.note == ""
    assert outcome.title == "“west”" and outcome.search_ms > 0


def test_marks_rank_like_rerank(store: VectorStore, chips: list[ChipRecord]) -> None:
    marks = FeedbackLabels.of({chips[0].key: 1, chips[1].key: 1, chips[2].key: -1})
    outcome = search(store, SearchRequest(marks=marks, limit=20, hide_labelled=True))
    expected = rerank(store, marks, None, limit=20, hide_labelled=True)
    assert outcome.keys == [hit.key for hit in expected.hits]
    assert outcome.method is RankMethod.ROCCHIO and outcome.notes == (expected.note,)
    assert outcome.title == "the chips marked relevant"
    assert not {chips[0].key, chips[1].key, chips[2].key} & set(outcome.keys)


def test_like_uses_the_chips_own_vector(store: VectorStore, chips: list[ChipRecord]) -> None:
    outcome = search(store, SearchRequest(like=chips[5].key, limit=3))
    assert outcome.keys[0] == chips[5].key and outcome.hits[0].score == pytest.approx(1.0)
    assert outcome.title == f"chips like {chips[5].key}"
    with pytest.raises(SearchError, match="'nope' is not in the index"):
        search(store, SearchRequest(like="nope"))


def test_near_blends_text_and_place(store: VectorStore, geo_embedder: Embedder) -> None:
    request = SearchRequest(text="water", near=(-3.0, 40.0), text_weight=0.25, limit=10)
    outcome = search(store, request, geo_embedder)
    text = geo_embedder.encode_text(["water"])[0]
    place = geo_embedder.encode_locations(np.array([[-3.0, 40.0]]))[0]
    expected = store.search(blend_near(text, place, 0.25), limit=10)
    assert outcome.keys == [hit.key for hit in expected]
    assert outcome.title == "“water” near 40.000, -3.000"
    only_place = search(store, SearchRequest(near=(-3.0, 40.0), limit=10), geo_embedder)
    assert only_place.keys == [hit.key for hit in store.search(place, limit=10)]
    assert only_place.keys != outcome.keys


def test_nothing_to_search_for_or_no_model(
    store: VectorStore, chips: list[ChipRecord], rn_embedder: Embedder
) -> None:
    with pytest.raises(SearchError, match="nothing to search for"):
        search(store, SearchRequest(marks=FeedbackLabels.of({chips[0].key: -1})))
    with pytest.raises(SearchError, match="a text query needs the CLOSP model"):
        search(store, SearchRequest(text="water"))
    with pytest.raises(SearchError, match="“near” needs the CLOSP model"):
        search(store, SearchRequest(near=(1.0, 2.0)))
    with pytest.raises(SearchError, match="needs a GeoCLOSP model"):
        search(store, SearchRequest(text="water", near=(1.0, 2.0)), rn_embedder)
    with pytest.raises(SearchError, match="takes a SearchRequest"):
        search(store, "water")  # type: ignore[arg-type]


def test_outcome_files_and_geodataframe(store: VectorStore, chips: list[ChipRecord]) -> None:
    marks = FeedbackLabels.of({chips[4].key: 1})
    outcome = search(store, SearchRequest(vector=chips[4].vector, marks=marks, limit=5))
    frame = outcome.to_geodataframe()
    assert list(frame["key"]) == outcome.keys and frame.crs.to_epsg() == 4326
    assert list(frame["rank"]) == [1, 2, 3, 4, 5] and frame.geometry.is_valid.all()
    top = frame.iloc[0]
    assert top["label"] == "relevant" and top.geometry.geom_type == "Polygon"
    assert top.geometry.contains(top.geometry.centroid)
    assert outcome.to_csv().splitlines()[0].startswith("rank,score,key,sensor")
    assert [r["key"] for r in outcome.to_records()] == outcome.keys
    none = search(store, SearchRequest(vector=chips[4].vector, labels=("Water",), limit=1))
    empty = search(
        store, SearchRequest(vector=chips[4].vector, bbox=BBox(0.0, 0.0, 1e-6, 1e-6))
    ).to_geodataframe()
    assert len(none.hits) == 1 and len(empty) == 0 and list(empty.columns)[:3] == [
        "rank", "score", "key",
    ]  # fmt: skip
