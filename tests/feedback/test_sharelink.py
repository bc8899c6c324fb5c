"""The short share-link form of labels (version 2): 1,000 labels in a few kB of URL, read back
exactly against the index; damaged values refused whole; prefixes that name no chip or several
dropped and counted; links of the first form still open."""

from __future__ import annotations

import base64
import uuid
import zlib
from collections.abc import Iterator
from urllib.parse import urlencode

import numpy as np
import pytest

from closp_core.feedback import FeedbackLabels, encode_labels
from closp_core.feedback.sharelink import (
    MARGIN_BITS,
    IndexIds,
    SharedLabels,
    decode_link,
    encode_link,
    prefix_bits,
    read_link,
)
from closp_core.store import ChipRecord, VectorStore, point_id
from tests.store.conftest import make_records, open_backend
from ui.state import SearchState, to_params

URL_BUDGET = 8_000  # bytes of a whole share link with 1,000 labels (issue 17)
N_CHIPS = 1_200


@pytest.fixture(scope="module")
def big_records() -> list[ChipRecord]:
    return make_records(N_CHIPS, seed=7)


@pytest.fixture(scope="module")
def big_store(
    big_records: list[ChipRecord], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VectorStore]:
    """1,200 chips in a real Edge index (read-only here)."""
    store = open_backend("edge", tmp_path_factory.mktemp("sharelink"))
    store.upsert(big_records)
    yield store
    store.close()


def _id(key: str) -> int:
    return uuid.UUID(point_id(key)).int


def _index(values: list[int]) -> IndexIds:
    return IndexIds(np.sort(np.array([v.to_bytes(16, "big") for v in values], dtype="S16")))


def _labels(keys: list[str]) -> FeedbackLabels:
    return FeedbackLabels.of({k: 1 if i % 3 else -1 for i, k in enumerate(keys)})


def share_url(labels_value: str) -> str:
    state = SearchState(query="flooded fields next to a river", feedback=labels_value)
    return "http://closp.example.org:8501/?" + urlencode(to_params(state), doseq=True)


def test_point_ids_are_every_id_sorted(store: VectorStore, records: list[ChipRecord]) -> None:
    store.upsert(records)
    ids = store.point_ids()
    assert ids.dtype == np.dtype("S16") and len(ids) == len(records)
    expected = sorted(uuid.UUID(point_id(r.key)).bytes for r in records)
    assert [bytes(i).ljust(16, b"\0") for i in ids] == expected


def test_1000_labels_fit_in_8_kB_and_come_back(
    big_store: VectorStore, big_records: list[ChipRecord]
) -> None:
    labels = _labels([r.key for r in big_records[:1000]])
    index = IndexIds.of(big_store)
    value = encode_link(labels, index)
    url = share_url(value)
    assert len(url.encode()) <= URL_BUDGET, len(url)
    assert len(share_url(encode_labels(labels))) > 20_000  # whole ids: why the short form
    shared = read_link(big_store, value)
    assert shared == SharedLabels(labels) and shared.note() is None
    assert value.startswith("2.") and len(value) < 4 * 1000  # ~3.2 characters a label


@pytest.mark.parametrize("n_index", [20_000, 200_000])
def test_1000_labels_on_larger_indexes(n_index: int) -> None:
    """Random ids stand in for a large index (each prefix must be unique among all)."""
    keys = [f"scene/large/s2/r{i}_c0" for i in range(1000)]
    others = np.frombuffer(np.random.default_rng(n_index).bytes(16 * (n_index - 1000)), "S16")
    labelled = np.array([uuid.UUID(point_id(k)).bytes for k in keys], dtype="S16")
    index = IndexIds(np.sort(np.concatenate([others, labelled])))
    value = encode_link(_labels(keys), index)
    assert len(share_url(value).encode()) <= URL_BUDGET
    bits = prefix_bits([_id(k) for k in keys], index)
    assert bits >= (n_index - 1).bit_length() + MARGIN_BITS
    found = decode_link(value, index)
    assert found.ids == {point_id(k): v for k, v in _labels(keys)}
    assert (found.unknown, found.ambiguous) == (0, 0)


def test_ids_that_differ_only_in_their_last_bit() -> None:
    key = "scene/a/s2/r0_c0"
    twin = _id(key) ^ 1  # shares 127 bits: the whole id is needed
    index = _index([_id(key), twin, _id("b")])
    value = encode_link(FeedbackLabels.of({key: 1}), index)
    assert prefix_bits([_id(key)], index) == 128
    assert decode_link(value, index).ids == {point_id(key): 1}


def test_prefixes_naming_no_chip_or_several_are_dropped_and_counted() -> None:
    keys = [f"scene/b/s1/r{i}_c0" for i in range(40)]
    rng = np.random.default_rng(1)
    others = [int.from_bytes(rng.bytes(16), "big") for _ in range(500)]
    index = _index(others + [_id(k) for k in keys])
    labels = _labels(keys)
    value = encode_link(labels, index)
    # later: the chip of keys[0] deleted, two chips sharing the prefixes of keys[1], keys[2]
    later = [v for v in others + [_id(k) for k in keys] if v != _id(keys[0])]
    later += [_id(keys[1]) ^ 1, _id(keys[2]) ^ 1]
    found = decode_link(value, _index(later))
    assert (found.unknown, found.ambiguous) == (1, 2)
    assert found.ids == {point_id(k): v for k, v in labels if k not in keys[:3]}
    note = SharedLabels(FeedbackLabels(), found.unknown, found.ambiguous).note()
    assert note == (
        "3 labels of the link dropped: 1 whose chip is no longer in the index; 2 naming "
        "several chips (the index grew since the link was made: mark them again)."
    )


def test_labels_of_chips_not_in_the_index_name_no_chip() -> None:
    index = _index([_id(f"in{i}") for i in range(100)])
    labels = FeedbackLabels.of({"in1": 1, "gone1": 1, "gone2": -1})
    found = decode_link(encode_link(labels, index), index)
    assert found.ids == {point_id("in1"): 1} and found.unknown == 2


def _value(payload: bytes, crc: bool = True) -> str:
    """A hand-made version-2 value (``crc``: with a right checksum)."""
    tail = zlib.crc32(payload).to_bytes(4, "big") if crc else b"\0\0\0\0"
    return "2." + base64.urlsafe_b64encode(payload + tail).decode().rstrip("=")


GOOD = _value(bytes([20, 2, 5, 1, 1, 9]))  # 20 bits; relevant 5, 6; not relevant 9


def test_a_hand_made_value_reads_as_written() -> None:
    index = _index([5 << 108, 6 << 108, 9 << 108, 9 << 108 | 1, 11 << 108 | 7])
    found = decode_link(GOOD, index)
    assert found.ids == {str(uuid.UUID(int=5 << 108)): 1, str(uuid.UUID(int=6 << 108)): 1}
    assert (found.unknown, found.ambiguous) == (0, 1)  # two ids start with 9


def test_links_of_the_first_form_still_open(store: VectorStore, records: list[ChipRecord]) -> None:
    store.upsert(records[:20])
    labels = _labels([r.key for r in records[:6]])
    old = encode_labels(labels.with_label("scene/gone/s2/r0_c0", 1))
    assert not old.startswith("2.")
    shared = read_link(store, old)
    assert shared.labels == labels and shared.unknown == 1
    assert "1 whose chip is no longer in the index" in str(shared.note())
    assert read_link(store, "") == SharedLabels(FeedbackLabels())
    assert read_link(store, encode_link(labels, IndexIds.of(store))).labels == labels
