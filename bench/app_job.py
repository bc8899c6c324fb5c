"""Search latency in the app while its background job ingests: ``python -m bench.app_job``.

One process, as in the app: the embedder loaded with the app's thread policy, one embedded
store, the ``JobRunner`` of ``ingest.jobs`` ingesting a real scene (the shipped Virginia S2 L1C,
~250 chips) on the background thread budget, and the main thread playing another session:
encode a text query and search, again and again. Prints p50/p90 of encode + search with no
job (baseline) and while the job runs, and the job's chips/s. The issue's target: p50 <= 150 ms
with one job embedding on a 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from closp_core.data import SceneSource
from closp_core.data.samples import SAMPLES_DIR
from closp_core.embedder import Embedder, threads_for
from closp_core.model import load_model
from closp_core.settings import Settings
from closp_core.store import open_store
from ingest.jobs import JobRunner
from ingest.pipeline import BatchHook, Ingestor

QUERIES = (
    "flooded fields next to a river",
    "farmland with crops",
    "coastal salt marsh and lagoon",
    "dense forest",
    "urban area with buildings",
    "burned forest",
)


def timed_searches(embedder: Embedder, store, seconds: float, until=None) -> list[float]:  # type: ignore[no-untyped-def]
    """Encode-and-search times (ms) for ``seconds`` (or until ``until()`` is false)."""
    times: list[float] = []
    stop = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < stop and (until is None or until()):
        query = f"{QUERIES[i % len(QUERIES)]} {i}"  # never the same text: no cache
        start = time.perf_counter()
        vector = embedder.encode_text([query])[0]
        store.search(vector, limit=50)
        times.append((time.perf_counter() - start) * 1e3)
        i += 1
        time.sleep(0.05)  # a person does not search back to back
    return times


def describe(name: str, times: list[float]) -> str:
    p90 = statistics.quantiles(times, n=10)[-1] if len(times) >= 10 else max(times)
    return (
        f"{name:<28} n={len(times):4d}  p50 {statistics.median(times):7.1f} ms  p90 {p90:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random:closp-rn")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    args = parser.parse_args()
    settings = Settings(model=args.model)
    embedder = Embedder(load_model(args.model), "cpu", threads=threads_for("app", settings))
    embedder.encode_text(["warm-up"])
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_store(Settings(data_dir=Path(tmp)), embedder.model_id) as store,
    ):
        background = threads_for("background", settings)
        print(f"threads: app {threads_for('app', settings)}, background job {background}")
        idle = timed_searches(embedder, store, args.baseline_seconds)
        runner = JobRunner()

        def ingestor(on_batch: BatchHook, cancel: threading.Event) -> Ingestor:
            return Ingestor(
                embedder, store, Path(tmp), progress=False, threads=background,
                on_batch=on_batch, cancel=cancel,
            )  # fmt: skip

        runner.start("virginia", lambda: [SceneSource(SAMPLES_DIR / "virginia-s2-l1c")], ingestor)
        busy = timed_searches(embedder, store, 3600, until=lambda: runner.status().active)
        status = runner.wait()
        print(describe("encode + search, idle", idle))
        print(describe("encode + search, job running", busy))
        print(f"job: {status.state}, {status.done} chips in {status.seconds:.1f} s "
              f"({status.rate:.1f} chips/s)")  # fmt: skip


if __name__ == "__main__":
    main()
