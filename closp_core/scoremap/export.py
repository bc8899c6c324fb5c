"""Exports a GIS opens: the score raster as a Cloud-Optimized GeoTIFF, the area above the
threshold as GeoPackage / GeoJSON polygons, and a STAC ItemCollection describing them.

- **COG**: one band, float32, nodata NaN (no chip there), EPSG:4326, square pixels of
  ``ScoreGrid.pixel_deg`` degrees, deflate; tags: score kind, title, threshold, combine mode,
  change date. Same request, same bytes (no time stamps written).
- **Area**: one feature per dissolved region ≥ t (EPSG:4326): ``km2``, ``score_min`` /
  ``score_mean`` / ``score_max`` (its pixels), ``threshold``, ``score``, ``combine``, ``dates``
  (acquisition days of the chips ≥ t, comma-separated), ``s1_km2`` / ``s2_km2`` and
  ``s1_chips`` / ``s2_chips`` of the whole map.
- **Across the antimeridian** (``wrap.py``): one COG whose longitudes run past 180°; the
  polygons split at 180° (MultiPolygons, longitudes in [-180, 180]); STAC ``bbox`` west > east.
- **Imagery**: the selected chips (the map's top-N) read again from their sources, one COG
  each (``imagery.py``: S2 uint16 DN with band names, S1 float32 dB ``VV``/``VH``); chips that
  cannot be exported are listed with the reason (``closp:imagery_missing`` in the map Item).
- **STAC**: an ItemCollection with one Item for the map (its bounds, the dates used, assets
  ``score`` and ``area``) and one Item per exported chip (asset ``image``), written as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from closp_core.errors import ScoreMapError
from closp_core.scoremap.imagery import ImageryReport, chip_items, export_imagery
from closp_core.scoremap.run import ScoreMap
from closp_core.scoremap.wrap import split_at_180, wrapped_bbox
from closp_core.store import VectorStore

AREA_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON"}


def _check_out(path: Path, suffixes: tuple[str, ...], what: str) -> Path:
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ScoreMapError(f"{what} {path}: name a {' or '.join(suffixes)} file")
    if not path.parent.is_dir():
        raise ScoreMapError(f"{what} {path}: the folder {path.parent} does not exist")
    return path


def map_tags(smap: ScoreMap, threshold: float | None = None) -> dict[str, str]:
    """What the files say about the map (same for the same request)."""
    req = smap.request
    return {
        "score": smap.kind.value,
        "title": smap.title,
        "threshold": f"{smap.threshold if threshold is None else threshold:.6g}",
        "combine": req.combine.value,
        "change_after": req.change_after.isoformat() if req.change_after else "",
    }


def write_cog(smap: ScoreMap, path: str | Path) -> Path:
    """The combined score grid as a COG (module docstring); returns the path."""
    import rasterio

    path = _check_out(Path(path), (".tif", ".tiff"), "score map")
    grid = smap.grid
    h, w = grid.values.shape
    profile = {
        "driver": "COG",
        "width": w,
        "height": h,
        "count": 1,
        "dtype": "float32",
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": float("nan"),
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(grid.values, 1)
        dst.set_band_description(1, f"score ({smap.kind.value})")
        dst.update_tags(**map_tags(smap))
    return path


def area_frame(smap: ScoreMap, threshold: float | None = None) -> Any:
    """The dissolved area ≥ t as a GeoDataFrame in EPSG:4326 (module docstring)."""
    import geopandas as gpd

    t = smap.threshold if threshold is None else float(threshold)
    polygons = smap.polygons(t)
    figures = smap.figures(t)
    dates = sorted({d for f in figures.values() for d in f.dates})
    common = {
        "threshold": t,
        "score": smap.kind.value,
        "combine": smap.request.combine.value,
        "dates": ",".join(dates),
        **{f"{s}_km2": round(f.km2, 6) for s, f in figures.items()},
        **{f"{s}_chips": f.chips for s, f in figures.items()},
    }
    rows = [
        {
            "km2": round(p.km2, 6),
            "score_min": p.score_min,
            "score_mean": p.score_mean,
            "score_max": p.score_max,
            **common,
        }
        for p in polygons
    ]
    columns = ["km2", "score_min", "score_mean", "score_max", *common]
    crosses = smap.grid.bounds[2] > 180.0  # an antimeridian map: split at 180° (wrap.py)
    shapes = [split_at_180(p.geometry) if crosses else p.geometry for p in polygons]
    return gpd.GeoDataFrame(rows, columns=columns, geometry=shapes, crs="EPSG:4326")


def write_area(smap: ScoreMap, path: str | Path, threshold: float | None = None) -> Path:
    """The area ≥ t as GeoPackage (``.gpkg``) or GeoJSON (``.geojson``); returns the path."""
    path = _check_out(Path(path), tuple(AREA_DRIVERS), "area")
    frame = area_frame(smap, threshold)
    if path.exists():
        path.unlink()  # GeoPackage would append a layer otherwise
    frame.to_file(path, driver=AREA_DRIVERS[path.suffix.lower()], layer="area", engine="pyogrio")
    return path


def stac_collection(
    smap: ScoreMap, assets: dict[str, Path], imagery: ImageryReport | None = None
) -> Any:
    """A ``pystac.ItemCollection`` with one Item for the map and ``assets`` (name -> file), and
    one Item per chip of ``imagery`` written (the chips not written: ``closp:imagery_missing``
    of the map Item, ``[{"key", "reason"}]``)."""
    import pystac
    import shapely

    west, south, east, north = smap.grid.bounds
    days = smap.table.dates(np.isfinite(smap.scores))
    start, end = (
        (dt.datetime.fromisoformat(days[0]), dt.datetime.fromisoformat(days[-1]))
        if days
        else (None, None)
    )
    when = end.replace(tzinfo=dt.UTC) if end else None
    props: dict[str, Any] = {**map_tags(smap), "closp:chips": len(smap.table)}
    if imagery is not None:
        props["closp:imagery_missing"] = [
            {"key": c.key, "reason": c.reason} for c in imagery.missing
        ]
    if start and end:
        props["start_datetime"] = start.replace(tzinfo=dt.UTC).isoformat()
        props["end_datetime"] = (end.replace(tzinfo=dt.UTC) + dt.timedelta(days=1)).isoformat()
    item = pystac.Item(
        id="closp-score-map",
        geometry=shapely.geometry.mapping(split_at_180(shapely.box(west, south, east, north))),
        bbox=wrapped_bbox((west, south, east, north)),
        datetime=when,
        properties=props,
        start_datetime=None,
    )
    kinds = {".tif": pystac.MediaType.COG, ".gpkg": pystac.MediaType.GEOPACKAGE}
    for name, file in assets.items():
        kind = kinds.get(file.suffix.lower(), pystac.MediaType.GEOJSON)
        item.add_asset(name, pystac.Asset(href=file.name, media_type=kind, roles=["data"]))
    chips = chip_items(imagery) if imagery is not None else []
    return pystac.ItemCollection([item, *chips])


def write_stac(
    smap: ScoreMap,
    path: str | Path,
    assets: dict[str, Path],
    imagery: ImageryReport | None = None,
) -> Path:
    """The STAC ItemCollection of ``assets`` (and ``imagery``) as JSON at ``path``. Asset
    hrefs are relative to ``path``'s folder; returns the path."""
    path = _check_out(Path(path), (".json",), "STAC")
    body = _relative_hrefs(stac_collection(smap, assets, imagery).to_dict(), path, assets, imagery)
    path.write_text(json.dumps(body, indent=1, sort_keys=True), encoding="utf-8")
    return path


