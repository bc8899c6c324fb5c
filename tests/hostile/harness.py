"""Bad inputs made from the real samples, and one ingest run per bad input to judge it by.

``write_stack`` copies a 120 x 120 px crop of a real Sen1Floods11 file (S1 VV/VH dB float32, or
S2 13-band int16, EPSG:4326) and changes what a case asks (geotransform, CRS, dtype, values,
tags, GCPs). ``copy_patch`` copies a real BigEarthNet patch folder. ``Bench`` holds a random
CLOSP-RN embedder (built once per session) and a real Qdrant Edge store with a few baseline
chips; ``Bench.run(source)`` ingests one source (the bad input and a good file, with
``force=True`` so the good file is embedded again every run) and returns what a test asserts:
the summary, the chips added, and whether everything else in the index is byte-for-byte what
it was (``index_fingerprint`` over the records that were there before).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.control import GroundControlPoint

from closp_core.bands import Sensor
from closp_core.data import ChipSource
from closp_core.data.samples import SAMPLES_DIR
from closp_core.embedder import Embedder
from closp_core.model import create_model
from closp_core.store import ChipRecord, GeoPolygon, VectorStore
from closp_core.store.edge import EdgeStore
from ingest.pipeline import Ingestor, IngestSummary

SPAIN = SAMPLES_DIR / "sen1floods11-spain"
S1_SAMPLE = SPAIN / "Spain_7370579_S1Hand.tif"
S2_SAMPLE = SPAIN / "Spain_7370579_S2Hand.tif"
BEN = SAMPLES_DIR / "bigearthnet"
BEN_S1 = BEN / "BigEarthNet-S1-Example" / "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48"
BEN_S2 = BEN / "BigEarthNet-S2-Example" / "S2A_MSIL2A_20170613T101031_87_48"
KEEP: Any = object()  # "leave this property as the sample has it"


def sample_crop(kind: str, size: int = 120) -> tuple[np.ndarray, dict[str, Any], tuple[str, ...]]:
    """(pixels, profile, band descriptions) of the top-left ``size`` px of a real sample."""
    path = S1_SAMPLE if kind == "s1" else S2_SAMPLE
    with rasterio.open(path) as src:
        window = rasterio.windows.Window(0, 0, size, size)
        data = src.read(window=window)
        profile = src.profile | {
            "width": size,
            "height": size,
            "transform": src.window_transform(window),
        }
        return data, profile, tuple(d or "" for d in src.descriptions)


def write_stack(
    path: Path,
    kind: str = "s1",
    *,
    transform: Any = KEEP,
    crs: Any = KEEP,
    dtype: str | None = None,
    values: Callable[[np.ndarray], np.ndarray] | None = None,
    tags: dict[str, str] | None = None,
    band_tags: dict[str, str] | None = None,
    gcps: list[GroundControlPoint] | None = None,
) -> Path:
    """A real 120 x 120 crop (``kind`` ``"s1"`` or ``"s2"``) written to ``path`` with changes."""
    data, profile, descriptions = sample_crop(kind)
    if values is not None:
        data = values(data)
    profile = profile | {"driver": "GTiff", "count": data.shape[0], "dtype": dtype or data.dtype}
    profile.pop("blockxsize", None), profile.pop("blockysize", None), profile.pop("tiled", None)
    nodata = profile.get("nodata")
    if nodata is not None and np.isnan(nodata) and np.dtype(profile["dtype"]).kind in "iu":
        profile["nodata"] = None  # NaN cannot mark no-data in integers
    if transform is not KEEP:
        profile["transform"] = transform
    if crs is not KEEP:
        profile["crs"] = crs
    if gcps is not None:
        profile.pop("transform"), profile.pop("crs")
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(profile["dtype"]))
        dst.descriptions = descriptions[: data.shape[0]]
        if tags:
            dst.update_tags(**tags)
        for band in range(1, data.shape[0] + 1):
            if band_tags:
                dst.update_tags(band, **band_tags)
        if gcps is not None:
            dst.gcps = (gcps, rasterio.crs.CRS.from_epsg(4326))
    return path


def copy_patch(src: Path, root: Path, name: str | None = None) -> Path:
    """A copy of a real BigEarthNet patch folder under ``root`` (renamed to ``name``: its
    files are renamed along, as BigEarthNet names them after the folder)."""
    name = name or src.name
    folder = root / name
    folder.mkdir(parents=True)
    for file in src.iterdir():
        shutil.copy(file, folder / file.name.replace(src.name, name))
    return folder


def rewrite_raster(
    path: Path, values: Callable[[np.ndarray], np.ndarray], dtype: str | None = None
) -> None:
    """Rewrite a GeoTIFF in place with ``values(pixels)`` (and another ``dtype``)."""
    with rasterio.open(path) as src:
        data, profile, descriptions = src.read(), src.profile, src.descriptions
    data = values(data)
    profile = profile | {"dtype": dtype or data.dtype}
    if profile.get("nodata") is not None and np.dtype(profile["dtype"]).kind == "c":
        profile["nodata"] = None
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(profile["dtype"]))
        dst.descriptions = descriptions


@functools.cache
def shared_embedder() -> Embedder:
    """A seeded random CLOSP-RN on CPU, built once per test session (a few seconds)."""
    return Embedder(create_model("closp-rn", seed=0), device="cpu", batch_size=16, threads=1)


def baseline_records(model_dim: int = 384) -> list[ChipRecord]:
    """Six chips that were in the index before any hostile run (seeded, any vectors)."""
    rng = np.random.default_rng(13)
    records = []
    for i in range(6):
        vector = rng.normal(size=model_dim).astype(np.float32)
        lon, lat = -3.0 + i, 40.0 + i / 2
        half = 0.006
        ring = ((lon - half, lat - half), (lon + half, lat - half), (lon + half, lat + half),
                (lon - half, lat + half), (lon - half, lat - half))  # fmt: skip
        records.append(
            ChipRecord(
                key=f"baseline/chip{i}",
                vector=vector / np.linalg.norm(vector),
                sensor=Sensor.S1 if i % 2 else Sensor.S2,
                source="baseline",
                labels=("Water",) if i % 2 else ("Crops",),
                scene_id=f"baseline-{i // 3}",
                acquired=dt.datetime(2020, 5, 1 + i, tzinfo=dt.UTC),
                center=(lon, lat),
                footprint=GeoPolygon(ring),
                crs="EPSG:4326",
            )
        )
    return records


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One ingest run: its summary, the chips it added, whether the rest is unchanged."""

    summary: IngestSummary
    added: dict[str, ChipRecord]
    rest_unchanged: bool

    def failed_for(self, path: Path | str) -> str:
        """The failure reason of the one unit naming ``path``; AssertionError otherwise."""
        hits = [reason for unit, reason in self.summary.failed.items() if str(path) in unit]
        assert len(hits) == 1, f"expected one failed unit for {path}: {self.summary.failed}"
        return hits[0]


