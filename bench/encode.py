"""Encoder throughput: S1/S2 chips per second at several batch sizes, and text-query latency.

    python -m bench.encode                       # CLOSP-RN, CPU (or the GPU when present)
    python -m bench.encode --device cuda --batch-sizes 256 1024

Speed does not depend on the weights' values, so by default a randomly initialised model of
``--variant`` is timed (no download); ``--weights FOLDER_OR_HUB_ID`` times real weights.
Chips are 120x120 (ViT variants resize them to 224 inside the model, as in use).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from closp_core.bands import Sensor, prepare_s1, prepare_s2
from closp_core.embedder import Embedder
from closp_core.model import create_model, load_model

QUERIES = ["flooded fields next to a river", "burned forest", "damaged buildings", "crops"]


def chips_per_second(
    embedder: Embedder, chips: np.ndarray, sensor: Sensor, repeats: int
) -> tuple[float, float]:
    """Median and best chips/s over ``repeats`` timed passes (after one warm-up pass)."""
    embedder.encode_images(chips, sensor)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        embedder.encode_images(chips, sensor)
        if embedder.device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(len(chips) / (time.perf_counter() - start))
    return statistics.median(rates), max(rates)


def text_latency_ms(embedder: Embedder, repeats: int) -> tuple[float, float]:
    """p50 and p90 of one-query ``encode_text`` latency, in milliseconds."""
    for query in QUERIES:
        embedder.encode_text([query])
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        embedder.encode_text([QUERIES[i % len(QUERIES)]])
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.9)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", default="closp-rn")
    parser.add_argument("--weights", help="time these weights instead of a random model")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--batches", type=int, default=2, help="batches per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--text-repeats", type=int, default=50)
    args = parser.parse_args()

    model = load_model(args.weights) if args.weights else create_model(args.variant)
    embedder = Embedder(model, device=args.device)
    rng = np.random.default_rng(0)
    print(
        f"model {model.model_id} | device {embedder.device} | torch {torch.__version__} | "
        f"threads {torch.get_num_threads()}"
    )
    if embedder.device.type == "cuda":
        print(f"gpu {torch.cuda.get_device_name()} (autocast bf16/fp16)")
    print(f"{'sensor':6} {'batch':>6} {'chips/s (median)':>17} {'best':>8}")
    for sensor in (Sensor.S2, Sensor.S1):
        for batch in args.batch_sizes:
            embedder.batch_size = batch
            n = batch * args.batches
            if sensor is Sensor.S2:
                chips = prepare_s2(rng.integers(0, 6000, (n, 12, 120, 120)).astype(np.uint16))
            else:
                chips = prepare_s1(rng.normal(-15, 4, (n, 2, 120, 120)).astype(np.float32))
            median, best = chips_per_second(embedder, chips, sensor, args.repeats)
            print(f"{sensor.name:6} {batch:>6} {median:>17.1f} {best:>8.1f}", flush=True)
    p50, p90 = text_latency_ms(embedder, args.text_repeats)
    print(f"text query latency: p50 {p50:.1f} ms, p90 {p90:.1f} ms ({args.text_repeats} queries)")


if __name__ == "__main__":
    main()
