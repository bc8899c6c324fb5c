"""Hostile share-link label values (``fb``, ``closp_core/feedback/sharelink.py``): cut, changed,
padded, escaped, over-long, hand-made with a right checksum but impossible contents, and links
of the first form that are damaged. Each is refused whole with our own error saying what to do
(``error``); the page then says the labels of the link were dropped and keeps the rest of the
link (``tests/app/test_loop.py``). Prefixes that name no chip or several are dropped and
counted (``flagged``), the other labels kept."""

from __future__ import annotations

import base64
import uuid
import zlib

import numpy as np
import pytest

from closp_core.feedback import FeedbackError, FeedbackLabels, decode_labels
from closp_core.feedback.sharelink import IndexIds, SharedLabels, decode_link, encode_link
from closp_core.store import point_id


def _value(payload: bytes, crc: bool = True) -> str:
    """A hand-made version-2 value (``crc``: with a right checksum)."""
    tail = zlib.crc32(payload).to_bytes(4, "big") if crc else b"\0\0\0\0"
    return "2." + base64.urlsafe_b64encode(payload + tail).decode().rstrip("=")


def _index(values: list[int]) -> IndexIds:
    return IndexIds(np.sort(np.array([v.to_bytes(16, "big") for v in values], dtype="S16")))


GOOD = _value(bytes([20, 2, 5, 1, 1, 9]))  # 20 bits; relevant 5, 6; not relevant 9
CHANGED = GOOD[:-3] + ("A" if GOOD[-3] != "A" else "B") + GOOD[-2:]
DAMAGED = "damaged or cut short"
BAD = {
    "cut by one character": (GOOD[:-1], DAMAGED),
    "cut in half": (GOOD[: len(GOOD) // 2], DAMAGED),
    "one character changed": (CHANGED, DAMAGED),
    "base64 padding": (GOOD + "=", "not valid base64url"),
    "a percent escape": (GOOD.replace("2.", "2.%"), "not valid base64url"),
    "nothing after the version": ("2.", DAMAGED),
    "a wrong checksum": (_value(bytes([20, 1, 5]), crc=False), DAMAGED),
    "a prefix of 0 bits": (_value(bytes([0, 1, 5, 0])), DAMAGED),
    "a prefix of 129 bits": (_value(bytes([129, 1, 1, 5, 0])), DAMAGED),
    "a prefix wider than its bits": (_value(bytes([4, 1, 16, 0])), DAMAGED),
    "one prefix twice": (_value(bytes([20, 2, 5, 0, 0])), DAMAGED),
    "bytes after the end": (_value(bytes([20, 1, 5, 0, 7])), DAMAGED),
    "a varint cut short": (_value(bytes([20, 1, 0x85])), DAMAGED),
    "an endless varint": (_value(bytes([20, 1]) + b"\xff" * 40 + b"\x01"), DAMAGED),
    "1,001 labels": (_value(bytes([20, 0xE9, 0x07])), "more than 1000 labels"),
    "a chip both ways": (_value(bytes([20, 1, 5, 1, 5])), "both relevant and not relevant"),
    "30,000 characters": ("2." + "A" * 30_000, "too long"),
}
FIRST_FORM = {
    "first form: not whole ids": ("AAAA.BBBB", "cut short"),
    "first form: three parts": ("AAAA.BBBB.CCCC", "malformed"),
    "first form: no dot": ("A" * 22, "malformed"),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.hostile("error")) for n in BAD])
def test_damaged_short_values_are_refused_whole(name: str) -> None:
    text, match = BAD[name]
    with pytest.raises(FeedbackError, match=match):
        decode_link(text, _index([5 << 108, 6 << 108, 9 << 108]))


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.hostile("error")) for n in FIRST_FORM]
)
def test_damaged_first_form_values_are_refused_whole(name: str) -> None:
    text, match = FIRST_FORM[name]
    with pytest.raises(FeedbackError, match=match):
        decode_labels(text)


@pytest.mark.hostile("flagged")
def test_prefixes_of_a_grown_or_shrunk_index_are_dropped_and_counted() -> None:
    keys = [f"scene/c/s2/r{i}_c0" for i in range(10)]
    ids = [uuid.UUID(point_id(k)).int for k in keys]
    value = encode_link(FeedbackLabels.of({k: 1 for k in keys}), _index(ids))
    later = _index([*ids[1:], ids[1] ^ 1])  # keys[0] gone, a chip sharing keys[1]'s prefix
    found = decode_link(value, later)
    assert set(found.ids) == {point_id(k) for k in keys[2:]}
    assert (found.unknown, found.ambiguous) == (1, 1)
    note = SharedLabels(FeedbackLabels(), found.unknown, found.ambiguous).note()
    assert note is not None and note.startswith("2 labels of the link dropped")
