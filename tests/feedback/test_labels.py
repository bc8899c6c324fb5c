"""FeedbackLabels, the URL form of labels and resolving it through the store (both back ends)."""

from __future__ import annotations

import pytest

from closp_core.feedback import (
    MAX_LABELS,
    FeedbackError,
    FeedbackLabels,
    decode_labels,
    encode_labels,
    resolve_ids,
)
from closp_core.store import ChipRecord, VectorStore, point_id

# real-looking keys: long, as the URL must not carry them
KEYS = [f"scene/sen1floods11-Spain_7370579-s2/s2/r{i:03d}_c{i * 7 % 480:03d}" for i in range(400)]


def test_labels_are_immutable_values() -> None:
    empty = FeedbackLabels()
    one = empty.with_label("b", 1)
    two = one.with_label("a", -1)
    assert (len(empty), len(one), len(two)) == (0, 1, 2)
    assert two.items == (("a", -1), ("b", 1))  # sorted by key: equal sets compare equal
    assert two == FeedbackLabels.of({"b": 1, "a": -1})
    assert hash(two) == hash(FeedbackLabels.of([("a", -1), ("b", 1)]))
    assert (two.positive, two.negative) == (("b",), ("a",))
    assert two.get("a") == -1 and two.get("zzz") is None and "b" in two
    assert two.with_label("a", 1).get("a") == 1  # relabel replaces
    assert two.without("a") == one and two.without("nope") == two


def test_toggle_is_what_the_buttons_do() -> None:
    labels = FeedbackLabels().toggle("k", 1)
    assert labels.get("k") == 1
    assert labels.toggle("k", -1).get("k") == -1  # 👎 after 👍: switches
    assert labels.toggle("k", 1) == FeedbackLabels()  # 👍 again: removes
    merged = FeedbackLabels.of({"a": 1, "b": 1}).merged(FeedbackLabels.of({"b": -1, "c": -1}))
    assert merged.as_dict() == {"a": 1, "b": -1, "c": -1}


@pytest.mark.parametrize(
    ("pairs", "match"),
    [
        ((("a", 0),), "must be \\+1 \\(relevant\\) or -1"),
        ((("a", True),), "must be \\+1"),
        ((("a", "1"),), "must be \\+1"),
        ((("", 1),), "non-empty string"),
        (((None, 1),), "non-empty string"),
        ((("a", 1), ("a", -1)), "labelled twice"),
        (tuple((f"k{i}", 1) for i in range(MAX_LABELS + 1)), f"at most {MAX_LABELS} labels"),
    ],
)
def test_bad_labels_are_refused(pairs: tuple, match: str) -> None:
    with pytest.raises(FeedbackError, match=match):
        FeedbackLabels(pairs)


@pytest.mark.parametrize(("n", "length"), [(50, 1069), (200, 4269)])
def test_url_form_round_trips_and_is_short(n: int, length: int) -> None:
    labels = FeedbackLabels.of({k: 1 if i % 2 else -1 for i, k in enumerate(KEYS[:n])})
    text = encode_labels(labels)
    # measured: 50 labels (25 + 25) -> 1,069 characters, 200 -> 4,269 (21.3 per label),
    # against ~60 per label for the keys themselves
    assert len(text) == length
    assert len(text) < 2083 if n <= 90 else len(text) < 8192
    assert sum(len(k) for k in KEYS[:n]) > 2 * len(text)
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert decode_labels(text) == {point_id(k): v for k, v in labels}


def test_url_form_edge_cases() -> None:
    assert encode_labels(FeedbackLabels()) == "" and decode_labels("") == {}
    only_pos = encode_labels(FeedbackLabels.of({"a": 1}))
    assert only_pos.endswith(".") and decode_labels(only_pos) == {point_id("a"): 1}
    only_neg = encode_labels(FeedbackLabels.of({"a": -1}))
    assert only_neg.startswith(".") and decode_labels(only_neg) == {point_id("a"): -1}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("abc", "malformed"),
        ("a.b.c", "malformed"),
        ("!!!!.", "not valid base64url"),
        ("AAAA.", "cut short"),
        (encode_labels(FeedbackLabels.of({"a": 1}))[:-7] + ".", "cut short"),
        ("A" * 30_000 + ".", "too long"),
    ],
)
def test_bad_url_values_raise_our_error(text: str, match: str) -> None:
    with pytest.raises(FeedbackError, match=match):
        decode_labels(text)


def test_resolve_ids_reports_chips_not_in_the_index(
    store: VectorStore, records: list[ChipRecord]
) -> None:
    store.upsert(records[:20])
    labels = FeedbackLabels.of({r.key: 1 if i < 3 else -1 for i, r in enumerate(records[:5])})
    gone = FeedbackLabels.of({"deleted-chip-1": 1, "deleted-chip-2": -1})
    resolved = resolve_ids(store, decode_labels(encode_labels(labels.merged(gone))))
    assert resolved.labels == labels
    assert set(resolved.missing) == {point_id("deleted-chip-1"), point_id("deleted-chip-2")}
    assert resolve_ids(store, {}).labels == FeedbackLabels()


def test_a_link_marking_a_chip_both_ways_is_refused() -> None:
    """An id in both lists of ``fb`` used to become relevant without a word."""
    from closp_core.feedback.labels import _b64

    value = f"{_b64([point_id('a')])}.{_b64([point_id('b'), point_id('a')])}"
    with pytest.raises(FeedbackError, match=r"marks 1 chip\(s\) both relevant and not relevant"):
        decode_labels(value)
    assert decode_labels(f"{_b64([point_id('a')])}.{_b64([point_id('b')])}") == {
        point_id("a"): 1,
        point_id("b"): -1,
    }
