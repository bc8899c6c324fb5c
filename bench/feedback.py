"""Latency of relevance-feedback re-ranking on a large Edge index (not a test).

    python -m bench.feedback --n 100000 [--dir DIR [--reuse]]

Builds (or reuses, ``--reuse``) a Qdrant Edge index of N clustered chips exactly as
``bench/search.py`` does, then times ``closp_core.feedback.rerank`` for ``--queries`` queries
drawn around the cluster centres, each with labels taken from its own top results (as a user
would): no labels (a plain search through ``rerank``), 1 + 1 (Rocchio), 5 + 5 of one sensor
(logistic regression) and 3 + 3 per sensor (two classifiers); candidates 1,000, limit 50.
Prints p50/p90 per case in ms, and the split between the store search (with vectors) and the
rest. The machine's load makes single figures noisy: look at p50.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.corpus import iter_chunks, make_queries, records
from bench.search import MODEL
from closp_core.bands import Sensor
from closp_core.feedback import FeedbackLabels, rerank
from closp_core.store import IndexParams, VectorStore
from closp_core.store.edge import EdgeStore


def labels_for(store: VectorStore, q: np.ndarray, case: str) -> FeedbackLabels:
    """Labels a user could give after looking at the top 100 for ``q``."""
    if case == "none":
        return FeedbackLabels()
    hits = store.search(q, limit=100)
    if case == "rocchio":
        return FeedbackLabels.of({hits[0].key: 1, hits[-1].key: -1})
    if case == "logistic":
        same = [h.key for h in hits if h.record.sensor is hits[0].record.sensor]
        return FeedbackLabels.of({**dict.fromkeys(same[:5], 1), **dict.fromkeys(same[-5:], -1)})
    pick: dict[str, int] = {}
    for sensor in Sensor:
        keys = [h.key for h in hits if h.record.sensor is sensor]
        pick |= {**dict.fromkeys(keys[:3], 1), **dict.fromkeys(keys[-3:], -1)}
    return FeedbackLabels.of(pick)


def time_case(store: VectorStore, queries: np.ndarray, case: str, candidates: int) -> dict:
    """p50/p90 ms of rerank, and p50 of the candidate search alone, over the queries."""
    labelled = [labels_for(store, q, case) for q in queries]
    for q, labels in list(zip(queries, labelled, strict=True))[:3]:  # warm-up
        rerank(store, labels, q, limit=50, candidates=candidates)
    total, search = [], []
    method = ""
    for q, labels in zip(queries, labelled, strict=True):
        t = time.perf_counter()
        result = rerank(store, labels, q, limit=50, candidates=candidates)
        total.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        store.search(result.ranking_vector, limit=candidates, with_vectors=True)
        search.append((time.perf_counter() - t) * 1000)
        method = result.method.value
    return {
        "method": method,
        "p50": float(np.percentile(total, 50)),
        "p90": float(np.percentile(total, 90)),
        "search p50": float(np.percentile(search, 50)),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="chips in the index")
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--candidates", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=None, help="index folder (default: a temp dir)")
    ap.add_argument("--reuse", action="store_true", help="use the index already in --dir")
    args = ap.parse_args(argv)
    work = args.dir or Path(tempfile.mkdtemp(prefix="closp-bench-feedback-"))
    queries = make_queries(args.seed, args.queries)
    reuse = args.reuse and (work / "closp-store.json").exists()
    store = EdgeStore(work, MODEL, IndexParams())
    if not reuse:
        t = time.perf_counter()
        for chunk in iter_chunks(args.seed, args.n):
            store.upsert(records(chunk), batch_size=args.batch)
        store.flush()
        rate = args.n / (time.perf_counter() - t)
        store.optimize()
        print(f"built N={args.n} ({rate:.0f} chips/s upsert) in {time.perf_counter() - t:.0f} s")
    print(f"index: {store.count()} chips in {work}; {args.queries} queries, "
          f"{args.candidates} candidates, limit 50", flush=True)  # fmt: skip
    print("| labels | method | p50 ms | p90 ms | candidate search p50 ms |")
    print("|---|---|---:|---:|---:|")
    for case in ("none", "rocchio", "logistic", "per-sensor"):
        row = time_case(store, queries, case, args.candidates)
        print(f"| {case} | {row['method']} | {row['p50']:.1f} | {row['p90']:.1f} | "
              f"{row['search p50']:.1f} |", flush=True)  # fmt: skip
    store.close()
    print("single queries on this machine: check what else was running (uptime)")
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
