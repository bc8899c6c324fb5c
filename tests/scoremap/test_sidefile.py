"""The numpy side file gives the same area and the same map as the store, and is refused
when stale or damaged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.embedder import Embedder
from closp_core.errors import ScoreMapError
from closp_core.records import ChipRecord
from closp_core.scoremap import AreaCache, ScoreMapRequest, score_map
from closp_core.scoremap.sidefile import (
    MANIFEST,
    load_table,
    refresh_side_file,
    save_table,
    select,
    select_side_file,
)
from closp_core.scoremap.table import fetch_table
from closp_core.search import SearchRequest
from closp_core.store import BBox, GeoPolygon, SearchFilters, TimeRange, VectorStore
from tests.store import conftest as store_fixtures

SPAIN = BBox(-0.79, 38.08, -0.73, 38.13)
TRIANGLE = GeoPolygon(((-0.79, 38.08), (-0.73, 38.08), (-0.76, 38.13), (-0.79, 38.08)))
SEPTEMBER = TimeRange(dt.datetime(2019, 9, 1, tzinfo=dt.UTC), None)


@pytest.mark.parametrize(
    "filters",
    [
        SearchFilters(bbox=SPAIN),
        SearchFilters(polygon=TRIANGLE, sensor=Sensor.S2),
        SearchFilters(bbox=SPAIN, time=SEPTEMBER),
    ],
)
def test_side_file_selects_what_the_store_does(
    multidate_store: VectorStore, tmp_path: Path, filters: SearchFilters
) -> None:
    everything = fetch_table(multidate_store, SearchFilters(), 10_000)
    folder = save_table(everything, tmp_path / "side", multidate_store.count())
    from_file = select(load_table(folder, multidate_store.count()), filters)
    from_store = fetch_table(multidate_store, filters, 10_000)
    assert 0 < len(from_file) < len(everything)
    assert sorted(from_file.keys) == sorted(from_store.keys)
    order = np.argsort(from_file.keys)
    np.testing.assert_array_equal(
        from_file.vectors[order], from_store.vectors[np.argsort(from_store.keys)]
    )


def test_maps_from_either_source_are_equal(
    multidate_store: VectorStore, demo_embedder: Embedder, tmp_path: Path
) -> None:
    everything = fetch_table(multidate_store, SearchFilters(), 10_000)
    folder = save_table(everything, tmp_path / "side", multidate_store.count())
    request = ScoreMapRequest(SearchRequest(text="flooded area", bbox=SPAIN))
    plain = score_map(multidate_store, request, demo_embedder, cache=AreaCache(1))
    fast = score_map(multidate_store, request, demo_embedder, cache=AreaCache(1, folder))
    np.testing.assert_array_equal(plain.grid.values, fast.grid.values)
    assert plain.top_keys == fast.top_keys and plain.km2() == fast.km2()


def test_stale_or_damaged_side_files(multidate_store: VectorStore, tmp_path: Path) -> None:
    table = fetch_table(multidate_store, SearchFilters(bbox=SPAIN), 10_000)
    folder = save_table(table, tmp_path / "side", 5)
    with pytest.raises(ScoreMapError, match="holds 5 chips, the index 7"):
        load_table(folder, 7)
    (next(folder.glob("seg-*")) / "vectors.npy").write_bytes(b"not numpy")
    with pytest.raises(ScoreMapError, match="no usable score-map side file"):
        load_table(folder)
    with pytest.raises(ScoreMapError, match="by area, sensor and time only"):
        select(table, SearchFilters(labels=("Water",)))


def test_refresh_appends_and_rebuilds_when_stale(
    multidate_records: list[ChipRecord], demo_embedder: Embedder, tmp_path: Path
) -> None:
    store = store_fixtures.open_backend("memory", tmp_path, demo_embedder.model_id)
    side = tmp_path / "side"
    a, b, c = multidate_records[:20], multidate_records[20:30], multidate_records[30:40]
    store.upsert(a)
    assert refresh_side_file(store, side, [r.key for r in a]).rebuilt == "none usable before"
    store.upsert(b)
    done = refresh_side_file(store, side, [r.key for r in b])
    assert (done.added, done.count, done.rebuilt) == (10, 30, "")
    assert len(list(side.glob("seg-*"))) == 2
    assert sorted(load_table(side, 30).keys) == sorted(r.key for r in a + b)
    # an ingest that died after its upserts, before the refresh: the file is refused (the map
    # reads the store), and the next refresh rebuilds it
    store.upsert(c)
    with pytest.raises(ScoreMapError, match="holds 30 chips, the index 40"):
        select_side_file(side, store.count(), SearchFilters())
    again = refresh_side_file(store, side, [])
    assert again.rebuilt == "it held 30 chips, the index 40" and len(load_table(side, 40)) == 40
    # chips it holds indexed again (--force): rebuilt, never listed twice
    store.upsert(c)
    forced = refresh_side_file(store, side, [r.key for r in c])
    assert forced.rebuilt == "chips it held were indexed again"
    assert len(list(side.glob("seg-*"))) == 1 and len(load_table(side, 40)) == 40
    store.close()


def test_a_segment_written_by_a_run_that_died_is_never_read(
    multidate_store: VectorStore, tmp_path: Path
) -> None:
    everything = fetch_table(multidate_store, SearchFilters(), 10_000)
    folder = save_table(everything.take(np.arange(10)), tmp_path / "side", 10)
    manifest = (folder / MANIFEST).read_bytes()
    save_table(everything, tmp_path / "other", 99)  # a whole segment, as a crashed run left it
    (next((tmp_path / "other").glob("seg-*"))).rename(folder / "seg-crashed")
    assert len(load_table(folder, 10)) == 10 and (folder / MANIFEST).read_bytes() == manifest
    save_table(everything.take(np.arange(5)), folder, 5)  # the next write clears it
    assert not (folder / "seg-crashed").exists() and len(load_table(folder, 5)) == 5
