"""Label files: a session's relevance labels as GeoJSON, to resume it or hand it to a colleague.

Layout (a GeoJSON FeatureCollection with one foreign member, ``closp``)::

    {"type": "FeatureCollection",
     "closp": {"kind": "closp-feedback-labels", "version": 1,
               "model_id": "closp-rn:delta-…", "collection": "closp",
               "exported": "2025-01-31T10:00:00Z", "query": "flooded area"},
     "features": [{"type": "Feature",
                   "geometry": <chip footprint Polygon, or centre Point, or null>,
                   "properties": {"key": "<chip key>", "label": 1,
                                  "relevance": "relevant", "sensor": "s2",
                                  "acquired": "2019-09-18T00:00:00+00:00",
                                  "labels": "Crops; Flooded Area"}}]}

``label`` is +1 (relevant) or -1 (not relevant); on import ``"relevant"`` / ``"not relevant"``
are accepted too. Vectors of two models never mix, so a file from another model or another
collection is refused (``FeedbackError`` naming both); labels of chips that are not in the
index are reported (``ResolvedLabels.missing``), not fatal.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from closp_core.errors import FeedbackError
from closp_core.feedback.labels import (
    MAX_LABELS,
    NOT_RELEVANT,
    RELEVANT,
    FeedbackLabels,
    ResolvedLabels,
)
from closp_core.store import ChipRecord, VectorStore

FILE_KIND = "closp-feedback-labels"
FILE_VERSION = 1
RELEVANCE_NAMES = {RELEVANT: "relevant", NOT_RELEVANT: "not relevant"}
_FROM_NAME = {"relevant": RELEVANT, "not relevant": NOT_RELEVANT}


def relevance_name(value: int | None) -> str:
    """``"relevant"``, ``"not relevant"`` or ``""`` (unlabelled): a results export's column."""
    return "" if value is None else RELEVANCE_NAMES[value]


def _geometry(record: ChipRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    if record.footprint is not None:
        return record.footprint.to_geojson()
    if record.center is not None:
        return {"type": "Point", "coordinates": list(record.center)}
    return None


def export_labels(
    store: VectorStore, labels: FeedbackLabels, collection: str, *, query: str | None = None
) -> str:
    """The label file (GeoJSON text) of ``labels`` for the index ``store`` (named ``collection``,
    i.e. ``Settings.collection``). Labelled chips not in the index keep their key and label,
    with a null geometry."""
    records = {r.key: r for r in store.get([k for k, _ in labels])} if labels else {}
    features = []
    for key, value in labels:
        record = records.get(key)
        props: dict[str, Any] = {"key": key, "label": value, "relevance": RELEVANCE_NAMES[value]}
        if record is not None:
            props.update(
                sensor=record.sensor.value,
                acquired=record.acquired.isoformat() if record.acquired else None,
                labels="; ".join(record.labels),
            )
        features.append({"type": "Feature", "geometry": _geometry(record), "properties": props})
    meta = {
        "kind": FILE_KIND,
        "version": FILE_VERSION,
        "model_id": store.model_id,
        "collection": collection,
        "exported": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "query": query,
    }
    return json.dumps({"type": "FeatureCollection", "closp": meta, "features": features}, indent=1)


def _parse(text: str | bytes) -> Mapping[str, Any]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FeedbackError(f"the label file is not valid JSON ({exc}); choose a file that "
                            "'Export labels' wrote") from None  # fmt: skip
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise FeedbackError("the label file is not a GeoJSON FeatureCollection")
    meta = data.get("closp")
    if not isinstance(meta, dict) or meta.get("kind") != FILE_KIND:
        raise FeedbackError(
            "this GeoJSON is not a CLOSP label file (no 'closp' block of kind "
            f"{FILE_KIND!r}); use a file that 'Export labels' wrote"
        )
    if meta.get("version") != FILE_VERSION:
        raise FeedbackError(
            f"label file version {meta.get('version')!r} is not {FILE_VERSION}; export the "
            "labels again with this version of the app"
        )
    return data


def _check_origin(meta: Mapping[str, Any], model_id: str, collection: str) -> None:
    theirs_model, theirs_coll = meta.get("model_id"), meta.get("collection")
    if theirs_model != model_id:
        raise FeedbackError(
            f"these labels were made with model {theirs_model!r}, this index holds vectors of "
            f"{model_id!r}; labels only carry over within one model's index. Open the index "
            f"built with {theirs_model!r} (CLOSP_MODEL, CLOSP_COLLECTION) to use them"
        )
    if theirs_coll != collection:
        raise FeedbackError(
            f"these labels belong to collection {theirs_coll!r}, this index is {collection!r}; "
            f"set CLOSP_COLLECTION={theirs_coll} (or use that index) to load them"
        )


def _label_value(raw: Any, index: int) -> int:
    if isinstance(raw, str) and raw.strip().lower() in _FROM_NAME:
        return _FROM_NAME[raw.strip().lower()]
    if not isinstance(raw, bool) and raw in (RELEVANT, NOT_RELEVANT):
        return int(raw)
    raise FeedbackError(
        f"feature {index}: label {raw!r} is not +1, -1, 'relevant' or 'not relevant'"
    )


def read_label_file(text: str | bytes) -> tuple[FeedbackLabels, Mapping[str, Any]]:
    """Labels and the ``closp`` block of a label file, without any index (checks the layout)."""
    data = _parse(text)
    features = data.get("features")
    if not isinstance(features, list):
        raise FeedbackError("the label file has no 'features' list")
    if len(features) > MAX_LABELS:
        raise FeedbackError(f"the label file holds {len(features)} labels; at most {MAX_LABELS}")
    pairs: dict[str, int] = {}
    for i, feature in enumerate(features):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict) or not isinstance(props.get("key"), str):
            raise FeedbackError(f"feature {i} has no 'key' property (the chip key)")
        pairs[props["key"]] = _label_value(props.get("label", props.get("relevance")), i)
    return FeedbackLabels.of(pairs), data["closp"]


def import_labels(text: str | bytes, store: VectorStore, collection: str) -> ResolvedLabels:
    """Labels of a label file that fit this index (``store``, named ``collection``).

    Raises ``FeedbackError`` for a file that is not a label file, or one made with another
    model or for another collection. Labels of chips not in the index are left out and listed
    in ``missing`` (chip keys)."""
    labels, meta = read_label_file(text)
    _check_origin(meta, store.model_id, collection)
    found = {r.key for r in store.get([k for k, _ in labels])} if labels else set()
    kept = FeedbackLabels.of({k: v for k, v in labels if k in found})
    return ResolvedLabels(kept, tuple(k for k, _ in labels if k not in found))
