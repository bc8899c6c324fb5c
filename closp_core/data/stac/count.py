"""How much a STAC API search would add, before anything is read: items, scenes and chips.

``count_search(source)`` runs the search of a ``StacSearchSource`` (the same search "Fetch
and add" runs: same pages, budgets and de-duplication) and counts, per scene, the chips its
read would make, **without reading a pixel**:

- **The grid** comes from the items' projection fields (``proj:shape``, ``proj:transform``
  and ``proj:epsg`` / ``proj:code`` / ``proj:wkt2``, on the asset or else the item, as the
  projection extension says) of every band the read would use (``select_bands``); when a band
  lacks them, from the band files' headers (a few KB each: the COG header, no pixels). The
  common grid is the one the reader uses (``raster.common_grid``).
- **The chips** are those of that grid the read keeps for the area: the chip offsets
  (``chip_offsets``), those whose box meets the area in the scene's CRS
  (``offsets_in_bounds``), then those whose footprint meets the area itself (``Aoi.meets``)
  — the reader's own rules, so the count is what a read yields, less the chips a read skips
  for their pixels (mostly no-data, e.g. outside the swath).

A scene that cannot be counted (no usable bands, grids that do not overlap) is listed in
``SearchCount.failed`` with its reason; the read would fail it too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeGuard

import pystac
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError

from closp_core.data.chipping import SceneOptions, kept_offsets, select_bands
from closp_core.data.raster import BandGrid, BandRef, Grid, RasterHeader, common_grid
from closp_core.data.stac.aoi import Aoi
from closp_core.data.stac.api import StacSearchSource
from closp_core.data.stac.static import SceneItems, StacRead, scene_bands, scene_options
from closp_core.errors import DataError
from closp_core.geo.crs import locate_quads, pixel_quad

_CRS_FIELDS = ("proj:code", "proj:epsg", "proj:wkt2")


@dataclasses.dataclass(frozen=True)
class SearchCount:
    """What a search would add: ``items`` found (within its ``max_items``), ``matched`` by
    the API in all (when it says), ``scenes`` they form, ``chips`` the reads would make;
    ``from_headers``: scenes whose grid needed the band files' headers; ``failed``: scenes
    (and search pages) that cannot be read, with why; ``notes``: why a search ended early."""

    items: int
    matched: int | None
    scenes: int
    chips: int
    from_headers: int = 0
    failed: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def count_search(source: StacSearchSource) -> SearchCount:
    """Run ``source``'s search and count its chips (module docstring); ``DataError`` when the
    search itself fails before any item came back."""
    scenes = source.scenes()
    failed = [f"{unit}: {err}" for unit, err in source.failures().items()]
    chips = from_headers = 0
    for unit, scene in scenes.items():
        try:
            count, headers = count_scene(scene, source.options, source.read_with)
        except DataError as err:
            failed.append(f"{unit}: {err}")
            continue
        chips += count
        from_headers += headers
    items = sum(len(scene.items) for scene in scenes.values())
    return SearchCount(items, source.matched, len(scenes), chips, from_headers, tuple(failed),
                       tuple(source.notes))  # fmt: skip


def count_scene(scene: SceneItems, options: SceneOptions, read: StacRead) -> tuple[int, bool]:
    """The chips one scene's read would make, and whether its grid needed file headers."""
    bands, dropped = scene_bands(scene, read)
    first = scene.items[0][0]
    where = f"item {scene.original_id!r}"
    if not bands:
        why = f" ({'; '.join(dropped)})" if dropped else ""
        raise DataError(f"{where} has no usable band assets{why}")
    options = scene_options(first, options, read)
    _, chosen = select_bands(bands, options.sensor, where)
    headers = proj_headers(scene, chosen, read)
    if headers is not None:
        grid = common_grid(headers)[1]
    else:
        landed = read.landed(chosen)
        with read.gdal_env(landed), BandGrid(landed) as opened:
            grid = opened.grid
    return chips_of_grid(grid, options, read.aoi, where), headers is None


def chips_of_grid(grid: Grid, options: SceneOptions, aoi: Aoi | None, where: str) -> int:
    """How many chips of ``grid`` a read keeps for ``options.aoi_bounds`` and ``aoi`` (with
    the read's own checks and budget: ``chipping.kept_offsets``)."""
    rows, cols = kept_offsets(grid, options, where)
    size = options.chip_size
    if aoi is None or not rows or not cols:
        return len(rows) * len(cols)
    quads = [pixel_quad(grid.window_transform(r, c), size, size) for r in rows for c in cols]
    return sum(aoi.meets(ring) for _, ring in locate_quads(grid.crs, quads, where))


def proj_headers(
    scene: SceneItems, bands: Mapping[str, BandRef], read: StacRead
) -> dict[str, RasterHeader] | None:
    """Path -> header of each band's file from the items' ``proj:`` fields; ``None`` when a
    band's asset does not carry all of them."""
    assets = _assets_by_path(scene, read)
    headers: dict[str, RasterHeader] = {}
    for ref in bands.values():
        found = assets.get(_plain(ref.path))
        header = proj_header(*found) if found else None
        if header is None:
            return None
        headers[ref.path] = header
    return headers


def proj_header(asset: pystac.Asset, item: pystac.Item) -> RasterHeader | None:
    """The header the projection fields of ``asset`` (else of ``item``) describe, or None."""
    fields: dict[str, Any] = {**item.properties, **asset.extra_fields}
    shape, values = fields.get("proj:shape"), fields.get("proj:transform")
    crs = _crs(fields)
    if crs is None or not _numbers(shape, 2) or not _numbers(values, 6):
        return None
    height, width = (int(v) for v in shape[:2])
    transform = Affine(*(float(v) for v in values[:6]))
    if height < 1 or width < 1 or abs(transform.determinant) < 1e-300:
        return None
    return RasterHeader(crs, transform, width, height)


def _crs(fields: Mapping[str, Any]) -> CRS | None:
    for name in _CRS_FIELDS:
        value = fields.get(name)
        if value is None or isinstance(value, bool):
            continue
        try:
            return CRS.from_epsg(value) if isinstance(value, int) else CRS.from_user_input(value)
        except (CRSError, TypeError, ValueError):
            return None
    return None


def _numbers(value: Any, least: int) -> TypeGuard[list[float]]:
    return (
        isinstance(value, list)
        and len(value) >= least
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def _assets_by_path(scene: SceneItems, read: StacRead) -> dict[str, tuple[pystac.Asset, Any]]:
    """Resolved href (and alternate hrefs) of every asset of the scene -> (asset, item)."""
    found: dict[str, tuple[pystac.Asset, Any]] = {}
    for item, base in scene.items:
        for asset in item.assets.values():
            alternates = asset.extra_fields.get("alternate")
            hrefs = [asset.href] + [
                a.get("href") for a in (alternates or {}).values() if isinstance(a, dict)
            ] if isinstance(alternates, dict | None) else [asset.href]  # fmt: skip
            for href in hrefs:
                if not isinstance(href, str):
                    continue
                try:
                    found.setdefault(_plain(read.policy.resolve(href, base)), (asset, item))
                except DataError:
                    continue
    return found


def _plain(path: str) -> str:
    """A URL without its query (a signature) for matching."""
    return path.split("?", 1)[0]
