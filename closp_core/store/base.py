"""The store facade: input checks, model-id guard and type conversion shared by both back ends.

A back end implements the ``_``-prefixed hooks with plain Python values (payload dicts, float
lists, string ids); this class turns them into our records and validates everything coming in,
so no Qdrant type or exception escapes for bad input.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, ClassVar

import numpy as np

from closp_core.errors import ModelMismatchError, StoreClosedError, StoreInputError
from closp_core.store.payload import COUNT_FIELD_PAYLOAD, from_payload, point_id, to_payload
from closp_core.store.types import (
    COUNT_FIELDS,
    MAX_LIMIT,
    ChipRecord,
    CollectionInfo,
    Hit,
    IndexParams,
    Page,
    SearchFilters,
    check_limit,
    check_vector,
)

# (payload, vector or None, score or None) as a back end returns it
RawPoint = tuple[dict[str, Any], list[float] | None, float | None]
DEFAULT_BATCH = 256


def _check_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return str(uuid.UUID(str(cursor)))
    except ValueError:
        raise StoreInputError(
            f"cursor {cursor!r} is not valid; pass the next_cursor of the previous page"
        ) from None


class VectorStore(abc.ABC):
    """One CLOSP collection: 384-d cosine vectors with chip payloads.

    Open it with ``closp_core.store.open_store``. Every method raises ``StoreInputError`` for
    bad input and ``ModelMismatchError`` when ``model_id`` is not the model the collection was
    built with (writing and searching only; browsing, counts and info still work).
    """

    backend: ClassVar[str]
    # whether points carry ``tile`` and ``tile_labels`` for box and polygon filters (False for a
    # collection written before schema 2: its filters give the same hits, only slower)
    tiled: bool = True

    def __init__(self, model_id: str, stored_model_id: str | None, params: IndexParams) -> None:
        self.model_id = model_id
        self.stored_model_id = stored_model_id
        self.params = params
        self._closed = False

    # ----- hooks each back end implements -------------------------------------------------
    @abc.abstractmethod
    def _upsert_batch(
        self, ids: list[str], vectors: np.ndarray, payloads: list[dict[str, Any]]
    ) -> None: ...

    @abc.abstractmethod
    def _search(
        self,
        vector: np.ndarray,
        limit: int,
        filters: SearchFilters,
        exact: bool,
        with_vectors: bool = False,
    ) -> list[RawPoint]: ...

    @abc.abstractmethod
    def _retrieve(self, ids: list[str], with_vectors: bool) -> list[RawPoint]: ...

    @abc.abstractmethod
    def _scroll(
        self, filters: SearchFilters, limit: int, cursor: str | None
    ) -> tuple[list[RawPoint], str | None]: ...

    @abc.abstractmethod
    def _scroll_ids(self, limit: int, cursor: str | None) -> tuple[list[bytes], str | None]:
        """One page of point ids (16 bytes each, no payload) and the next cursor."""

    @abc.abstractmethod
    def _count(self, filters: SearchFilters) -> int: ...

    @abc.abstractmethod
    def _facet(self, field: str, filters: SearchFilters) -> dict[str, int]: ...

    @abc.abstractmethod
    def _delete(self, filters: SearchFilters) -> None: ...

    @abc.abstractmethod
    def _info(self) -> CollectionInfo: ...

    @abc.abstractmethod
    def flush(self) -> None:
        """Make every acknowledged write durable on disk (no-op for a server)."""

    @abc.abstractmethod
    def optimize(self) -> bool:
        """Build the HNSW index / merge segments; blocking. True if anything changed."""

    def optimize_if_due(self) -> bool:
        """``optimize()`` when enough new chips wait for it, between the batches of a long
        ingest; here never (a server builds in the background). True if it ran."""
        return False

    @abc.abstractmethod
    def _close(self) -> None: ...

    # ----- guards ---------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed; open it again with open_store()")

    def check_writable(self) -> None:
        """``ModelMismatchError`` now, rather than at the first write, if this model may not
        write here (the collection holds vectors of another model); ``StoreError`` if the index
        cannot take writes (an embedded folder gone or read-only)."""
        self._check_model("write")
        self.check_available()

    @property
    def writable(self) -> bool:
        """Whether the index takes writes now (a server reports write problems per call)."""
        return True

    def check_available(self) -> None:
        """``StoreUnavailableError`` when the index has gone since it was opened (the embedded
        folder deleted, moved or replaced). A cheap check: call it before using a long-held
        store. A server back end reports its problems on each call instead."""
        return None

    def _check_model(self, action: str) -> None:
        self._check_open()
        if self.stored_model_id != self.model_id:
            stored = self.stored_model_id or "an unknown model"
            raise ModelMismatchError(
                f"cannot {action}: this collection holds vectors of {stored!r}, not "
                f"{self.model_id!r}; vectors of two models must never mix. Use model "
                f"{stored!r}, or point the store at another collection/folder (CLOSP_COLLECTION, "
                "CLOSP_DATA_DIR), or delete the index and re-ingest"
            )

    # ----- writing --------------------------------------------------------------------------
    def upsert(self, records: Iterable[ChipRecord], *, batch_size: int = DEFAULT_BATCH) -> int:
        """Insert or replace chips (id = uuid5 of the key) in batches; return how many.

        Each batch is applied atomically in the order given. Call ``flush()`` to make them
        durable (Edge); re-running the same upserts never duplicates a chip.
        """
        self._check_model("write")
        self.check_available()  # never write into a folder that is no longer the index
        check_limit(batch_size, "batch_size")
        done = 0
        for batch in _batches(records, batch_size):
            for rec in batch:
                if not isinstance(rec, ChipRecord):
                    raise StoreInputError(f"upsert takes ChipRecord objects, got {type(rec)}")
                if rec.vector is None:
                    raise StoreInputError(f"chip {rec.key!r} has no vector to store")
            vectors = np.stack([rec.vector for rec in batch if rec.vector is not None])
            ids = [point_id(rec.key) for rec in batch]
            self._upsert_batch(ids, vectors, [to_payload(rec) for rec in batch])
            done += len(batch)
        return done

    def delete_source(self, source: str) -> int:
        """Delete every chip of one source dataset; return how many were deleted."""
        self._check_open()
        if not isinstance(source, str) or not source:
            raise StoreInputError(f"source must be a non-empty string, got {source!r}")
        filters = SearchFilters(source=source)
        n = self._count(filters)
        if n:
            self._delete(filters)
        return n

    # ----- reading --------------------------------------------------------------------------
    def search(
        self,
        vector: Any,
        *,
        limit: int = 10,
        filters: SearchFilters | None = None,
        exact: bool = False,
        with_vectors: bool = False,
    ) -> list[Hit]:
        """Nearest chips to ``vector`` (``(384,)`` float, a CLOSP embedding), best first.

        ``exact=True`` scans every matching vector (slow, for verification); otherwise the
        HNSW index is used where built and unindexed segments are scanned exactly.
        ``with_vectors=True`` returns each hit's stored vector in ``hit.record.vector``
        (relevance feedback re-ranks candidates by their vectors).
        """
        self._check_model("search")
        query = check_vector(vector, "query vector")
        limit = check_limit(limit)
        raw = self._search(query, limit, _filters(filters), bool(exact), bool(with_vectors))
        return [Hit(from_payload(p, v), float(s or 0.0)) for p, v, s in raw]

    def get(self, keys: Sequence[str], *, with_vectors: bool = False) -> list[ChipRecord]:
        """Chips by key, in the order asked; unknown keys are skipped."""
        keys = _check_keys(keys)
        return self.get_by_ids([point_id(k) for k in keys], with_vectors=with_vectors)

    def get_by_ids(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[ChipRecord]:
        """Chips by point id (uuid string), in the order asked; unknown ids are skipped."""
        self._check_open()
        ids = [str(_check_cursor(i)) for i in _check_keys(ids, "ids")]
        if not ids:
            return []
        raw = self._retrieve(ids, with_vectors)
        by_id = {point_id(p["key"]): from_payload(p, v) for p, v, _ in raw}
        return [by_id[i] for i in ids if i in by_id]

    def browse(
        self, filters: SearchFilters | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> Page:
        """One page of chips matching ``filters``, in id order; pass ``next_cursor`` on."""
        self._check_open()
        raw, nxt = self._scroll(_filters(filters), check_limit(limit), _check_cursor(cursor))
        return Page(tuple(from_payload(p, v) for p, v, _ in raw), nxt)

    def iter_records(self, filters: SearchFilters | None = None) -> Iterator[ChipRecord]:
        """Every chip matching ``filters`` (pages through ``browse``)."""
        cursor: str | None = None
        while True:
            page = self.browse(filters, limit=1000, cursor=cursor)
            yield from page.records
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def point_ids(self) -> np.ndarray:
        """``(N,) 'S16'``: the 16 bytes of every point id, sorted (ids only: ~0.1 s for 20,000
        chips where ``iter_records`` takes ~7 s; share links resolve id prefixes with it)."""
        self._check_open()
        pages: list[bytes] = []
        cursor: str | None = None
        while True:
            ids, cursor = self._scroll_ids(MAX_LIMIT, cursor)
            pages.extend(ids)
            if cursor is None:
                return np.sort(np.array(pages, dtype="S16"))

    def count(self, filters: SearchFilters | None = None) -> int:
        """Exact number of chips matching ``filters``."""
        self._check_open()
        return self._count(_filters(filters))

    def counts_by(self, field: str, filters: SearchFilters | None = None) -> dict[str, int]:
        """Chips per ``"label"``, ``"sensor"``, ``"source"`` or ``"month"`` (``"YYYY-MM"``).

        A chip with several labels counts once per label. Sorted by value; values with no
        chip left (Edge reports them after deletes) are dropped.
        """
        self._check_open()
        if field not in COUNT_FIELDS:
            raise StoreInputError(f"cannot count by {field!r}; use one of {list(COUNT_FIELDS)}")
        counts = self._facet(COUNT_FIELD_PAYLOAD[field], _filters(filters))
        return {value: n for value, n in sorted(counts.items()) if n > 0}

    def info(self) -> CollectionInfo:
        """Size, model id, back end, location and disk use of the collection."""
        self._check_open()
        return self._info()

    # ----- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        """Flush and release the collection (and the folder lock, for Edge). Idempotent."""
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _filters(filters: SearchFilters | None) -> SearchFilters:
    if filters is None:
        return SearchFilters()
    if not isinstance(filters, SearchFilters):
        raise StoreInputError(f"filters must be a SearchFilters, got {type(filters).__name__}")
    return filters


def _check_keys(keys: Sequence[str], what: str = "keys") -> list[str]:
    if isinstance(keys, str):
        raise StoreInputError(f"{what} must be a list, not one string")
    keys = list(keys)
    if len(keys) > MAX_LIMIT:
        raise StoreInputError(f"at most {MAX_LIMIT} {what} at once, got {len(keys)}")
    bad = [k for k in keys if not isinstance(k, str) or not k]
    if bad:
        raise StoreInputError(f"{what} must be non-empty strings, got {bad[:3]!r}")
    return keys


def _batches(records: Iterable[ChipRecord], size: int) -> Iterator[list[ChipRecord]]:
    batch: list[ChipRecord] = []
    for rec in records:
        batch.append(rec)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
