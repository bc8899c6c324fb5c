"""Server back end: ``qdrant-client`` talking to a Qdrant server or cluster (``url=``).

The same class runs on ``qdrant-client``'s in-process modes, ``":memory:"`` (tests) and
``path=`` (a pure-Python local folder, used by the benchmark for comparison only: it is slow).
The model id and index parameters are stored in the collection's metadata
(``closp_model_id``, ``closp_params``, ``closp_schema``). Writes wait for the server
(``wait=True``), so an acknowledged write is durable per the server's own WAL; many processes
may read and write a server collection at once.
"""

from __future__ import annotations

import dataclasses
import uuid
import warnings
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from closp_core.errors import StoreError
from closp_core.store.base import RawPoint, VectorStore
from closp_core.store.payload import (
    DATETIME_FIELDS,
    GEO_FIELDS,
    INDEXED_FIELDS,
    RAM_FIELDS,
    engine_box,
    engine_lon_lat,
    implies_labels_and_sensor,
    map_prefilter,
)
from closp_core.store.types import (
    DIM,
    LEGACY_FULL_SCAN_KB,
    CollectionInfo,
    IndexParams,
    SearchFilters,
)

# 2: points carry ``tile`` and ``tile_labels`` (payload.py); a schema 1 collection still
# opens and filters exactly, without them (slower)
SCHEMA_VERSION = 2
_FACET_LIMIT = 100_000


def _index_params(field: str, vectors_on_disk: bool) -> qm.PayloadSchemaParams:
    """Payload index parameters of a field: in RAM (``RAM_FIELDS``, unless the collection keeps
    its vectors on disk) or on disk."""
    on_disk = None if field in RAM_FIELDS and not vectors_on_disk else True
    if field in DATETIME_FIELDS:
        return qm.DatetimeIndexParams(type=qm.DatetimeIndexType.DATETIME, on_disk=on_disk)
    if field in GEO_FIELDS:
        return qm.GeoIndexParams(type=qm.GeoIndexType.GEO, on_disk=on_disk)
    return qm.KeywordIndexParams(type=qm.KeywordIndexType.KEYWORD, on_disk=on_disk)


def remote_filter(filters: SearchFilters, tiles: bool = True) -> qm.Filter | None:
    """Our filters -> a qdrant-client ``Filter`` (AND of conditions), or None when empty.

    ``tiles``: narrow a box or polygon with ``map_prefilter`` (as ``edge_filter``, which also
    leaves out the labels and sensor conditions its ``tile_labels`` keys imply)."""
    must: list[qm.Condition] = []
    narrow = map_prefilter(filters) if tiles else None
    implied = implies_labels_and_sensor(narrow)
    if filters.labels and not implied:
        must.append(qm.FieldCondition(key="labels", match=qm.MatchAny(any=list(filters.labels))))
    for name in ("source", "scene_id"):
        value = getattr(filters, name)
        if value is not None:
            must.append(qm.FieldCondition(key=name, match=qm.MatchValue(value=value)))
    if filters.sensor is not None and not implied:
        match = qm.MatchValue(value=filters.sensor.value)
        must.append(qm.FieldCondition(key="sensor", match=match))
    if filters.time is not None:
        rng = qm.DatetimeRange(gte=filters.time.start, lte=filters.time.end)
        must.append(qm.FieldCondition(key="acquired", range=rng))
    if filters.bbox is not None:
        west, south, east, north = engine_box(filters.bbox)
        geo_box = qm.GeoBoundingBox(
            top_left=qm.GeoPoint(lon=west, lat=north),
            bottom_right=qm.GeoPoint(lon=east, lat=south),
        )
        must.append(qm.FieldCondition(key="center", geo_bounding_box=geo_box))
    if filters.polygon is not None:
        vertices = [engine_lon_lat(x, y) for x, y in filters.polygon.exterior]
        ring = qm.GeoLineString(points=[qm.GeoPoint(lon=x, lat=y) for x, y in vertices])
        must.append(qm.FieldCondition(key="center", geo_polygon=qm.GeoPolygon(exterior=ring)))
    if narrow is not None:
        must.append(qm.FieldCondition(key=narrow[0], match=qm.MatchAny(any=narrow[1])))
    return qm.Filter(must=must) if must else None


