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
from closp_core.scoremap import AreaCache, ScoreMapRequest, score_map
from closp_core.scoremap.sidefile import load_table, save_table, select
from closp_core.scoremap.table import fetch_table
from closp_core.search import SearchRequest
from closp_core.store import BBox, GeoPolygon, SearchFilters, TimeRange, VectorStore

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
    (folder / "vectors.npy").write_bytes(b"not numpy")
    with pytest.raises(ScoreMapError, match="no usable score-map side file"):
        load_table(folder)
    with pytest.raises(ScoreMapError, match="by area, sensor and time only"):
        select(table, SearchFilters(labels=("Water",)))
