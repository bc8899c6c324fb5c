"""Search benchmark of the vector store (not a test): Edge vs numpy vs qdrant-client local.

    python -m bench.search --n 100000
    nice -n 15 python -m bench.search --n 10000000 --int8 --dir var/bench --local-n 0

Builds N clustered 384-d unit vectors with realistic payloads (``bench/corpus.py``: made in
100k-chip chunks, never held whole), then prints upsert rate, HNSW build time, and from a
*fresh process* that only opens the index and searches: reopen time, its peak RSS (VmHWM),
p50/p90 latency and recall@10 against the exact top 10 (streamed numpy), without and with a
combined label+sensor+box filter. ``--int8`` quantises to int8 (rescored with the originals)
and keeps the original vectors on disk (``--no-on-disk`` keeps them in RAM). The numpy
brute-force row needs the corpus in memory: only up to ``--numpy-max`` chips. qdrant-client
local mode is pure Python and very slow: it runs on the first ``--local-n`` chips only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import (
    FILTER,
    WIDE_FILTER,
    Chunk,
    chip_key,
    exact_top10,
    filter_mask,
    iter_chunks,
    make_queries,
    materialise,
    records,
)
from closp_core.store import IndexParams, SearchFilters, VectorStore
from closp_core.store.edge import EdgeStore
from closp_core.store.remote import RemoteStore

MODEL = "bench/random"
FILTERS = {"plain": None, "filtered": FILTER}


def peak_rss_gb(field: str = "VmHWM") -> float:
    """Peak resident memory of this process so far (``VmHWM``: anonymous memory plus mapped
    file pages), GB; or another ``/proc/self/status`` field (``RssAnon``, ``RssFile``: now)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def cpu_s() -> float:
    """CPU seconds this process has used so far, all threads (Edge's optimizer included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def latencies(fn: Callable[[np.ndarray], list[str]], queries: np.ndarray) -> tuple:
    """(p50 ms, p90 ms, results, p50 CPU ms) of ``fn`` over the queries (after 3 warm-up
    calls). CPU ms: all threads of this process, less sensitive to other work on the machine."""
    for q in queries[:3]:
        fn(q)
    times, cpu, results = [], [], []
    for q in queries:
        t, c = time.perf_counter(), cpu_s()
        results.append(fn(q))
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((cpu_s() - c) * 1000)
    p50, p90 = float(np.percentile(times, 50)), float(np.percentile(times, 90))
    return p50, p90, results, float(np.percentile(cpu, 50))


def recall(results: list[list[str]], truth: list[list[str]]) -> float:
    """Mean recall@10 (queries with an empty truth are skipped)."""
    scores = [len(set(r) & set(t)) / len(t) for r, t in zip(results, truth, strict=True) if t]
    return float(np.mean(scores)) if scores else float("nan")


def truth_keys(ids: np.ndarray) -> list[list[str]]:
    return [[chip_key(int(i)) for i in row if i >= 0] for row in ids]


def numpy_search(c: Chunk, mask: np.ndarray | None) -> Callable[[np.ndarray], list[str]]:
    """Brute force over the chunk (optionally only the masked subset)."""
    idx = np.arange(len(c)) if mask is None else np.flatnonzero(mask)
    sub = c.vectors[idx]

    def run(q: np.ndarray) -> list[str]:
        scores = sub @ q
        k = min(10, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k else np.array([], int)
        return [chip_key(c.start + idx[i]) for i in top[np.argsort(-scores[top])]]

    return run


def bench_numpy(c: Chunk, queries: np.ndarray) -> dict[str, float]:
    """Brute force baseline; ``mask+filtered`` includes computing the filter mask."""
    plain = latencies(numpy_search(c, None), queries)
    filtered = latencies(numpy_search(c, filter_mask(c)), queries)
    times = []
    for q in queries:
        t = time.perf_counter()
        numpy_search(c, filter_mask(c))(q)
        times.append((time.perf_counter() - t) * 1000)
    return {
        "N": len(c),
        "plain p50": plain[0],
        "plain p90": plain[1],
        "filtered p50": filtered[0],
        "filtered p90": filtered[1],
        "mask+filtered p50": float(np.percentile(times, 50)),
        "peak RSS GB": peak_rss_gb(),
    }


def open_kind(kind: str, folder: Path, params: IndexParams) -> VectorStore:
    if kind == "edge":
        return EdgeStore(folder, MODEL, params)
    return RemoteStore(MODEL, path=folder, params=params)


def build(
    kind: str, folder: Path, seed: int, n: int, params: IndexParams, batch: int, grow: bool = False
) -> dict:
    """Upsert the first ``n`` chips and build the index; figures of this (building) process.
    ``grow``: keep the chips already in ``folder`` (the first chunks of the same corpus) and add
    the rest, as a long ingest does; the figures are then those of the chips added."""
    row: dict[str, float] = {}
    t0, c0 = time.perf_counter(), cpu_s()
    with open_kind(kind, folder, params) as store:
        first = store.count() if grow else 0
        if grow:
            row["grown from"] = first
            print(f"{kind}: {first:,} chips already indexed, adding {n - first:,}", flush=True)
        build_s = build_cpu = 0.0
        for chunk in iter_chunks(seed, n, first):
            store.upsert(records(chunk), batch_size=batch)
            done = chunk.start + len(chunk)
            t, c = time.perf_counter(), cpu_s()
            if store.optimize_if_due():  # as the ingest CLI does: one bounded segment at a time
                build_s, build_cpu = build_s + time.perf_counter() - t, build_cpu + cpu_s() - c
                print(
                    f"{kind}: segment built at {done:,} chips ({time.perf_counter() - t:.0f} s,"
                    f" builder peak RSS {peak_rss_gb():.2f} GB)",
                    flush=True,
                )
            if done % 1_000_000 == 0 or done == n:
                rate = done / (time.perf_counter() - t0)
                print(f"{kind}: {done:,} chips upserted ({rate:,.0f}/s)", flush=True)
        t, c = time.perf_counter(), cpu_s()
        store.optimize()
        store.flush()
        build_s, build_cpu = build_s + time.perf_counter() - t, build_cpu + cpu_s() - c
        total_s, total_cpu = time.perf_counter() - t0, cpu_s() - c0
        row["upsert /s"] = (n - first) / (total_s - build_s)
        row["upsert /CPU-s"] = (n - first) / (total_cpu - build_cpu)
        row["build s"], row["build CPU s"] = build_s, build_cpu
        print(f"{kind}: building the graph took {build_s:.0f} s", flush=True)
    row["builder peak RSS GB"] = peak_rss_gb()
    segments = folder / "segments"
    row["segments"] = sum(1 for _ in segments.iterdir()) if segments.is_dir() else 0
    return row


def query_store(store: VectorStore, queries: np.ndarray, truth: dict) -> dict[str, float]:
    """Latency and recall of ``store`` without and with ``FILTER``."""
    row: dict[str, float] = {}
    for name, f in FILTERS.items():

        def run(q: np.ndarray, f: SearchFilters | None = f) -> list[str]:
            return [h.key for h in store.search(q, limit=10, filters=f)]

        p50, p90, res, cpu = latencies(run, queries)
        row |= {f"{name} p50": p50, f"{name} p90": p90, f"{name} CPU p50": cpu}
        row[f"{name} R@10"] = recall(res, truth[name])
    return row


def query_wide(store: VectorStore, queries: np.ndarray) -> dict[str, float]:
    """``WIDE_FILTER``: latency for many candidates; recall against the store's exact search."""

    def run(q: np.ndarray, exact: bool = False) -> list[str]:
        return [h.key for h in store.search(q, limit=10, filters=WIDE_FILTER, exact=exact)]

    p50, p90, res, cpu = latencies(run, queries[:100])
    exact = [run(q, exact=True) for q in queries[:30]]
    return {
        "wide candidates": store.count(WIDE_FILTER),
        "wide p50": p50,
        "wide p90": p90,
        "wide CPU p50": cpu,
        "wide R@10 (vs exact)": recall(res[:30], exact),
    }


