"""Hostile label files (``closp_core/feedback/labelfile.py``): bombs of brackets, digits and
bytes, too many labels, and repeats. Each is refused with our own error naming the budget (the
``label_file_*`` settings) or, for repeats with the same value, read with the repeat counted
(``flagged``). Before the budgets, 100,000 brackets raised RecursionError and a 5,000-digit
value ValueError (both uncaught on the page); conflicting repeats resolved "last wins"."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from closp_core.feedback import (
    FeedbackError,
    FeedbackLabels,
    LabelFileBudget,
    export_labels,
    import_labels,
    parse_label_file,
    read_label_file,
)
from closp_core.settings import Settings
from closp_core.store import ChipRecord, VectorStore
from tests.store.conftest import make_records, open_backend

META = {"kind": "closp-feedback-labels", "version": 1, "model_id": "m", "collection": "c"}
HEAD = '{"type": "FeatureCollection", "closp": ' + json.dumps(META) + ', "features": '


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VectorStore]:
    opened = open_backend("memory", tmp_path)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def records() -> list[ChipRecord]:
    return make_records()[:30]


def doc(features: list[Any], **meta: Any) -> str:
    return json.dumps({"type": "FeatureCollection", "closp": META | meta, "features": features})


def feature(key: str, label: Any = 1) -> dict[str, Any]:
    return {"type": "Feature", "geometry": None, "properties": {"key": key, "label": label}}


def nested(n: int, open_: str = "[", close: str = "]") -> str:
    return HEAD + "[" + '{"properties": {"key": "a", "label": 1, "x": ' + open_ * n \
        + close * n + "}}]}"  # fmt: skip


DEEP = r"nests brackets deeper than 32 levels \(setting label_file_max_depth"
DIGITS = r"holds a number of 5,000 characters .* labels are \+1 or -1"
CONFLICT = "a conflict is not resolved silently"

BAD: dict[str, tuple[str, Callable[[], str | bytes], str]] = {
    "brackets_100k": ("refused", lambda: "[" * 100_000 + "]" * 100_000, DEEP),
    "brackets_100k_unclosed": ("refused", lambda: "[" * 100_000, DEEP),
    "objects_100k": ("refused", lambda: '{"a":' * 100_000 + "1" + "}" * 100_000, DEEP),
    "nested_in_a_property": ("refused", lambda: nested(100_000), DEEP),
    "nested_objects_in_a_property": ("refused", lambda: nested(50_000, '{"x":', "}"), DEEP),
    "depth_33_as_bytes": ("refused", lambda: nested(30).encode(), DEEP),
    "digits_5000_label": (
        "refused",
        lambda: doc([]).replace(
            '"features": []',
            '"features": [{"properties": {"key": "a", "label": ' + "9" * 5000 + "}}]",
        ),
        DIGITS,
    ),
    "digits_5000_version": (
        "refused",
        lambda: doc([]).replace('"version": 1', '"version": ' + "1" * 5000),
        DIGITS,
    ),
    "digits_5000_float": (
        "refused",
        lambda: doc([]).replace('"version": 1', '"version": 0.' + "1" * 4998),
        DIGITS,
    ),
    "oversized_9_mb": (
        "refused",
        lambda: doc([feature("k" * 1000)] * 9000),
        r"the label file is [\d,]+ bytes, more than the 8,388,608 allowed \(setting "
        r"label_file_max_mb",
    ),
    "labels_1001": (
        "refused",
        lambda: doc([feature(f"chip{i}") for i in range(1001)]),
        r"holds 1,001 labels; at most 1,000 \(setting label_file_max_labels",
    ),
    "conflicting_chip_labels": (
        "refused",
        lambda: doc([feature("a", 1), feature("b", 1), feature("a", -1)]),
        r"feature 2: chip 'a' is labelled both relevant and not relevant; " + CONFLICT,
    ),
    "conflicting_label_spelled_out": (
        "refused",
        lambda: doc([feature("a", "relevant"), feature("a", "not relevant")]),
        r"chip 'a' is labelled both",
    ),
    "conflicting_label_member": (
        "refused",
        lambda: doc([]).replace(
            '"features": []', '"features": [{"properties": {"key": "a", "label": 1, "label": -1}}]'
        ),
        r"gives property 'label' twice with different values \('1', '-1'\); " + CONFLICT,
    ),
    "conflicting_key_member": (
        "refused",
        lambda: doc([]).replace(
            '"features": []', '"features": [{"properties": {"key": "a", "key": "b", "label": 1}}]'
        ),
        r"gives property 'key' twice with different values",
    ),
    "conflicting_model_member": (
        "refused",
        lambda: doc([]).replace('"model_id": "m"', '"model_id": "m", "model_id": "other"'),
        r"gives property 'model_id' twice",
    ),
    "lone_surrogate_escaped": (
        "error",
        lambda: doc([feature("a\udc80")]),
        r"feature 0: chip key 'a\\udc80' holds control characters or undecodable text",
    ),
    "lone_surrogate_raw": (
        "error",
        lambda: json.dumps(json.loads(doc([feature("a\udc80")])), ensure_ascii=False),
        r"feature 0: chip key .* undecodable text",
    ),
    "control_characters_in_key": (
        "error",
        lambda: doc([feature("scene/\x1b[2Jx/s1/r0_c0")]),
        r"feature 0: chip key .* holds control characters",
    ),
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.hostile(v[0])) for n, v in BAD.items()]
)
def test_a_hostile_label_file_is_refused_quickly_with_our_error(name: str) -> None:
    _, make, message = BAD[name]
    text = make()
    start = time.process_time()  # CPU time: other processes on the machine do not count
    with pytest.raises(FeedbackError, match=message):
        read_label_file(text)
    assert time.process_time() - start < 2.0


REPEATS: dict[str, tuple[Callable[[str, str], str], int]] = {
    "same_chip_twice": (lambda a, b: doc([feature(a), feature(b, -1), feature(a)]), 1),
    "same_chip_three_times": (lambda a, b: doc([feature(a)] * 3 + [feature(b, -1)]), 2),
    "same_member_twice": (
        lambda a, b: doc([feature(b, -1)]).replace(
            '"features": [',
            f'"features": [{{"properties": {{"key": "{a}", "label": 1, "label": 1}}}}, ',
        ),
        1,
    ),
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.hostile("flagged")) for n in REPEATS]
)
def test_repeats_with_the_same_value_are_kept_once_and_counted(
    name: str, store: VectorStore, records: list[ChipRecord]
) -> None:
    store.upsert(records[:3])
    make, repeated = REPEATS[name]
    meta = {"model_id": store.model_id, "collection": "closp"}
    text = make(records[0].key, records[1].key).replace(
        '"model_id": "m", "collection": "c"', json.dumps(meta)[1:-1]
    )
    resolved = import_labels(text, store, "closp")
    assert resolved.labels == FeedbackLabels.of({records[0].key: 1, records[1].key: -1})
    assert resolved.repeated == repeated and resolved.missing == ()


def test_the_budgets_come_from_settings_and_an_exported_file_fits(
    store: VectorStore, records: list[ChipRecord]
) -> None:
    store.upsert(records[:30])
    labels = FeedbackLabels.of({r.key: 1 for r in records[:30]})
    text = export_labels(store, labels, "closp")
    assert parse_label_file(text).labels == labels  # footprints nest 7 deep: within 32
    tight = LabelFileBudget.from_settings(Settings.load({"CLOSP_LABEL_FILE_MAX_DEPTH": "6"}))
    with pytest.raises(FeedbackError, match="deeper than 6 levels"):
        parse_label_file(text, tight)
    small = LabelFileBudget.from_settings(Settings(label_file_max_labels=29))
    with pytest.raises(FeedbackError, match="holds 30 labels; at most 29"):
        parse_label_file(text, small)
    assert LabelFileBudget.from_settings(Settings(label_file_max_labels=5000)).max_labels == 1000
    brackets_in_strings = doc([feature("[" * 1000 + "{" * 1000)])
    assert len(read_label_file(brackets_in_strings)[0]) == 1  # brackets inside strings: text