class _Without:
    """A store view without some keys, for ``index_fingerprint``."""

    def __init__(self, store: EdgeStore, keys: set[str]) -> None:
        self.store, self.keys = store, keys

    def iter_records(self) -> Iterator[ChipRecord]:
        return (r for r in self.store.iter_records() if r.key not in self.keys)


class Bench:
    """An Edge store with baseline chips and an ingestor over it (``run`` one source)."""

    def __init__(self, folder: Path) -> None:
        embedder = shared_embedder()
        self.store = EdgeStore(folder / "index", embedder.model_id)
        self.store.upsert(baseline_records())
        self.ingestor = Ingestor(
            embedder, self.store, folder / "data", batch_size=16, force=True, progress=False
        )

    def run(self, *sources: ChipSource) -> Outcome:
        """Ingest ``sources`` one after the other (one run, one merged summary)."""
        before = {r.key for r in self.store.iter_records()}
        fingerprint = index_fingerprint(self.store)
        summary = IngestSummary()
        for source in sources:
            summary.merge(self.ingestor.run(source))
        after = {r.key: r for r in self.store.iter_records()}
        added = {k: r for k, r in after.items() if k not in before}
        rest = index_fingerprint(_Without(self.store, set(added)))  # type: ignore[arg-type]
        return Outcome(summary, added, rest == fingerprint)

    @property
    def keys(self) -> set[str]:
        """Keys of every chip in the store now."""
        return {r.key for r in self.store.iter_records()}

    def close(self) -> None:
        self.store.close()


def rotation(degrees: float, transform: Affine) -> Affine:
    """``transform`` rotated about its own origin (the top-left corner stays put)."""
    return transform @ Affine.rotation(degrees)


def index_fingerprint(store: VectorStore) -> tuple[int, str]:
    """(point count, sha256 of every payload sorted by key): equal before and after a run that
    must leave the index unchanged."""
    digest = hashlib.sha256()
    records = sorted(store.iter_records(), key=lambda rec: rec.key)
    for rec in records:
        payload = {
            "key": rec.key,
            "sensor": rec.sensor.value,
            "labels": list(rec.labels),
            "source_labels": list(rec.source_labels),
            "source": rec.source,
            "scene_id": rec.scene_id,
            "acquired": rec.acquired.isoformat() if rec.acquired else None,
            "center": list(rec.center) if rec.center else None,
            "footprint": rec.footprint.to_geojson() if rec.footprint else None,
            "crs": rec.crs,
            "previews": rec.previews,
        }
        digest.update(json.dumps(payload, sort_keys=True).encode())
    return len(records), digest.hexdigest()
