"""Embedded back end: one Qdrant Edge shard in a local folder (the default, offline).

Folder layout (``Settings.index_dir / collection``)::

    edge_config.json, wal/, segments/   Qdrant Edge's own shard files
    closp-store.json                    our metadata: model id, index parameters, schema version
                                        (written once, atomically: temp file + fsync + rename)
    closp-store.lock                    flock of the owning process (see ``lock.py``)

Writes go to Edge's write-ahead log when ``update`` returns; ``flush()`` persists segments.
Nothing builds the HNSW graph in the background: ``optimize()`` does, blocking; the ingest
CLI calls it whenever ``IndexParams.segment_chips`` chips wait (``optimize_if_due``) and at
the end of a run. Until then (and for points added later) searches scan
the unindexed segments exactly, so results stay correct, only slower.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from closp_core.errors import StoreDiskFullError, StoreError, StoreUnavailableError
from closp_core.store.base import RawPoint, VectorStore
from closp_core.store.lock import FolderLock
from closp_core.store.payload import (
    DATETIME_FIELDS,
    GEO_FIELDS,
    INDEXED_FIELDS,
    RAM_FIELDS,
    engine_box,
    engine_lon_lat,
    implies_labels_and_sensor,
    map_prefilter,
    rfc3339,
)
from closp_core.store.space import check_free, check_room, disk_full_as_ours
from closp_core.store.types import (
    DIM,
    LEGACY_FULL_SCAN_KB,
    CollectionInfo,
    IndexParams,
    SearchFilters,
)

log = logging.getLogger(__name__)
META_NAME = "closp-store.json"
# 2: points carry ``tile`` and ``tile_labels`` (payload.py); a schema 1 folder still opens
# and filters exactly, without them (slower)
SCHEMA_VERSION = 2
_FACET_LIMIT = 100_000


def _index_params(field: str, on_disk: bool) -> Any:
    """Payload index parameters of a field: in RAM (``RAM_FIELDS``, unless the collection keeps
    its vectors ``on_disk``) or read through mmap."""
    memory = None if field in RAM_FIELDS and not on_disk else qe.Memory.Cold
    if field in DATETIME_FIELDS:
        return qe.DatetimeIndexParams(memory=memory)
    if field in GEO_FIELDS:
        return qe.GeoIndexParams(memory=memory)
    return qe.KeywordIndexParams(memory=memory)


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_stored_model_id(folder: Path) -> str | None:
    """The model id recorded in an Edge folder, or ``None`` if there is no collection there.

    Reads only the metadata file: no lock is taken and nothing is created."""
    meta_path = Path(folder) / META_NAME
    if not meta_path.is_file():
        return None
    try:
        model_id = json.loads(meta_path.read_text(encoding="utf-8")).get("model_id")
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(f"{meta_path} is unreadable ({exc}); the index may be damaged") from None
    return None if model_id is None else str(model_id)


def _edge_config(params: IndexParams) -> qe.EdgeConfig:
    quant = (
        qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, always_ram=True)
        if params.int8
        else None
    )
    return qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(
            size=DIM,
            distance=qe.Distance.Cosine,
            memory=qe.Memory.Cold if params.on_disk else None,  # None: Edge's default, Cached
        ),
        hnsw_config=qe.HnswIndexConfig(
            m=params.m,
            ef_construct=params.ef_construct,
            full_scan_threshold=params.full_scan_kb,
            payload_m=params.payload_m or None,
        ),
        quantization_config=quant,
        optimizers=qe.EdgeOptimizersConfig(max_segment_size=params.segment_kb),
    )


def edge_filter(filters: SearchFilters, tiles: bool = True) -> qe.Filter | None:
    """Our filters -> an Edge ``Filter`` (AND of conditions), or None when empty.

    ``tiles``: narrow a box or polygon with ``map_prefilter`` (points must carry ``tile`` and
    ``tile_labels``, schema >= 2), which lets Qdrant start from a tight posting list; when its
    ``tile_labels`` keys imply the labels and sensor, those conditions are left out."""
    must: list[Any] = []
    narrow = map_prefilter(filters) if tiles else None
    implied = implies_labels_and_sensor(narrow)
    if filters.labels and not implied:
        must.append(qe.FieldCondition("labels", match=qe.MatchAny(list(filters.labels))))
    for name in ("source", "scene_id"):
        if getattr(filters, name) is not None:
            must.append(qe.FieldCondition(name, match=qe.MatchValue(getattr(filters, name))))
    if filters.sensor is not None and not implied:
        must.append(qe.FieldCondition("sensor", match=qe.MatchValue(filters.sensor.value)))
    if filters.time is not None:
        start, end = filters.time.start, filters.time.end
        rng = qe.RangeDateTime(
            gte=None if start is None else rfc3339(start), lte=None if end is None else rfc3339(end)
        )
        must.append(qe.FieldCondition("acquired", range=rng))
    if filters.bbox is not None:
        west, south, east, north = engine_box(filters.bbox)
        geo_box = qe.GeoBoundingBox(
            top_left=qe.GeoPoint(lon=west, lat=north),
            bottom_right=qe.GeoPoint(lon=east, lat=south),
        )
        must.append(qe.FieldCondition("center", geo_bounding_box=geo_box))
    if filters.polygon is not None:
        ring = [qe.GeoPoint(*engine_lon_lat(x, y)) for x, y in filters.polygon.exterior]
        must.append(qe.FieldCondition("center", geo_polygon=qe.GeoPolygon(exterior=ring)))
    if narrow is not None:
        must.append(qe.FieldCondition(narrow[0], match=qe.MatchAny(narrow[1])))
    return qe.Filter(must=must) if must else None


def _raw(point: Any, score: float | None = None) -> RawPoint:
    vector = point.vector
    return (dict(point.payload or {}), None if vector is None else list(vector), score)


class EdgeStore(VectorStore):
    """A CLOSP collection in a Qdrant Edge shard folder, owned by this process while open."""

    backend = "edge"

    def __init__(
        self,
        folder: Path,
        model_id: str,
        params: IndexParams | None = None,
        *,
        min_free_bytes: int = 0,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.min_free_bytes = min_free_bytes  # to start adding imagery (``check_writable``)
        self._lock = FolderLock(self.folder)
        self._lock.acquire()
        try:
            check_room(self.folder, 0, "opening it (its write-ahead log is mapped)")
            self._shard, stored, actual = self._open(model_id, params or IndexParams())
        except BaseException:
            self._lock.release()
            raise
        super().__init__(model_id, stored, actual)
        self._identity = _folder_identity(self.folder)

    def _open(
        self, model_id: str, params: IndexParams
    ) -> tuple[qe.EdgeShard, str | None, IndexParams]:
        meta_path = self.folder / META_NAME
        if not (self.folder / "edge_config.json").exists():
            shard = qe.EdgeShard.create(str(self.folder), _edge_config(params))
        else:
            shard = qe.EdgeShard.load(str(self.folder))
        self.tiled = True
        if meta_path.exists():
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("schema") not in (1, SCHEMA_VERSION):
                shard.close()
                raise StoreError(
                    f"{meta_path}: store schema {meta.get('schema')} is not 1 or "
                    f"{SCHEMA_VERSION}; re-ingest into a new folder"
                )
            self.tiled = meta["schema"] >= 2
            # the graph's shape is fixed at creation; the search beam is the opener's choice
            stored = IndexParams(**{"full_scan_kb": LEGACY_FULL_SCAN_KB, **meta.get("params", {})})
            return shard, meta.get("model_id"), dataclasses.replace(stored, hnsw_ef=params.hnsw_ef)
        if shard.info().points_count:  # points but no metadata: not ours / unknown model
            return shard, None, params
        meta = {
            "schema": SCHEMA_VERSION,
            "model_id": model_id,
            "params": dataclasses.asdict(params),
        }
        existing = shard.info().payload_schema
        for name in INDEXED_FIELDS:
            if name not in existing:
                shard.update(
                    qe.UpdateOperation.create_field_index(name, _index_params(name, params.on_disk))
                )
        shard.flush()
        _write_json_atomic(meta_path, meta)
        return shard, model_id, params

    # ----- hooks ----------------------------------------------------------------------------
    def _upsert_batch(
        self, ids: list[str], vectors: np.ndarray, payloads: list[dict[str, Any]]
    ) -> None:
        points = [
            qe.Point(uuid.UUID(i), vec, payload)
            for i, vec, payload in zip(ids, vectors.tolist(), payloads, strict=True)
        ]
        size = 2 * len(ids) * (vectors.shape[1] * 4 + 4096)  # log + segment, generously
        check_room(self.folder, size, f"adding {len(ids)} chips")
        with disk_full_as_ours(self.folder, f"adding {len(ids)} chips"):
            self._shard.update(qe.UpdateOperation.upsert_points(points))

    def _search_params(self, exact: bool) -> qe.SearchParams:
        quant = qe.QuantizationSearchParams(rescore=True, oversampling=2.0)
        return qe.SearchParams(
            hnsw_ef=self.params.hnsw_ef,
            exact=exact,
            quantization=quant if self.params.int8 else None,
        )

    def _search(
        self,
        vector: np.ndarray,
        limit: int,
        filters: SearchFilters,
        exact: bool,
        with_vectors: bool = False,
    ) -> list[RawPoint]:
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(vector.tolist()),
            filter=edge_filter(filters, self.tiled),
            with_payload=True,
            with_vector=with_vectors,
            params=self._search_params(exact),
        )
        return [_raw(p, p.score) for p in self._shard.query(request)]

    def _retrieve(self, ids: list[str], with_vectors: bool) -> list[RawPoint]:
        points = self._shard.retrieve(
            [uuid.UUID(i) for i in ids], with_payload=True, with_vector=with_vectors
        )
        return [_raw(p) for p in points]

    def _scroll(
        self, filters: SearchFilters, limit: int, cursor: str | None
    ) -> tuple[list[RawPoint], str | None]:
        request = qe.ScrollRequest(
            offset=None if cursor is None else uuid.UUID(cursor),
            limit=limit,
            filter=edge_filter(filters, self.tiled),
            with_payload=True,
            with_vector=False,
        )
        points, nxt = self._shard.scroll(request)
        return [_raw(p) for p in points], None if nxt is None else str(nxt)

    def _scroll_ids(self, limit: int, cursor: str | None) -> tuple[list[bytes], str | None]:
        offset = None if cursor is None else uuid.UUID(cursor)
        request = qe.ScrollRequest(offset=offset, limit=limit, with_payload=False)
        points, nxt = self._shard.scroll(request)
        return [uuid.UUID(str(p.id)).bytes for p in points], None if nxt is None else str(nxt)

    def _count(self, filters: SearchFilters) -> int:
        return int(
            self._shard.count(qe.CountRequest(exact=True, filter=edge_filter(filters, self.tiled)))
        )

    def _facet(self, field: str, filters: SearchFilters) -> dict[str, int]:
        request = qe.FacetRequest(
            field, limit=_FACET_LIMIT, exact=True, filter=edge_filter(filters, self.tiled)
        )
        return {str(h.value): int(h.count) for h in self._shard.facet(request)}

    def _delete(self, filters: SearchFilters) -> None:
        flt = edge_filter(filters, self.tiled)
        if flt is not None:
            self._shard.update(qe.UpdateOperation.delete_points_by_filter(flt))

    def _info(self) -> CollectionInfo:
        info = self._shard.info()
        disk = self._disk_bytes()
        return CollectionInfo(
            points=int(info.points_count),
            indexed_vectors=int(info.indexed_vectors_count),
            model_id=self.stored_model_id,
            backend=self.backend,
            location=str(self.folder),
            disk_bytes=disk,
            params=self.params,
        )

    def _disk_bytes(self) -> int:
        return sum(p.stat().st_blocks * 512 for p in self.folder.rglob("*") if p.is_file())

    def check_available(self) -> None:
        """``StoreUnavailableError`` when the folder is missing or another folder stands in its
        place; ``StoreError`` when it (or its disk) has become read-only and this is a write."""
        self._check_open()
        identity = _folder_identity(self.folder)
        if identity is None:
            raise StoreUnavailableError(
                f"the index folder {self.folder} has gone (deleted, moved or its disk "
                "unmounted); put it back, or restart the app to start a new index there"
            )
        if identity != self._identity:
            raise StoreUnavailableError(
                f"the index folder {self.folder} was replaced by another folder since it was "
                "opened; open the store again",
                replaced=True,
            )

    @property
    def writable(self) -> bool:
        """Whether the folder takes writes now (a read-only disk or mount says no)."""
        return os.access(self.folder, os.W_OK)

    def check_writable(self) -> None:
        """As ``VectorStore.check_writable``, ``StoreError`` for a read-only folder, and
        ``StoreDiskFullError`` below ``min_free_bytes`` free (``Settings.min_free_mb``)."""
        super().check_writable()
        if not self.writable:
            raise StoreError(
                f"the index folder {self.folder} is read-only (permissions or a read-only disk): "
                "searching works, adding chips does not; make it writable and try again"
            )
        check_free(self.folder, self.min_free_bytes, "adding imagery (setting min_free_mb)")
        check_room(self.folder, 0, "adding imagery")

    def flush(self) -> None:
        """Persist every applied write to the segment files."""
        self._check_open()
        with disk_full_as_ours(self.folder, "saving the segments"):
            self._shard.flush()

    def optimize(self) -> bool:
        """Build the HNSW index and merge segments (blocking: ~minutes per 100k on 2 cores)."""
        self._check_open()
        check_room(self.folder, self._disk_bytes(), "building the search graph")
        with disk_full_as_ours(self.folder, "building the search graph"):
            return bool(self._shard.optimize())

    def optimize_if_due(self) -> bool:
        """``optimize()`` once ``params.segment_chips`` chips or more wait for the graph: a
        long ingest then builds one bounded segment at a time (see ``IndexParams``)."""
        self._check_open()
        info = self._shard.info()
        if info.points_count - info.indexed_vectors_count < self.params.segment_chips:
            return False
        self.flush()  # lets the write-ahead log's pages go before the build
        return self.optimize()

    def _close(self) -> None:
        """Flush and close; on a full disk the flush is left to the next open (the
        write-ahead log holds every acknowledged write) and the close goes on."""
        try:
            try:
                with disk_full_as_ours(self.folder, "saving the segments on close"):
                    self._shard.flush()
            except StoreDiskFullError as err:
                log.warning("%s", err)
            self._shard.close()
        finally:
            self._lock.release()


def _folder_identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of ``folder``, or ``None`` when it is not a folder any more."""
    try:
        status = folder.stat()
    except OSError:
        return None
    return (status.st_dev, status.st_ino) if stat.S_ISDIR(status.st_mode) else None