class Written(dict[str, Path]):
    """The files written (name -> path) and ``imagery``, the imagery export's report."""

    imagery: ImageryReport | None = None


def write_imagery_report(report: ImageryReport, path: Path) -> Path:
    """``report`` as JSON: ``[{"key", "file" (or null), "reason"}]`` per chip asked for."""
    rows = [
        {"key": c.key, "file": c.path.name if c.path else None, "reason": c.reason}
        for c in report.chips
    ]
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return path


def _relative_hrefs(
    body: dict[str, Any], path: Path, assets: dict[str, Path], imagery: ImageryReport | None
) -> dict[str, Any]:
    """Asset hrefs relative to the folder of the STAC file ``path`` (a GIS opens them there)."""
    files = {p.name: p for p in assets.values()}
    files.update({c.path.name: c.path for c in (imagery.written if imagery else ()) if c.path})
    for feature in body["features"]:
        for asset in feature["assets"].values():
            file = files.get(asset["href"])
            if file is not None:
                asset["href"] = os.path.relpath(file.resolve(), path.parent.resolve())
    return body


def write_exports(
    smap: ScoreMap,
    *,
    score_map: Path | None = None,
    area: Path | None = None,
    stac: Path | None = None,
    imagery: Path | None = None,
    store: VectorStore | None = None,
) -> Written:
    """Write the asked files (COG, area, the top chips' imagery into the folder ``imagery``,
    read through ``store``, with its ``report.json``; STAC describing the others): name ->
    path, and ``.imagery`` the per-chip report. Every path is checked before anything is
    written."""
    if imagery is not None and store is None:
        raise ScoreMapError("the imagery export reads the chips from the index: pass store=")
    checks = (
        (score_map, (".tif", ".tiff"), "score map"),
        (area, tuple(AREA_DRIVERS), "area"),
        (stac, (".json",), "STAC"),
    )
    for path, suffixes, what in checks:
        if path is not None:
            _check_out(path, suffixes, what)
    written = Written()
    if score_map is not None:
        written["score"] = write_cog(smap, score_map)
    if area is not None:
        written["area"] = write_area(smap, area)
    if imagery is not None and store is not None:
        written.imagery = export_imagery(store, smap.top_keys, imagery)
        written["imagery"] = write_imagery_report(written.imagery, Path(imagery) / "report.json")
    if stac is not None:
        files = {k: v for k, v in written.items() if k != "imagery"}
        written["stac"] = write_stac(smap, stac, files, written.imagery)
    return written
