"""Label files: export -> import round trip on both back ends, and every refusal."""

from __future__ import annotations

import json

import pytest

from closp_core.feedback import (
    FeedbackError,
    FeedbackLabels,
    export_labels,
    import_labels,
    read_label_file,
    relevance_name,
)
from closp_core.store import ChipRecord, VectorStore

COLLECTION = "closp"
VALID_META = {"kind": "closp-feedback-labels", "version": 1, "model_id": "m", "collection": "c"}


@pytest.fixture
def filled_store(store: VectorStore, records: list[ChipRecord]) -> VectorStore:
    store.upsert(records[:30])
    return store


def _labels(records: list[ChipRecord]) -> FeedbackLabels:
    return FeedbackLabels.of({r.key: 1 if i % 3 else -1 for i, r in enumerate(records[:9])})


def test_export_then_import_round_trips(
    filled_store: VectorStore, records: list[ChipRecord]
) -> None:
    labels = _labels(records).with_label("not-in-index", 1)
    text = export_labels(filled_store, labels, COLLECTION, query="flooded area")
    data = json.loads(text)
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 10
    meta = data["closp"]
    assert (meta["model_id"], meta["collection"], meta["query"]) == (
        filled_store.model_id,
        COLLECTION,
        "flooded area",
    )
    by_key = {f["properties"]["key"]: f for f in data["features"]}
    first = by_key[records[0].key]
    assert first["properties"]["label"] == -1
    assert first["properties"]["relevance"] == "not relevant"
    assert first["geometry"] == records[0].footprint.to_geojson()  # type: ignore[union-attr]
    assert by_key["not-in-index"]["geometry"] is None  # kept, with no geometry
    resolved = import_labels(text, filled_store, COLLECTION)
    assert resolved.labels == _labels(records)
    assert resolved.missing == ("not-in-index",)


def test_import_accepts_words_and_bytes(
    filled_store: VectorStore, records: list[ChipRecord]
) -> None:
    data = json.loads(export_labels(filled_store, _labels(records), COLLECTION))
    for feature in data["features"]:
        props = feature["properties"]
        props["label"] = relevance_name(props.pop("label")).upper()
    resolved = import_labels(json.dumps(data).encode(), filled_store, COLLECTION)
    assert resolved.labels == _labels(records) and resolved.missing == ()
    assert relevance_name(None) == ""


def test_a_file_from_another_model_or_collection_is_refused(
    filled_store: VectorStore, records: list[ChipRecord]
) -> None:
    text = export_labels(filled_store, _labels(records), COLLECTION)
    with pytest.raises(FeedbackError, match="belong to collection 'closp', this index is 'other'"):
        import_labels(text, filled_store, "other")
    data = json.loads(text)
    data["closp"]["model_id"] = "DarthReca/CLOSP-VS"
    with pytest.raises(FeedbackError, match="made with model 'DarthReca/CLOSP-VS'"):
        import_labels(json.dumps(data), filled_store, COLLECTION)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: "{not json", "not valid JSON"),
        (lambda d: json.dumps([1, 2]), "not a GeoJSON FeatureCollection"),
        (lambda d: json.dumps({**d, "closp": None}), "not a CLOSP label file"),
        (lambda d: json.dumps({**d, "closp": {**d["closp"], "version": 9}}), "version 9"),
        (lambda d: json.dumps({**d, "features": "x"}), "no 'features' list"),
        (lambda d: json.dumps({**d, "features": [{"properties": {}}]}), "feature 0 has no 'key'"),
        (
            lambda d: json.dumps({**d, "features": [{"properties": {"key": "a", "label": 0}}]}),
            "feature 0: label 0 is not",
        ),
        (
            lambda d: json.dumps({**d, "features": [{"properties": {"key": "a", "label": "yes"}}]}),
            "label 'yes' is not",
        ),
    ],
)
def test_broken_files_raise_our_error(mutate: object, match: str) -> None:
    data = {"type": "FeatureCollection", "closp": VALID_META, "features": []}
    assert read_label_file(json.dumps(data))[0] == FeedbackLabels()
    with pytest.raises(FeedbackError, match=match):
        read_label_file(mutate(data))  # type: ignore[operator]