def probe(spec_path: Path) -> None:
    """The searching process: open the built index, search, print one JSON row."""
    spec = json.loads(spec_path.read_text())
    folder, params = Path(spec["folder"]), IndexParams(**spec["params"])
    queries = np.load(spec["queries"])
    truth = {name: truth_keys(np.load(path)) for name, path in spec["truth"].items()}
    t = time.perf_counter()
    store = open_kind(spec["kind"], folder, params)
    row = {"reopen s": time.perf_counter() - t, "RSS after reopen GB": peak_rss_gb()}
    row |= query_store(store, queries, truth)
    # the searching process's memory: its peak, and what it left resident: anonymous (int8
    # copy, heap) and file pages (mmap: graph, payload, the originals read to rescore)
    row["search peak RSS GB"] = peak_rss_gb()
    row["RssAnon GB"], row["RssFile GB"] = peak_rss_gb("RssAnon"), peak_rss_gb("RssFile")
    row |= query_wide(store, queries)  # its exact searches read many originals: after the RSS
    for ef in spec["more_ef"]:
        store.close()
        store = open_kind(spec["kind"], folder, dataclasses.replace(params, hnsw_ef=ef))
        more = query_store(store, queries, truth)
        row |= {f"{name} (ef {ef})": value for name, value in more.items()}
    row["disk GB"] = (store.info().disk_bytes or 0) / 1e9
    store.close()
    print(json.dumps(row), flush=True)


