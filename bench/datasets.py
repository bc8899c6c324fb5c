"""Generated data in the real layouts, for the ingest benchmark (``bench/ingest.py``).

Pixels are real: chips of the shipped samples (Virginia S2 strip, Spain S1/S2, BigEarthNet
patches), copied, flipped and re-keyed, so reading, decoding and previews cost what they cost
on real data. Every writer returns quickly when its output is already complete (a ``.complete``
marker), so reruns reuse the data.

- ``scene_stack``: the Virginia strip as one 13-band stack, repeated southwards.
- ``bigearthnet_folders``: patch folders (v1 layout), copies of the 12 shipped patches.
- ``crisislandmark_root``: shards + ``crisislandmark.h5`` of external links + metadata.parquet
  (Blosc/Zstd like the published files), half ``benv2s1`` (stored VH, VV), half ``benv2s2``.
  A simple stand-in: the ``clmhub`` branch brings a faster generator; swap it in here.
- ``stac_item`` + ``serve_folder``: per-band COGs of the repeated Virginia strip behind a
  local HTTP server with Range requests, and a STAC Item pointing at them. The ``stacapi``
  branch brings a STAC API test server; swap it in here (``serve_folder``).
"""

from __future__ import annotations

import functools
import http.server
import json
import multiprocessing
import os
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import h5py
import hdf5plugin
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import rasterio
from rasterio.shutil import copy as copy_raster
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from closp_core.bands import S2_B10_INDEX, S2_SCALE, Sensor
from closp_core.data import SceneSource, Tally
from closp_core.data.samples import SAMPLES_DIR
from tests.data.bigearthnet.make_data import copy_patch

VIRGINIA = SAMPLES_DIR / "virginia-s2-l1c"
SPAIN = SAMPLES_DIR / "sen1floods11-spain"
BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]
MARKER = ".complete"
LABELS = [["Coniferous forest", "Water bodies"], ["Pastures"], ["Arable land"], ["Urban fabric"]]