def _raw(point: Any, score: float | None = None) -> RawPoint:
    vector = point.vector
    return (dict(point.payload or {}), None if vector is None else list(vector), score)


def read_stored_model_id(url: str, api_key: str | None, collection: str) -> str | None:
    """The model id recorded on a server's collection, or ``None`` if it does not exist."""
    try:
        client = QdrantClient(location=url, api_key=api_key, timeout=30)
        if not client.collection_exists(collection):
            return None
        meta = client.get_collection(collection).config.metadata or {}
    except (ResponseHandlingException, UnexpectedResponse, httpx.HTTPError) as exc:
        raise StoreError(f"cannot use Qdrant at {url}: {exc}; check CLOSP_STORE_URL") from None
    model_id = meta.get("closp_model_id")
    return None if model_id is None else str(model_id)


class RemoteStore(VectorStore):
    """A CLOSP collection behind ``qdrant-client``: a server URL, ``":memory:"`` or a path."""

    backend = "qdrant"

    def __init__(
        self,
        model_id: str,
        *,
        url: str | None = None,
        path: Path | None = None,
        api_key: str | None = None,
        collection: str = "closp",
        params: IndexParams | None = None,
        timeout_s: int = 30,
    ) -> None:
        if (url is None) == (path is None):
            raise StoreError("give exactly one of url= (or ':memory:') and path=")
        self.location = str(url if url is not None else path)
        self.collection = collection
        self._path = path
        self._local = path is not None or url == ":memory:"  # exact search, no index params
        try:
            if path is not None:
                self._client = QdrantClient(path=str(path))
            else:
                self._client = QdrantClient(location=url, api_key=api_key, timeout=timeout_s)
            stored, actual = self._open(model_id, params or IndexParams())
        except (ResponseHandlingException, UnexpectedResponse, httpx.HTTPError) as exc:
            raise StoreError(
                f"cannot use Qdrant at {self.location}: {exc}; check CLOSP_STORE_URL and "
                "CLOSP_STORE_API_KEY, or unset CLOSP_STORE_URL to use the embedded index"
            ) from None
        super().__init__(model_id, stored, actual)

    def _open(self, model_id: str, params: IndexParams) -> tuple[str | None, IndexParams]:
        name = self.collection
        self.tiled = True
        if not self._client.collection_exists(name):
            self._create(model_id, params)
            return model_id, params
        meta = self._client.get_collection(name).config.metadata or {}
        if "closp_model_id" not in meta:
            if self._client.count(name, exact=True).count:
                return None, params  # someone else's collection: refuse writes and searches
            self._client.update_collection(name, metadata=self._metadata(model_id, params))
            return model_id, params
        schema = meta.get("closp_schema", 1)
        if schema not in (1, SCHEMA_VERSION):
            self._client.close()
            raise StoreError(
                f"collection {name!r}: store schema {schema} is not 1 or {SCHEMA_VERSION}; "
                "re-ingest into a new collection (CLOSP_COLLECTION)"
            )
        self.tiled = schema >= 2
        stored = IndexParams(
            **{"full_scan_kb": LEGACY_FULL_SCAN_KB, **meta.get("closp_params", {})}
        )
        # hnsw_ef: the opener's choice
        return str(meta["closp_model_id"]), dataclasses.replace(stored, hnsw_ef=params.hnsw_ef)

    @staticmethod
    def _metadata(model_id: str, params: IndexParams) -> dict[str, Any]:
        return {
            "closp_model_id": model_id,
            "closp_params": dataclasses.asdict(params),
            "closp_schema": SCHEMA_VERSION,
        }

    def _create(self, model_id: str, params: IndexParams) -> None:
        quant = (
            qm.ScalarQuantization(
                scalar=qm.ScalarQuantizationConfig(
                    type=qm.ScalarType.INT8, quantile=0.99, always_ram=True
                )
            )
            if params.int8
            else None
        )
        self._client.create_collection(
            self.collection,
            vectors_config=qm.VectorParams(
                size=DIM, distance=qm.Distance.COSINE, on_disk=params.on_disk or None
            ),
            hnsw_config=qm.HnswConfigDiff(
                m=params.m,
                ef_construct=params.ef_construct,
                payload_m=params.payload_m or None,
                full_scan_threshold=params.full_scan_kb,
            ),
            quantization_config=quant,
            shard_number=params.shards,
            replication_factor=params.replication,
            write_consistency_factor=params.write_consistency,
            metadata=self._metadata(model_id, params),
        )
        with warnings.catch_warnings():  # local modes warn that indexes have no effect there
            warnings.simplefilter("ignore", UserWarning)
            for field in INDEXED_FIELDS:
                schema = _index_params(field, params.on_disk)
                self._client.create_payload_index(self.collection, field, schema, wait=True)

    # ----- hooks ----------------------------------------------------------------------------
    def _upsert_batch(
        self, ids: list[str], vectors: np.ndarray, payloads: list[dict[str, Any]]
    ) -> None:
        batch = qm.Batch(ids=list(ids), vectors=vectors.tolist(), payloads=payloads)
        self._client.upsert(self.collection, batch, wait=True)

    def _search(
        self,
        vector: np.ndarray,
        limit: int,
        filters: SearchFilters,
        exact: bool,
        with_vectors: bool = False,
    ) -> list[RawPoint]:
        quant = qm.QuantizationSearchParams(rescore=True, oversampling=2.0)
        params = qm.SearchParams(
            hnsw_ef=self.params.hnsw_ef,
            exact=exact,
            quantization=quant if self.params.int8 else None,
        )
        result = self._client.query_points(
            self.collection,
            query=vector.tolist(),
            query_filter=remote_filter(filters, self.tiled),
            limit=limit,
            with_payload=True,
            with_vectors=with_vectors,
            search_params=None if self._local else params,
        )
        return [_raw(p, p.score) for p in result.points]

    def _retrieve(self, ids: list[str], with_vectors: bool) -> list[RawPoint]:
        points = self._client.retrieve(
            self.collection, ids, with_payload=True, with_vectors=with_vectors
        )
        return [_raw(p) for p in points]

    def _scroll(
        self, filters: SearchFilters, limit: int, cursor: str | None
    ) -> tuple[list[RawPoint], str | None]:
        points, nxt = self._client.scroll(
            self.collection,
            scroll_filter=remote_filter(filters, self.tiled),
            limit=limit,
            offset=cursor,
            with_payload=True,
            with_vectors=False,
        )
        return [_raw(p) for p in points], None if nxt is None else str(nxt)

    def _scroll_ids(self, limit: int, cursor: str | None) -> tuple[list[bytes], str | None]:
        points, nxt = self._client.scroll(
            self.collection, limit=limit, offset=cursor, with_payload=False, with_vectors=False
        )
        return [uuid.UUID(str(p.id)).bytes for p in points], None if nxt is None else str(nxt)

    def _count(self, filters: SearchFilters) -> int:
        flt = remote_filter(filters, self.tiled)
        return int(self._client.count(self.collection, count_filter=flt, exact=True).count)

    def _facet(self, field: str, filters: SearchFilters) -> dict[str, int]:
        response = self._client.facet(
            self.collection,
            field,
            facet_filter=remote_filter(filters, self.tiled),
            limit=_FACET_LIMIT,
            exact=True,
        )
        return {str(h.value): int(h.count) for h in response.hits}

    def _delete(self, filters: SearchFilters) -> None:
        flt = remote_filter(filters, self.tiled)
        if flt is not None:
            self._client.delete(self.collection, qm.FilterSelector(filter=flt), wait=True)

    def _info(self) -> CollectionInfo:
        info = self._client.get_collection(self.collection)
        disk = None
        if self._path is not None:
            disk = sum(p.stat().st_blocks * 512 for p in Path(self._path).rglob("*") if p.is_file())
        return CollectionInfo(
            points=int(info.points_count or 0),
            indexed_vectors=int(info.indexed_vectors_count or 0),
            model_id=self.stored_model_id,
            backend=self.backend,
            location=self.location,
            disk_bytes=disk,
            params=self.params,
        )

    def flush(self) -> None:
        """Nothing to do: the server persists each acknowledged write (``wait=True``)."""
        self._check_open()

    def optimize(self) -> bool:
        """Nothing to do: the server builds its HNSW index in the background."""
        self._check_open()
        return False

    def _close(self) -> None:
        self._client.close()
