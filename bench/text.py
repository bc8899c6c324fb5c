"""Text-query latency of the CLOSP text tower on CPU: our torch path vs sentence-transformers'
torch, ONNX and OpenVINO back ends (not a test).

    python -m bench.text --dir var/text                       # writes the tower + reference
    python -m bench.text --dir var/text --backends st-onnx    # in an env with optimum-onnx

The first run (in the project's environment) saves the tower as a sentence-transformers folder
(``closp_core/model/sentence.py``) and the vectors ``Embedder.encode_text`` gives for a fixed
list of texts; later runs, possibly in another environment holding Optimum, load that folder
with the asked back end and report p50/p90 of one warm query at each thread count and the
largest absolute difference to the reference vectors.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch

TEXTS = [
    "flooded fields next to a river",
    "burned forest",
    "damaged buildings after the earthquake",
    "Überschwemmung am Fluss, 洪水, inondation près de la côte",
    " ".join(["snow and ice on the glacier"] * 20),  # > 64 tokens: truncated
    "a",
]
ST_BACKENDS: dict[str, Literal["torch", "onnx", "openvino"]] = {
    "st-torch": "torch",
    "st-onnx": "onnx",
    "st-openvino": "openvino",
}
BACKENDS = ("embedder", *ST_BACKENDS)


def timed(encode: Callable[[list[str]], np.ndarray], repeats: int) -> tuple[float, float, float]:
    """p50 and p90 wall ms of one-query calls (after 10 warm-up calls), and the p50 of the CPU
    ms they used (all threads of this process: less sensitive to other work on the machine)."""
    for i in range(10):
        encode([TEXTS[i % 4]])
    times, cpu = [], []
    for i in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        encode([TEXTS[i % 4]])
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return (
        float(np.percentile(times, 50)),
        float(np.percentile(times, 90)),
        float(np.percentile(cpu, 50)),
    )


def prepare(folder: Path, model_name: str) -> None:
    """Save the tower and the reference vectors of ``Embedder.encode_text``."""
    from closp_core.embedder import Embedder
    from closp_core.model import load_model
    from closp_core.model.sentence import save_text_tower

    model = load_model(model_name)
    save_text_tower(model, folder / "tower")
    np.save(folder / "reference.npy", Embedder(model, device="cpu").encode_text(TEXTS))


def encoder(
    backend: str, folder: Path, threads: int, model_name: str
) -> Callable[[list[str]], np.ndarray]:
    """One back end's ``texts -> (N, 384)`` function, using ``threads`` CPU threads."""
    torch.set_num_threads(threads)
    if backend == "embedder":
        from closp_core.embedder import Embedder
        from closp_core.model import load_model

        return Embedder(load_model(model_name), device="cpu", threads=threads).encode_text
    from sentence_transformers import SentenceTransformer

    kwargs: dict[str, Any] = {}
    if backend == "st-onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        kwargs = {"provider": "CPUExecutionProvider", "session_options": options}
    elif backend == "st-openvino":
        kwargs = {
            "ov_config": {
                "INFERENCE_NUM_THREADS": threads,
                "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_PRECISION_HINT": "f32",
            }
        }
    tower = SentenceTransformer(
        str(folder / "tower"), device="cpu", backend=ST_BACKENDS[backend], model_kwargs=kwargs
    )

    def encode(texts: list[str]) -> np.ndarray:
        out = tower.encode(texts, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    return encode


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--dir", type=Path, required=True, help="tower folder + reference vectors")
    ap.add_argument("--model", default="random:closp-rn", help="CLOSP model (weights: any)")
    ap.add_argument("--backends", nargs="+", default=["embedder", "st-torch"], choices=BACKENDS)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    if not (args.dir / "reference.npy").exists():
        prepare(args.dir, args.model)
    reference = np.load(args.dir / "reference.npy")
    print("| back end | threads | p50 ms | p90 ms | p50 CPU ms | max abs diff vs Embedder |")
    print("|---|---|---|---|---|---|")
    for backend in args.backends:
        for threads in args.threads:
            encode = encoder(backend, args.dir, threads, args.model)
            diff = float(np.abs(encode(TEXTS) - reference).max())
            p50, p90, cpu = timed(encode, args.repeats)
            row = f"| {backend} | {threads} | {p50:.2f} | {p90:.2f} | {cpu:.2f} | {diff:.1e} |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