def _done(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def _mark(folder: Path) -> None:
    (folder / MARKER).write_text("")


def scene_stack(path: Path, repeats: int) -> Path:
    """A 13-band stack of the Virginia strip on its 10 m grid, repeated ``repeats`` times."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(VIRGINIA / "T18SVG_20160112_B02.tif") as ref:
        profile, transform = ref.profile, ref.transform
        height, width = ref.height, ref.width
    stack = np.zeros((13, height, width), np.uint16)
    for i, band in enumerate(BANDS):
        with rasterio.open(VIRGINIA / f"T18SVG_20160112_{band}.tif") as src:
            opts = {"crs": src.crs, "transform": transform, "width": width, "height": height}
            with WarpedVRT(src, **opts) as vrt:
                stack[i] = vrt.read(1)
    profile.update(count=13, height=height * repeats, compress="deflate", tiled=True)
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        for r in range(repeats):
            dst.write(stack, window=Window(0, r * height, width, height))
        for i, band in enumerate(BANDS, start=1):
            dst.set_band_description(i, band)
        dst.update_tags(ACQUISITION_DATE="2016-01-12")
    tmp.rename(path)
    return path


def bigearthnet_folders(root: Path, count: int) -> Path:
    """``count`` BigEarthNet patch folders: the shipped S2 and S1 patches in turn, renamed."""
    if _done(root):
        return root
    templates = sorted((SAMPLES_DIR / "bigearthnet").glob("BigEarthNet-*/*_*"))
    templates = [t for t in templates if t.is_dir()]
    for i in range(count):
        template = templates[i % len(templates)]
        product = template.name.rsplit("_", 2)[0]
        copy_patch(template, root, f"{product}_{i // 100}_{i % 100}")
    _mark(root)
    return root


def _sample_chips() -> dict[Sensor, list[np.ndarray]]:
    """Real chips as stored by CrisisLandMark: S2 12-band digital numbers, S1 dB (VV, VH)."""
    chips: dict[Sensor, list[np.ndarray]] = {Sensor.S1: [], Sensor.S2: []}
    source = SceneSource([VIRGINIA, SPAIN / "Spain_7370579_S1Hand.tif"])
    for unit in source.units():
        for chip in source.read(unit, Tally()):
            if chip.sensor is Sensor.S2:
                dn = np.delete(np.round(chip.pixels * S2_SCALE), S2_B10_INDEX, axis=0)
                chips[Sensor.S2].append(dn.astype(np.float32))
            else:
                chips[Sensor.S1].append(chip.pixels.astype(np.float32))
    return chips


def _utm_coords(x0: float, y0: float) -> np.ndarray:
    cols, rows = np.meshgrid(np.arange(120), np.arange(120))
    return np.stack([x0 + 10 * cols + 5, y0 - 10 * rows - 5]).astype(np.float64)


def crisislandmark_root(root: Path, count: int, parts: int | None = None) -> Path:
    """``count`` CrisisLandMark samples (half S1, half S2) in the published layout: shards
    ``benv2s{1,2}_part<p>.h5`` written by ``parts`` processes at once (default: one per core,
    at most 8), ``crisislandmark.h5`` linking every key into them, ``metadata.parquet``."""
    if _done(root):
        return root
    root.mkdir(parents=True, exist_ok=True)
    parts = parts or min(8, os.cpu_count() or 1)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(parts, mp_context=context) as pool:
        jobs = [(root, part, parts, count) for part in range(parts)]
        written = list(pool.map(_write_shards, *zip(*jobs, strict=True)))
    shard_of = {key: shard for part in written for key, shard in part.items()}
    keys = sorted(shard_of)
    with h5py.File(root / "crisislandmark.h5", "w") as index:
        for key in keys:
            index[key] = h5py.ExternalLink(shard_of[key], f"/{key}")
    table = pa.table(
        {
            "key": keys,
            "labels": [LABELS[int(key.split("_")[1]) % len(LABELS)] for key in keys],
            "split": ["corpus"] * count,
        }
    )
    pq.write_table(table, root / "metadata.parquet")
    _mark(root)
    return root


def _write_shards(root: Path, part: int, parts: int, count: int) -> dict[str, str]:
    """Samples ``part``, ``part + parts`` ... of ``count`` -> {key: shard file name}."""
    chips = _sample_chips()
    blosc = dict(hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
    names = {s: f"benv2{s.value}_part{part + 1}.h5" for s in Sensor}
    where: dict[str, str] = {}
    with (
        h5py.File(root / names[Sensor.S1], "w") as s1,
        h5py.File(root / names[Sensor.S2], "w") as s2,
    ):
        for i in range(part, count, parts):
            sensor = Sensor.S2 if i % 2 else Sensor.S1
            key = f"benv2{sensor.value}_{i:07d}"
            image = chips[sensor][(i // 2) % len(chips[sensor])]
            image = np.ascontiguousarray(np.rot90(image, k=i % 4, axes=(1, 2)))
            if sensor is Sensor.S1:
                image = image[::-1].copy()  # stored VH, VV as the reference loader assumes
            group = (s2 if sensor is Sensor.S2 else s1).create_group(key)
            group.create_dataset("image", data=image, chunks=image.shape, **blosc)
            coords = _utm_coords(500000 + 1200 * (i % 400), 4400000 - 1200 * (i // 400))
            group.create_dataset("coords", data=coords, chunks=coords.shape, **blosc)
            group.attrs["crs"] = 32633
            group.attrs["labels"] = LABELS[i % len(LABELS)]
            group.attrs["timestamp"] = "2017-06-13T10:10:31"
            where[key] = names[sensor]
    return where


def stac_item(root: Path, repeats: int, base_url: str) -> Path:
    """Per-band COGs of the Virginia strip (repeated ``repeats`` times southwards) in ``root``
    and ``item.json``, a STAC Item whose assets are ``base_url/<file>``."""
    root.mkdir(parents=True, exist_ok=True)
    assets = {}
    for band in BANDS:
        cog = root / f"T18SVG_x{repeats}_{band}.tif"
        if not cog.is_file():
            _write_band_cog(VIRGINIA / f"T18SVG_20160112_{band}.tif", cog, repeats)
        assets[band] = {
            "href": f"{base_url}/{cog.name}",
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data"],
            "eo:bands": [{"name": band}],
        }
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": ["https://stac-extensions.github.io/eo/v1.1.0/schema.json"],
        "id": f"T18SVG_20160112_x{repeats}",
        "geometry": {"type": "Point", "coordinates": [-77.5, 37.5]},
        "bbox": [-78.0, 37.0, -77.0, 38.0],
        "properties": {"datetime": "2016-01-12T15:57:00Z", "constellation": "sentinel-2"},
        "links": [],
        "assets": assets,
    }
    path = root / "item.json"
    path.write_text(json.dumps(item))
    return path


def _write_band_cog(source: Path, target: Path, repeats: int) -> None:
    with rasterio.open(source) as src:
        band, profile = src.read(1), src.profile
    profile.update(height=band.shape[0] * repeats, tiled=True, blockxsize=256, blockysize=256)
    tmp = target.with_suffix(".tmp.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(np.tile(band, (repeats, 1)), 1)
    copy_raster(tmp, target, driver="COG", compress="deflate")
    tmp.unlink()


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with single ``Range: bytes=a-b`` requests (what GDAL's /vsicurl/ sends)."""

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def send_head(self) -> Any:
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if match is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        start = int(match[1])
        stop = min(int(match[2]) if match[2] else size - 1, size - 1)
        if start >= size:
            self.send_error(416, "Requested Range Not Satisfiable")
            return None
        fh = open(path, "rb")  # noqa: SIM115 (closed by the handler after copyfile)
        fh.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{stop}/{size}")
        self.send_header("Content-Length", str(stop - start + 1))
        self.end_headers()
        return _Limited(fh, stop - start + 1)


class _Limited:
    """A file object that reads at most ``left`` bytes (for ``copyfile`` of a range)."""

    def __init__(self, fh: BinaryIO, left: int) -> None:
        self.fh, self.left = fh, left

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.fh.read(size)
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.fh.close()


def _serve(folder: str, ports: Any) -> None:
    handler = functools.partial(_RangeHandler, directory=folder)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        ports.put(server.server_address[1])
        server.serve_forever()


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 from another process; yields the base URL."""
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    process = context.Process(target=_serve, args=(str(folder), ports), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=60)}"
    finally:
        process.terminate()
        process.join()


def gdal_http_env() -> None:
    """GDAL settings for COGs over HTTP: no directory listings, only .tif requests."""
    os.environ.setdefault("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")
    os.environ.setdefault("CPL_VSIL_CURL_ALLOWED_EXTENSIONS", ".tif")
