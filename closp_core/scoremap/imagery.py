"""The selected chips' imagery, read again from their sources, as Cloud-Optimized GeoTIFFs.

Each chip's payload keeps where its pixels came from (``origin``, a ``ChipOrigin``: the band
files or URLs, the window in the reference grid, its CRS and transform, how it was read). The
export opens those files again with the reader's own ``BandGrid`` (same resampling of coarser
bands onto the finest grid, same S2 offset rule), or, for a CrisisLandMark chip, its HDF5
shard's ``image`` dataset (the grid from its corner coordinates), and writes one COG per chip:

- **S2**: ``uint16`` digital numbers (offset-free, reflectance x 10000), one band per source
  band in the reader's order (``B1`` ... ``B12``, ``B8A``; B10 when the source has it), band
  descriptions = band names, nodata 0.
- **S1**: ``float32`` backscatter in dB (linear sources converted), bands ``VV``, ``VH``,
  nodata NaN.

The chip's own CRS and pixel grid (e.g. UTM, 10 m), deflate; tags ``key``, ``sensor``,
``units``, ``scene_id``, ``acquired``. A chip that cannot be exported (not in the index,
indexed before origins were kept or by a reader that keeps none, its source gone or changed) is
listed with the reason in the ``ImageryReport``, never skipped silently.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine

from closp_core.bands import Sensor, linear_to_db
from closp_core.data.stac.hrefs import is_http
from closp_core.data.stac.remote import RemoteOptions
from closp_core.errors import DataError, ScoreMapError
from closp_core.records import ChipOrigin, ChipRecord
from closp_core.settings import Settings
from closp_core.store import VectorStore
from closp_core.store.payload import point_id

NO_ORIGIN = (
    "no source recorded for this chip (indexed before sources were kept): re-ingest its "
    "source to export its imagery"
)
NOT_INDEXED = "not in the index"
MAX_CHIPS = 500
SENTINEL_ERA_START = dt.datetime(2014, 4, 3, tzinfo=dt.UTC)  # an Item's time when unknown
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclasses.dataclass(frozen=True)
class ChipImage:
    """One chip of an imagery export: its ``key``, the ``path`` of its COG (``None`` when not
    written) and ``reason`` (why not; empty when written). ``record``: the chip as stored."""

    key: str
    path: Path | None
    reason: str = ""
    record: ChipRecord | None = None


@dataclasses.dataclass(frozen=True)
class ImageryReport:
    """Every chip asked for, in the order asked, written or not."""

    chips: tuple[ChipImage, ...]

    @property
    def written(self) -> tuple[ChipImage, ...]:
        return tuple(c for c in self.chips if c.path is not None)

    @property
    def missing(self) -> tuple[ChipImage, ...]:
        return tuple(c for c in self.chips if c.path is None)

    def lines(self) -> list[str]:
        """One line per chip: ``key -> file`` or ``key: not exported: reason``."""
        return [
            f"{c.key} -> {c.path.name}" if c.path else f"{c.key}: not exported: {c.reason}"
            for c in self.chips
        ]


def chip_file_name(key: str) -> str:
    """A file name for the chip ``key`` (safe characters, unique by the point id)."""
    safe = _UNSAFE.sub("_", key).strip("._")[:80] or "chip"
    return f"{safe}-{point_id(key)[:8]}.tif"


def read_origin(
    origin: ChipOrigin, sensor: Sensor, remote: RemoteOptions | None = None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The chip's pixels read again: ``(bands, size, size) float32`` (S2 offset-free DN, S1
    dB; NaN no-data) and the band names. Remote files (a STAC chip's URLs) are read under
    ``remote`` (default: ``RemoteOptions()``) and its host policy, every hop GDAL makes checked.
    ``DataError`` when a file is gone, unreadable or no longer the grid the chip was cut
    from; ``HostRefusedError`` when GDAL was sent on to a host the policy refuses."""
    from closp_core.data.raster import BandGrid
    from closp_core.data.stac.fetch import HostPolicy
    from closp_core.data.stac.static import gated_read

    if origin.dataset is not None:
        return _read_shard(origin), tuple(b.name for b in origin.bands)
    hrefs = [b.href for b in origin.bands]
    remote = remote or RemoteOptions()
    with gated_read(hrefs, remote, HostPolicy(remote.hosts)), BandGrid.from_origin(origin) as grid:
        from closp_core.geo.crs import crs_name

        place = grid.grid.window_transform(origin.row, origin.col)
        same = crs_name(grid.grid.crs) == origin.crs and place.almost_equals(
            Affine(*origin.transform), precision=1e-6
        )
        if not same:
            raise DataError(
                f"{grid.files[0]}: the source's grid changed since the chip was indexed; "
                "re-ingest it"
            )
        pixels = grid.read(origin.row, origin.col, origin.size, origin.size)
        names = grid.names
    if sensor is Sensor.S1 and origin.s1_linear:
        pixels = linear_to_db(pixels)
    return pixels, names


