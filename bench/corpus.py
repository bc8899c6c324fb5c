"""The benchmark's synthetic corpus, made in fixed chunks so that no process ever holds it all.

Chunk ``k`` of a seed is always the same ``CHUNK`` chips (ids ``k*CHUNK ...``), whatever N is, so
a 1M corpus is the first tenth of the 10M one and the exact top-10 can be computed by streaming
the chunks again. Vectors: a mixture of 50 Gaussian clusters on the sphere (like CLOSP
embeddings; uniform random vectors are the worst case for HNSW). Payloads: 1-3 of the 12
labels (weighted), two sensors, ten years, world-wide centres, a 1.2 km footprint.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import numpy as np

from closp_core.bands import Sensor
from closp_core.labels import LABELS
from closp_core.store import BBox, ChipRecord, GeoPolygon, SearchFilters

CHUNK = 100_000
CLUSTERS = 50
FILTER = SearchFilters(
    labels=("Water", "Flooded Area"), sensor=Sensor.S2, bbox=BBox(-10.0, 35.0, 40.0, 70.0)
)
# the same labels and sensor over a quarter of the globe (648 tiles, the most a map prefilter
# takes): ~5 % of the chips, as many candidates at 1M as FILTER has at 10M
WIDE_FILTER = SearchFilters(
    labels=("Water", "Flooded Area"), sensor=Sensor.S2, bbox=BBox(-180.0, -80.0, 0.0, 10.0)
)
_T0 = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Chips ``start ... start + len(vectors) - 1``: ``vectors`` (n, 384) float32 unit;
    ``labels`` (n, 3) indices into ``LABELS``, -1 = none; ``sensor`` 0 = s1, 1 = s2;
    ``lon``/``lat`` degrees; ``days`` since 2015-01-01."""

    start: int
    vectors: np.ndarray
    labels: np.ndarray
    sensor: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    days: np.ndarray

    def __len__(self) -> int:
        return len(self.vectors)

    def head(self, n: int) -> Chunk:
        """The first ``n`` chips of the chunk."""
        return Chunk(self.start, *(getattr(self, f.name)[:n] for f in dataclasses.fields(self)[1:]))

    def label_tuple(self, i: int) -> tuple[str, ...]:
        """Label names of the chunk's ``i``-th chip."""
        return tuple(LABELS[j] for j in self.labels[i] if j >= 0)


def chip_key(i: int) -> str:
    """The key of chip number ``i``."""
    return f"chip_{i:08d}"


def centres(seed: int) -> np.ndarray:
    """The ``(50, 384)`` cluster centres of a seed (queries are drawn around them too)."""
    rng = np.random.default_rng([seed, 0])
    c = rng.normal(size=(CLUSTERS, 384)).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def clustered(rng: np.random.Generator, n: int, around: np.ndarray) -> np.ndarray:
    """``(n, 384)`` unit vectors around random rows of ``around``."""
    pick = around[rng.integers(0, len(around), n)]
    v = pick + rng.normal(scale=0.05, size=pick.shape).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def make_chunk(seed: int, index: int) -> Chunk:
    """Chunk ``index`` of the corpus of ``seed`` (always ``CHUNK`` chips)."""
    rng = np.random.default_rng([seed, 1, index])
    vectors = clustered(rng, CHUNK, centres(seed))
    weights = np.linspace(3, 1, len(LABELS))
    # weighted sampling of 1-3 labels without replacement (Gumbel top-k)
    keys = np.log(weights / weights.sum()) + rng.gumbel(size=(CHUNK, len(LABELS)))
    labels = np.argsort(-keys, axis=1)[:, :3].astype(np.int8)
    labels[np.arange(3) >= rng.integers(1, 4, CHUNK)[:, None]] = -1
    return Chunk(
        start=index * CHUNK,
        vectors=vectors,
        labels=labels,
        sensor=rng.integers(0, 2, CHUNK).astype(np.int8),
        lon=rng.uniform(-180, 180, CHUNK),
        lat=rng.uniform(-80, 80, CHUNK),
        days=rng.integers(0, 3650, CHUNK),
    )


