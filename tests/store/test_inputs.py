"""Every bad input gives our error with a helpful message, on both back ends."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from closp_core.errors import ConfigError
from closp_core.settings import Settings
from closp_core.store import (
    BBox,
    ChipRecord,
    GeoPolygon,
    IndexParams,
    ModelMismatchError,
    SearchFilters,
    StoreInputError,
    TimeRange,
    VectorStore,
    index_params,
    open_store,
)
from closp_core.store.edge import EdgeStore
from closp_core.store.remote import RemoteStore
from closp_core.store.types import LEGACY_FULL_SCAN_KB

from .conftest import SERVER, open_backend

BOWTIE = ((0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0))
BAD_FILTERS: dict[str, tuple[Callable[[], Any], str]] = {
    "lat": (lambda: BBox(0, -91, 1, 1), r"latitude -91.0 is outside \[-90, 90\]"),
    "lon": (lambda: BBox(0, 0, 181, 1), r"longitude 181.0 is outside \[-180, 180\]"),
    "reversed_we": (lambda: BBox(10, 0, -10, 1), "bbox is reversed: west 10.0 > east -10.0"),
    "reversed_sn": (lambda: BBox(0, 5, 1, 1), "bbox is reversed: south 5.0 > north 1.0"),
    "nan_box": (lambda: BBox(0, float("nan"), 1, 1), "must be finite"),
    "open_ring": (
        lambda: GeoPolygon(((0, 0), (1, 0), (1, 1), (0, 1))),
        "polygon is not closed",
    ),
    "bowtie": (lambda: GeoPolygon(BOWTIE), "self-intersecting"),
    "too_few": (lambda: GeoPolygon(((0, 0), (1, 1), (0, 0))), "at least 4 points"),
    "flat": (lambda: GeoPolygon(((0, 0), (1, 1), (2, 2), (0, 0))), "zero area"),
    "poly_lat": (
        lambda: GeoPolygon(((0, 0), (1, 95), (1, 0), (0, 0))),
        "latitude 95.0 is outside",
    ),
    "geojson": (lambda: GeoPolygon.from_geojson({"type": "Point"}), "GeoJSON Polygon"),
    "time": (
        lambda: TimeRange(dt.datetime(2021, 1, 2), dt.datetime(2021, 1, 1)),
        "time range is reversed",
    ),
    "time_type": (lambda: TimeRange("2021-01-01"), "expected a datetime"),  # type: ignore[arg-type]
    "sensor": (lambda: SearchFilters(sensor="s3"), r"unknown sensor 's3'"),  # type: ignore[arg-type]
    "label": (
        lambda: SearchFilters(labels=("Lava",)),
        "unknown label 'Lava'; known labels: Flooded Area, Earthquake Damage",
    ),
    "label_str": (lambda: SearchFilters(labels="Water"), "not one string"),  # type: ignore[arg-type]
    "bbox_type": (lambda: SearchFilters(bbox=(0, 0, 1, 1)), "bbox must be a BBox"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("name", list(BAD_FILTERS))
def test_bad_filters(name: str) -> None:
    build, message = BAD_FILTERS[name]
    with pytest.raises(StoreInputError, match=message):
        build()


def test_good_polygons_pass() -> None:
    concave = ((0, 0), (4, 0), (4, 4), (2, 1), (0, 4), (0, 0))
    assert GeoPolygon(concave).to_geojson()["coordinates"][0][3] == [2.0, 1.0]
    assert GeoPolygon.from_geojson(GeoPolygon(concave).to_geojson()) == GeoPolygon(concave)


BAD_QUERIES: dict[str, tuple[dict[str, Any], str]] = {
    "dim": ({"vector": np.ones(383)}, r"expected shape \(384,\)"),
    "matrix": ({"vector": np.ones((2, 384))}, r"expected shape \(384,\)"),
    "nan": ({"vector": np.full(384, np.nan)}, "NaN or infinite"),
    "inf": ({"vector": np.r_[np.ones(383), np.inf]}, "NaN or infinite"),
    "zero": ({"vector": np.zeros(384)}, "all zeros"),
    "text": ({"vector": "water"}, "not a numeric vector|expected shape"),
    "limit0": ({"limit": 0}, "limit must be between 1 and 10000, got 0"),
    "limit_neg": ({"limit": -5}, "limit must be between 1 and 10000"),
    "limit_huge": ({"limit": 10_001}, "limit must be between 1 and 10000, got 10001"),
    "limit_float": ({"limit": 2.5}, "limit must be an integer"),
    "filters": ({"filters": {"sensor": "s1"}}, "filters must be a SearchFilters"),
}


@pytest.mark.parametrize("name", list(BAD_QUERIES))
def test_bad_search_input(store: VectorStore, records: list[ChipRecord], name: str) -> None:
    store.upsert(records[:10])
    kwargs, message = BAD_QUERIES[name]
    args = {"vector": records[0].vector, **kwargs}
    with pytest.raises(StoreInputError, match=message):
        store.search(args.pop("vector"), **args)


def test_bad_calls(store: VectorStore, records: list[ChipRecord]) -> None:
    store.upsert(records[:10])
    with pytest.raises(StoreInputError, match="cursor 'page-2' is not valid"):
        store.browse(cursor="page-2")
    with pytest.raises(StoreInputError, match="limit must be between"):
        store.browse(limit=20_000)
    with pytest.raises(StoreInputError, match=r"cannot count by 'year'; use one of \['label'"):
        store.counts_by("year")
    with pytest.raises(StoreInputError, match="keys must be a list, not one string"):
        store.get("benv2s1_00001")
    with pytest.raises(StoreInputError, match="source must be a non-empty string"):
        store.delete_source("")
    with pytest.raises(StoreInputError, match="has no vector to store"):
        store.upsert([dataclasses.replace(records[0], vector=None)])
    with pytest.raises(StoreInputError, match="upsert takes ChipRecord"):
        store.upsert([{"key": "x"}])  # type: ignore[list-item]
    with pytest.raises(StoreInputError, match="batch_size must be between"):
        store.upsert(records[:2], batch_size=0)
    assert store.count() == 10  # nothing half-written by the refused calls


BAD_RECORDS: dict[str, tuple[dict[str, Any], str]] = {
    "key": ({"key": " "}, "chip key must be a non-empty string"),
    "dim": ({"vector": np.ones(512)}, r"vector: expected shape \(384,\)"),
    "nan": ({"vector": np.r_[np.ones(383), np.nan]}, "NaN or infinite"),
    "sensor": ({"sensor": "landsat"}, "unknown sensor 'landsat'"),
    "label": ({"labels": ("Forest",)}, "unknown label 'Forest'; known labels"),
    "center": ({"center": (10.0, 100.0)}, "center: latitude 100.0 is outside"),
    "source": ({"source": ""}, "source must be a non-empty string"),
    "footprint": ({"footprint": [[0, 0]]}, "footprint must be a GeoPolygon"),
}


@pytest.mark.parametrize("name", list(BAD_RECORDS))
def test_bad_records(records: list[ChipRecord], name: str) -> None:
    changes, message = BAD_RECORDS[name]
    with pytest.raises(StoreInputError, match=message):
        dataclasses.replace(records[0], **changes)


def test_labels_are_canonicalised(records: list[ChipRecord]) -> None:
    rec = dataclasses.replace(records[0], labels=("water", "FLOODED area", "Water"))
    assert rec.labels == ("Flooded Area", "Water")
    naive = dataclasses.replace(records[0], acquired=dt.datetime(2020, 5, 1, 12))
    assert naive.acquired == dt.datetime(2020, 5, 1, 12, tzinfo=dt.UTC)


def _reopen(kind: str, folder: Path, model_id: str) -> VectorStore:
    if kind == "qdrant-local":
        return RemoteStore(model_id, path=folder / "qdrant-local")
    return open_backend(kind, folder, model_id)


@pytest.mark.parametrize("kind", ["edge", "qdrant-local", SERVER])
def test_other_model_is_refused(kind: str, tmp_path: Path, records: list[ChipRecord]) -> None:
    with _reopen(kind, tmp_path, "DarthReca/CLOSP-RN") as st:
        st.upsert(records[:20])
    with _reopen(kind, tmp_path, "DarthReca/CLOSP-VS") as other:
        msg = "holds vectors of 'DarthReca/CLOSP-RN', not 'DarthReca/CLOSP-VS'"
        with pytest.raises(ModelMismatchError, match=msg):
            other.search(records[0].vector)
        with pytest.raises(ModelMismatchError, match="cannot write"):
            other.upsert(records[20:30])
        assert other.count() == 20  # browsing and counting still work
        assert other.info().model_id == "DarthReca/CLOSP-RN"
    with _reopen(kind, tmp_path, "DarthReca/CLOSP-RN") as st:
        assert st.search(records[3].vector, limit=1)[0].key == records[3].key


def test_open_store_picks_one_backend(tmp_path: Path, model_id: str) -> None:
    settings = Settings(data_dir=tmp_path, collection="chips")
    with open_store(settings, model_id) as st:
        assert isinstance(st, EdgeStore)
        assert st.info().location == str(tmp_path / "index" / "chips")
    with open_store(settings.replace(store_url=":memory:", store_int8=True), model_id) as st:
        assert isinstance(st, RemoteStore)
        assert st.info().params == IndexParams(int8=True)
    with pytest.raises(ConfigError, match="m must be an integer >= 0"):
        open_store(settings.replace(store_hnsw_m=-1), model_id)
    with pytest.raises(ConfigError, match="model_id must be a non-empty string"):
        open_store(settings, "")


@pytest.mark.parametrize("kind", ["edge", "memory", SERVER])
def test_int8_with_original_vectors_on_disk(
    kind: str, tmp_path: Path, records: list[ChipRecord]
) -> None:
    params = IndexParams(int8=True, on_disk=True)
    with open_backend(kind, tmp_path, params=params) as st:
        st.upsert(records)
        st.optimize()
        for i in (0, 150, 299):
            q = records[i].vector
            hits = st.search(q, limit=10)
            assert hits[0].key == records[i].key
            assert [h.key for h in hits] == [h.key for h in st.search(q, limit=10, exact=True)]
        assert st.info().params == params
        assert st.get([records[7].key], with_vectors=True) == [records[7]]  # originals kept
    if kind == "edge":  # Edge maps the originals from disk instead of loading them
        config = json.loads((tmp_path / "index" / "edge_config.json").read_text())
        assert config["vectors"][""]["memory"] == "cold"
        indexes = list((tmp_path / "index" / "segments").glob("*/payload_index/config.json"))
        assert indexes
        for seg in indexes:
            fields = json.loads(seg.read_text())["indexed_fields"]  # RAM_FIELDS too
            assert {fields[f].get("memory") for f in ("labels", "sensor", "center")} == {"cold"}
        with open_backend(kind, tmp_path) as again:  # fixed at creation
            assert again.params == params


def test_on_disk_setting(tmp_path: Path, model_id: str) -> None:
    settings = Settings.load({"CLOSP_STORE_ON_DISK": "true", "CLOSP_STORE_INT8": "1"})
    assert index_params(settings) == IndexParams(int8=True, on_disk=True)
    assert not index_params(Settings()).on_disk
    with pytest.raises(ConfigError, match="CLOSP_STORE_ON_DISK"):
        Settings.load({"CLOSP_STORE_ON_DISK": "maybe"})


@pytest.mark.parametrize("kind", ["edge", "qdrant-local"])
def test_full_scan_threshold_is_kept_and_old_collections_read_as_qdrants_default(
    kind: str, tmp_path: Path, records: list[ChipRecord]
) -> None:
    assert IndexParams().full_scan_kb == 100_000
    with _reopen(kind, tmp_path, "DarthReca/CLOSP-RN") as st:
        assert st.params.full_scan_kb == 100_000
        st.upsert(records[:10])
    if kind == "edge":
        config = json.loads((tmp_path / "index" / "edge_config.json").read_text())
        assert config["hnsw_config"]["full_scan_threshold"] == 100_000
        meta_path = tmp_path / "index" / "closp-store.json"
        meta = json.loads(meta_path.read_text())
        del meta["params"]["full_scan_kb"]  # as written before the parameter existed
        meta_path.write_text(json.dumps(meta))
        with _reopen(kind, tmp_path, "DarthReca/CLOSP-RN") as st:
            assert st.params.full_scan_kb == LEGACY_FULL_SCAN_KB == 10_000
    settings = Settings.load({"CLOSP_STORE_HNSW_FULL_SCAN_KB": "20000"})
    assert index_params(settings).full_scan_kb == 20_000
    with pytest.raises(ConfigError, match="full_scan_kb must be an integer >= 1"):
        index_params(settings.replace(store_hnsw_full_scan_kb=0))
