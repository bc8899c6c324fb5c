"""``--engine ray`` against the plain run, and the per-worker rates of the capacity model
(docs/scale.md, "Beyond one machine").

    python -m bench.ray_ingest                   # 2 CPUs, the shipped samples, random model
    python -m bench.ray_ingest --cpus 2 --copies 4 --encode-seconds 20

Prints, for the same chips (the shipped BigEarthNet S1+S2 patches, one chip per unit, and the
Spain S1 scene, 25 chips in one unit, each ``--copies`` times under new keys):

- ``read chips/s per CPU worker``: one Ray task reading and cutting every unit (no embedding);
- ``encode chips/s per encoder actor``: one ``ChipEncoder`` on held batches of S2 chips;
- ``plain``: ``Ingestor.run_many`` in this process (reader thread, as ``--workers 0``);
- ``ray``: ``run_on_ray`` on a private Ray started here (``ray.init(num_cpus=--cpus)``, its start
  timed apart), its actors' start (writer + encoder: model load) timed apart too, and the
  overhead per unit: (ray - actors' start - plain) / units.

Throughput does not depend on the weights (random model). On a shared machine the figures are
noisy: the load average is printed before and after; compare within one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from closp_core.data import BigEarthNetSource, ChipSource, SceneSource
from closp_core.data.chip import Chip, Tally
from closp_core.data.samples import SAMPLES_DIR
from closp_core.embedder import Embedder
from closp_core.settings import Settings
from closp_core.store import open_store
from ingest.pipeline import Ingestor

SAMPLES = [
    SAMPLES_DIR / "bigearthnet" / "BigEarthNet-S1-Example",
    SAMPLES_DIR / "bigearthnet" / "BigEarthNet-S2-Example",
]
SPAIN_S1 = SAMPLES_DIR / "sen1floods11-spain" / "Spain_7370579_S1Hand.tif"


@dataclasses.dataclass
class Copied(ChipSource):
    """``inner`` with every key suffixed ``#copy`` (a new chip for the index)."""

    inner: ChipSource
    copy: int

    def units(self) -> list[str]:
        return self.inner.units()

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        for chip in self.inner.read(unit, tally):
            yield dataclasses.replace(chip, key=f"{chip.key}#{self.copy}")


def make_sources(copies: int) -> list[ChipSource]:
    base: list[ChipSource] = [*(BigEarthNetSource(p) for p in SAMPLES), SceneSource(SPAIN_S1)]
    return [Copied(source, n) for n in range(copies) for source in base]


def read_all(sources: list[ChipSource]) -> tuple[int, float]:
    """Chips read and seconds, one unit after the other (runs as one Ray task)."""
    start, chips, tally = time.perf_counter(), 0, Tally()
    for source in sources:
        for unit in source.units():
            chips += sum(1 for _ in source.read(unit, tally))
    return chips, time.perf_counter() - start


def encode_rate(ray: Any, settings: Settings, seconds: float) -> float:
    from closp_core.bands import Sensor
    from ingest.ray_encoder import ChipEncoder

    encoder = ray.remote(ChipEncoder).options(num_cpus=1).remote(settings, 1)
    rng = np.random.default_rng(0)
    pixels = rng.normal(0.1, 0.05, (64, 13, 120, 120)).astype(np.float32)
    chips = [_chip(i) for i in range(64)]
    previews: list[dict[str, str]] = [{} for _ in chips]
    ray.get(encoder.encode.remote(Sensor.S2, chips, pixels, previews))  # model loaded, warm
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        ray.get(encoder.encode.remote(Sensor.S2, chips, pixels, previews))
        done += len(chips)
    ray.kill(encoder)
    return done / (time.perf_counter() - start)


