"""Encoder throughput: S1/S2 chips per second per batch size and precision, peak GPU memory,
and text-query latency.

    python -m bench.encode                       # CLOSP-RN, CPU (or the GPU when present)
    python -m bench.encode --device cuda         # batch sizes 128..1024, fp32 and bf16
    python -m bench.encode --device cpu --quick  # what bench/gpu.sh runs, on a CPU

Speed does not depend on the weights' values, so by default a randomly initialised model of
``--variant`` is timed (no download); ``--weights FOLDER_OR_HUB_ID`` times real weights.
Chips are 120x120 (ViT variants resize them to 224 inside the model, as in use). On CUDA the
chips sit in pinned memory, as the ingest loader hands them over, and each timed pass includes
the host-to-device copies and the copy of the vectors back.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from closp_core.bands import Sensor, prepare_s1, prepare_s2
from closp_core.embedder import Embedder, Precision
from closp_core.model import ClospModel, create_model, load_model

QUERIES = ["flooded fields next to a river", "burned forest", "damaged buildings", "crops"]


def chips_per_second(
    embedder: Embedder, chips: np.ndarray, sensor: Sensor, repeats: int
) -> tuple[float, float]:
    """Median and best chips/s over ``repeats`` timed passes (after one warm-up pass)."""
    embedder.encode_images(chips, sensor)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        embedder.encode_images(chips, sensor)  # returns numpy: the device is synchronised
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


def random_chips(sensor: Sensor, n: int, rng: np.random.Generator, pinned: bool) -> np.ndarray:
    if sensor is Sensor.S2:
        chips = prepare_s2(rng.integers(0, 6000, (n, 12, 120, 120)).astype(np.uint16))
    else:
        chips = prepare_s1(rng.normal(-15, 4, (n, 2, 120, 120)).astype(np.float32))
    return torch.from_numpy(chips).pin_memory().numpy() if pinned else chips


def run_precision(
    model: ClospModel,
    args: argparse.Namespace,
    precision: Precision,
    chips: dict[Sensor, np.ndarray],
) -> Embedder:
    embedder = Embedder(model, device=args.device, threads=args.threads, precision=precision)
    cuda = embedder.device.type == "cuda"
    dtype = embedder.autocast_dtype
    name = "fp32" if dtype is None else str(dtype).removeprefix("torch.")
    for sensor in (Sensor.S2, Sensor.S1):
        for batch in args.batch_sizes:
            embedder.batch_size = batch
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            timed = chips[sensor][: batch * args.batches]
            median, best = chips_per_second(embedder, timed, sensor, args.repeats)
            peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0
            print(
                f"{name:6} {sensor.name:6} {batch:>6} {median:>17.1f} {best:>8.1f} {peak:>12.2f}",
                flush=True,
            )
    return embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", default="closp-rn")
    parser.add_argument("--weights", help="time these weights instead of a random model")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="CPU 16 64; CUDA 128..1024")
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="default: fp32 and bf16 on CUDA, fp32 elsewhere (bf16 needs bf16 units)",
    )
    parser.add_argument("--batches", type=int, default=2, help="batches per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all)")
    parser.add_argument("--text-repeats", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="one batch per pass, 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.batches, args.repeats, args.text_repeats = 1, 2, 20

    model = load_model(args.weights) if args.weights else create_model(args.variant)
    rng = np.random.default_rng(0)
    embedder = Embedder(model, device=args.device, threads=args.threads)
    cuda = embedder.device.type == "cuda"
    print(
        f"model {model.model_id} | device {embedder.device} | torch {torch.__version__} | "
        f"threads {torch.get_num_threads()}"
    )
    if cuda:
        print(
            f"gpu {torch.cuda.get_device_name()} | bf16 {torch.cuda.is_bf16_supported()} | "
            f"cudnn.benchmark {torch.backends.cudnn.benchmark}"
        )
    print(f"{'dtype':6} {'sensor':6} {'batch':>6} {'chips/s (median)':>17} {'best':>8} "
          f"{'peak GPU GiB':>12}")  # fmt: skip
    args.batch_sizes = args.batch_sizes or ([128, 256, 512, 1024] if cuda else [16, 64])
    most = max(args.batch_sizes) * args.batches
    chips = {sensor: random_chips(sensor, most, rng, cuda) for sensor in (Sensor.S2, Sensor.S1)}
    for precision in args.precisions or (["fp32", "bf16"] if cuda else ["fp32"]):
        embedder = run_precision(model, args, precision, chips)
    embedder.batch_size = 64
    p50, p90 = text_latency_ms(embedder, args.text_repeats)
    print(f"text query latency: p50 {p50:.1f} ms, p90 {p90:.1f} ms ({args.text_repeats} queries)")


if __name__ == "__main__":
    main()
