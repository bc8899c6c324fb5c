"""Map filters: exact at the 5-degree tile edges, the poles and the antimeridian; both back ends."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as qe

from closp_core.bands import Sensor
from closp_core.errors import StoreError
from closp_core.labels import LABELS
from closp_core.store import BBox, ChipRecord, GeoPolygon, SearchFilters, VectorStore, payload
from closp_core.store.edge import EdgeStore, edge_filter
from closp_core.store.payload import (
    MAX_TILES,
    filter_tiles,
    map_prefilter,
    tile_of,
    tiles_covering,
)
from closp_core.store.remote import RemoteStore

from .conftest import BACKENDS, MODEL

# centres on tile edges and corners inside the boxes below, on the boxes' edges (outside: Qdrant's
# rule) and a hair outside them
POINTS = [
    (-10.0, 35.0),
    (40.0, 70.0),
    (-10.0, 70.0),
    (40.0, 35.0),
    (15.0, 35.0),
    (15.0, 52.5),
    (-10.000001, 50.0),
    (40.000001, 50.0),
    (15.0, 34.999999),
    (15.0, 70.000001),
    (180.0, 90.0),
    (-180.0, -90.0),
    (179.999, 89.999),
    (0.0, 0.0),
    (-0.000001, -0.000001),
    (-122.4, 37.8),
    (0.0, 50.0),
    (15.0, 40.0),
    (5.0, 45.0),
]
LABEL_CYCLE = (("Water",), ("Crops",), ("Trees", "Water"), ("Built",))
BOX = BBox(-10.0, 35.0, 40.0, 70.0)  # every side on a tile edge
TRIANGLE = GeoPolygon(((-10.5, 34.5), (40.5, 34.5), (15.0, 71.0), (-10.5, 34.5)))
FILTERS = {
    "box on tile edges": SearchFilters(bbox=BOX),
    "box inside one tile": SearchFilters(bbox=BBox(15.0, 50.0, 16.0, 53.0)),
    "north-east corner of the world": SearchFilters(bbox=BBox(175.0, 85.0, 180.0, 90.0)),
    "south-west corner of the world": SearchFilters(bbox=BBox(-180.0, -90.0, -175.0, -85.0)),
    "box ending at the origin": SearchFilters(bbox=BBox(-0.5, -0.5, 0.0, 0.0)),
    "whole world (too many tiles)": SearchFilters(bbox=BBox(-180.0, -90.0, 180.0, 90.0)),
    "polygon": SearchFilters(polygon=TRIANGLE),
    "polygon and box": SearchFilters(polygon=TRIANGLE, bbox=BBox(0.0, 40.0, 30.0, 60.0)),
    "polygon away from the box": SearchFilters(polygon=TRIANGLE, bbox=BBox(100.0, 0.0, 110.0, 5.0)),
    "box and labels": SearchFilters(bbox=BOX, labels=("Water", "Trees")),
    "box, labels and sensor": SearchFilters(bbox=BOX, labels=("Water", "Crops"), sensor=Sensor.S2),
    "polygon, labels and sensor": SearchFilters(
        polygon=TRIANGLE, labels=("Trees", "Built", "Water"), sensor=Sensor.S1
    ),
    # Qdrant alone loses points of these (edges on a pole or the antimeridian): see _GEO_INSET
    "western hemisphere, pole to pole": SearchFilters(bbox=BBox(-180.0, -90.0, 0.0, 90.0)),
    "all longitudes": SearchFilters(bbox=BBox(-180.0, -80.0, 180.0, 80.0)),
    "polygon pole to pole": SearchFilters(
        polygon=GeoPolygon(((-170.0, -90.0), (180.0, -90.0), (0.0, 90.0), (-170.0, -90.0)))
    ),
}


def _passes(rec: ChipRecord, f: SearchFilters) -> bool:
    """Reference filter: labels, sensor and map (what these tests use)."""
    if f.labels and not set(f.labels) & set(rec.labels):
        return False
    if f.sensor is not None and rec.sensor is not f.sensor:
        return False
    assert rec.center is not None
    return _inside(*rec.center, f)


def _inside(lon: float, lat: float, f: SearchFilters) -> bool:
    if f.bbox is not None:
        b = f.bbox
        if not (b.west < lon < b.east and b.south < lat < b.north):
            return False
    if f.polygon is not None:  # ray casting (no test point lies on the triangle's edges)
        ring, inside = f.polygon.exterior, False
        for (x1, y1), (x2, y2) in itertools.pairwise(ring):
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        if not inside:
            return False
    return True


@pytest.fixture
def edge_records(record_factory: Callable[..., list[ChipRecord]]) -> list[ChipRecord]:
    """One chip per point: sensors alternate (s2, s1, ...), labels cycle through ``LABEL_CYCLE``."""
    base = record_factory(len(POINTS), seed=7)
    return [
        dataclasses.replace(
            rec, center=point, footprint=None, labels=LABEL_CYCLE[i % len(LABEL_CYCLE)]
        )
        for i, (rec, point) in enumerate(zip(base, POINTS, strict=True))
    ]


def test_tile_of_and_covering() -> None:
    assert tile_of(-10.0, 35.0) == "7:-2"
    assert tile_of(-0.000001, 0.0) == "0:-1"
    assert tile_of(180.0, 90.0) == "18:36"
    cover = tiles_covering(BOX.west, BOX.south, BOX.east, BOX.north)
    assert cover is not None and len(cover) == 8 * 11
    # a box's east and north edges are outside it: the tiles beyond them are left out
    inner = tiles_covering(BOX.west, BOX.south, BOX.east, BOX.north, open_edges=True)
    assert inner is not None and len(inner) == 7 * 10 and set(inner) < set(cover)
    assert tiles_covering(15.0, 50.0, 16.0, 53.0, open_edges=True) == ["10:3"]
    assert tiles_covering(15.0, 50.0, 15.0, 50.0, open_edges=True) == ["10:3"]  # empty box
    assert tiles_covering(-180.0, -90.0, 180.0, 90.0) is None
    assert len(tiles_covering(0.0, 0.0, 5.0 * 36 - 1, 5.0 * 18 - 1) or []) == MAX_TILES
    rng = np.random.default_rng(0)
    for _ in range(2000):  # a point in a box always lies in one of the box's tiles
        w, e = np.sort(rng.choice(np.arange(-180.0, 181.0, 2.5), 2))
        s, n = np.sort(rng.choice(np.arange(-90.0, 91.0, 2.5), 2))
        lon, lat = rng.choice([w, e, rng.uniform(w, e)]), rng.choice([s, n, rng.uniform(s, n)])
        tiles = tiles_covering(w, s, e, n)
        assert tiles is None or tile_of(lon, lat) in tiles
        if w < lon < e and s < lat < n:  # strictly inside: in one of the open box's tiles
            tiles = tiles_covering(w, s, e, n, open_edges=True)
            assert tiles is None or tile_of(lon, lat) in tiles


def test_map_prefilter() -> None:
    assert map_prefilter(SearchFilters(labels=("Water",))) is None
    assert map_prefilter(FILTERS["whole world (too many tiles)"]) is None
    assert map_prefilter(FILTERS["box inside one tile"]) == ("tile", ["10:3"])
    one = SearchFilters(bbox=BBox(15.0, 50.0, 16.0, 53.0), labels=("Water", "Crops"))
    field, keys = map_prefilter(one) or ("", [])
    assert field == "tile_labels"
    assert sorted(keys) == ["s1|Crops|10:3", "s1|Water|10:3", "s2|Crops|10:3", "s2|Water|10:3"]
    field, keys = map_prefilter(dataclasses.replace(one, sensor=Sensor.S2)) or ("", [])
    assert (field, sorted(keys)) == ("tile_labels", ["s2|Crops|10:3", "s2|Water|10:3"])
    wide = SearchFilters(bbox=BBox(-60.0, -40.0, 60.0, 40.0), labels=LABELS)  # 24 x 16 tiles
    field, keys = map_prefilter(wide) or ("", [])
    tiles = tiles_covering(-60.0, -40.0, 60.0, 40.0, open_edges=True)
    assert (field, set(keys)) == ("tile", set(tiles or ()))
    # tile_labels keys are sensor x label x tile: the labels and sensor conditions are implied
    keys_only = {c.key for c in edge_filter(FILTERS["box, labels and sensor"]).must}
    assert keys_only == {"center", "tile_labels"}
    assert {c.key for c in edge_filter(FILTERS["box inside one tile"]).must} == {"center", "tile"}


def test_filter_tiles(edge_records: list[ChipRecord]) -> None:
    assert filter_tiles(SearchFilters()) is None
    assert filter_tiles(SearchFilters(bbox=BBox(-180.0, -90.0, 180.0, 90.0))) is None
    assert filter_tiles(FILTERS["box inside one tile"]) == ["10:3"]
    both = filter_tiles(FILTERS["polygon and box"])
    assert both is not None and set(both) <= set(filter_tiles(SearchFilters(bbox=BOX)) or ())
    assert filter_tiles(FILTERS["polygon away from the box"]) == []
    body = payload.to_payload(edge_records[0])
    assert body["tile"] == "7:-2"
    sensor = edge_records[0].sensor.value
    assert body["tile_labels"] == [f"{sensor}|{x}|7:-2" for x in edge_records[0].labels]
    assert payload.to_payload(dataclasses.replace(edge_records[0], center=None))["tile"] is None


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("name", list(FILTERS))
def test_map_filters_are_exact_at_tile_edges(
    make_store: Callable[[str], VectorStore], edge_records: list[ChipRecord], kind: str, name: str
) -> None:
    store = make_store(kind)
    store.upsert(edge_records)
    f = FILTERS[name]
    want = {r.key for r in edge_records if _passes(r, f)}
    if f.labels:  # the label cases must not pass vacuously
        assert want < {r.key for r, p in zip(edge_records, POINTS, strict=True) if _inside(*p, f)}
        assert want
    q = edge_records[0].vector
    for exact in (False, True):
        hits = store.search(q, limit=50, filters=f, exact=exact)
        assert {h.key for h in hits} == want
    assert store.count(f) == len(want)
    assert {r.key for r in store.browse(f, limit=50).records} == want


def _without_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make upserts write payloads as schema 1 did: no ``tile`` field."""
    real = payload.to_payload

    def old_payload(record: ChipRecord) -> dict:
        body = real(record)
        del body["tile"]
        return body

    monkeypatch.setattr("closp_core.store.base.to_payload", old_payload)


