"""BigEarthNet (v1 layout) patch folders -> one chip per patch. ``BigEarthNetSource`` reads them.

A patch folder holds one GeoTIFF per band and ``<patch>_labels_metadata.json``:

- S2 L2A: ``<patch>_B01.tif`` ... ``_B12.tif``, ``_B8A.tif`` (no B10), uint16 digital numbers;
  10 m bands 120x120, 20 m bands 60x60, 60 m bands 20x20 px -> resampled by georeference onto
  the 120x120 grid of the 10 m bands (``SceneOptions.resampling``, default bilinear).
- S1 GRD: ``<patch>_VV.tif``, ``<patch>_VH.tif``, float32 dB.
- Metadata JSON: ``labels`` (CORINE names -> our labels with ``map_corine``; names with no
  mapping, e.g. a misspelling, are kept among ``original_labels``, listed as unmapped and
  flagged), ``coordinates`` (UTM box ``ulx, uly, lrx, lry`` — the real S1 typo ``lly`` for
  ``lry`` is accepted) and ``projection`` (WKT): they give the footprint (else the raster grid
  does); ``acquisition_date`` (S2) / ``acquisition_time`` (S1) give the time (else the patch
  name's ``20170613T101031``).

Sensor from the band files; key ``bigearthnet/<patch_name>`` (the name through
``keys.key_part``); ``scene_id`` = patch name.

Every input problem of one patch is a ``DataError`` for that patch alone: a metadata file that
is no regular file, over ``MAX_METADATA_BYTES``, not JSON or nested too deeply; ``labels`` that
are not a list of strings (a bare string would be split into letters); two files for one band;
an acquisition time outside the Sentinel era; coordinates that do not fit the projection, or
that place the patch more than ``MAX_OFFSET_M`` away from where its raster grid is. Pixel
values are checked as for scenes (``values.py``: units and physical range). A patch without
labels is indexed and flagged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.enums import Resampling

from closp_core.bands import Sensor
from closp_core.data.base import (
    existing_path,
    flag_unmapped,
    harmonise_labels,
    source_label_list,
)
from closp_core.data.chip import Chip, Tally
from closp_core.data.chipping import CHIP_SIZE, SceneOptions, prepare_chip, select_bands
from closp_core.data.keys import key_part, patch_key, payload_text
from closp_core.data.raster import BandGrid, BandRef, Grid, band_from_file_name
from closp_core.data.timestamps import check_acquired, first_time, parse_time, time_from_name
from closp_core.data.values import check_scene_values, range_flag, screen_chip
from closp_core.data.vrt import check_regular_file
from closp_core.errors import DataError
from closp_core.geo import distance_m
from closp_core.geo.crs import (
    Quad,
    box_quad,
    check_pixel_size,
    crs_name,
    locate_quads,
    parse_crs,
    pixel_quad,
)
from closp_core.labels import sort_labels

METADATA_SUFFIX = "_labels_metadata.json"
MAX_METADATA_BYTES = 1 << 20  # real ones are ~1-2 kB
MAX_OFFSET_M = 1000.0  # metadata centre vs raster centre: at most this far apart


def find_patches(root: Path) -> list[Path]:
    """Patch folders (holding ``*_labels_metadata.json``) at or below ``root``, sorted."""
    folders = {p.parent for p in root.rglob(f"*{METADATA_SUFFIX}")}
    return sorted(folders)


def load_patch_metadata(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The patch's metadata file and its parsed JSON; ``DataError`` if missing or invalid."""
    files = sorted(folder.glob(f"*{METADATA_SUFFIX}"))
    if len(files) != 1:
        raise DataError(f"{folder}: expected one *{METADATA_SUFFIX}, found {len(files)}")
    check_regular_file(files[0], "JSON metadata")
    if files[0].stat().st_size > MAX_METADATA_BYTES:
        raise DataError(
            f"{files[0]}: {files[0].stat().st_size} bytes is too large for patch metadata "
            f"(limit {MAX_METADATA_BYTES})"
        )
    try:
        meta = json.loads(files[0].read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise DataError(f"{files[0]}: not readable JSON ({err})") from None
    except RecursionError:
        raise DataError(f"{files[0]}: JSON nested too deeply to be patch metadata") from None
    if not isinstance(meta, dict):
        raise DataError(f"{files[0]}: expected a JSON object")
    return files[0], meta


def patch_quad(meta: Mapping[str, Any], where: Path) -> tuple[Any, Quad] | None:
    """(CRS, corner quad) from ``coordinates`` + ``projection``, or None when they are absent."""
    coords = meta.get("coordinates")
    if not isinstance(coords, dict) or "projection" not in meta:
        return None
    lower_key = "lry" if "lry" in coords else "lly"  # ``lly``: a real typo in BigEarthNet S1
    try:
        left, top, right = float(coords["ulx"]), float(coords["uly"]), float(coords["lrx"])
        bottom = float(coords[lower_key])
    except (KeyError, TypeError, ValueError, OverflowError):
        raise DataError(f"{where}: coordinates need ulx, uly, lrx, lry; got {coords}") from None
    if not left < right or not bottom < top:
        raise DataError(f"{where}: coordinates do not describe a box: {coords}")
    return parse_crs(meta["projection"], str(where)), box_quad(left, bottom, right, top)


def patch_labels(meta: Mapping[str, Any], where: Path, tally: Tally) -> list[str]:
    """The patch's source labels (a list of strings) or ``DataError``; none is flagged."""
    if meta.get("labels") is None:
        tally.flag("BigEarthNet patch without labels")
        return []
    return source_label_list(meta["labels"], str(where))


class BigEarthNetSource:
    """``ChipSource`` for BigEarthNet patch folders.

    ``BigEarthNetSource(root, options=None)``: ``root`` a patch folder or a folder holding
    them (searched recursively). From ``options`` only ``resampling``, ``max_nodata``,
    ``zero_is_nodata``, ``units_check`` and ``labels`` (added to each patch's own) are used.
    """

    name = "bigearthnet"

    def __init__(self, root: str | Path, options: SceneOptions | None = None) -> None:
        self.root = Path(root)
        self.options = options or SceneOptions()

    def units(self) -> list[str]:
        """One unit per patch folder."""
        root = existing_path(self.root, "BigEarthNet folder")
        patches = find_patches(root) if root.is_dir() else []
        if not patches:
            raise DataError(
                f"{root}: no BigEarthNet patch folders (folders with *{METADATA_SUFFIX})"
            )
        return [str(p) for p in patches]

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        """The patch's single chip (nothing when its no-data share is too high)."""
        folder = existing_path(unit, "BigEarthNet patch")
        meta_file, meta = load_patch_metadata(folder)
        names = patch_labels(meta, meta_file, tally)
        tally.expect(1)
        found: dict[str, BandRef] = {}
        for file in sorted(folder.glob("*.tif")):
            parsed = band_from_file_name(file.stem)
            if parsed is None:
                continue
            if parsed[0] in found:
                raise DataError(
                    f"{folder}: two files for band {parsed[0]}: {found[parsed[0]].path}, {file}"
                )
            found[parsed[0]] = BandRef(str(file))
        sensor, bands = select_bands(found, None, str(folder))
        zero = self.options.zero_is_nodata
        grid = BandGrid(
            bands,
            zero_is_nodata=(sensor is Sensor.S2) if zero is None else zero,
            resampling=Resampling[self.options.resampling],
            max_pixels=self.options.max_file_pixels,
        )
        return self._chip(grid, folder, meta_file, meta, sensor, names, tally)

    def _chip(
        self,
        grid: BandGrid,
        folder: Path,
        meta_file: Path,
        meta: dict[str, Any],
        sensor: Sensor,
        names: list[str],
        tally: Tally,
    ) -> Iterator[Chip]:
        with grid:
            g = grid.grid
            if g.height < CHIP_SIZE or g.width < CHIP_SIZE:
                raise DataError(f"{folder}: bands cover {g.width}x{g.height} px, not 120x120")
            acquired = _patch_time(meta, folder.name, meta_file, tally)
            raw = self._pixels(grid, sensor, str(folder), tally)
            if raw is None:
                return
            pixels = prepare_chip(raw, sensor, grid.names, False, str(folder))
            crs, ring, center = _locate(g, meta, meta_file)
            ours, unmapped = harmonise_labels(names)
            flag_unmapped(tally, unmapped)
            key_id = key_part(folder.name)
            if key_id != folder.name:
                tally.flag("scene id made safe for the key (scene_id keeps the original)")
            yield Chip(
                key=patch_key(key_id),
                sensor=sensor,
                pixels=pixels,
                center=center,
                footprint=ring,
                crs=crs_name(crs),
                source="bigearthnet",
                scene_id=payload_text(folder.name),
                acquired=acquired,
                labels=tuple(sort_labels([*ours, *self.options.labels])),
                original_labels=tuple(names),
                unmapped_labels=unmapped,
                origin=grid.origin(g.row0, g.col0, CHIP_SIZE),
            )

    def _pixels(self, grid: BandGrid, sensor: Sensor, what: str, tally: Tally) -> Any:
        """The patch's raw ``(bands, 120, 120)`` pixels, checked (``values.py``); ``None`` when
        the no-data share is too high."""
        g = grid.grid
        check_pixel_size(g.crs, g.transform, g.row0, g.col0, what)
        raw = grid.read(g.row0, g.col0, CHIP_SIZE, CHIP_SIZE)
        check = self.options.units_check
        if check:
            check_scene_values(raw, sensor, False, what)
        raw, outside = screen_chip(raw, sensor, False, mask=check)
        if outside:
            tally.flag(range_flag(sensor, False, masked=check))
        if float(np.isnan(raw).any(axis=0).mean()) > self.options.max_nodata:
            tally.skip(f"no-data share above {self.options.max_nodata:.0%}")
            return None
        return raw


def _locate(
    g: Grid, meta: Mapping[str, Any], meta_file: Path
) -> tuple[Any, tuple[tuple[float, float], ...], tuple[float, float]]:
    """(CRS, footprint ring, centre) from the metadata box, else the raster grid; ``DataError``
    when both exist and disagree by more than ``MAX_OFFSET_M``."""
    transform = g.window_transform(g.row0, g.col0)
    ((grid_center, grid_ring),) = locate_quads(
        g.crs, [pixel_quad(transform, CHIP_SIZE, CHIP_SIZE)], str(meta_file)
    )
    located = patch_quad(meta, meta_file)
    if located is None:
        return g.crs, grid_ring, grid_center
    crs, quad = located
    ((center, ring),) = locate_quads(crs, [quad], str(meta_file))
    offset = distance_m(center, grid_center)
    if offset > MAX_OFFSET_M:
        raise DataError(
            f"{meta_file}: its coordinates place the patch at {center}, {offset / 1000:.3g} km "
            f"from its raster grid ({grid_center}); do the projection and coordinates match?"
        )
    return crs, ring, center


def _patch_time(meta: Mapping[str, Any], name: str, meta_file: Path, tally: Tally) -> Any:
    """Time from the metadata (``DataError`` outside the Sentinel era), else from the name;
    a time field that is no time is flagged."""
    given = [meta[k] for k in ("acquisition_time", "acquisition_date") if meta.get(k) is not None]
    tagged = first_time(parse_time(v) for v in given)
    if tagged is not None:
        return check_acquired(tagged, str(meta_file))
    if given:
        tally.flag("a date field that is no date (time from the name, or none)")
    return time_from_name(name)
