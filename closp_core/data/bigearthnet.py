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

Sensor from the band files; key ``bigearthnet/<patch_name>``; ``scene_id`` = patch name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rasterio.enums import Resampling

from closp_core.bands import Sensor
from closp_core.data.base import existing_path, flag_unmapped, harmonise_labels
from closp_core.data.chip import Chip, DataError, Tally
from closp_core.data.chipping import CHIP_SIZE, SceneOptions, prepare_chip, select_bands
from closp_core.data.geo import box_quad, crs_name, locate_quads, parse_crs
from closp_core.data.raster import BandGrid, BandRef, band_from_file_name
from closp_core.data.timestamps import first_time, parse_time, time_from_name
from closp_core.labels import sort_labels

METADATA_SUFFIX = "_labels_metadata.json"


def find_patches(root: Path) -> list[Path]:
    """Patch folders (holding ``*_labels_metadata.json``) at or below ``root``, sorted."""
    folders = {p.parent for p in root.rglob(f"*{METADATA_SUFFIX}")}
    return sorted(folders)


def load_patch_metadata(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The patch's metadata file and its parsed JSON; ``DataError`` if missing or invalid."""
    files = sorted(folder.glob(f"*{METADATA_SUFFIX}"))
    if len(files) != 1:
        raise DataError(f"{folder}: expected one *{METADATA_SUFFIX}, found {len(files)}")
    try:
        meta = json.loads(files[0].read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{files[0]}: not readable JSON ({err})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{files[0]}: expected a JSON object")
    return files[0], meta


def patch_quad(meta: Mapping[str, Any], where: Path) -> tuple[Any, Any] | None:
    """(CRS, corner quad) from ``coordinates`` + ``projection``, or None when they are absent."""
    coords = meta.get("coordinates")
    if not isinstance(coords, dict) or "projection" not in meta:
        return None
    lower_key = "lry" if "lry" in coords else "lly"  # ``lly``: a real typo in BigEarthNet S1
    try:
        left, top, right = float(coords["ulx"]), float(coords["uly"]), float(coords["lrx"])
        bottom = float(coords[lower_key])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{where}: coordinates need ulx, uly, lrx, lry; got {coords}") from None
    if not left < right or not bottom < top:
        raise DataError(f"{where}: coordinates do not describe a box: {coords}")
    return parse_crs(meta["projection"], str(where)), box_quad(left, bottom, right, top)


class BigEarthNetSource:
    """``ChipSource`` for BigEarthNet patch folders.

    ``BigEarthNetSource(root, options=None)``: ``root`` a patch folder or a folder holding
    them (searched recursively). From ``options`` only ``resampling``, ``max_nodata``,
    ``zero_is_nodata`` and ``labels`` (added to each patch's own) are used.
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
        tally.expect(1)
        found: dict[str, BandRef] = {}
        for file in sorted(folder.glob("*.tif")):
            parsed = band_from_file_name(file.stem)
            if parsed is not None:
                found[parsed[0]] = BandRef(str(file))
        sensor, bands = select_bands(found, None, str(folder))
        zero = self.options.zero_is_nodata
        grid = BandGrid(
            bands,
            zero_is_nodata=(sensor is Sensor.S2) if zero is None else zero,
            resampling=Resampling[self.options.resampling],
        )
        return self._chip(grid, folder, meta_file, meta, sensor, tally)

    def _chip(
        self,
        grid: BandGrid,
        folder: Path,
        meta_file: Path,
        meta: dict[str, Any],
        sensor: Sensor,
        tally: Tally,
    ) -> Iterator[Chip]:
        with grid:
            g = grid.grid
            if g.height < CHIP_SIZE or g.width < CHIP_SIZE:
                raise DataError(f"{folder}: bands cover {g.width}x{g.height} px, not 120x120")
            raw = grid.read(g.row0, g.col0, CHIP_SIZE, CHIP_SIZE)
            if float((raw != raw).any(axis=0).mean()) > self.options.max_nodata:
                tally.skip(f"no-data share above {self.options.max_nodata:.0%}")
                return
            pixels = prepare_chip(raw, sensor, grid.names, False, str(folder))
            located = patch_quad(meta, meta_file)
            if located is None:
                x0, y0 = g.window_transform(g.row0, g.col0) @ (0, 0)
                x1, y1 = g.window_transform(g.row0, g.col0) @ (CHIP_SIZE, CHIP_SIZE)
                located = g.crs, box_quad(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            crs, quad = located
            ((center, ring),) = locate_quads(crs, [quad], str(meta_file))
            names = [str(n) for n in meta.get("labels") or []]
            ours, unmapped = harmonise_labels(names)
            flag_unmapped(tally, unmapped)
            labels = tuple(sort_labels([*ours, *self.options.labels]))
            yield Chip(
                key=f"bigearthnet/{folder.name}",
                sensor=sensor,
                pixels=pixels,
                center=center,
                footprint=ring,
                crs=crs_name(crs),
                source="bigearthnet",
                scene_id=folder.name,
                acquired=_patch_time(meta, folder.name),
                labels=labels,
                original_labels=tuple(names),
                unmapped_labels=unmapped,
            )


def _patch_time(meta: Mapping[str, Any], name: str) -> Any:
    keys = ("acquisition_time", "acquisition_date")
    return first_time([*(parse_time(meta.get(k)) for k in keys), time_from_name(name)])
