"""Ingest throughput: end-to-end chips/s (read + preprocess + embed + previews + upsert) next to
the encoder-only rate for the same chips, and peak memory as the scene grows.

    python -m bench.ingest                      # scenes of 1, 4 and 16 x the Virginia strip
    python -m bench.ingest --sizes 1 8 --model DarthReca/CLOSP-RN

The scene is the shipped Virginia S2 strip (real pixels, 64 chips) resampled to one 13-band
stack and repeated southwards ``size`` times. Each size runs in a fresh process, so its peak
RSS is its own. Throughput does not depend on the weights, so a random model is the default.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.vrt import WarpedVRT

from closp_core.data import SceneSource, Tally
from closp_core.data.samples import SAMPLES_DIR
from closp_core.embedder import Embedder
from closp_core.model import load_model
from closp_core.settings import Settings
from closp_core.store import open_store
from ingest.pipeline import Ingestor

VIRGINIA = SAMPLES_DIR / "virginia-s2-l1c"
BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]


def write_scene(path: Path, repeats: int) -> None:
    """A 13-band stack of the Virginia strip on its 10 m grid, repeated ``repeats`` times."""
    with rasterio.open(VIRGINIA / "T18SVG_20160112_B02.tif") as ref:
        profile, transform = ref.profile, ref.transform
        height, width = ref.height, ref.width
    stack = np.zeros((13, height, width), np.uint16)
    for i, band in enumerate(BANDS):
        with rasterio.open(VIRGINIA / f"T18SVG_20160112_{band}.tif") as src:
            opts = {"crs": src.crs, "transform": transform, "width": width, "height": height}
            with WarpedVRT(src, **opts) as vrt:
                stack[i] = vrt.read(1)
    profile.update(count=13, height=height * repeats, compress="deflate", tiled=True)
    with rasterio.open(path, "w", **profile) as dst:
        for r in range(repeats):
            window = rasterio.windows.Window(0, r * height, width, height)
            dst.write(stack, window=window)
        for i, band in enumerate(BANDS, start=1):
            dst.set_band_description(i, band)
        dst.update_tags(ACQUISITION_DATE="2016-01-12")


def measure(scene: Path, model_name: str, batch_size: int) -> dict[str, float]:
    """In this process: encoder-only rate, then the end-to-end ingest rate, then peak RSS."""
    embedder = Embedder(load_model(model_name), batch_size=batch_size)
    embedder.encode_images(np.zeros((batch_size, 13, 120, 120), np.float32), "s2")  # warm-up
    source = SceneSource(scene)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), batch_size=batch_size)
        store = open_store(settings, embedder.model_id)
        try:
            ingestor = Ingestor(embedder, store, settings.data_dir, batch_size, progress=False)
            summary = ingestor.run(source)
        finally:
            store.close()
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    chips = [c.pixels for unit in source.units() for c in source.read(unit, Tally())]
    pixels = np.stack(chips)
    start = time.perf_counter()
    embedder.encode_images(pixels, "s2")
    encoder_rate = len(pixels) / (time.perf_counter() - start)
    return {
        "chips": summary.indexed,
        "end_to_end": summary.indexed / summary.seconds,
        "encoder_only": encoder_rate,
        "peak_rss_gb": rss_gb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--model", default="random:closp-rn")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.model, args.batch_size)))
        return
    header = ("scene", 8), ("chips", 6), ("end-to-end/s", 13), ("encoder/s", 10), ("ratio", 6)
    print(" ".join(f"{name:>{width}}" for name, width in header), f"{'RSS GB':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            scene = Path(tmp) / f"virginia_x{size}.tif"
            write_scene(scene, size)
            cmd = [sys.executable, "-m", "bench.ingest", "--child", str(scene)]
            cmd += ["--model", args.model, "--batch-size", str(args.batch_size)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            ratio = r["end_to_end"] / r["encoder_only"]
            print(
                f"{'x' + str(size):>8} {r['chips']:>6.0f} {r['end_to_end']:>13.1f} "
                f"{r['encoder_only']:>10.1f} {ratio:>6.0%} {r['peak_rss_gb']:>7.2f}",
                flush=True,
            )
    print("end-to-end = read + preprocess + embed + previews + upsert (+ index build excluded)")


if __name__ == "__main__":
    main()
