"""Ingest throughput per reader: end-to-end chips/s (read + preprocess + embed + previews +
upsert) next to the encoder-only rate for the same chips, measured in the same process.

    python -m bench.ingest                        # every reader, default sizes, this machine
    python -m bench.ingest --quick                # small sizes (a smoke test, ~2 minutes)
    python -m bench.ingest --readers bigearthnet --workers 0 1 --batch-sizes 32 64
    python -m bench.ingest --device cuda --readers crisislandmark --batch-sizes 512 1024

Readers and data (generated once in the real layouts from the shipped samples' real pixels and
cached under ``--data``, see ``bench/datasets.py``): ``scene`` (the Virginia S2 strip as one
13-band stack, repeated), ``bigearthnet`` (>= 2,000 patch folders), ``crisislandmark``
(>= 20,000 chips of HDF5), ``stac`` (per-band COGs served over local HTTP with Range requests).

Each (reader, batch size, workers) runs in a fresh process: the encoder-only rate (chips of
each sensor from that reader, held in memory, encoded repeatedly for ``--encoder-seconds``)
is measured before and after the end-to-end run, and the ratio uses their mean, weighted by
the sensor mix indexed. The index build at the end of an ingest is excluded. On a shared
machine the figures are noisy: the load average is printed; compare ratios, not rates.
Throughput does not depend on the weights, so a random model is the default.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import datasets
from closp_core.bands import Sensor
from closp_core.data import (
    BigEarthNetSource,
    ChipSource,
    CrisisLandMarkSource,
    SceneSource,
    StacSource,
    Tally,
)
from closp_core.data.stac.remote import RemoteOptions
from closp_core.embedder import Embedder, threads_for
from closp_core.model import load_model
from closp_core.settings import Settings
from closp_core.store import open_store
from ingest.cli import CLM_KEYS_PER_UNIT
from ingest.pipeline import Ingestor, IngestSummary
from ingest.reading import choose_workers

READERS = ("scene", "bigearthnet", "crisislandmark", "stac")
FULL = {"scene": 16, "bigearthnet": 2000, "crisislandmark": 20000, "stac": 8}
QUICK = {"scene": 2, "bigearthnet": 200, "crisislandmark": 1000, "stac": 2}


def make_source(reader: str, path: str) -> ChipSource:
    if reader == "scene":
        return SceneSource(path)
    if reader == "bigearthnet":
        return BigEarthNetSource(path)
    if reader == "crisislandmark":
        return CrisisLandMarkSource(path, keys_per_unit=CLM_KEYS_PER_UNIT)
    datasets.gdal_http_env()
    return StacSource(path, remote=RemoteOptions(hosts=("127.0.0.1",)))  # the local server


def sample_chips(source: ChipSource, per_sensor: int) -> dict[Sensor, np.ndarray]:
    """Up to ``per_sensor`` chips of each sensor, from units spread over the source."""
    units = source.units()
    # from both ends of the sorted units (BigEarthNet sorts S1 folders before S2 ones)
    order = [u for pair in zip(units, reversed(units), strict=True) for u in pair][: len(units)]
    found: dict[Sensor, list[np.ndarray]] = {Sensor.S1: [], Sensor.S2: []}
    for unit in order:
        for chip in source.read(unit, Tally()):
            if len(found[chip.sensor]) < per_sensor:
                found[chip.sensor].append(chip.pixels)
            if all(len(chips) >= per_sensor for chips in found.values()):
                break
        if all(len(chips) >= per_sensor for chips in found.values()):
            break
    return {sensor: np.stack(chips) for sensor, chips in found.items() if chips}


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (reader processes)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def encoder_rates(
    embedder: Embedder, samples: dict[Sensor, np.ndarray], seconds: float, cpu: dict[Sensor, float]
) -> dict[Sensor, float]:
    """Chips/s of ``encode_images`` per sensor, each encoding its sample for ``seconds``;
    CPU seconds per chip go into ``cpu``."""
    rates = {}
    for sensor, chips in samples.items():
        done, start, used = 0, time.perf_counter(), cpu_seconds()
        while (elapsed := time.perf_counter() - start) < seconds or done == 0:
            embedder.encode_images(chips, sensor)
            done += len(chips)
        rates[sensor] = done / elapsed
        cpu[sensor] = (cpu_seconds() - used) / done
    return rates


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """One (reader, batch size, workers) in this process."""
    embedder = Embedder(load_model(job["model"]), job["device"], job["batch_size"], job["threads"])
    source = make_source(job["reader"], job["path"])
    samples = sample_chips(source, job["sample"])
    if embedder.device.type == "cuda":  # as the loader's pin thread hands batches over
        samples = {s: torch.from_numpy(c).pin_memory().numpy() for s, c in samples.items()}
        torch.cuda.reset_peak_memory_stats()
    for sensor, chips in samples.items():  # warm-up
        embedder.encode_images(chips[: embedder.batch_size], sensor)
    cpu: dict[Sensor, float] = {}
    before = encoder_rates(embedder, samples, job["encoder_seconds"], cpu)
    load = os.getloadavg()[0]
    summary, mix, acks, used = ingest_run(embedder, source, job["workers"])
    after = encoder_rates(embedder, samples, job["encoder_seconds"], {})
    mean = {s: (before[s] + after[s]) / 2 for s in before}
    seconds = sum(n / mean[s] for s, n in mix.items() if n)
    gpu_gb = torch.cuda.max_memory_allocated() / 1e9 if embedder.device.type == "cuda" else 0
    return {
        "chips": summary.indexed,
        "failed": len(summary.failed),
        "end_to_end": summary.indexed / summary.seconds,
        "steady": _steady(acks),
        "encoder": summary.indexed / seconds if seconds else 0.0,
        "encoder_before": _combined(before, mix),
        "encoder_after": _combined(after, mix),
        "cpu_ms": 1000 * used / max(1, summary.indexed),  # all threads and reader processes
        "encoder_cpu_ms": 1000
        * sum(n * cpu[s] for s, n in mix.items() if n)
        / max(1, sum(mix.values())),
        "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "gpu_gb": gpu_gb,
        "load": (load + os.getloadavg()[0]) / 2,
        "threads": embedder.threads,
        "batch": embedder.batch_size,
    }


def ingest_run(
    embedder: Embedder, source: ChipSource, workers: int
) -> tuple[IngestSummary, dict[Sensor, int], list[tuple[float, int]], float]:
    """Ingest ``source`` into a fresh index: summary, chips per sensor, (time, chips done) at
    each acknowledged batch, CPU seconds used (this process and its reader processes)."""
    acks: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        store = open_store(settings, embedder.model_id)
        try:
            ingestor = Ingestor(
                embedder,
                store,
                settings.data_dir,
                progress=False,
                workers=workers,
                on_batch=lambda done, total: acks.append((time.perf_counter(), done)),
            )
            used = cpu_seconds()
            summary = ingestor.run(source)
            used = cpu_seconds() - used
            mix = {Sensor.parse(k): v for k, v in store.counts_by("sensor").items()}
        finally:
            store.close()
    return summary, mix, acks, used


def _steady(acks: list[tuple[float, int]]) -> float:
    """Chips/s from the first acknowledged batch to the last (start-up left out)."""
    if len(acks) < 4:  # too few batches to leave the start-up out
        return float("nan")
    (t0, n0), (t1, n1) = acks[0], acks[-1]
    return (n1 - n0) / (t1 - t0)


def _combined(rates: dict[Sensor, float], mix: dict[Sensor, int]) -> float:
    seconds = sum(n / rates[s] for s, n in mix.items() if n and s in rates)
    return sum(mix.values()) / seconds if seconds else 0.0


def prepare(reader: str, data: Path, size: int, base_url: str | None) -> str:
    if reader == "scene":
        return str(datasets.scene_stack(data / f"scene/virginia_x{size}.tif", size))
    if reader == "bigearthnet":
        return str(datasets.bigearthnet_folders(data / f"bigearthnet-{size}", size))
    if reader == "crisislandmark":
        return str(datasets.crisislandmark_root(data / f"crisislandmark-{size}", size))
    assert base_url is not None
    return str(datasets.stac_item(data / "stac", size, base_url))


HEADER = (
    f"{'reader':>14} {'chips':>6} {'batch':>5} {'wrk':>3} {'thr':>3} {'end-to-end/s':>12} "
    f"{'steady/s':>8} {'encoder/s':>9} {'(before/after)':>15} {'ratio':>6} {'RSS GB':>6} "
    f"{'GPU GB':>6} {'load':>5} {'CPU ms/chip e2e/enc':>19} {'CPU ratio':>9}"
)


def row(reader: str, r: dict[str, Any], workers: int) -> str:
    ratio = r["end_to_end"] / r["encoder"] if r["encoder"] else 0.0
    span = f"{r['encoder_before']:.0f}/{r['encoder_after']:.0f}"
    cpu_span = f"{r['cpu_ms']:.1f}/{r['encoder_cpu_ms']:.1f}"
    cpu_ratio = r["encoder_cpu_ms"] / r["cpu_ms"] if r["cpu_ms"] else 0.0
    failed = f"  ({r['failed']} units FAILED)" if r["failed"] else ""
    return (
        f"{reader:>14} {r['chips']:>6} {r['batch']:>5} {workers:>3} {r['threads']:>3} "
        f"{r['end_to_end']:>12.1f} {r['steady']:>8.1f} {r['encoder']:>9.1f} {span:>15} "
        f"{ratio:>6.0%} {r['rss_gb']:>6.2f} {r['gpu_gb']:>6.2f} {r['load']:>5.1f} "
        f"{cpu_span:>19} {cpu_ratio:>9.0%}{failed}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", nargs="+", choices=READERS, default=list(READERS))
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="default: the device's")
    parser.add_argument("--workers", type=int, nargs="+", help="default: as python -m ingest")
    parser.add_argument("--threads", type=int, help="torch threads (default: as python -m ingest)")
    parser.add_argument("--model", default="random:closp-rn")
    parser.add_argument("--data", type=Path, help="cache of generated data (default: $TMPDIR)")
    parser.add_argument("--encoder-seconds", type=float, help="per sensor, before and after")
    parser.add_argument("--sample", type=int, help="chips per sensor for the encoder rate")
    for reader in READERS:
        parser.add_argument(f"--{reader}-size", type=int, help=f"default {FULL[reader]}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.child:
        print(json.dumps(measure(json.loads(args.child))))
        return
    sizes = QUICK if args.quick else FULL
    data = args.data or Path(tempfile.gettempdir()) / "closp-bench"
    device = args.device
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    plain = Settings()
    workers_list = args.workers or [choose_workers(device="cuda" if cuda else "cpu")]
    print(f"cores {os.cpu_count()} | torch {torch.__version__} | load {os.getloadavg()[0]:.1f}")
    print(HEADER, flush=True)
    serving = datasets.serve_folder(data / "stac") if "stac" in args.readers else nullcontext()
    with serving as url:
        for reader in args.readers:
            size = getattr(args, f"{reader}_size") or sizes[reader]
            path = prepare(reader, data, size, url)
            for batch in args.batch_sizes or [None]:
                for workers in workers_list:
                    job = {
                        "reader": reader, "path": path, "model": args.model, "device": device,
                        "batch_size": batch, "workers": workers,
                        "threads": args.threads or threads_for("ingest", plain, workers=workers),
                        "sample": args.sample or (2048 if cuda else 128),
                        "encoder_seconds": args.encoder_seconds or (3.0 if cuda else 5.0),
                    }  # fmt: skip
                    cmd = [sys.executable, "-m", "bench.ingest", "--child", json.dumps(job)]
                    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                    result = json.loads(out.strip().splitlines()[-1])
                    print(row(reader, result, workers), flush=True)
    print(
        "end-to-end = read + preprocess + embed + previews + upsert (index build excluded); "
        "steady = the same from the first acknowledged batch on (start-up left out); "
        "ratio = end-to-end / encoder-only; CPU ratio = encoder-only CPU per chip / end-to-end "
        "CPU per chip (all threads and reader processes): the ratio to expect where the CPU "
        "bounds both, less sensitive to other load than the wall-clock ratio"
    )


if __name__ == "__main__":
    main()