def _chip(number: int) -> Chip:
    from closp_core.bands import Sensor
    from ingest.reading import NO_PIXELS

    ring = ((0.0, 0.0), (0.01, 0.0), (0.01, 0.01), (0.0, 0.01), (0.0, 0.0))
    return Chip(
        key=f"bench-{number}",
        sensor=Sensor.S2,
        pixels=NO_PIXELS,
        center=(0.005, 0.005),
        footprint=ring,
        crs="EPSG:4326",
        source="bench",
        scene_id="bench",
    )


def plain_run(settings: Settings, sources: list[ChipSource]) -> tuple[int, float]:
    embedder = Embedder.from_settings(settings, threads=1)
    store = open_store(settings, embedder.model_id)
    try:
        ingestor = Ingestor(embedder, store, settings.data_dir, progress=False)
        summary = ingestor.run_many(sources)
    finally:
        store.close()
    return summary.indexed, summary.seconds


def actors_start(ray: Any, settings: Settings, model_id: str) -> float:
    """Seconds until a writer and an encoder actor answer (what every ``--engine ray`` run
    pays before its first chip)."""
    from ingest.ray_encoder import ChipEncoder
    from ingest.ray_writer import StoreSettingsOpener, UnitWriter

    start = time.perf_counter()
    opener = StoreSettingsOpener(settings, model_id)
    writer = ray.remote(UnitWriter).options(num_cpus=0).remote(opener, None, False)
    encoder = ray.remote(ChipEncoder).options(num_cpus=1).remote(settings, 1)
    ray.get([writer.figures.remote(), encoder.__ray_ready__.remote()])
    seconds = time.perf_counter() - start
    ray.get(writer.close.remote(False))
    ray.kill(writer)
    ray.kill(encoder)
    return seconds


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from ingest.ray_engine import run_on_ray
    from ingest.ray_writer import StoreSettingsOpener

    print(f"load average before: {os.getloadavg()}")
    sources = make_sources(args.copies)
    units = sum(len(s.units()) for s in sources)
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(model=args.model, data_dir=Path(tmp) / "plain", batch_size=args.batch_size)
        root = str(Path(__file__).resolve().parents[1])
        start = time.perf_counter()
        ray.init(
            num_cpus=args.cpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            runtime_env={"env_vars": {"PYTHONPATH": root}},
            logging_level="WARNING",
        )
        print(f"ray.init (num_cpus={args.cpus}): {time.perf_counter() - start:.1f} s")
        chips, seconds = ray.get(ray.remote(read_all).options(num_cpus=1).remote(sources))
        print(f"read chips/s per CPU worker: {chips / seconds:.1f} ({chips} chips, {units} units)")
        rate = encode_rate(ray, base, args.encode_seconds)
        print(f"encode chips/s per encoder actor (1 CPU, 1 thread, S2 batches of 64): {rate:.1f}")
        indexed, plain_s = plain_run(base, sources)
        print(f"plain: {indexed} chips in {plain_s:.1f} s ({indexed / plain_s:.1f} chips/s)")
        ours = dataclasses.replace(base, data_dir=Path(tmp) / "ray")
        model_id = Embedder.from_settings(base, threads=1).model_id
        begin = actors_start(ray, dataclasses.replace(base, data_dir=Path(tmp) / "warm"), model_id)
        print(f"ray actors' start (writer + encoder, model load): {begin:.1f} s")
        start = time.perf_counter()
        summary = run_on_ray(sources, ours, StoreSettingsOpener(ours, model_id), progress=False)
        ray_s = time.perf_counter() - start
        overhead = (ray_s - begin - plain_s) / units
        print(
            f"ray: {summary.indexed} chips in {ray_s:.1f} s ({summary.indexed / ray_s:.1f} "
            f"chips/s); overhead per unit vs plain: {overhead * 1000:.0f} ms ({units} units)"
        )
        ray.shutdown()
    print(f"load average after: {os.getloadavg()}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpus", type=int, default=2, help="num_cpus of the private Ray")
    parser.add_argument("--copies", type=int, default=2, help="copies of the sample sources")
    parser.add_argument("--encode-seconds", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--model", default="random:closp-rn")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
