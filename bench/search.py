"""Search benchmark of the vector store (not a test): Edge vs numpy vs qdrant-client local.

    python -m bench.search --n 100000

Builds N clustered 384-d unit vectors (a mixture of 50 Gaussian clusters on the sphere) with
realistic payloads (12 labels, 2 sensors, 10 years, world-wide centres), then prints upsert
rate, HNSW build time, reopen time, peak RSS, p50/p90 latency and recall@10 against exact
search, without and with a combined label+sensor+box filter. qdrant-client local mode is
pure Python and very slow: it runs on the first ``--local-n`` chips only (say so in output).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from closp_core.bands import Sensor
from closp_core.labels import LABELS
from closp_core.store import (
    BBox,
    ChipRecord,
    GeoPolygon,
    IndexParams,
    SearchFilters,
    VectorStore,
)
from closp_core.store.edge import EdgeStore
from closp_core.store.remote import RemoteStore

MODEL = "bench/random"
FILTER = SearchFilters(
    labels=("Water", "Flooded Area"), sensor=Sensor.S2, bbox=BBox(-10.0, 35.0, 40.0, 70.0)
)


@dataclasses.dataclass
class Corpus:
    """``vectors``: (N, 384) float32 unit; payload columns as arrays for numpy filtering."""

    vectors: np.ndarray
    labels: list[tuple[str, ...]]
    sensor: np.ndarray  # (N,) 0 = s1, 1 = s2
    lon: np.ndarray
    lat: np.ndarray
    days: np.ndarray  # days since 2015-01-01


def clustered(rng: np.random.Generator, n: int, centres: np.ndarray) -> np.ndarray:
    """``(n, 384)`` unit vectors around random ``centres`` (spread like CLOSP embeddings)."""
    out = np.empty((n, centres.shape[1]), np.float32)
    for a in range(0, n, 50_000):
        b = min(a + 50_000, n)
        pick = centres[rng.integers(0, len(centres), b - a)]
        v = pick + rng.normal(scale=0.05, size=pick.shape).astype(np.float32)
        out[a:b] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def make_corpus(n: int, seed: int) -> tuple[Corpus, np.ndarray]:
    """The corpus and the 50 cluster centres (queries are drawn around them too)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, 384)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = clustered(rng, n, centres)
    weights = np.linspace(3, 1, len(LABELS))
    weights /= weights.sum()
    labels = [
        tuple(rng.choice(LABELS, size=int(k), replace=False, p=weights))
        for k in rng.integers(1, 4, n)
    ]
    corpus = Corpus(
        vectors=vectors,
        labels=labels,
        sensor=rng.integers(0, 2, n),
        lon=rng.uniform(-180, 180, n),
        lat=rng.uniform(-80, 80, n),
        days=rng.integers(0, 3650, n),
    )
    return corpus, centres


def records(c: Corpus, start: int, stop: int) -> list[ChipRecord]:
    """ChipRecords for chips ``start:stop`` (footprint: a 1.2 km square)."""
    t0 = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    out = []
    for i in range(start, stop):
        lon, lat, h = float(c.lon[i]), float(c.lat[i]), 0.006
        lon = min(max(lon, -180 + h), 180 - h)
        ring = ((lon - h, lat - h), (lon + h, lat - h), (lon + h, lat + h), (lon - h, lat + h))
        sensor = Sensor.S2 if c.sensor[i] else Sensor.S1
        out.append(
            ChipRecord(
                key=f"chip_{i:07d}",
                vector=c.vectors[i],
                sensor=sensor,
                source="benv2s2" if sensor is Sensor.S2 else "benv2s1",
                labels=c.labels[i],
                source_labels=tuple(x.lower() for x in c.labels[i]),
                scene_id=f"scene_{i // 100}",
                acquired=t0 + dt.timedelta(days=int(c.days[i])),
                center=(lon, lat),
                footprint=GeoPolygon((*ring, ring[0])),
                crs="EPSG:32633",
                previews={"rgb": f"previews/chip_{i:07d}.png"},
            )
        )
    return out