def iter_chunks(seed: int, n: int, first: int = 0) -> Iterator[Chunk]:
    """The first ``n`` chips of the corpus, chunk by chunk, from chip ``first`` (a multiple of
    ``CHUNK``: the rest of a corpus whose first chunks are already indexed). Checked here, not
    at the first chunk: ``ValueError`` naming the numbers."""
    if first % CHUNK or not 0 <= first <= n:
        raise ValueError(
            f"cannot continue the corpus from chip {first:,} up to {n:,}: an index to grow must "
            f"hold whole chunks of {CHUNK:,} chips of this corpus, fewer than --n"
        )
    return (
        make_chunk(seed, index).head(min(CHUNK, n - index * CHUNK))
        for index in range(first // CHUNK, -(-n // CHUNK))
    )


def materialise(seed: int, n: int) -> Chunk:
    """The first ``n`` chips as one chunk (in memory: 1.5 GB of vectors per million)."""
    parts = list(iter_chunks(seed, n))
    fields = dataclasses.fields(Chunk)[1:]
    return Chunk(0, *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields))


def make_queries(seed: int, count: int) -> np.ndarray:
    """``(count, 384)`` query vectors drawn around the corpus's cluster centres."""
    return clustered(np.random.default_rng([seed, 2]), count, centres(seed))


def records(chunk: Chunk) -> list[ChipRecord]:
    """The chunk's chips as ``ChipRecord`` objects (footprint: a 1.2 km square)."""
    out = []
    for i in range(len(chunk)):
        lon, lat, h = float(chunk.lon[i]), float(chunk.lat[i]), 0.006
        lon = min(max(lon, -180 + h), 180 - h)
        ring = ((lon - h, lat - h), (lon + h, lat - h), (lon + h, lat + h), (lon - h, lat + h))
        sensor = Sensor.S2 if chunk.sensor[i] else Sensor.S1
        labels = chunk.label_tuple(i)
        key = chip_key(chunk.start + i)
        out.append(
            ChipRecord(
                key=key,
                vector=chunk.vectors[i],
                sensor=sensor,
                source="benv2s2" if sensor is Sensor.S2 else "benv2s1",
                labels=labels,
                source_labels=tuple(x.lower() for x in labels),
                scene_id=f"scene_{(chunk.start + i) // 100}",
                acquired=_T0 + dt.timedelta(days=int(chunk.days[i])),
                center=(lon, lat),
                footprint=GeoPolygon((*ring, ring[0])),
                crs="EPSG:32633",
                previews={"rgb": f"previews/{key}.png"},
            )
        )
    return out


def filter_mask(chunk: Chunk) -> np.ndarray:
    """numpy version of ``FILTER``: which chips of the chunk pass it."""
    wanted = [LABELS.index(x) for x in FILTER.labels]
    has_label = np.isin(chunk.labels, wanted).any(axis=1)
    box = FILTER.bbox
    if box is None:
        raise AssertionError("FILTER has a box")
    # centres are clamped like records() does; a centre exactly on an edge is outside
    lon = np.clip(chunk.lon, -180 + 0.006, 180 - 0.006)
    inside = (lon > box.west) & (lon < box.east) & (chunk.lat > box.south) & (chunk.lat < box.north)
    return has_label & (chunk.sensor == 1) & inside


def exact_top10(seed: int, n: int, queries: np.ndarray, filtered: bool) -> np.ndarray:
    """``(Q, 10)`` chip numbers of the exact top 10 of each query (-1 pads), streamed."""
    best_ids = np.full((len(queries), 10), -1, np.int64)
    best = np.full((len(queries), 10), -np.inf, np.float32)
    for chunk in iter_chunks(seed, n):
        idx = np.flatnonzero(filter_mask(chunk)) if filtered else np.arange(len(chunk))
        if not len(idx):
            continue
        scores = np.concatenate([best, queries @ chunk.vectors[idx].T], axis=1)
        chunk_ids = np.broadcast_to(idx + chunk.start, scores[:, 10:].shape)
        ids = np.concatenate([best_ids, chunk_ids], axis=1)
        top = np.argpartition(-scores, 9, axis=1)[:, :10]
        best, best_ids = np.take_along_axis(scores, top, 1), np.take_along_axis(ids, top, 1)
    order = np.argsort(-best, axis=1)
    return np.take_along_axis(best_ids, order, 1)
