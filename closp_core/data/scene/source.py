"""Raster scenes (GeoTIFF/COG/JPEG2000, any CRS) -> 120x120 chips. ``SceneSource`` reads them.

Accepted inputs (each path a file or a folder; folders are not searched recursively):

- a folder with **one file per band**, the band in the file name (``*_B02.*``, ``*_B8A.*``,
  ``s2_B01.jp2``, ``*_VV.tif``/``*_VH.tif``; extra tokens such as ``_10m`` after it are fine).
  Files sharing the name before the band token form one scene; files without a band token are
  taken as stacks (below). The suffix does not matter: GDAL sniffs the format (the Virginia
  sample's ``.jp2`` files are GeoTIFFs).
- a **Sentinel-2 product as it ships**: an L1C or L2A ``.SAFE`` folder or its ``.zip``, read
  with its own offsets, acquisition time and native-resolution band files (``safe.py``); a
  folder may hold several. Sentinel-1 ``.SAFE`` products are refused with the alternatives.
- a **stacked file** whose band descriptions name the bands (``B1`` ... ``B12``, ``B8A``; ``VV``,
  ``VH``); bands with other names are ignored. ``band_names=`` names them when descriptions are
  missing. A one-band file without a description takes the band from its file name.

What happens next (grid, chips, no-data, sensor, S1 units, time, labels, keys) is described in
``chipping.py``. Units are one display string per scene: the file path of a stack, or
``<folder>/<prefix>*`` for a per-band group.

Every problem with one path is that path's own ``DataError``: a path that does not exist, is a
FIFO or device, or a folder that cannot be listed becomes a unit whose ``read`` raises it, so
the other paths of the same run are read (only when *no* path holds a scene does ``units()``
raise); so does a broken Sentinel product (a ``.zip`` that is none) among a folder's files.
Files are opened through ``raster.open_raster`` (regular files, checked VRTs).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from closp_core.bands import Sensor
from closp_core.data.base import check_labels, existing_path, is_raster_file
from closp_core.data.chip import Chip, Tally
from closp_core.data.chipping import ChipWindow, SceneOptions, iter_grid_chips, select_bands
from closp_core.data.keys import payload_text
from closp_core.data.raster import (
    RASTER_ERRORS,
    BandGrid,
    BandRef,
    band_from_file_name,
    band_from_label,
    open_raster,
)
from closp_core.data.scene.safe import is_product, read_product
from closp_core.errors import DataError


@dataclasses.dataclass(frozen=True)
class SceneSpec:
    """One scene to read: named band references, or a stacked file to be resolved on read."""

    scene_id: str
    unit: str
    bands: dict[str, BandRef] | None = None  # per-band files
    stack: str | None = None  # a stacked file (bands from descriptions / band_names)
    band_names: tuple[str, ...] | None = None  # explicit names of the stack's bands
    name_hints: tuple[str, ...] = ()  # names that may carry the acquisition date
    acquired: dt.datetime | None = None  # from a product's metadata (``safe.py``)
    name: str | None = None  # the scene's name for people, when not ``scene_id`` (uploads)
    error: str | None = None  # why this path holds no readable scene (raised on read)


def stack_bands(path: str, band_names: Sequence[str] | None) -> dict[str, BandRef]:
    """Band name -> reference for a stacked file, from ``band_names`` or its descriptions."""
    with ExitStack() as stack:
        dataset = open_raster(path, stack)
        if band_names is not None:
            if len(band_names) != dataset.count:
                raise DataError(
                    f"{path}: {len(band_names)} band_names given for {dataset.count} bands"
                )
            labels: Sequence[str | None] = band_names
        else:
            labels = dataset.descriptions
        found: dict[str, BandRef] = {}
        for index, label in enumerate(labels, start=1):
            band = band_from_label(label)
            if band is not None and band not in found:
                found[band] = BandRef(path, index)
        if not found and dataset.count == 1:
            parsed = band_from_file_name(Path(path).stem)
            if parsed is not None:
                found[parsed[0]] = BandRef(path, 1)
        return found


def product_scenes(path: Path) -> list[SceneSpec]:
    """One scene per granule of the Sentinel product at ``path`` (``safe.py``)."""
    product = read_product(path)
    specs = []
    for tile, refs in product.granules.items():
        bands = {b: dataclasses.replace(r, dn_offset=product.offsets.get(b, 0.0))
                 for b, r in refs.items()}  # fmt: skip
        unit = str(path) if len(product.granules) == 1 else f"{path}#{tile}"
        specs.append(SceneSpec(product.scene_id(tile), unit, bands=bands,
                               name_hints=(product.name,), acquired=product.acquired))  # fmt: skip
    return specs


def discover_scenes(path: Path, band_names: Sequence[str] | None) -> list[SceneSpec]:
    """The scenes in a file or folder (see the module docstring); ``DataError`` when none."""
    if is_product(path):
        return product_scenes(path)
    if path.is_file():
        return [SceneSpec(path.stem, str(path), stack=str(path), band_names=_names(band_names),
                          name_hints=(path.stem, path.parent.name))]  # fmt: skip
    if not path.is_dir():
        raise DataError(
            f"{path}: not a regular file or folder (a FIFO, device or socket); point at a "
            "raster file or a scene folder"
        )
    try:
        children = sorted(path.iterdir())
    except OSError as err:
        raise DataError(f"folder {path}: cannot be listed ({err.strerror or err})") from None
    files = [p for p in children if is_raster_file(p)]
    products = [p for p in children if is_product(p)]
    if not files and not products:
        raise DataError(
            f"folder {path}: no raster files (.tif, .tiff, .jp2, .vrt) and no Sentinel product "
            "(.SAFE folder or .zip); point at a scene folder"
        )
    groups: dict[str, dict[str, BandRef]] = {}
    specs: list[SceneSpec] = []
    for product in products:  # a broken product fails alone; the folder's others are read
        try:
            specs.extend(product_scenes(product))
        except DataError as err:
            specs.append(SceneSpec(product.name, str(product), error=str(err)))
    for file in files:
        parsed = band_from_file_name(file.stem)
        if parsed is None:
            specs.append(SceneSpec(file.stem, str(file), stack=str(file),
                                   band_names=_names(band_names),
                                   name_hints=(file.stem, path.name)))  # fmt: skip
            continue
        band, prefix = parsed
        group = groups.setdefault(prefix, {})
        if band in group:
            raise DataError(f"folder {path}: two files for band {band}: {group[band].path}, {file}")
        group[band] = BandRef(str(file))
    for prefix, bands in groups.items():
        stripped = prefix.strip("_-. ")
        scene_id = (
            stripped if path.name in stripped else "_".join(filter(None, [path.name, stripped]))
        )
        specs.append(SceneSpec(scene_id, f"{path}/{prefix}*", bands=bands,
                               name_hints=(prefix, path.name)))  # fmt: skip
    return specs


def _names(band_names: Sequence[str] | None) -> tuple[str, ...] | None:
    """``band_names`` as a tuple of strings; ``DataError`` for one string or a non-string."""
    if band_names is None:
        return None
    if isinstance(band_names, str):
        raise DataError(
            f"band_names must be a list such as ['VV', 'VH'], got one string {band_names!r}"
        )
    names = tuple(band_names)
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"band_names[{i}] is {name!r}; give every band a name such as 'VV'")
    return names


class SceneSource:
    """``ChipSource`` for raster scenes.

    ``SceneSource(paths, options=SceneOptions(...), band_names=None, scene_id=None)``:
    ``paths`` one or more files/folders; ``band_names`` names a stack's bands when its
    descriptions do not; ``scene_id`` overrides the id of a single scene (it is part of the keys);
    ``allowed_roots``: every file read must really (symlinks resolved) lie inside one of these
    folders, else that scene fails (``check_within_roots``; the app's import folders).
    ``names``: the names files were given by people (file name on disk -> name as uploaded):
    a scene of such files is *called* after them (its chips' ``scene_id``: ``Valencia flood``
    for ``Valencia_flood_<hash>.tif``) and only those names are read for a date, while its
    keys stay those of the files on disk (``named_spec``).
    """

    name = "scene"

    def __init__(
        self,
        paths: str | Path | Sequence[str | Path],
        options: SceneOptions | None = None,
        *,
        band_names: Sequence[str] | None = None,
        scene_id: str | None = None,
        allowed_roots: Sequence[Path] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        self.names = dict(names or {})
        self.allowed_roots = None if allowed_roots is None else tuple(allowed_roots)
        self.paths = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
        self.options = options or SceneOptions()
        check_labels(self.options.labels, "scene labels")
        self.band_names = _names(band_names)
        if scene_id is not None and (not isinstance(scene_id, str) or not scene_id.strip()):
            raise DataError(f"scene_id must be a non-empty string, got {scene_id!r}")
        self.scene_id = scene_id
        self._specs: dict[str, SceneSpec] | None = None

    def units(self) -> list[str]:
        """One unit per scene found under ``paths``."""
        if self._specs is None:
            specs: list[SceneSpec] = []
            for path in self.paths:
                try:
                    specs.extend(discover_scenes(existing_path(path, "scene"), self.band_names))
                except DataError as err:
                    specs.append(SceneSpec(path.name, str(path), error=str(err)))
            if all(spec.error is not None for spec in specs):
                reasons = "; ".join(str(spec.error) for spec in specs)
                raise DataError(reasons or "no scene paths given; pass raster files or folders")
            if self.scene_id is not None:
                if len(specs) != 1:
                    raise DataError(f"scene_id={self.scene_id!r} given, but {len(specs)} scenes")
                specs = [dataclasses.replace(specs[0], scene_id=self.scene_id)]
            specs = [named_spec(spec, self.names) for spec in specs]
            self._specs = {spec.unit: spec for spec in specs}
        return list(self._specs)

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        """Stream the chips of one scene (``unit`` from ``units()``)."""
        self.units()
        assert self._specs is not None
        if unit not in self._specs:
            raise DataError(f"unknown scene unit {unit!r}; use one from units()")
        spec = self._specs[unit]
        if self.allowed_roots is not None:
            refs = spec.bands.values() if spec.bands else [BandRef(spec.stack or unit)]
            for ref in refs:
                check_within_roots(ref.path, self.allowed_roots)
        return read_scene(spec, self.options, tally)


def named_spec(spec: SceneSpec, names: Mapping[str, str]) -> SceneSpec:
    """``spec`` called after the names its files were given (``SceneSource(names=...)``): a
    stack by its name's stem, a band group by its names' common prefix (``Valencia flood``
    for ``Valencia flood_B02.tif`` ...); those names are its only date hints. Unchanged when
    none of its files has a given name, and for Sentinel products (they name themselves)."""
    if spec.error is not None or spec.acquired is not None:
        return spec
    paths = [spec.stack] if spec.stack else [r.path for r in (spec.bands or {}).values()]
    given = sorted({names[Path(p).name] for p in paths if Path(p).name in names})
    if not given:
        return spec
    stems = [Path(g).stem for g in given]
    if spec.stack is None:
        stems = [(band_from_file_name(s) or ("", s))[1] for s in stems]
    name = payload_text(min(stems, key=len).strip("_-. ")) or spec.scene_id
    return dataclasses.replace(spec, name=name, name_hints=tuple(stems))


def check_within_roots(path: str, roots: Sequence[Path]) -> None:
    """``DataError`` unless the real path of ``path`` (symlinks resolved; for
    ``/vsizip/<zip>/<member>`` the zip's) lies inside one of ``roots``."""
    local = path.removeprefix("/vsizip/")
    if local != path and ".zip" in local.lower():
        local = local[: local.lower().index(".zip") + 4]
    real = Path(local).resolve()
    if not any(real.is_relative_to(root) for root in roots):
        raise DataError(
            f"{path}: refused: its real path {real} lies outside the folders allowed "
            f"({', '.join(map(str, roots))}); a link may not lead out of them"
        )


def read_scene(
    spec: SceneSpec, options: SceneOptions, tally: Tally, source: str = "scene"
) -> Iterator[Chip]:
    """Chips of one ``SceneSpec`` (a generator: files stay open only while it runs)."""
    if spec.error is not None:
        raise DataError(spec.error)
    if spec.bands is not None:
        found = spec.bands
    else:
        assert spec.stack is not None
        found = stack_bands(spec.stack, spec.band_names)
    sensor, bands = select_bands(found, options.sensor, spec.unit)
    if sensor is Sensor.S2 and options.s2_offset is not None:  # the user's word wins
        bands = {b: dataclasses.replace(r, dn_offset=-options.s2_offset) for b, r in bands.items()}
    if spec.acquired is not None and options.acquired is None:
        options = dataclasses.replace(options, acquired=spec.acquired)
    zero = options.zero_is_nodata if options.zero_is_nodata is not None else sensor is Sensor.S2
    grid = BandGrid(
        bands,
        zero_is_nodata=zero,
        resampling=Resampling[options.resampling],
        max_pixels=options.max_file_pixels,
    )
    return _stream(grid, spec, sensor, options, tally, source)


def _stream(
    grid: BandGrid,
    spec: SceneSpec,
    sensor: Sensor,
    options: SceneOptions,
    tally: Tally,
    source: str,
) -> Iterator[Chip]:
    with grid:
        yield from iter_grid_chips(
            grid, spec.scene_id, sensor, options, tally,
            name_hints=spec.name_hints, source=source, name=spec.name,
        )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class MaskLabeler:
    """A ``chip_labeler`` that gives ``label`` to chips where a class mask shows enough of it.

    Rule: the mask raster (any grid/CRS; resampled by georeference onto the chip with nearest
    neighbour) is read under the chip; pixels equal to a value in ``nodata_values`` are ignored;
    when at least ``min_share`` of the remaining pixels hold a value in ``values``, the chip gets
    ``label``. For the Sen1Floods11 ``*_LabelHand.tif`` (1 water, 0 not, -1 no data):
    ``MaskLabeler(path, "Flooded Area", values=(1,), min_share=0.1)``.
    """

    path: Path
    label: str
    values: tuple[float, ...] = (1,)
    min_share: float = 0.1
    nodata_values: tuple[float, ...] = (-1,)

    def __call__(self, window: ChipWindow) -> list[str]:
        height, width = window.shape
        try:
            with (
                rasterio.open(self.path) as src,
                WarpedVRT(  # reads only the mask blocks under this chip
                    src,
                    crs=window.crs,
                    transform=window.transform,
                    width=width,
                    height=height,
                    resampling=Resampling.nearest,
                    dtype="float32",
                    nodata=np.nan,
                ) as vrt,
            ):
                mask = vrt.read(1)
        except RASTER_ERRORS as err:
            raise DataError(f"{self.path}: cannot read the label mask ({err})") from None
        valid = np.isfinite(mask) & ~np.isin(mask, self.nodata_values)
        if not valid.any():
            return []
        share = float(np.isin(mask[valid], self.values).mean())
        return [self.label] if share >= self.min_share else []