def filter_mask(c: Corpus, n: int) -> np.ndarray:
    """numpy version of ``FILTER`` over the first ``n`` chips."""
    wanted = set(FILTER.labels)
    lab = np.fromiter((bool(wanted & set(x)) for x in c.labels[:n]), bool, n)
    box = FILTER.bbox
    assert box is not None
    inside = (c.lon[:n] >= box.west) & (c.lon[:n] <= box.east)
    inside &= (c.lat[:n] >= box.south) & (c.lat[:n] <= box.north)
    return lab & (c.sensor[:n] == 1) & inside


def rss_gb() -> float:
    """Peak resident memory of this process so far, GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def latencies(fn: Callable[[np.ndarray], list[str]], queries: np.ndarray) -> tuple:
    """(p50 ms, p90 ms, results) of ``fn`` over the queries (after 3 warm-up calls)."""
    for q in queries[:3]:
        fn(q)
    times, results = [], []
    for q in queries:
        t = time.perf_counter()
        results.append(fn(q))
        times.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 90)), results


def recall(results: list[list[str]], truth: list[list[str]]) -> float:
    """Mean recall@10 (queries with an empty truth are skipped)."""
    scores = [len(set(r) & set(t)) / len(t) for r, t in zip(results, truth, strict=True) if t]
    return float(np.mean(scores)) if scores else float("nan")


def numpy_search(c: Corpus, n: int, mask: np.ndarray | None) -> Callable[[np.ndarray], list[str]]:
    """Brute force on the first ``n`` vectors (optionally only the masked subset)."""
    idx = np.arange(n) if mask is None else np.flatnonzero(mask)
    sub = c.vectors[idx]

    def run(q: np.ndarray) -> list[str]:
        scores = sub @ q
        k = min(10, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k else np.array([], int)
        return [f"chip_{idx[i]:07d}" for i in top[np.argsort(-scores[top])]]

    return run


def fill(store: VectorStore, c: Corpus, n: int, batch: int) -> float:
    """Upsert the first ``n`` chips; return chips per second."""
    t = time.perf_counter()
    for a in range(0, n, batch):
        store.upsert(records(c, a, min(a + batch, n)), batch_size=batch)
    store.flush()
    return n / (time.perf_counter() - t)


def query_store(store: VectorStore, queries: np.ndarray, truth: dict) -> dict[str, float]:
    """Latency and recall of ``store`` without and with ``FILTER``."""
    row: dict[str, float] = {}
    for name, f in (("plain", None), ("filtered", FILTER)):

        def run(q: np.ndarray, f: SearchFilters | None = f) -> list[str]:
            return [h.key for h in store.search(q, limit=10, filters=f)]

        p50, p90, res = latencies(run, queries)
        row |= {f"{name} p50": p50, f"{name} p90": p90, f"{name} R@10": recall(res, truth[name])}
    return row


def bench_store(
    kind: str, folder: Path, c: Corpus, n: int, queries: np.ndarray, args: argparse.Namespace
) -> dict[str, float]:
    """Fill, index, reopen and query one back end on the first ``n`` chips."""
    params = IndexParams(
        m=args.m,
        ef_construct=args.ef_construct,
        payload_m=args.payload_m,
        hnsw_ef=args.ef,
        int8=args.int8,
    )

    def opener(ef: int = args.ef) -> VectorStore:
        chosen = dataclasses.replace(params, hnsw_ef=ef)
        if kind == "edge":
            return EdgeStore(folder, MODEL, chosen)
        return RemoteStore(MODEL, path=folder, params=chosen)

    row: dict[str, float] = {"N": n}
    reuse = args.reuse and (folder / "closp-store.json").exists()
    store = opener()
    if reuse:
        print(f"{kind}: reusing the index in {folder}", flush=True)
    else:
        row["upsert /s"] = fill(store, c, n, args.batch)
        print(f"{kind}: upserted {n} chips at {row['upsert /s']:.0f}/s; building", flush=True)
        t = time.perf_counter()
        store.optimize()
        row["build s"] = time.perf_counter() - t
        print(f"{kind}: optimize() took {row['build s']:.1f} s", flush=True)
    store.close()
    t = time.perf_counter()
    store = opener()
    row["reopen s"] = time.perf_counter() - t
    truth = {
        "plain": latencies(numpy_search(c, n, None), queries)[2],
        "filtered": latencies(numpy_search(c, n, filter_mask(c, n)), queries)[2],
    }
    row |= query_store(store, queries, truth)
    for ef in args.more_ef:
        store.close()
        store = opener(ef)
        more = query_store(store, queries, truth)
        row |= {f"{name} (ef {ef})": value for name, value in more.items()}
    info = store.info()
    row["disk GB"] = (info.disk_bytes or 0) / 1e9
    store.close()
    row["peak RSS GB"] = rss_gb()
    return row


def bench_numpy(c: Corpus, n: int, queries: np.ndarray) -> dict[str, float]:
    """Brute force baseline; the filtered time includes computing the mask."""
    p50, p90, _ = latencies(numpy_search(c, n, None), queries)
    times = []
    for q in queries:
        t = time.perf_counter()
        numpy_search(c, n, filter_mask(c, n))(q)
        times.append((time.perf_counter() - t) * 1000)
    mask_free = latencies(numpy_search(c, n, filter_mask(c, n)), queries)
    return {
        "N": n,
        "plain p50": p50,
        "plain p90": p90,
        "plain R@10": 1.0,
        "filtered p50": mask_free[0],
        "filtered p90": mask_free[1],
        "filtered R@10": 1.0,
        "mask+filtered p50": float(np.percentile(times, 50)),
        "peak RSS GB": rss_gb(),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="chips in the Edge/numpy runs")
    ap.add_argument("--local-n", type=int, default=10_000, help="qdrant-client local cap (0=skip)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--m", type=int, default=16, help="HNSW m (0 = no graph)")
    ap.add_argument("--ef-construct", type=int, default=100)
    ap.add_argument("--ef", type=int, default=512, help="HNSW search ef")
    ap.add_argument("--payload-m", type=int, default=0, help="HNSW payload_m (0 = off)")
    ap.add_argument("--int8", action="store_true", help="int8 scalar quantisation")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    ap.add_argument("--reuse", action="store_true", help="query the index already in --dir")
    ap.add_argument("--more-ef", type=int, nargs="*", default=[], help="also query at these ef")
    args = ap.parse_args(argv)
    work = args.dir or Path(tempfile.mkdtemp(prefix="closp-bench-"))
    t = time.perf_counter()
    corpus, centres = make_corpus(args.n, args.seed)
    queries = clustered(np.random.default_rng(args.seed + 1), args.queries, centres)
    print(
        f"corpus N={args.n} made in {time.perf_counter() - t:.1f} s; filter keeps "
        f"{int(filter_mask(corpus, args.n).sum())} chips; {args.queries} queries; "
        f"HNSW m={args.m} ef_construct={args.ef_construct} ef={args.ef} int8={args.int8}",
        flush=True,
    )
    rows = {"numpy brute force": bench_numpy(corpus, args.n, queries)}
    print(rows, flush=True)
    rows["qdrant edge"] = bench_store("edge", work / "edge", corpus, args.n, queries, args)
    print(rows["qdrant edge"], flush=True)
    if args.local_n:
        n_local = min(args.local_n, args.n)
        rows[f"qdrant-client local (N capped at {n_local})"] = bench_store(
            "local", work / "local", corpus, n_local, queries, args
        )
    print_table(rows)
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)


def print_table(rows: dict[str, dict[str, float]]) -> None:
    """One column per back end, one row per figure (ms unless named)."""
    keys = list(dict.fromkeys(k for row in rows.values() for k in row))
    names = list(rows)
    print("\n| figure | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for k in keys:
        cells = [rows[n].get(k) for n in names]
        text = ["–" if v is None else (f"{v:,.0f}" if v >= 1000 else f"{v:.3g}") for v in cells]
        print(f"| {k} | " + " | ".join(text) + " |")
    print(
        "latencies in ms (single query, 2-core machine shared with other work: noisy); "
        "peak RSS is cumulative over the run (includes the numpy corpus)"
    )


if __name__ == "__main__":
    main()
