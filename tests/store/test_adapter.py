"""Adapter behaviour, run against both back ends (Edge in tmp_path, qdrant-client :memory:)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.store import (
    BBox,
    ChipRecord,
    GeoPolygon,
    SearchFilters,
    StoreClosedError,
    TimeRange,
    VectorStore,
    point_id,
)

from .conftest import SERVER

UTC = dt.UTC


def _match(rec: ChipRecord, f: SearchFilters) -> bool:
    """Reference implementation of the filters in plain Python."""
    if f.labels and not set(f.labels) & set(rec.labels):
        return False
    if f.sensor is not None and rec.sensor is not f.sensor:
        return False
    if f.source is not None and rec.source != f.source:
        return False
    if f.time is not None and rec.acquired is not None:
        if f.time.start is not None and rec.acquired < f.time.start:
            return False
        if f.time.end is not None and rec.acquired > f.time.end:
            return False
    assert rec.center is not None
    lon, lat = rec.center
    if f.bbox is not None and not (
        f.bbox.west <= lon <= f.bbox.east and f.bbox.south <= lat <= f.bbox.north
    ):
        return False
    if f.polygon is not None:
        xs = [p[0] for p in f.polygon.exterior]
        ys = [p[1] for p in f.polygon.exterior]
        inside = False  # ray casting
        for i in range(len(xs) - 1):
            if (ys[i] > lat) != (ys[i + 1] > lat):
                x = xs[i] + (lat - ys[i]) * (xs[i + 1] - xs[i]) / (ys[i + 1] - ys[i])
                inside ^= lon < x
        if not inside:
            return False
    return True


def _brute_force(records: list[ChipRecord], q: np.ndarray, f: SearchFilters, k: int) -> list[str]:
    cand = [r for r in records if _match(r, f)]
    if not cand:
        return []
    scores = np.stack([r.vector for r in cand if r.vector is not None]) @ q
    return [cand[i].key for i in np.argsort(-scores)[:k]]


TRIANGLE = GeoPolygon(((-100.0, -60.0), (100.0, -60.0), (0.0, 70.0), (-100.0, -60.0)))
FILTERS = {
    "none": SearchFilters(),
    "label": SearchFilters(labels=("Flooded Area", "Burned Area")),
    "sensor": SearchFilters(sensor=Sensor.S1),
    "time": SearchFilters(time=TimeRange(dt.datetime(2018, 1, 1), dt.datetime(2020, 6, 30))),
    "open_time": SearchFilters(time=TimeRange(start=dt.datetime(2023, 1, 1, tzinfo=UTC))),
    "bbox": SearchFilters(bbox=BBox(-30.0, -40.0, 60.0, 50.0)),
    "polygon": SearchFilters(polygon=TRIANGLE),
    "source": SearchFilters(source="cabuar"),
    "combined": SearchFilters(
        labels=("Water", "Trees", "Crops"),
        sensor="s2",  # type: ignore[arg-type]
        time=TimeRange(dt.datetime(2017, 1, 1), dt.datetime(2024, 1, 1)),
        bbox=BBox(-150.0, -70.0, 150.0, 70.0),
    ),
}


def test_empty_collection(store: VectorStore, records: list[ChipRecord]) -> None:
    assert store.search(records[0].vector, limit=5) == []
    assert store.search(records[0].vector, filters=FILTERS["combined"], exact=True) == []
    assert store.count() == 0
    assert store.browse().records == ()
    assert store.browse().next_cursor is None
    assert store.counts_by("label") == {}
    assert store.get([records[0].key]) == []
    assert store.delete_source("benv2s1") == 0
    info = store.info()
    assert (info.points, info.model_id) == (0, "DarthReca/CLOSP-RN")


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("exact", [False, True])
def test_search_matches_brute_force(
    filled: VectorStore, records: list[ChipRecord], name: str, exact: bool
) -> None:
    f = FILTERS[name]
    for qi in (3, 77, 150):
        q = records[qi].vector
        assert q is not None
        hits = filled.search(q, limit=10, filters=f, exact=exact)
        assert [h.key for h in hits] == _brute_force(records, q, f, 10)
        assert all(_match(h.record, f) for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    if name == "none":
        assert hits[0].key == records[150].key and hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_search_with_vectors(filled: VectorStore, records: list[ChipRecord]) -> None:
    by_key = {r.key: r for r in records}
    q = records[7].vector
    plain = filled.search(q, limit=15, filters=FILTERS["sensor"])
    full = filled.search(q, limit=15, filters=FILTERS["sensor"], with_vectors=True)
    assert [h.key for h in full] == [h.key for h in plain]
    assert all(h.record.vector is None for h in plain)
    for hit in full:
        assert hit.record == by_key[hit.key]  # vector included, within float32 storage
        assert hit.score == pytest.approx(float(hit.record.vector @ q), abs=1e-5)


@pytest.mark.parametrize("kind", ["memory", SERVER])
def test_backends_give_same_hits(
    make_store: Callable[[str], VectorStore], records: list[ChipRecord], kind: str
) -> None:
    edge, memory = make_store("edge"), make_store(kind)
    for st in (edge, memory):
        st.upsert(records, batch_size=100)
    q = records[42].vector
    for f in FILTERS.values():
        a, b = edge.search(q, limit=20, filters=f), memory.search(q, limit=20, filters=f)
        assert [h.key for h in a] == [h.key for h in b]
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-5)
        assert [h.record for h in a] == [h.record for h in b]
        assert edge.count(f) == memory.count(f)
    page_a, page_b = edge.browse(limit=50), memory.browse(limit=50)
    assert [r.key for r in page_a.records] == [r.key for r in page_b.records]
    assert page_a.next_cursor == page_b.next_cursor


def test_records_round_trip(filled: VectorStore, records: list[ChipRecord]) -> None:
    keys = [records[5].key, "no-such-chip", records[2].key]
    got = filled.get(keys, with_vectors=True)
    assert got == [records[5], records[2]]  # order asked, unknown skipped, vectors equal
    assert got[0].footprint is not None and records[5].footprint is not None
    np.testing.assert_allclose(got[0].footprint.exterior, records[5].footprint.exterior, atol=1e-9)
    assert got[0].previews == records[5].previews
    assert got[0].acquired == records[5].acquired and got[0].acquired.tzinfo is not None
    no_vec = filled.get([records[5].key])
    assert no_vec[0].vector is None and no_vec[0].labels == records[5].labels
    by_id = filled.get_by_ids([point_id(records[7].key)])
    assert [r.key for r in by_id] == [records[7].key]


@pytest.mark.parametrize("name", ["none", "sensor", "combined"])
def test_browse_pages_through_everything_once(
    filled: VectorStore, records: list[ChipRecord], name: str
) -> None:
    f = FILTERS[name]
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        page = filled.browse(f, limit=37, cursor=cursor)
        assert len(page.records) <= 37
        seen += [r.key for r in page.records]
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = {r.key for r in records if _match(r, f)}
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert {r.key for r in filled.iter_records(f)} == expected
    assert filled.count(f) == len(expected)


def test_counts_by(filled: VectorStore, records: list[ChipRecord]) -> None:
    by_label = Counter(label for r in records for label in r.labels)
    assert filled.counts_by("label") == dict(sorted(by_label.items()))
    assert filled.counts_by("sensor") == {"s1": 150, "s2": 150}
    assert filled.counts_by("source") == dict(sorted(Counter(r.source for r in records).items()))
    months = Counter(f"{r.acquired:%Y-%m}" for r in records if r.acquired)
    assert filled.counts_by("month") == dict(sorted(months.items()))
    s1_sources = filled.counts_by("source", FILTERS["sensor"])
    assert set(s1_sources) == {"benv2s1", "mmflood", "quakeset"}


def test_reupsert_updates_without_duplicates(store: VectorStore, records: list[ChipRecord]) -> None:
    assert store.upsert(records[:100], batch_size=30) == 100
    changed = dataclasses.replace(records[0], labels=("Earthquake Damage",))
    store.upsert([*records[:100], changed])
    assert store.count() == 100
    assert store.get([records[0].key])[0].labels == ("Earthquake Damage",)
    assert store.count(SearchFilters(labels=("Earthquake Damage",))) == 1 + sum(
        "Earthquake Damage" in r.labels for r in records[1:100]
    )


def test_delete_source(store: VectorStore, records: list[ChipRecord]) -> None:
    store.upsert(records)
    n_mm = sum(r.source == "mmflood" for r in records)
    assert store.delete_source("mmflood") == n_mm
    assert store.count() == len(records) - n_mm
    assert "mmflood" not in store.counts_by("source")
    assert store.delete_source("mmflood") == 0


def test_info_and_closed_store(store: VectorStore, records: list[ChipRecord]) -> None:
    store.upsert(records[:20])
    store.flush()
    info = store.info()
    assert info.points == 20 and info.backend in {"edge", "qdrant"}
    assert info.params.m == 16
    if info.backend == "edge":
        assert info.disk_bytes is not None and info.disk_bytes > 20 * 384 * 4
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreClosedError, match="closed"):
        store.search(records[0].vector)
    with pytest.raises(StoreClosedError, match="closed"):
        store.count()


def test_search_works_before_and_after_optimize(
    store: VectorStore, record_factory: Callable[..., list[ChipRecord]]
) -> None:
    chips = record_factory(2500, seed=3)
    store.upsert(chips, batch_size=500)
    q = chips[10].vector
    exact = [h.key for h in store.search(q, limit=10, exact=True)]
    assert [h.key for h in store.search(q, limit=10)] == exact  # nothing indexed yet
    store.optimize()
    assert [h.key for h in store.search(q, limit=10)] == exact
    later = [dataclasses.replace(r, key="new_" + r.key) for r in record_factory(50, seed=4)]
    store.upsert(later)  # points added after the index was built are found too
    assert store.count() == 2550
    assert store.search(later[7].vector, limit=1)[0].key == later[7].key
