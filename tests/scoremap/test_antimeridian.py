"""An area across ±180°: the Spain flood chips moved onto the antimeridian score as they do at
home (same km², same chips), on both sides; the exports are one raster past 180°, polygons
split at 180° and a STAC bbox with west > east (``closp_core.scoremap.wrap``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyogrio
import pystac
import pytest
import rasterio
import shapely

from closp_core.embedder import Embedder
from closp_core.errors import ScoreMapError
from closp_core.records import ChipRecord, GeoPolygon
from closp_core.scoremap import ScoreMapRequest, score_map
from closp_core.scoremap.export import write_exports
from closp_core.scoremap.wrap import crossing_box
from closp_core.search import SearchRequest
from closp_core.store import BBox, VectorStore
from tests.store import conftest as store_fixtures

SPAIN = BBox(-0.79, 38.08, -0.73, 38.13)
SHIFT = 180.76  # Spain's centre (-0.76°) onto 180°
ACROSS = (179.5, 37.5, -179.5, 38.5)


def _wrap(lon: float) -> float:
    return lon - 360.0 if lon > 180.0 else lon


def _moved(record: ChipRecord) -> ChipRecord | None:
    """``record`` moved by ``SHIFT``; None for a chip that would straddle 180°."""
    assert record.footprint is not None and record.center is not None
    ring = [(lon + SHIFT, lat) for lon, lat in record.footprint.exterior]
    if min(p[0] for p in ring) <= 180.0 < max(p[0] for p in ring):
        return None
    return dataclasses.replace(
        record,
        center=(_wrap(record.center[0] + SHIFT), record.center[1]),
        footprint=GeoPolygon(tuple((_wrap(lon), lat) for lon, lat in ring)),
    )


@pytest.fixture(scope="module")
def stores(
    multidate_records: list[ChipRecord],
    demo_embedder: Embedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[VectorStore, VectorStore]]:
    """(home, antimeridian): the same chips of the Spain area, in place and moved."""
    spain = [
        r
        for r in multidate_records
        if r.center and SPAIN.west < r.center[0] < SPAIN.east and r.acquired.month == 9  # type: ignore[union-attr]
    ]
    pairs = [(r, m) for r in spain if (m := _moved(r)) is not None]
    home, away = (
        store_fixtures.open_backend("memory", tmp_path_factory.mktemp(n), demo_embedder.model_id)
        for n in ("home", "away")
    )
    home.upsert([r for r, _ in pairs])
    away.upsert([m for _, m in pairs])
    yield home, away
    home.close()
    away.close()


def test_both_sides_scored_with_the_same_figures(
    stores: tuple[VectorStore, VectorStore], demo_embedder: Embedder, tmp_path: Path
) -> None:
    home_store, away_store = stores
    home = score_map(
        home_store, ScoreMapRequest(SearchRequest(text="flooded area", bbox=SPAIN)), demo_embedder
    )
    t = float(np.nanpercentile(home.scores, 40))
    request = ScoreMapRequest(
        SearchRequest(text="flooded area"), threshold=t, antimeridian_box=ACROSS
    )
    away = score_map(away_store, request, demo_embedder)
    centres = np.array([r.center for r in away_store.get(list(away.table.keys))])
    assert (centres[:, 0] > 0).any() and (centres[:, 0] < 0).any()  # chips on both sides
    assert len(away.table) == len(home.table) == home_store.count()
    west, _, east, _ = away.grid.bounds
    assert west < 180.0 < east and east - west < 0.2  # one continuous grid, not 360° wide
    assert away.grid.values.shape == home.grid.values.shape
    assert away.km2(t) == pytest.approx(home.km2(t), rel=1e-6) and away.km2(t) > 0
    for sensor, figure in away.figures(t).items():
        assert figure.km2 == pytest.approx(home.figures(t)[sensor].km2, rel=1e-6)
        assert figure.chips == home.figures(t)[sensor].chips
    written = write_exports(
        away, score_map=tmp_path / "m.tif", area=tmp_path / "a.geojson", stac=tmp_path / "s.json"
    )
    with rasterio.open(written["score"]) as src:
        assert src.crs.to_epsg() == 4326 and src.bounds.left < 180.0 < src.bounds.right
        np.testing.assert_array_equal(src.read(1), away.grid.values)
    frame = pyogrio.read_dataframe(written["area"])
    lons = np.concatenate([np.asarray(g.exterior.coords)[:, 0] for g in _polygons(frame)])
    assert lons.min() >= -180.0 and lons.max() <= 180.0
    assert (lons > 179).any() and (lons < -179).any()  # split at 180°, parts on both sides
    assert frame["km2"].sum() == pytest.approx(away.km2(t), rel=0.01)
    (item,) = list(pystac.ItemCollection.from_file(str(written["stac"])))
    assert item.bbox[0] > item.bbox[2] and item.geometry["type"] == "MultiPolygon"


def _polygons(frame: object) -> list[shapely.Polygon]:
    return [p for g in frame.geometry for p in getattr(g, "geoms", [g])]  # type: ignore[attr-defined]


def test_antimeridian_input() -> None:
    assert crossing_box("179.5,37.5,-179.5,38.5") == ACROSS
    assert crossing_box((10, 0, 20, 1)) is None and crossing_box(None) is None
    with pytest.raises(ScoreMapError, match="not both"):
        ScoreMapRequest(SearchRequest(text="x", bbox=SPAIN), antimeridian_box=ACROSS)
    with pytest.raises(ScoreMapError, match="west must be > east"):
        ScoreMapRequest(SearchRequest(text="x"), antimeridian_box=(10, 0, 20, 1))
    with pytest.raises(ScoreMapError, match="four numbers"):
        ScoreMapRequest(SearchRequest(text="x"), antimeridian_box=(190, 0, 20, 1))
