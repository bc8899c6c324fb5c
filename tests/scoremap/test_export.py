"""Every export read back with rasterio / pyogrio / pystac: CRS, values, geometry."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyogrio
import pystac
import pytest
import rasterio
import shapely

from closp_core.embedder import Embedder
from closp_core.errors import ScoreMapError
from closp_core.scoremap import ScoreMap, ScoreMapRequest, score_map
from closp_core.scoremap.export import write_area, write_cog, write_exports, write_stac
from closp_core.search import SearchRequest
from closp_core.store import BBox, VectorStore

SPAIN = BBox(-0.79, 38.08, -0.73, 38.13)


@pytest.fixture(scope="module")
def smap(multidate_store: VectorStore, demo_embedder: Embedder) -> ScoreMap:
    search = SearchRequest(text="flooded area", bbox=SPAIN)
    return score_map(multidate_store, ScoreMapRequest(search), demo_embedder)


def test_cog_holds_the_grid(smap: ScoreMap, tmp_path: Path) -> None:
    path = write_cog(smap, tmp_path / "map.tif")
    with rasterio.open(path) as src:
        assert src.driver == "GTiff" and src.crs.to_epsg() == 4326
        assert src.dtypes == ("float32",) and np.isnan(src.nodata)
        assert src.transform.almost_equals(smap.grid.transform)
        assert src.res == pytest.approx((smap.grid.pixel_deg, smap.grid.pixel_deg))
        values = src.read(1)
        assert src.tags()["score"] == "cosine similarity"
        assert float(src.tags()["threshold"]) == pytest.approx(smap.threshold, abs=1e-5)
        assert src.profile.get("tiled") or src.height < 512  # COG layout: tiled when large
    np.testing.assert_array_equal(values, smap.grid.values)
    assert np.isnan(values).any()  # outside the footprints: nodata
    # a pixel under one chip's centre holds at least that chip's score
    row, col = rasterio.transform.rowcol(smap.grid.transform, *smap.table.centers[smap.top[0]])
    assert values[row, col] == pytest.approx(float(smap.scores[smap.top[0]]), abs=1e-6)


@pytest.mark.parametrize("name", ["area.gpkg", "area.geojson"])
def test_area_polygons(smap: ScoreMap, tmp_path: Path, name: str) -> None:
    path = write_area(smap, tmp_path / name)
    frame = pyogrio.read_dataframe(path)
    assert frame.crs.to_epsg() == 4326 and len(frame) >= 1
    assert frame.geometry.is_valid.all()
    union = shapely.union_all(frame.geometry.values)
    assert len(frame) == len(smap.polygons())  # dissolved: one feature per region
    assert frame["km2"].sum() == pytest.approx(smap.km2(), rel=0.01)
    assert (frame["score_min"] >= smap.threshold - 1e-6).all()
    assert frame["dates"].iloc[0] and "2019-09-1" in frame["dates"].iloc[0]
    top = shapely.Point(*smap.table.centers[smap.top[0]])
    assert union.contains(top)  # the best chip lies in the area above the threshold


def test_stac_describes_the_files(smap: ScoreMap, tmp_path: Path) -> None:
    written = write_exports(
        smap, score_map=tmp_path / "m.tif", area=tmp_path / "a.gpkg", stac=tmp_path / "s.json"
    )
    items = pystac.ItemCollection.from_file(str(written["stac"]))
    (item,) = list(items)
    assert set(item.assets) == {"score", "area"}
    assert item.assets["score"].media_type == pystac.MediaType.COG
    assert (tmp_path / item.assets["area"].href).exists()
    assert item.bbox == pytest.approx(list(smap.grid.bounds))
    assert item.properties["start_datetime"].startswith("2019-08-1")
    assert json.loads(written["stac"].read_text())["type"] == "FeatureCollection"


def test_bad_export_paths(smap: ScoreMap, tmp_path: Path) -> None:
    with pytest.raises(ScoreMapError, match=r"name a \.tif or \.tiff file"):
        write_cog(smap, tmp_path / "map.png")
    with pytest.raises(ScoreMapError, match="does not exist"):
        write_area(smap, tmp_path / "nowhere" / "a.gpkg")
    with pytest.raises(ScoreMapError, match=r"name a \.json file"):
        write_stac(smap, tmp_path / "s.xml", {})
    with pytest.raises(ScoreMapError, match=r"area .*\.shp"):
        write_exports(smap, score_map=tmp_path / "ok.tif", area=tmp_path / "a.shp")
    assert not (tmp_path / "ok.tif").exists()  # nothing written when one path is bad


def test_change_map_exports(
    multidate_store: VectorStore, demo_embedder: Embedder, tmp_path: Path
) -> None:
    search = SearchRequest(text="flooded area", bbox=SPAIN)
    change = ScoreMapRequest(search, change_after=dt.date(2019, 9, 1), threshold=0.05)
    smap = score_map(multidate_store, change, demo_embedder)
    with rasterio.open(write_cog(smap, tmp_path / "change.tif")) as src:
        assert src.tags()["change_after"] == "2019-09-01"
        assert np.nanmin(src.read(1)) < 0.05 < np.nanmax(src.read(1))
    frame = pyogrio.read_dataframe(write_area(smap, tmp_path / "change.geojson"))
    assert (frame["score_max"] >= 0.05).all() and frame["score"].iloc[0] == "cosine after - before"
