"""Text-query latency while images are being encoded: the numbers behind the thread policy
(``closp_core.embedder.threads_for``).

    python -m bench.contention                # every scenario, this machine's core count
    python -m bench.contention --quick

Scenarios, each with its torch thread counts (``app`` = the query side, ``ingest`` = the
encoding side, an ingest-like loop of S2 forward passes in batches of ``--batch``):

- ``quiet``: queries alone.
- ``process``: the encoding loop runs in another process (``python -m ingest`` next to the app,
  or any busy neighbour).
- ``thread``: the encoding loop runs in another thread of the same process, with its own
  per-thread count (the app's in-process ingest job).

Each row: query p50/p90 over ``--queries`` one-query ``encode_text`` calls (a pause between
them, as a person types), and the encoding side's chips/s meanwhile. Other load on the machine
changes everything: the load average is printed with each row.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from closp_core.bands import Sensor
from closp_core.embedder import Embedder, torch_threads
from closp_core.model import create_model

QUERIES = ["flooded fields next to a river", "burned forest", "damaged buildings", "crops"]


def encode_loop(
    embedder: Embedder,
    threads: int,
    batch: int,
    stop: Callable[[], bool],
    ready: Callable[[], None],
) -> float:
    """Encode S2 batches on ``threads`` threads until ``stop()``; chips/s after ``ready()``."""
    chips = np.random.default_rng(0).uniform(0, 0.5, (batch, 13, 120, 120)).astype(np.float32)
    embedder.batch_size = batch
    with torch_threads(threads):
        embedder.encode_images(chips, Sensor.S2, threads=threads)  # warm-up
        ready()
        done, start = 0, time.perf_counter()
        while not stop():
            embedder.encode_images(chips, Sensor.S2, threads=threads)
            done += batch
    return done / (time.perf_counter() - start)


def _process_main(threads: int, batch: int, conn: Any) -> None:
    embedder = Embedder(create_model("closp-rn"), "cpu", threads=threads)
    rate = encode_loop(embedder, threads, batch, conn.poll, lambda: conn.send("ready"))
    conn.recv()
    conn.send(rate)


def query_latencies(embedder: Embedder, threads: int, count: int, pause: float) -> list[float]:
    times = []
    for query in QUERIES:  # warm-up
        embedder.encode_text([query], threads=threads)
    for i in range(count):
        start = time.perf_counter()
        embedder.encode_text([QUERIES[i % len(QUERIES)] + f" {i}"], threads=threads)
        times.append((time.perf_counter() - start) * 1000)
        time.sleep(pause)
    return sorted(times)


def in_process(
    embedder: Embedder, args: argparse.Namespace, app: int, ingest: int
) -> tuple[list[float], float]:
    """Queries on this thread while another thread of this process encodes images."""
    other = Embedder(embedder.model, "cpu", threads=ingest)  # same weights, as in the app
    stop, ready = threading.Event(), threading.Event()
    rates: list[float] = []
    worker = threading.Thread(
        target=lambda: rates.append(encode_loop(other, ingest, args.batch, stop.is_set, ready.set))
    )
    worker.start()
    ready.wait()
    try:
        times = query_latencies(embedder, app, args.queries, args.pause)
    finally:
        stop.set()
        worker.join()
    return times, rates[0]


def other_process(
    embedder: Embedder, args: argparse.Namespace, app: int, ingest: int
) -> tuple[list[float], float]:
    """Queries here while another process encodes images."""
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    process = context.Process(target=_process_main, args=(ingest, args.batch, there))
    process.start()
    try:
        here.recv()  # ready
        times = query_latencies(embedder, app, args.queries, args.pause)
        here.send("stop")
        rate = float(here.recv())
    finally:
        process.join(timeout=60)
    return times, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between queries")
    parser.add_argument("--batch", type=int, default=16, help="chips per forward pass")
    parser.add_argument("--quick", action="store_true", help="15 queries per row")
    args = parser.parse_args()
    if args.quick:
        args.queries = 15
    cores = os.cpu_count() or 1
    some = max(1, cores - 1)
    embedder = Embedder(create_model("closp-rn"), "cpu", threads=1)
    print(f"cores {cores} | query: one text, encode_text | encoding: S2 batches of {args.batch}")
    print(f"{'scenario':9} {'app thr':>7} {'ingest thr':>10} {'p50 ms':>8} {'p90 ms':>8} "
          f"{'ingest chips/s':>14} {'load':>5}")  # fmt: skip
    plans: list[tuple[str, int, int]] = [("quiet", 1, 0), ("quiet", cores, 0)]
    for kind in ("process", "thread"):
        plans += [(kind, 1, cores), (kind, cores, cores), (kind, 1, some)]
    seen = set()
    for kind, app, ingest in plans:
        if (kind, app, ingest) in seen:
            continue
        seen.add((kind, app, ingest))
        rate = 0.0
        if kind == "quiet":
            times = query_latencies(embedder, app, args.queries, args.pause)
        else:
            run = other_process if kind == "process" else in_process
            times, rate = run(embedder, args, app, ingest)
        p50, p90 = times[len(times) // 2], times[int(len(times) * 0.9)]
        shown = f"{rate:.1f}" if kind != "quiet" else "-"
        print(f"{kind:9} {app:>7} {ingest or '-':>10} {p50:>8.1f} {p90:>8.1f} {shown:>14} "
              f"{os.getloadavg()[0]:>5.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
