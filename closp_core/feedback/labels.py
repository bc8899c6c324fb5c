"""The user's relevance labels (+1 relevant / -1 not relevant per chip key) and their URL form.

``FeedbackLabels`` is immutable: ``with_label``, ``without`` and ``toggle`` return new objects,
so it can live in a frozen search state and compare by value.

First URL form (``encode_labels`` / ``decode_labels``; still read, while the app now writes the
shorter ``closp_core.feedback.sharelink`` form): the labels travel as the chips' *point ids*
(``uuid5`` of the key, 16 bytes), not as keys (keys are up to ~60 characters). The value is
``<relevant>.<not relevant>``: each part the base64url encoding (no padding) of the
concatenated 16-byte ids, sorted. That is 21⅓ characters per label (``"."`` is unreserved in
URLs, base64url needs no escaping): 50 labels take 1,069 characters, 200 labels 4,269
(measured in ``tests/feedback/test_labels.py``). Browsers accept far longer URLs (Chrome 2 MB,
Firefox and Safari > 64 k); the classic 2,083-character limit of old Internet Explorer and
of some chat/mail clients holds up to ~90 labels. Decoding gives point ids; ``resolve_ids``
maps them back to keys through the store (``VectorStore.get_by_ids``), reporting ids that
are no longer in the index instead of failing.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from closp_core.errors import FeedbackError
from closp_core.store.payload import point_id

if TYPE_CHECKING:
    from closp_core.store import VectorStore

RELEVANT = 1
NOT_RELEVANT = -1
MAX_LABELS = 1_000  # labels per session (the classifier and the URL stay small)
_ID_BYTES = 16
_ID_CHARS = 22  # base64url of 16 bytes, unpadded (a whole part is shorter: 21.33 per id)
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _check_value(value: int, key: str) -> int:
    if isinstance(value, bool) or value not in (RELEVANT, NOT_RELEVANT):
        raise FeedbackError(
            f"label of chip {key!r} must be +1 (relevant) or -1 (not relevant), got {value!r}"
        )
    return int(value)


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise FeedbackError(f"a labelled chip key must be a non-empty string, got {key!r}")
    return key


@dataclasses.dataclass(frozen=True)
class FeedbackLabels:
    """Chip key -> +1 / -1, kept as a tuple of ``(key, value)`` sorted by key (hashable).

    Build with ``FeedbackLabels.of({key: +1, ...})`` or ``FeedbackLabels()`` (empty).
    """

    items: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        pairs = {}
        for key, value in self.items:
            pairs[_check_key(key)] = _check_value(value, key)
        if len(pairs) != len(self.items):
            raise FeedbackError("a chip is labelled twice; give each key once")
        if len(pairs) > MAX_LABELS:
            raise FeedbackError(
                f"at most {MAX_LABELS} labels, got {len(pairs)}; remove some (or export them "
                "and start a new session)"
            )
        object.__setattr__(self, "items", tuple(sorted(pairs.items())))

    @classmethod
    def of(cls, mapping: Mapping[str, int] | Iterable[tuple[str, int]]) -> FeedbackLabels:
        """From ``{key: +1 | -1}`` or ``(key, value)`` pairs."""
        pairs = mapping.items() if isinstance(mapping, Mapping) else mapping
        return cls(tuple(pairs))

    # ----- reading --------------------------------------------------------------------------
    @functools.cached_property
    def _lookup(self) -> dict[str, int]:
        return dict(self.items)

    def get(self, key: str) -> int | None:
        """+1, -1, or ``None`` when the chip is not labelled."""
        return self._lookup.get(key)

    def as_dict(self) -> dict[str, int]:
        """A new ``{key: +1 | -1}`` dict."""
        return dict(self.items)

    @property
    def positive(self) -> tuple[str, ...]:
        """Keys labelled relevant, sorted."""
        return tuple(k for k, v in self.items if v == RELEVANT)

    @property
    def negative(self) -> tuple[str, ...]:
        """Keys labelled not relevant, sorted."""
        return tuple(k for k, v in self.items if v == NOT_RELEVANT)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, key: object) -> bool:
        return key in self._lookup

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return iter(self.items)

    # ----- changing (new objects) -----------------------------------------------------------
    def with_label(self, key: str, value: int) -> FeedbackLabels:
        """These labels with ``key`` set to ``value`` (+1 / -1), replacing an earlier label."""
        pairs = self.as_dict()
        pairs[_check_key(key)] = _check_value(value, key)
        return FeedbackLabels.of(pairs)

    def without(self, key: str) -> FeedbackLabels:
        """These labels with ``key`` unlabelled (no error when it was not labelled)."""
        return FeedbackLabels(tuple((k, v) for k, v in self.items if k != key))

    def toggle(self, key: str, value: int) -> FeedbackLabels:
        """What a 👍/👎 button does: the same value again removes the label, else sets it."""
        return self.without(key) if self.get(key) == value else self.with_label(key, value)

    def merged(self, other: FeedbackLabels) -> FeedbackLabels:
        """Both label sets; ``other`` wins where both label a chip (e.g. an imported file)."""
        return FeedbackLabels.of({**self.as_dict(), **other.as_dict()})


# ----- URL form -------------------------------------------------------------------------------
def _b64(ids: Sequence[str]) -> str:
    raw = b"".join(uuid.UUID(i).bytes for i in sorted(ids))
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def encode_labels(labels: FeedbackLabels) -> str:
    """The URL value of ``labels``: ``"<relevant ids>.<not relevant ids>"`` (see module doc).

    Empty labels give ``""`` (leave the parameter out)."""
    if not labels:
        return ""
    pos = [point_id(k) for k in labels.positive]
    neg = [point_id(k) for k in labels.negative]
    return f"{_b64(pos)}.{_b64(neg)}"


def _unb64(part: str, what: str) -> list[str]:
    if not part:
        return []
    if not _B64URL.fullmatch(part):
        raise FeedbackError(f"the {what} labels in the link are not valid base64url")
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise FeedbackError(f"the {what} labels in the link are not valid base64url") from None
    if len(raw) % _ID_BYTES:
        raise FeedbackError(
            f"the {what} labels in the link are cut short ({len(raw)} bytes, not a multiple "
            f"of {_ID_BYTES}); copy the whole link again"
        )
    return [str(uuid.UUID(bytes=raw[i : i + _ID_BYTES])) for i in range(0, len(raw), _ID_BYTES)]


def decode_labels(text: str) -> dict[str, int]:
    """Point id -> +1 / -1 from a URL value of ``encode_labels``.

    Raises ``FeedbackError`` for a malformed value, or one that marks a chip both relevant and
    not relevant (the UI then drops the labels and says so).
    """
    if not isinstance(text, str) or not text:
        return {}
    if len(text) > (MAX_LABELS + 2) * _ID_CHARS:
        raise FeedbackError(f"the labels in the link are too long (over {MAX_LABELS} labels)")
    pos_text, sep, neg_text = text.partition(".")
    if not sep or "." in neg_text:
        raise FeedbackError("the labels in the link are malformed (expected 'relevant.other')")
    negative, positive = _unb64(neg_text, "not relevant"), _unb64(pos_text, "relevant")
    both = set(negative) & set(positive)
    if both:  # the same rule as label files: conflicting labels are refused, never guessed
        raise FeedbackError(
            f"the link marks {len(both)} chip(s) both relevant and not relevant; mark them "
            "again on the page"
        )
    return {i: NOT_RELEVANT for i in negative} | {i: RELEVANT for i in positive}


@dataclasses.dataclass(frozen=True)
class ResolvedLabels:
    """Labels read back from a link or a file: those found in the index and the rest.

    ``missing``: point ids (from a link) or chip keys (from a file) that are not in the index
    (re-ingested under other keys, deleted, or another index): say how many to the user."""

    labels: FeedbackLabels
    missing: tuple[str, ...] = ()
    repeated: int = 0  # labels given again with the same value (kept once; label files)


def resolve_ids(store: VectorStore, ids: Mapping[str, int]) -> ResolvedLabels:
    """Point id -> label (``decode_labels``' output) to key -> label, via the store."""
    if len(ids) > MAX_LABELS:
        raise FeedbackError(f"at most {MAX_LABELS} labels, got {len(ids)}")
    found = store.get_by_ids(list(ids)) if ids else []
    by_id = {point_id(r.key): r.key for r in found}
    labels = FeedbackLabels.of({by_id[i]: v for i, v in ids.items() if i in by_id})
    return ResolvedLabels(labels, tuple(sorted(i for i in ids if i not in by_id)))
