"""The labels' share-link value, version 2: short point-id prefixes resolved against the index.

Version 1 (``labels.encode_labels``) carries each label as its whole 16-byte point id: 21⅓
characters a label, so 1,000 labels take 21 kB of URL (ids are uuid5 hashes: no compression
shrinks them). Version 2 carries, per label, only as many leading bits of the id as name that
chip alone among the index's ids, and codes them sorted, as gaps:

    value   = "2." + base64url, unpadded, of
    payload = varint bits, varint P, P gaps, varint N, N gaps, crc32 (4 bytes, big-endian)

``bits`` (1..128) is one prefix length for every label: the longest any label needs to be
unique among the index's ids and the other labels, and at least ``ceil(log2 N) + MARGIN_BITS``
for an index of ``N`` chips, so the link survives the index growing (a link made on ``N`` chips
and opened after ``N`` more were added loses a label with probability ~``2 ** -MARGIN_BITS``).
The ``P`` relevant and ``N`` not relevant prefixes are each sorted; a gap is a prefix minus
the one before it (the first: minus 0), written as an unsigned LEB128 varint. The crc32 covers
everything before it, so a cut or changed value is refused as a whole instead of naming other
chips. Measured (``python -m bench.sharelink``): 1,000 labels take 3,108 characters on an
index of 1,200 chips, 4,169 on 100,000 and 5,156 on 1,000,000 (whole ids: 21,335).

Reading (``decode_link``): a prefix that names exactly one chip of the index gives that
chip's id; one that names none (the chip was deleted) or several (the index grew) is dropped
and counted (``LinkLabels.unknown`` / ``.ambiguous``); the other labels are kept.
``read_link`` reads either version: version-1 values (no ``"2."`` prefix: their first part is
empty or at least 22 characters long) still open.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from closp_core.errors import FeedbackError
from closp_core.feedback.labels import (
    MAX_LABELS,
    NOT_RELEVANT,
    RELEVANT,
    FeedbackLabels,
    decode_labels,
    resolve_ids,
)
from closp_core.store.payload import point_id

if TYPE_CHECKING:
    from closp_core.store import VectorStore

VERSION_PREFIX = "2."
MARGIN_BITS = 12
ID_BITS = 128
MAX_LINK_CHARS = (MAX_LABELS + 2) * 22  # the longest value read: 1,000 labels of version 1
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_CRC_BYTES = 4


@dataclasses.dataclass(frozen=True, eq=False)
class IndexIds:
    """Every point id of an index, sorted: ``ids (N,) 'S16'`` (``VectorStore.point_ids``).

    numpy strips trailing zero bytes when an ``S16`` item is read: ``id_int`` pads them."""

    ids: np.ndarray

    @classmethod
    def of(cls, store: VectorStore) -> IndexIds:
        """The ids of ``store`` (one scroll of ids, no payload: ~0.1 s per 20,000 chips)."""
        return cls(store.point_ids())

    def __len__(self) -> int:
        return len(self.ids)

    def id_int(self, row: int) -> int:
        """The id at ``row`` as a 128-bit integer."""
        return int.from_bytes(bytes(self.ids[row]).ljust(16, b"\0"), "big")

    def neighbours(self, value: int) -> list[int]:
        """The ids just below and just above ``value`` (itself left out), 0 to 2 of them."""
        row = int(np.searchsorted(self.ids, _id_bytes(value), side="left"))
        above = row + 1 if row < len(self.ids) and self.id_int(row) == value else row
        rows = [r for r in (row - 1, above) if 0 <= r < len(self.ids)]
        return [self.id_int(r) for r in rows]

    def count_prefixes(self, prefixes: Sequence[int], bits: int) -> tuple[np.ndarray, np.ndarray]:
        """For each ``bits``-bit prefix: how many ids start with it ``(P,) int`` and the row
        of the first ``(P,) int``."""
        shift = ID_BITS - bits
        lows = np.array([_id_bytes(p << shift) for p in prefixes], dtype="S16")
        first = np.searchsorted(self.ids, lows, side="left")
        ends = np.full(len(prefixes), len(self.ids))
        inner = [i for i, p in enumerate(prefixes) if (p + 1) << shift < 1 << ID_BITS]
        if inner:
            highs = np.array([_id_bytes((prefixes[i] + 1) << shift) for i in inner], dtype="S16")
            ends[inner] = np.searchsorted(self.ids, highs, side="left")
        return ends - first, first


def _id_bytes(value: int) -> bytes:
    return value.to_bytes(16, "big")


def _id_int(key: str) -> int:
    return uuid.UUID(point_id(key)).int


def _common_bits(a: int, b: int) -> int:
    return ID_BITS - (a ^ b).bit_length()


def prefix_bits(values: Sequence[int], index: IndexIds) -> int:
    """The prefix length (bits) that names each of ``values`` (128-bit ids) alone among the
    index's ids and each other, with the growth margin (module docstring)."""
    floor = max(len(index) - 1, 0).bit_length() + MARGIN_BITS
    ordered = sorted(values)
    need = 1
    for i, value in enumerate(ordered):
        others = index.neighbours(value) + ordered[max(i - 1, 0) : i] + ordered[i + 1 : i + 2]
        need = max(need, *(_common_bits(value, o) + 1 for o in others if o != value), 1)
    return min(max(need, floor), ID_BITS)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _gaps(prefixes: Iterable[int]) -> bytes:
    ordered = sorted(prefixes)
    out = bytearray(_varint(len(ordered)))
    previous = 0
    for prefix in ordered:
        out += _varint(prefix - previous)
        previous = prefix
    return bytes(out)


