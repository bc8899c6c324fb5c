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
are accepted too.

**Budgets and repeats** (``LabelFileBudget``, from ``Settings``): a file larger than
``label_file_max_mb``, nested deeper than ``label_file_max_depth`` brackets, holding more than
``label_file_max_labels`` features (at most ``MAX_LABELS``) or a number longer than 30
characters is refused before it is parsed further (``FeedbackError`` naming the setting). The
rule for repeats: a chip key labelled twice **with the same value**, or a property given twice
with the same value, is kept once and counted (``LabelFile.repeated``, said on import); the
same chip key or property given **different values** is a conflict and the file is refused,
naming the key — nothing is chosen silently.

Vectors of two models never mix, so a file from another model or another collection is
refused (``FeedbackError`` naming both); labels of chips that are not in the index are
reported (``ResolvedLabels.missing``), not fatal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
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
from closp_core.settings import Settings
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


MAX_NUMBER_CHARS = 30  # a label is +1/-1; a longer number in a label file is refused
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


@dataclasses.dataclass(frozen=True)
class LabelFileBudget:
    """What one label file may hold (see the module docstring); ``from_settings`` reads the
    ``label_file_*`` settings."""

    max_bytes: int = Settings.label_file_max_mb * 2**20
    max_depth: int = Settings.label_file_max_depth
    max_labels: int = Settings.label_file_max_labels

    @classmethod
    def from_settings(cls, settings: Settings) -> LabelFileBudget:
        return cls(
            settings.label_file_max_mb * 2**20,
            settings.label_file_max_depth,
            min(settings.label_file_max_labels, MAX_LABELS),
        )


@dataclasses.dataclass(frozen=True)
class LabelFile:
    """A parsed label file: its labels, its ``closp`` block, and how many repeats it held."""

    labels: FeedbackLabels
    meta: Mapping[str, Any]
    repeated: int = 0


def _check_shape(raw: bytes, budget: LabelFileBudget) -> None:
    """Size and bracket depth (outside strings) of ``raw`` within ``budget``, before parsing."""
    if len(raw) > budget.max_bytes:
        raise FeedbackError(
            f"the label file is {len(raw):,} bytes, more than the {budget.max_bytes:,} allowed "
            "(setting label_file_max_mb, CLOSP_LABEL_FILE_MAX_MB); split the labels into "
            "smaller files"
        )
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b"", raw)):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
        if deepest > budget.max_depth:
            raise FeedbackError(
                f"the label file nests brackets deeper than {budget.max_depth} levels (setting "
                "label_file_max_depth, CLOSP_LABEL_FILE_MAX_DEPTH); a label file that 'Export "
                "labels' wrote nests 6; choose such a file"
            )


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (``"\udc80"`` in the JSON)
        return False
    return True


def _number(text: str) -> float | int:
    if len(text) > MAX_NUMBER_CHARS:
        raise FeedbackError(
            f"the label file holds a number of {len(text):,} characters ({text[:12]}…); labels "
            "are +1 or -1; choose a file that 'Export labels' wrote"
        )
    return float(text) if any(c in text for c in ".eE") else int(text)


class _Members:
    """``object_pairs_hook`` that counts repeated members and refuses conflicting ones."""

    def __init__(self) -> None:
        self.repeated = 0

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in pairs:
            if name in out:
                if out[name] != value:
                    raise FeedbackError(
                        f"the label file gives property {name[:60]!r} twice with different "
                        f"values ({str(out[name])[:40]!r}, {str(value)[:40]!r}); a conflict is "
                        "not resolved silently: fix the file"
                    )
                self.repeated += 1
            out[name] = value
        return out


def _parse(text: str | bytes, budget: LabelFileBudget) -> tuple[Mapping[str, Any], int]:
    """The checked document and how many repeated members it held."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    _check_shape(raw, budget)
    members = _Members()
    try:
        data = json.loads(raw, parse_int=_number, parse_float=_number, object_pairs_hook=members)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise FeedbackError(f"the label file is not valid JSON ({str(exc)[:200]}); choose a file "
                            "that 'Export labels' wrote") from None  # fmt: skip
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
    return data, members.repeated


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


def parse_label_file(text: str | bytes, budget: LabelFileBudget | None = None) -> LabelFile:
    """A label file's labels, ``closp`` block and repeats, without any index (checks the
    budgets, the layout and the repeat rule of the module docstring)."""
    budget = budget or LabelFileBudget()
    data, repeated = _parse(text, budget)
    features = data.get("features")
    if not isinstance(features, list):
        raise FeedbackError("the label file has no 'features' list")
    most = min(budget.max_labels, MAX_LABELS)
    if len(features) > most:
        raise FeedbackError(
            f"the label file holds {len(features):,} labels; at most {most:,} (setting "
            "label_file_max_labels, CLOSP_LABEL_FILE_MAX_LABELS)"
        )
    pairs: dict[str, int] = {}
    for i, feature in enumerate(features):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict) or not isinstance(props.get("key"), str):
            raise FeedbackError(f"feature {i} has no 'key' property (the chip key)")
        key, value = props["key"], _label_value(props.get("label", props.get("relevance")), i)
        if not key.isprintable() or not _is_utf8(key):
            raise FeedbackError(
                f"feature {i}: chip key {key[:80]!r} holds control characters or undecodable "
                "text; chip keys are printable text: choose a file that 'Export labels' wrote"
            )
        if key in pairs and pairs[key] != value:
            raise FeedbackError(
                f"feature {i}: chip {key[:80]!r} is labelled both relevant and not relevant; "
                "a conflict is not resolved silently: keep one label per chip"
            )
        repeated += key in pairs
        pairs[key] = value
    return LabelFile(FeedbackLabels.of(pairs), data["closp"], repeated)


def read_label_file(
    text: str | bytes, budget: LabelFileBudget | None = None
) -> tuple[FeedbackLabels, Mapping[str, Any]]:
    """Labels and the ``closp`` block of a label file (``parse_label_file``)."""
    parsed = parse_label_file(text, budget)
    return parsed.labels, parsed.meta


def import_labels(
    text: str | bytes,
    store: VectorStore,
    collection: str,
    budget: LabelFileBudget | None = None,
) -> ResolvedLabels:
    """Labels of a label file that fit this index (``store``, named ``collection``).

    Raises ``FeedbackError`` for a file that is not a label file, or one made with another
    model or for another collection. Labels of chips not in the index are left out and listed
    in ``missing`` (chip keys)."""
    parsed = parse_label_file(text, budget)
    labels = parsed.labels
    _check_origin(parsed.meta, store.model_id, collection)
    found = {r.key for r in store.get([k for k, _ in labels])} if labels else set()
    kept = FeedbackLabels.of({k: v for k, v in labels if k in found})
    return ResolvedLabels(kept, tuple(k for k, _ in labels if k not in found), parsed.repeated)
