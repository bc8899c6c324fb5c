"""Score-map speed (not a test): fetch an area's vectors, score and draw them.

    python -m bench.scoremap --n 100000 --big 1000000 [--repeat 5] [--dir DIR]

Makes ``--n`` synthetic chips in ONE area (a square grid of 1.2 km footprints 1 km apart,
alternating S1 / S2; vectors clustered around 50 centres as ``bench/corpus.py`` makes them),
writes them to a Qdrant Edge index, then times ``closp_core.scoremap.score_map`` for a query
vector over the whole area (p50 / p90 of ``--repeat`` runs, ms):

- *first*: the area's chips fetched from Edge (scroll of the payloads, then a retrieve with
  vectors per page of 1,000): a fresh ``AreaCache`` each run (``--edge-repeat`` runs: slow);
- *side file*: the same from the numpy side file (mmap, selected in numpy);
- *cached*: the area's chips already in memory (only scoring and drawing).

``--big`` chips are timed from a side file only (writing a 1M Edge index takes too long for a
shared machine): side file and cached. Prints the disk use of the index and the side file,
the machine and its load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.corpus import centres, clustered
from closp_core.bands import Sensor
from closp_core.records import ChipRecord, GeoPolygon
from closp_core.scoremap import AreaCache, ScoreMapRequest, score_map
from closp_core.scoremap.sidefile import save_table
from closp_core.scoremap.table import ChipTable
from closp_core.search import SearchRequest
from closp_core.settings import Settings
from closp_core.store import BBox, IndexParams
from closp_core.store.edge import EdgeStore

MODEL = "bench-scoremap"
STEP = 0.01  # degrees between chip centres (~1 km)
HALF = 0.006  # half a footprint side
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def area_records(n: int, seed: int) -> list[ChipRecord]:
    """``n`` chips on a square grid from (0, 40), alternating sensors, clustered vectors."""
    side = int(np.ceil(np.sqrt(n)))
    vectors = clustered(np.random.default_rng(seed), n, centres(seed))
    out = []
    for i in range(n):
        lon, lat = i % side * STEP, 40 + i // side * STEP
        ring = ((lon - HALF, lat - HALF), (lon + HALF, lat - HALF), (lon + HALF, lat + HALF),
                (lon - HALF, lat + HALF), (lon - HALF, lat - HALF))  # fmt: skip
        out.append(
            ChipRecord(
                key=f"area_{i:07d}",
                vector=vectors[i],
                sensor=Sensor.S2 if i % 2 else Sensor.S1,
                source="bench",
                acquired=T0 + dt.timedelta(days=i % 30),
                center=(lon, lat),
                footprint=GeoPolygon(ring),
            )
        )
    return out


def area_box(n: int) -> BBox:
    side = int(np.ceil(np.sqrt(n)))
    return BBox(-0.5 * STEP, 40 - 0.5 * STEP, side * STEP, 40 + side * STEP)


def disk_mb(folder: Path) -> float:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file()) / 1e6


def timed(run: object, repeat: int) -> tuple[float, float]:
    """p50, p90 ms of ``run()`` over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.percentile(times, 50)), float(np.percentile(times, 90))


def bench_edge(n: int, folder: Path, repeat: int, query: np.ndarray, edge_repeat: int) -> None:
    records = area_records(n, 0)
    store = EdgeStore(folder / "index", MODEL, IndexParams())
    start = time.perf_counter()
    store.upsert(records, batch_size=1000)
    store.flush()
    print(f"{n:,} chips written to Edge in {time.perf_counter() - start:.1f} s")
    table = ChipTable.from_records(records)
    side = save_table(table, folder / "side", store.count())
    request = ScoreMapRequest(SearchRequest(vector=query, bbox=area_box(n)))
    settings = Settings()
    first = timed(
        lambda: score_map(store, request, settings=settings, cache=AreaCache(1)), edge_repeat
    )
    fast = timed(
        lambda: score_map(store, request, settings=settings, cache=AreaCache(1, side)), repeat
    )
    cache = AreaCache(1)
    smap = score_map(store, request, settings=settings, cache=cache)
    cached = timed(lambda: score_map(store, request, settings=settings, cache=cache), repeat)
    print(f"{len(smap.table):,} chips scored, grid {smap.grid.values.shape}")
    figures = {"first (Edge scroll + retrieve)": first, "first (side file)": fast}
    report(n, {**figures, "cached": cached})
    print(f"disk: Edge index {disk_mb(folder / 'index'):.0f} MB, side file "
          f"{disk_mb(side):.0f} MB ({disk_mb(side) * 1e6 / n:.0f} B/chip)")  # fmt: skip
    store.close()


def bench_side_only(n: int, folder: Path, repeat: int, query: np.ndarray) -> None:
    table = ChipTable.from_records(area_records(n, 1))
    store = EdgeStore(folder / "empty", MODEL, IndexParams())  # only for the count check
    side = save_table(table, folder / "side-big", store.count())
    request = ScoreMapRequest(SearchRequest(vector=query, bbox=area_box(n)))
    settings = Settings()
    fast = timed(
        lambda: score_map(store, request, settings=settings, cache=AreaCache(1, side)), repeat
    )
    cache = AreaCache(1, side)
    score_map(store, request, settings=settings, cache=cache)
    cached = timed(lambda: score_map(store, request, settings=settings, cache=cache), repeat)
    report(n, {"first (side file)": fast, "cached": cached})
    print(f"disk: side file {disk_mb(side):.0f} MB ({disk_mb(side) * 1e6 / n:.0f} B/chip)")
    store.close()


def report(n: int, figures: dict[str, tuple[float, float]]) -> None:
    for name, (p50, p90) in figures.items():
        print(f"  {n:>9,} chips  {name:<32} p50 {p50:8.0f} ms   p90 {p90:8.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=0, help="side-file-only run (e.g. 1000000)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--edge-repeat", type=int, default=1, help="runs fetching from Edge")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min), "
          f"python {platform.python_version()}")  # fmt: skip
    query = clustered(np.random.default_rng(7), 1, centres(0))[0]
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-scoremap-"))
    try:
        if args.n:
            bench_edge(args.n, folder / "n", args.repeat, query, args.edge_repeat)
        if args.big:
            bench_side_only(args.big, folder / "big", args.repeat, query)
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