def _read_shard(origin: ChipOrigin) -> np.ndarray:
    """The planes of a chip's HDF5 ``image`` dataset (CrisisLandMark), ``(bands, 120, 120)
    float32``; non-finite values as NaN. ``DataError`` when the shard or dataset is gone."""
    import h5py

    href = origin.bands[0].href
    try:
        with h5py.File(href, "r") as shard:
            image = shard[origin.dataset]
            planes = [np.asarray(image[b.index - 1], np.float32) for b in origin.bands]
    except (OSError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataError(f"{href}:{origin.dataset}: cannot read ({exc})") from None
    pixels = np.stack(planes)
    if pixels.shape[1:] != (origin.size, origin.size):
        raise DataError(f"{href}:{origin.dataset}: no longer a {origin.size}x{origin.size} image")
    pixels[~np.isfinite(pixels)] = np.nan
    return pixels


def write_chip_cog(record: ChipRecord, path: Path, remote: RemoteOptions | None = None) -> Path:
    """The imagery of ``record`` (which has an ``origin``) as a COG at ``path`` (module
    docstring; ``remote``: as ``read_origin``); ``DataError`` when its source cannot be read."""
    import rasterio

    origin = record.origin
    if origin is None:
        raise ScoreMapError(f"{record.key}: {NO_ORIGIN}")
    pixels, names = read_origin(origin, record.sensor, remote)
    s2 = record.sensor is Sensor.S2
    if s2:
        data = np.clip(np.nan_to_num(np.rint(pixels), nan=0.0), 0, 65535).astype(np.uint16)
    else:
        data = pixels.astype(np.float32)
    profile = {
        "driver": "COG",
        "width": origin.size,
        "height": origin.size,
        "count": len(names),
        "dtype": "uint16" if s2 else "float32",
        "crs": origin.crs,
        "transform": Affine(*origin.transform),
        "nodata": 0 if s2 else math.nan,
        "compress": "deflate",
    }
    tags = {
        "key": record.key,
        "sensor": record.sensor.value,
        "units": "DN (reflectance x 10000)" if s2 else "dB",
        "scene_id": record.scene_id or "",
        "acquired": record.acquired.isoformat() if record.acquired else "",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)
        dst.update_tags(**tags)
    return path


def export_imagery(store: VectorStore, keys: Sequence[str], folder: str | Path) -> ImageryReport:
    """Write the COG of each chip of ``keys`` into ``folder`` (made if missing); the report
    says per chip what was written or why not. ``ScoreMapError`` for more than ``MAX_CHIPS``
    keys or a folder that cannot be made."""
    keys = list(dict.fromkeys(keys))
    if len(keys) > MAX_CHIPS:
        raise ScoreMapError(
            f"{len(keys):,} chips asked for, at most {MAX_CHIPS} a time: export fewer"
        )
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScoreMapError(f"imagery folder {folder}: {exc.strerror}; name another") from None
    found = {r.key: r for r in store.get(keys)}
    remote = None  # the settings' remote options, loaded once when a chip's source is a URL
    if any(r.origin and any(is_http(b.href) for b in r.origin.bands) for r in found.values()):
        remote = RemoteOptions.from_settings(Settings.load())
    out = []
    for key in keys:
        record = found.get(key)
        if record is None:
            out.append(ChipImage(key, None, NOT_INDEXED))
        elif record.origin is None:
            out.append(ChipImage(key, None, NO_ORIGIN, record))
        else:
            try:
                path = write_chip_cog(record, folder / chip_file_name(key), remote)
            except DataError as exc:
                out.append(ChipImage(key, None, f"its source cannot be read: {exc}", record))
                continue
            out.append(ChipImage(key, path, "", record))
    return ImageryReport(tuple(out))


def chip_items(report: ImageryReport) -> list[Any]:
    """One ``pystac.Item`` per written chip: its footprint, acquisition time, sensor and an
    ``image`` asset (the COG, ``eo:bands`` = band names, units in ``closp:units``)."""
    import pystac
    import rasterio

    items = []
    for chip in report.written:
        record, path = chip.record, chip.path
        if record is None or path is None or record.footprint is None:
            continue
        with rasterio.open(path) as src:
            names, units = list(src.descriptions), src.tags()["units"]
        geometry = record.footprint.to_geojson()
        west, south, east, north = record.footprint.bounds
        when = record.acquired or SENTINEL_ERA_START
        item = pystac.Item(
            id=path.stem,
            geometry=geometry,
            bbox=[west, south, east, north],
            datetime=when,
            properties={
                "closp:key": record.key,
                "closp:sensor": record.sensor.value,
                "closp:units": units,
                "closp:acquired_known": record.acquired is not None,
                "proj:code": record.origin.crs if record.origin else None,
            },
        )
        asset = pystac.Asset(
            href=path.name,
            media_type=pystac.MediaType.COG,
            roles=["data"],
            extra_fields={"eo:bands": [{"name": n} for n in names]},
        )
        item.add_asset("image", asset)
        items.append(item)
    return items
