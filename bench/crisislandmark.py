"""CrisisLandMark reader throughput: chips/s read (reader only: HDF5 -> checked ``Chip``s) on a
generated corpus in the published layout, next to chips/s embedded by CLOSP-RN on a sample of
the same chips, so the read rate can be compared with the embed rate.

    python -m bench.crisislandmark                          # 20000 chips in a temporary folder
    python -m bench.crisislandmark --n 50000 --folder /data/clm-bench --device cuda

The corpus (``tests/data/crisislandmark/make_data.write_corpus``: the published shard names,
one external link per key in ``crisislandmark.h5``, Blosc/Zstd chunks, about half S1) is
written once into ``--folder`` and reused while ``n`` matches. Speed does not depend on the
weights' values, so the model is a randomly initialised CLOSP-RN. Other benchmarks can build
the same corpus with ``generated_corpus(folder, n)``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from closp_core.bands import Sensor
from closp_core.data import Chip, CrisisLandMarkSource, Tally
from closp_core.embedder import Embedder
from closp_core.model import create_model
from tests.data.crisislandmark.make_data import write_corpus

MARKER = "bench-corpus.json"


def generated_corpus(folder: Path, n: int, seed: int = 0) -> Path:
    """``folder`` holding a generated corpus of ``n`` chips (written unless already there)."""
    marker = folder / MARKER
    wanted = {"n": n, "seed": seed}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return folder
    write_corpus(folder, n, seed=seed)
    marker.write_text(json.dumps(wanted))
    return folder


def read_rate(root: Path, sample: int) -> tuple[dict[str, float], list[Chip]]:
    """Figures of one full read of ``root``, and the first ``sample`` chips of each sensor."""
    start = time.perf_counter()
    source = CrisisLandMarkSource(root)
    units = source.units()
    planned = time.perf_counter()
    tally, counts = Tally(), Counter[Sensor]()
    kept: list[Chip] = []
    for unit in units:
        for chip in source.read(unit, tally):
            counts[chip.sensor] += 1
            if counts[chip.sensor] <= sample:
                kept.append(chip)
    done = time.perf_counter()
    total = sum(counts.values())
    figures = {
        "chips": total,
        "units_s": planned - start,
        "read_s": done - planned,
        "read_chips_per_s": total / (done - planned),
        "s1": counts[Sensor.S1],
        "s2": counts[Sensor.S2],
        "skipped": sum(tally.skipped.values()),
    }
    return figures, kept


def embed_rate(embedder: Embedder, chips: list[Chip]) -> dict[str, float]:
    """chips/s of ``encode_images`` per sensor on ``chips`` (after one warm-up batch)."""
    out: dict[str, float] = {}
    for sensor in Sensor:
        pixels = np.stack([c.pixels for c in chips if c.sensor is sensor])
        embedder.encode_images(pixels[: embedder.batch_size], sensor)
        start = time.perf_counter()
        embedder.encode_images(pixels, sensor)
        if embedder.device.type == "cuda":
            torch.cuda.synchronize()
        out[f"embed_{sensor.value}_chips_per_s"] = len(pixels) / (time.perf_counter() - start)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.crisislandmark", description=__doc__)
    parser.add_argument("--n", type=int, default=20000, help="chips in the generated corpus")
    parser.add_argument("--folder", type=Path, help="keep the corpus here (default: temporary)")
    parser.add_argument("--embed-sample", type=int, default=64, help="chips per sensor to embed")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda ...")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="clm-bench-") as tmp:
        folder = args.folder or Path(tmp)
        start = time.perf_counter()
        generated_corpus(folder, args.n)
        print(f"corpus: {args.n} chips in {folder} ({time.perf_counter() - start:.1f} s)")
        figures, sample = read_rate(folder, args.embed_sample)
        print(
            f"read:  {figures['read_chips_per_s']:.0f} chips/s ({figures['chips']} chips: "
            f"{figures['s1']} S1, {figures['s2']} S2, {figures['skipped']} skipped; "
            f"units() {figures['units_s']:.1f} s, read {figures['read_s']:.1f} s)"
        )
        if args.embed_sample > 0:
            embedder = Embedder(create_model("closp-rn", seed=0), args.device, args.batch_size)
            rates = embed_rate(embedder, sample)
            print(
                f"embed: S1 {rates['embed_s1_chips_per_s']:.0f} chips/s, "
                f"S2 {rates['embed_s2_chips_per_s']:.0f} chips/s on {embedder.device} "
                f"(CLOSP-RN, {args.embed_sample} chips per sensor, batch {args.batch_size})"
            )


if __name__ == "__main__":
    main()