def bench_store(
    kind: str, work: Path, n: int, queries: np.ndarray, args: argparse.Namespace
) -> dict[str, float]:
    """Build one back end on the first ``n`` chips, then search it from a fresh process."""
    folder = work / kind
    params = IndexParams(
        m=args.m,
        ef_construct=args.ef_construct,
        payload_m=args.payload_m,
        hnsw_ef=args.ef,
        int8=args.int8,
        on_disk=args.on_disk,
        segment_chips=args.segment,
    )
    row: dict[str, float] = {"N": n}
    if args.reuse and (folder / "closp-store.json").exists():
        print(f"{kind}: reusing the index in {folder}", flush=True)
    elif args.grow and (folder / "closp-store.json").exists():
        row |= build(kind, folder, args.seed, n, params, args.batch, grow=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)
        row |= build(kind, folder, args.seed, n, params, args.batch)
    spec = {
        "kind": kind,
        "folder": str(folder),
        "params": dataclasses.asdict(params),
        "queries": str(work / "queries.npy"),
        "truth": {name: str(truth_file(work, args, n, name, queries)) for name in FILTERS},
        "more_ef": args.more_ef,
    }
    spec_path = work / f"probe-{kind}.json"
    spec_path.write_text(json.dumps(spec))
    out = subprocess.run(
        [sys.executable, "-m", "bench.search", "--probe", str(spec_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return row | json.loads(out.stdout.strip().splitlines()[-1])


def truth_file(work: Path, args: argparse.Namespace, n: int, name: str, q: np.ndarray) -> Path:
    """The exact top 10 of every query (streamed numpy), cached in the work folder."""
    path = work / f"truth-{name}-n{n}-seed{args.seed}-q{len(q)}.npy"
    if not path.exists():
        t = time.perf_counter()
        np.save(path, exact_top10(args.seed, n, q, filtered=FILTERS[name] is not None))
        print(f"exact top 10 ({name}, N={n:,}) in {time.perf_counter() - t:.0f} s", flush=True)
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="chips in the Edge/numpy runs")
    ap.add_argument("--local-n", type=int, default=10_000, help="qdrant-client local cap (0=skip)")
    ap.add_argument("--numpy-max", type=int, default=1_000_000, help="largest numpy row")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--m", type=int, default=16, help="HNSW m (0 = no graph)")
    ap.add_argument("--ef-construct", type=int, default=100)
    ap.add_argument("--ef", type=int, default=512, help="HNSW search ef")
    ap.add_argument("--payload-m", type=int, default=0, help="HNSW payload_m (0 = off)")
    ap.add_argument("--int8", action="store_true", help="int8 scalar quantisation (rescored)")
    ap.add_argument(
        "--on-disk",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="original vectors on disk (default: on with --int8)",
    )
    ap.add_argument(
        "--segment", type=int, default=IndexParams.segment_chips, help="chips per graph segment"
    )
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    ap.add_argument("--reuse", action="store_true", help="query the index already in --dir")
    ap.add_argument("--grow", action="store_true", help="add chips to the index in --dir up to --n")
    ap.add_argument("--more-ef", type=int, nargs="*", default=[], help="also query at these ef")
    ap.add_argument("--probe", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.on_disk is None:
        args.on_disk = args.int8
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.probe is not None:
        probe(args.probe)
        return
    work = args.dir or Path(tempfile.mkdtemp(prefix="closp-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    queries = make_queries(args.seed, args.queries)
    np.save(work / "queries.npy", queries)
    print(
        f"N={args.n:,}; {args.queries} queries; HNSW m={args.m} ef_construct={args.ef_construct} "
        f"ef={args.ef} payload_m={args.payload_m} int8={args.int8} on_disk={args.on_disk} "
        f"segments of {args.segment:,}",
        flush=True,
    )
    rows: dict[str, dict[str, float]] = {}
    if args.n <= args.numpy_max:
        corpus = materialise(args.seed, args.n)
        print(f"filter keeps {int(filter_mask(corpus).sum()):,} chips", flush=True)
        rows["numpy brute force"] = bench_numpy(corpus, queries)
        del corpus
    rows["qdrant edge"] = bench_store("edge", work, args.n, queries, args)
    print(rows["qdrant edge"], flush=True)
    if args.local_n:
        n_local = min(args.local_n, args.n)
        rows[f"qdrant-client local (N capped at {n_local})"] = bench_store(
            "local", work, n_local, queries, args
        )
    print_table(rows)
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)


def print_table(rows: dict[str, dict[str, Any]]) -> None:
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
        "'search peak RSS': the fresh process that only opened the index and ran the plain "
        "and filtered queries; 'wide': WIDE_FILTER, recall against the store's exact search"
    )


if __name__ == "__main__":
    main()
