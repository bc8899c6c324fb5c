"""Searches in the app while its ingest job runs: ``python -m bench.app_job``.

As in the app: the embedder loaded with the app's thread policy and one embedded store in this
process, and the ``JobRunner`` of ``ingest.jobs`` running the job **in its own process**
(``python -m ingest.job_process``) on the shipped scenes (Virginia S2 L1C and Sen1Floods11
Spain S1 + S2: 114 chips, batches of 16),
the app writing each batch it hands over. This process's main thread plays another browser
session: encode a text query and search, again and again. Three runs:

1. the job alone, into an empty index (its idle rate);
2. searches alone, on that index (idle p50/p90);
3. the same job into another empty index while the searches run on it (their p50 and the
   job's rate as a share of 1).

A job's rate counts from its first acknowledged batch to its end (the child's start, model
load included, is reported apart). The issue's targets: searches <= 0.5 s p50 while a job
runs, and the job >= 70 % of its idle rate. Other load on the machine changes everything: the
load average is printed with each figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from closp_core.data.samples import SAMPLES_DIR
from closp_core.embedder import Embedder, threads_for
from closp_core.model import load_model
from closp_core.settings import Settings
from closp_core.store import VectorStore, open_store
from ingest.job_process import JobSpec, SourceSpec
from ingest.jobs import JobRunner, JobStatus

QUERIES = (
    "flooded fields next to a river",
    "farmland with crops",
    "coastal salt marsh and lagoon",
    "dense forest",
    "urban area with buildings",
    "burned forest",
)


def timed_searches(
    embedder: Embedder,
    store: VectorStore,
    seconds: float,
    until: Callable[[], bool] | None = None,
    pause_s: float = 0.5,
) -> list[float]:
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
        time.sleep(pause_s)  # a person does not search back to back
    return times


def describe(name: str, times: list[float]) -> str:
    p90 = statistics.quantiles(times, n=10)[-1] if len(times) >= 10 else max(times)
    return (
        f"{name:<30} n={len(times):4d}  p50 {statistics.median(times):7.1f} ms  "
        f"p90 {p90:7.1f} ms  (load {load()})"
    )


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


@dataclasses.dataclass
class JobRun:
    """A job's figures: seconds to its first batch, then chips and seconds from there."""

    status: JobStatus
    first_s: float
    chips: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.chips / self.seconds if self.seconds > 0 else 0.0

    def line(self, name: str) -> str:
        return (
            f"{name:<30} {self.status.state}, {self.status.done} chips; first batch after "
            f"{self.first_s:.1f} s (process start, model load), then {self.rate:.1f} chips/s "
            f"(load {load()})"
        )


def run_job(
    runner: JobRunner, spec: JobSpec, store: VectorStore, during: Callable[[], None]
) -> JobRun:
    """Start ``spec`` and run ``during()`` meanwhile (it returns once the job has ended); the
    job's figures, its first batch seen by a thread polling its status."""
    start = time.monotonic()
    runner.start(spec, store)
    first: list[tuple[float, int]] = []

    def watch() -> None:
        while (status := runner.status()).active:
            if status.done > 0:
                first.append((time.monotonic(), status.done))
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    during()
    status = runner.wait()
    watcher.join()
    end = status.finished or time.monotonic()
    if not first:
        return JobRun(status, end - start, 0, 0.0)
    ((seen, done),) = first
    return JobRun(status, seen - start, status.done - done, end - seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random:closp-rn")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=16, help="chips per batch")
    parser.add_argument(
        "--pause", type=float, default=0.5, help="seconds between two searches (reading results)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(model=args.model, data_dir=Path(tmp), batch_size=args.batch_size)
        embedder = Embedder(load_model(args.model), "cpu", threads=threads_for("app", settings))
        embedder.encode_text(["warm-up"])
        spain = SAMPLES_DIR / "sen1floods11-spain"
        scenes = (
            SourceSpec("scene", SAMPLES_DIR / "virginia-s2-l1c"),  # 64 chips
            SourceSpec("scene", spain / "Spain_7370579_S1Hand.tif"),  # 25
            SourceSpec("scene", spain / "Spain_7370579_S2Hand.tif"),  # 25
        )
        spec = JobSpec("samples", scenes, settings, embedder.model_id)
        print(f"cores {os.cpu_count()}; threads: app {threads_for('app', settings)}, job "
              f"process {threads_for('background', settings)}; {args.pause} s between "
              "searches")  # fmt: skip
        runner = JobRunner()
        with open_store(settings, embedder.model_id) as store:  # the job alone
            alone = run_job(runner, spec, store, lambda: None)
            print(alone.line("job alone"), flush=True)
            idle = timed_searches(embedder, store, args.baseline_seconds, pause_s=args.pause)
            print(describe("encode + search, no job", idle), flush=True)
        again = dataclasses.replace(settings, data_dir=Path(tmp) / "again")
        with open_store(again, embedder.model_id) as store:  # the same job, searches meanwhile
            busy: list[float] = []
            shared = run_job(
                runner, dataclasses.replace(spec, settings=again), store,
                lambda: busy.extend(timed_searches(
                    embedder, store, 3600, until=lambda: runner.status().active,
                    pause_s=args.pause)),
            )  # fmt: skip
            print(describe("encode + search, job running", busy))
            print(shared.line("job while searching"))
        p50 = statistics.median(busy) / 1e3
        share = shared.rate / alone.rate if alone.rate else 0.0
        print(f"targets: search p50 {p50:.3f} s (<= 0.5 s: {'met' if p50 <= 0.5 else 'MISSED'}); "
              f"job at {share:.0%} of its idle rate (>= 70 %: "
              f"{'met' if share >= 0.7 else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    main()