def test_edge_store_of_schema_1_keeps_working(
    tmp_path: Path, edge_records: list[ChipRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "old"
    with monkeypatch.context() as m:
        _without_tiles(m)
        store = EdgeStore(folder, MODEL)
        store.upsert(edge_records)
        store.close()
    meta_path = folder / "closp-store.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(meta | {"schema": 1}))
    store = EdgeStore(folder, MODEL)
    try:
        assert store.tiled is False
        f = FILTERS["box on tile edges"]
        want = {r.key for r, p in zip(edge_records, POINTS, strict=True) if _inside(*p, f)}
        assert {h.key for h in store.search(edge_records[0].vector, limit=50, filters=f)} == want
        assert store.count(f) == len(want) > 0
        # the tile condition would lose every old point: that is why schema 1 goes without
        tiled = qe.CountRequest(exact=True, filter=edge_filter(f, tiles=True))
        assert store._shard.count(tiled) == 0
    finally:
        store.close()
    meta_path.write_text(json.dumps(meta | {"schema": 99}))
    with pytest.raises(StoreError, match="store schema 99 is not 1 or 2; re-ingest"):
        EdgeStore(folder, MODEL)


def test_server_collection_of_schema_1_keeps_working(
    tmp_path: Path, edge_records: list[ChipRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "local"
    with monkeypatch.context() as m:
        _without_tiles(m)
        store = RemoteStore(MODEL, path=folder)
        store.upsert(edge_records)
        meta = store._client.get_collection(store.collection).config.metadata or {}
        store._client.update_collection(store.collection, metadata=meta | {"closp_schema": 1})
        store.close()
    store = RemoteStore(MODEL, path=folder)
    try:
        assert store.tiled is False
        f = FILTERS["polygon"]
        want = {r.key for r, p in zip(edge_records, POINTS, strict=True) if _inside(*p, f)}
        assert {h.key for h in store.search(edge_records[0].vector, limit=50, filters=f)} == want
        assert len(want) > 0
        meta = store._client.get_collection(store.collection).config.metadata or {}
        store._client.update_collection(store.collection, metadata=meta | {"closp_schema": 99})
    finally:
        store.close()
    with pytest.raises(StoreError, match="store schema 99 is not 1 or 2; re-ingest"):
        RemoteStore(MODEL, path=folder)
