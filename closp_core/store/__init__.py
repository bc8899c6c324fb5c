"""Vector store: CLOSP embeddings with chip payloads, in Qdrant Edge (embedded) or a Qdrant server.

``open_store(settings, model_id)`` picks exactly one back end: a Qdrant server/cluster when
``settings.store_url`` (``CLOSP_STORE_URL``) is set, else a Qdrant Edge shard folder at
``settings.index_dir / settings.collection``. Our types in and out; see ``types.py``.

Several processes: an embedded index has exactly one owning process at a time (the app or
``python -m ingest``). A second opener gets ``StoreLockedError`` naming the folder and the PID
holding it; nothing waits and nothing is written. To search while ingesting, or to share an
index between machines or users, run a Qdrant server and set ``CLOSP_STORE_URL``.

Durability (Edge): a batch is in the write-ahead log once ``upsert`` returns, so it survives a
crash of the process (tested with SIGKILL); ``flush()`` (also done by ``close()``) writes the
segments. Re-running the same upserts never duplicates a chip (id = uuid5 of its key).

Index building (Edge): nothing runs in the background. ``optimize()`` builds the HNSW graph,
blocking the calling process (it holds the GIL); ingest calls it whenever
``IndexParams.segment_chips`` new chips wait (one bounded segment at a time) and at the end of
a run.
Unindexed points are always searched exactly, so results are correct before and after.
"""

from __future__ import annotations

from closp_core.errors import (
    ConfigError,
    ModelMismatchError,
    StoreClosedError,
    StoreDiskFullError,
    StoreError,
    StoreInputError,
    StoreLockedError,
    StoreUnavailableError,
)
from closp_core.settings import Settings
from closp_core.store.base import VectorStore
from closp_core.store.payload import point_id
from closp_core.store.types import (
    DIM,
    MAX_LIMIT,
    BBox,
    ChipRecord,
    CollectionInfo,
    GeoPolygon,
    Hit,
    IndexParams,
    Page,
    SearchFilters,
    TimeRange,
)

__all__ = [
    "DIM",
    "MAX_LIMIT",
    "BBox",
    "ChipRecord",
    "CollectionInfo",
    "GeoPolygon",
    "Hit",
    "IndexParams",
    "ModelMismatchError",
    "Page",
    "SearchFilters",
    "StoreClosedError",
    "StoreDiskFullError",
    "StoreError",
    "StoreInputError",
    "StoreLockedError",
    "StoreUnavailableError",
    "TimeRange",
    "VectorStore",
    "index_params",
    "open_store",
    "point_id",
    "stored_model_id",
]


def index_params(settings: Settings) -> IndexParams:
    """The ``IndexParams`` of the ``store_*`` settings (``ConfigError`` if invalid)."""
    try:
        return IndexParams(
            m=settings.store_hnsw_m,
            ef_construct=settings.store_hnsw_ef_construct,
            payload_m=settings.store_hnsw_payload_m,
            hnsw_ef=settings.store_hnsw_ef,
            full_scan_kb=settings.store_hnsw_full_scan_kb,
            int8=settings.store_int8,
            on_disk=settings.store_on_disk,
            segment_chips=settings.store_segment_chips,
            shards=settings.store_shards,
            replication=settings.store_replication,
            write_consistency=settings.store_write_consistency,
        )
    except StoreInputError as exc:
        raise ConfigError(f"{exc} (settings CLOSP_STORE_*)") from None


def stored_model_id(settings: Settings) -> str | None:
    """The model id of the configured collection, or ``None`` when there is none yet.

    Nothing is created or locked, so this is safe while another process owns the index."""
    if settings.store_url:
        from closp_core.store.remote import read_stored_model_id as read_remote

        return read_remote(settings.store_url, settings.store_api_key, settings.collection)
    from closp_core.store.edge import read_stored_model_id as read_edge

    return read_edge(settings.index_dir / settings.collection)


def open_store(settings: Settings, model_id: str) -> VectorStore:
    """Open (or create) the collection for vectors of ``model_id``.

    Embedded Edge: this process owns the folder until ``close()``; a second opener gets
    ``StoreLockedError``. Server: any number of processes may open it.
    """
    if not isinstance(model_id, str) or not model_id.strip():
        raise ConfigError(f"model_id must be a non-empty string, got {model_id!r}")
    params = index_params(settings)
    if settings.store_url:
        from closp_core.store.remote import RemoteStore

        return RemoteStore(
            model_id,
            url=settings.store_url,
            api_key=settings.store_api_key,
            collection=settings.collection,
            params=params,
        )
    from closp_core.store.edge import EdgeStore

    return EdgeStore(
        settings.index_dir / settings.collection,
        model_id,
        params,
        min_free_bytes=settings.min_free_mb * 2**20,
    )
