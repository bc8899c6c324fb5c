"""Georeferenced band files -> one common grid, read window by window.

``BandGrid`` opens every band of one scene (one file per band, or bands of a stacked file),
picks the finest band's grid as the reference (10 m for Sentinel-2), crops it to the area every
band covers, and reads any window of that grid for all bands at once. Bands on another grid
(20/60 m bands, a shifted origin, another CRS) are resampled **by georeference** through a GDAL
warped VRT, never stacked by array index. Only the requested window is read: memory is bounded
by the window size, whatever the scene size.

Pixels come back as ``(bands, h, w) float32`` with no-data as NaN: the file's no-data value,
NaN, +/-inf (counted), zeros for sources declared ``zero_is_nodata`` (S2 digital numbers), and
any area a band does not cover.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import numpy as np
import rasterio
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.env import get_gdal_config, set_gdal_config
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from closp_core.bands import canonical_band_name, remove_dn_offset
from closp_core.data.budget import check_pixel_budget
from closp_core.data.keys import display_text
from closp_core.data.vrt import check_regular_file, check_vrt, is_remote, sniff_format
from closp_core.errors import DataError
from closp_core.geo.crs import crs_name
from closp_core.records import ChipOrigin, OriginBand

RASTER_ERRORS: tuple[type[Exception], ...] = (RasterioError, CPLE_BaseError)
# GDAL drivers we read with: GeoTIFF/COG, JPEG2000 and (checked, see ``vrt.py``) VRT. Other
# drivers GDAL would sniff (raw formats, ASCII grids, HDF, netCDF ...) are refused.
READ_DRIVERS: frozenset[str] = frozenset(
    {"GTiff", "JP2OpenJPEG", "JP2KAK", "JP2ECW", "JP2MrSID", "VRT"}
)
GDAL_CACHE_BYTES = 64 * 2**20  # GDAL's block cache (process-wide), see _cap_gdal_cache
_BAND_TOKEN = re.compile(r"(?:^|(?<=[_\-.]))(B\d{1,2}A?|VV|VH)(?=[_\-.]|$)", re.IGNORECASE)
KNOWN_BANDS: frozenset[str] = frozenset(
    {"B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12", "VV", "VH"}
)


@dataclasses.dataclass(frozen=True)
class BandRef:
    """One band: a file path or URL, its 1-based band index there, and the product's
    ``ADD_OFFSET`` for Sentinel-2 DNs (``dn_offset``: -1000 for processing baseline >= 04.00,
    0.0 when the product says it has none, None when nothing says; applied by the offset rule,
    ``bands.remove_dn_offset``)."""

    path: str
    index: int = 1
    dn_offset: float | None = None


def band_from_file_name(stem: str) -> tuple[str, str] | None:
    """``"T18SVG_..._B8A"`` -> ``("B8A", "T18SVG_..._")``: (canonical band, name prefix).

    The *last* band token counts (``patch_for_vv_VH`` is VH): the band comes at the end of a
    name, after scene ids that may contain band-like words, with at most suffixes like ``_10m``.
    """
    for match in reversed(list(_BAND_TOKEN.finditer(stem))):
        band = canonical_band_name(match.group(1))
        if band in KNOWN_BANDS:
            return band, stem[: match.start()]
    return None


def band_from_label(label: str | None) -> str | None:
    """A band description / asset key (``"B02"``, ``"vv"``, ``"VV"``) -> canonical, or None."""
    if not label:
        return None
    band = canonical_band_name(label)
    return band if band in KNOWN_BANDS else None


def open_raster(path: str, stack: ExitStack) -> DatasetReader:
    """Open ``path`` with rasterio (any suffix: GDAL sniffs the format) or raise ``DataError``.

    Local paths must be regular GeoTIFF/JPEG2000 files or VRTs that pass ``vrt.check_vrt``
    (``vrt.sniff_format``; no FIFO or device), the driver must be one of ``READ_DRIVERS`` and
    the georeference must place the pixel grid (``check_georeference``)."""
    if not is_remote(path):
        check_regular_file(path)
        if sniff_format(path) == "vrt":
            check_vrt(path)
    try:
        dataset = stack.enter_context(rasterio.open(path))
    except RASTER_ERRORS as err:
        raise DataError(
            f"{path}: not a readable raster (corrupt, truncated or not an image): {err}"
        ) from None
    except UnicodeEncodeError:
        raise DataError(
            f"{display_text(path)}: the file name is not valid UTF-8 (undecodable bytes), "
            "which GDAL cannot open; rename the file"
        ) from None
    if dataset.driver not in READ_DRIVERS:
        raise DataError(
            f"{path}: refused: a {dataset.driver} file; scenes are read from GeoTIFF/COG, "
            "JPEG2000 or VRT files only"
        )
    check_georeference(dataset, path)
    return dataset


def check_georeference(dataset: DatasetReader, path: str) -> None:
    """``DataError`` unless ``dataset`` has a CRS and a finite, invertible geotransform."""
    if dataset.crs is None:
        if dataset.gcps[0]:
            raise DataError(
                f"{path}: has no usable geotransform (only ground control points, or a zero "
                "pixel size); warp it onto a map grid first (e.g. gdalwarp -t_srs EPSG:32633)"
            )
        raise DataError(f"{path}: has no CRS (no georeference); cannot place its chips on a map")
    transform = dataset.transform
    if not all(math.isfinite(v) for v in transform[:6]):
        raise DataError(f"{path}: its geotransform is not finite ({tuple(transform[:6])})")
    if transform == Affine.identity():
        raise DataError(f"{path}: has a CRS but no geotransform (pixel grid not placed on the map)")
    if abs(transform.determinant) < 1e-300:
        raise DataError(f"{path}: degenerate geotransform {tuple(transform[:6])} (zero pixel size)")


@dataclasses.dataclass(frozen=True)
class Grid:
    """The common grid: ``transform``/``crs`` of the reference band, cropped window in it."""

    crs: CRS
    transform: Affine  # of the full reference grid
    row0: int  # first row / column of the usable (all bands cover it) area
    col0: int
    height: int
    width: int

    def window_transform(self, row: int, col: int) -> Affine:
        """Affine of a window whose top-left is at (row, col) of the full reference grid."""
        return self.transform @ Affine.translation(col, row)


@dataclasses.dataclass(frozen=True)
class RasterHeader:
    """Where a raster lies, as its header (or a STAC asset's ``proj:`` fields) says:
    ``crs``, ``transform`` (pixel -> CRS), ``width`` x ``height`` pixels."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @classmethod
    def of(cls, dataset: DatasetReader) -> RasterHeader:
        return cls(dataset.crs, dataset.transform, dataset.width, dataset.height)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in ``crs``, as rasterio's ``dataset.bounds``."""
        left, bottom = self.transform @ (0, self.height)
        right, top = self.transform @ (self.width, 0)
        return float(left), float(bottom), float(right), float(top)

    @property
    def pixel_size(self) -> float:
        """Width of one pixel in CRS units (rasterio's ``res[0]``)."""
        return math.hypot(self.transform.a, self.transform.d)


def common_grid(headers: Mapping[str, RasterHeader]) -> tuple[str, Grid]:
    """The finest raster's grid (its path, and the ``Grid``), cropped to the area every
    raster covers; ``DataError`` when their extents do not overlap by a pixel. Pure: the
    same answer from file headers (``BandGrid``) or from STAC ``proj:`` fields (counts)."""
    ref_path = min(headers, key=lambda p: headers[p].pixel_size)
    ref = headers[ref_path]
    left, bottom, right, top = ref.bounds
    for path, header in headers.items():
        b = header.bounds
        if header.crs != ref.crs:
            try:
                b = transform_bounds(header.crs, ref.crs, *b)
            except RASTER_ERRORS as err:
                raise DataError(
                    f"{path}: its bounds cannot be placed in {ref.crs} ({err}); do its CRS "
                    "and coordinates match?"
                ) from None
        left, bottom = max(left, min(b[0], b[2])), max(bottom, min(b[1], b[3]))
        right, top = min(right, max(b[0], b[2])), min(top, max(b[1], b[3]))
        if left >= right or bottom >= top:
            raise DataError(
                f"{path}: band grids do not overlap ({ref_path} covers {tuple(ref.bounds)}, "
                f"this file {tuple(header.bounds)} in {header.crs}); pass bands of one scene"
            )
    inv = ~ref.transform
    cols, rows = zip(*(inv @ (x, y) for x in (left, right) for y in (bottom, top)), strict=True)
    eps = 1e-6
    col0 = max(0, math.ceil(min(cols) - eps))
    row0 = max(0, math.ceil(min(rows) - eps))
    col1 = min(ref.width, math.floor(max(cols) + eps))
    row1 = min(ref.height, math.floor(max(rows) + eps))
    if col1 <= col0 or row1 <= row0:
        raise DataError(f"{ref_path}: band grids share less than one pixel")
    return ref_path, Grid(ref.crs, ref.transform, row0, col0, row1 - row0, col1 - col0)


def _cap_gdal_cache() -> None:
    """Lower GDAL's block cache (default: 5 % of RAM, filled as a scene is read) to
    ``GDAL_CACHE_BYTES`` so memory stays flat whatever the scene size; reads go window by
    window, so a larger cache buys nothing. Process-wide; never raised."""
    if int(get_gdal_config("GDAL_CACHEMAX") or 0) > GDAL_CACHE_BYTES:
        set_gdal_config("GDAL_CACHEMAX", GDAL_CACHE_BYTES)


class BandGrid:
    """All bands of one scene on one grid. Use as a context manager; ``read`` windows of it."""

    def __init__(
        self,
        bands: Mapping[str, BandRef],
        *,
        zero_is_nodata: bool = False,
        resampling: Resampling = Resampling.bilinear,
        max_pixels: int | None = None,
    ) -> None:
        if not bands:
            raise DataError("no bands to read")
        self.names: tuple[str, ...] = tuple(bands)
        self.refs = dict(bands)
        self.zero_is_nodata = zero_is_nodata
        self.resampling = resampling
        self._stack = ExitStack()
        _cap_gdal_cache()
        self.datasets: dict[str, DatasetReader] = {}
        self.inf_pixels = 0
        try:
            for ref in self.refs.values():
                if ref.path not in self.datasets:
                    self.datasets[ref.path] = open_raster(ref.path, self._stack)
                    check_pixel_budget(self.datasets[ref.path], ref.path, max_pixels)
            self.grid = self._reference_grid()
            self._readers = {name: self._reader(self.refs[name]) for name in self.names}
        except DataError:
            self._stack.close()
            raise

    def __enter__(self) -> BandGrid:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    @property
    def files(self) -> list[str]:
        return list(self.datasets)

    def _reference_grid(self) -> Grid:
        """The finest band's grid, cropped to the area every band covers."""
        for name, ref in self.refs.items():
            count = self.datasets[ref.path].count
            if not 1 <= ref.index <= count:
                raise DataError(f"{ref.path}: band {name} index {ref.index} of {count} bands")
            dtype = self.datasets[ref.path].dtypes[ref.index - 1]
            if "complex" in dtype:
                raise DataError(
                    f"{ref.path}: band {name} holds complex pixels ({dtype}), e.g. SAR SLC "
                    "data; CLOSP reads detected backscatter (S1 GRD) or reflectance (S2): "
                    "convert it to intensity first"
                )
        headers = {path: RasterHeader.of(dataset) for path, dataset in self.datasets.items()}
        ref_path, grid = common_grid(headers)
        self._ref = self.datasets[ref_path]
        return grid

    def _source_nodata(self, dataset: DatasetReader) -> float | None:
        if dataset.nodata is not None:
            return float(dataset.nodata)
        return 0.0 if self.zero_is_nodata else None

    def _reader(self, ref: BandRef) -> DatasetReader | WarpedVRT:
        """The dataset itself when it is on the reference grid, else a warped VRT onto it."""
        dataset = self.datasets[ref.path]
        ref_ds = self._ref
        same = dataset.crs == ref_ds.crs and dataset.transform.almost_equals(ref_ds.transform)
        if same and dataset.shape == ref_ds.shape:
            return dataset
        key = f"vrt::{ref.path}"
        if key not in self.datasets:
            try:
                vrt = WarpedVRT(
                    dataset,
                    crs=ref_ds.crs,
                    transform=ref_ds.transform,
                    width=ref_ds.width,
                    height=ref_ds.height,
                    resampling=self.resampling,
                    src_nodata=self._source_nodata(dataset),
                    nodata=np.nan,
                    dtype="float32",
                )
            except RASTER_ERRORS as err:
                raise DataError(f"{ref.path}: cannot resample onto {ref_ds.name}: {err}") from None
            self.datasets[key] = self._stack.enter_context(vrt)
        return self.datasets[key]

    def origin(self, row: int, col: int, size: int, *, s1_linear: bool = False) -> ChipOrigin:
        """Where the ``size`` x ``size`` chip at (``row``, ``col``) of the full reference grid
        comes from (``ChipOrigin``; ``BandGrid.from_origin`` reads it again)."""
        transform = self.grid.window_transform(row, col)
        return ChipOrigin(
            bands=tuple(
                OriginBand(name, ref.path, ref.index, ref.dn_offset)
                for name, ref in self.refs.items()
            ),
            row=row,
            col=col,
            size=size,
            crs=crs_name(self.grid.crs),
            transform=tuple(transform)[:6],
            zero_is_nodata=self.zero_is_nodata,
            resampling=self.resampling.name,
            s1_linear=s1_linear,
        )

    @classmethod
    def from_origin(cls, origin: ChipOrigin) -> BandGrid:
        """The grid a chip of ``origin`` was read from, opened again (``DataError`` when a
        file is gone or no longer a raster)."""
        try:
            resampling = Resampling[origin.resampling]
        except KeyError:
            raise DataError(
                f"unknown resampling {origin.resampling!r} in the chip origin"
            ) from None
        bands = {b.name: BandRef(b.href, b.index, b.dn_offset) for b in origin.bands}
        return cls(bands, zero_is_nodata=origin.zero_is_nodata, resampling=resampling)

    def read(self, row: int, col: int, height: int, width: int) -> np.ndarray:
        """Window of the full reference grid -> ``(bands, height, width) float32``, NaN no-data."""
        window = Window(col, row, width, height)
        out = np.empty((len(self.names), height, width), dtype=np.float32)
        for i, name in enumerate(self.names):
            ref = self.refs[name]
            reader = self._readers[name]
            try:
                band = reader.read(ref.index, window=window, out_dtype="float32")
            except RASTER_ERRORS as err:
                raise DataError(
                    f"{ref.path}: cannot read band {name} ({err}); file corrupt or truncated?"
                ) from None
            if isinstance(reader, DatasetReader):
                nodata = self._source_nodata(reader)
                if nodata is not None and not math.isnan(nodata):
                    band[band == nodata] = np.nan
            if ref.dn_offset:
                band = remove_dn_offset(band, ref.dn_offset)  # no-data is NaN and stays NaN
            infinite = np.isinf(band)
            if infinite.any():
                self.inf_pixels += int(infinite.sum())
                band[infinite] = np.nan
            out[i] = band
        return out


def display_path(path: str) -> str:
    """A short name for messages and units: the file name for local paths, else the URL."""
    return Path(path).name if "://" not in path else path