def encode_link(labels: FeedbackLabels, index: IndexIds) -> str:
    """The version-2 URL value of ``labels`` over ``index`` (``""`` for no labels)."""
    if not labels:
        return ""
    pos = [_id_int(k) for k in labels.positive]
    neg = [_id_int(k) for k in labels.negative]
    bits = prefix_bits(pos + neg, index)
    shift = ID_BITS - bits
    payload = _varint(bits) + _gaps(v >> shift for v in pos) + _gaps(v >> shift for v in neg)
    payload += zlib.crc32(payload).to_bytes(_CRC_BYTES, "big")
    return VERSION_PREFIX + base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")


class _Reader:
    """Varints out of a payload; ``FeedbackError`` when it ends early."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def varint(self, most: int) -> int:
        value = shift = 0
        while True:
            if self.at >= len(self.data) or shift > most + 7:
                raise FeedbackError(_DAMAGED)
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def prefixes(self, bits: int, budget: int) -> list[int]:
        count = self.varint(32)
        if count > budget:
            raise FeedbackError(f"the link holds more than {MAX_LABELS} labels; make a new one")
        out, previous = [], 0
        for i in range(count):
            gap = self.varint(bits)
            if i and gap == 0:
                raise FeedbackError(_DAMAGED)
            previous += gap
            out.append(previous)
        if out and out[-1] >> bits:
            raise FeedbackError(_DAMAGED)
        return out


_DAMAGED = "the labels in the link are damaged or cut short; copy the whole link again"


@dataclasses.dataclass(frozen=True)
class LinkLabels:
    """What a version-2 value names: point id -> +1 / -1 for each prefix naming one chip of
    the index; ``unknown``: prefixes naming none; ``ambiguous``: prefixes naming several."""

    ids: Mapping[str, int]
    unknown: int = 0
    ambiguous: int = 0


def _payload(text: str) -> bytes:
    body = text.removeprefix(VERSION_PREFIX)
    if not _B64URL.fullmatch(body):
        raise FeedbackError("the labels in the link are not valid base64url; copy it again")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise FeedbackError(_DAMAGED) from None
    data, crc = raw[:-_CRC_BYTES], raw[-_CRC_BYTES:]
    if len(raw) <= _CRC_BYTES or zlib.crc32(data).to_bytes(_CRC_BYTES, "big") != crc:
        raise FeedbackError(_DAMAGED)
    return data


def decode_link(text: str, index: IndexIds) -> LinkLabels:
    """The labels of a version-2 value over ``index`` (see the module docstring). Raises
    ``FeedbackError`` for a damaged value or one marking a chip both ways."""
    if len(text) > MAX_LINK_CHARS:
        raise FeedbackError(f"the labels in the link are too long (over {MAX_LABELS} labels)")
    reader = _Reader(_payload(text))
    bits = reader.varint(8)
    if not 1 <= bits <= ID_BITS:
        raise FeedbackError(_DAMAGED)
    pos = reader.prefixes(bits, MAX_LABELS)
    neg = reader.prefixes(bits, MAX_LABELS - len(pos))
    if reader.at != len(reader.data):
        raise FeedbackError(_DAMAGED)
    both = set(pos) & set(neg)
    if both:  # the rule of label files and version 1: conflicting labels are refused
        raise FeedbackError(
            f"the link marks {len(both)} chip(s) both relevant and not relevant; mark them "
            "again on the page"
        )
    prefixes, values = pos + neg, [RELEVANT] * len(pos) + [NOT_RELEVANT] * len(neg)
    if not prefixes:
        return LinkLabels({})
    counts, rows = index.count_prefixes(prefixes, bits)
    found = {
        str(uuid.UUID(int=index.id_int(int(row)))): value
        for n, row, value in zip(counts.tolist(), rows.tolist(), values, strict=True)
        if n == 1
    }
    return LinkLabels(found, int(np.sum(counts == 0)), int(np.sum(counts > 1)))


@dataclasses.dataclass(frozen=True)
class SharedLabels:
    """The labels of a link, resolved to chip keys, and what was dropped: ``unknown`` labels
    name no chip of the index (deleted, or another index), ``ambiguous`` ones name several
    (the index grew since the link was made)."""

    labels: FeedbackLabels
    unknown: int = 0
    ambiguous: int = 0

    def note(self) -> str | None:
        """What was dropped and why, in words for the page (``None``: nothing)."""
        parts = []
        if self.unknown:
            chips = "chips are" if self.unknown > 1 else "chip is"
            parts.append(f"{self.unknown} whose {chips} no longer in the index")
        if self.ambiguous:
            them = "them" if self.ambiguous > 1 else "it"
            parts.append(
                f"{self.ambiguous} naming several chips (the index grew since the link was "
                f"made: mark {them} again)"
            )
        dropped = self.unknown + self.ambiguous
        if not dropped:
            return None
        labels = "labels" if dropped > 1 else "label"
        return f"{dropped} {labels} of the link dropped: {'; '.join(parts)}."


def read_link(store: VectorStore, text: str, index: IndexIds | None = None) -> SharedLabels:
    """The labels of a share-link value of either version, resolved through ``store``
    (``index``: its ids, read from the store when not given). ``FeedbackError`` for a damaged
    value (nothing of it is used then)."""
    if not text:
        return SharedLabels(FeedbackLabels())
    if not text.startswith(VERSION_PREFIX):
        resolved = resolve_ids(store, decode_labels(text))
        return SharedLabels(resolved.labels, unknown=len(resolved.missing))
    link = decode_link(text, index if index is not None else IndexIds.of(store))
    resolved = resolve_ids(store, link.ids)
    return SharedLabels(resolved.labels, link.unknown + len(resolved.missing), link.ambiguous)
