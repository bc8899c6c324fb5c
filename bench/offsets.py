"""Flood chips of a fresh L2A item: how many are indexed, and how flooded the indexed set is.

Builds the Sen1Floods11 Spain scene as an Earth Search-like L2A item (12 bands, dark-object
subtracted, noise sigma 20 DN, +1000 with ``raster:bands`` offset -0.1: ``tests/data/products``),
reads it as ``python -m ingest stac item.json`` does, and prints the chips kept, skipped and
flagged, and the per-chip flooded fraction (hand label) of the kept and the lost chips.

    python -m bench.offsets

Run it in a checkout of an older commit (copy this file and ``tests/data/products.py`` there)
for the "before" figure.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
from pathlib import Path

from closp_core.data import StacSource, Tally
from tests.data import products


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.offsets", description=__doc__)
    parser.add_argument("--seed", type=int, default=7, help="noise seed of the item (7)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        item = products.write_spain_l2a_item(Path(tmp), seed=args.seed)
        source, tally = StacSource(str(item)), Tally()
        keys = [chip.key for unit in source.units() for chip in source.read(unit, tally)]
    grid = [(r, c) for r in (0, 120, 240, 360, 392) for c in (0, 120, 240, 360, 392)]
    kept = {tuple(int(x) for x in re.findall(r"r(\d+)_c(\d+)", k)[0]) for k in keys}
    water = {rc: products.water_fraction(*rc) for rc in grid}
    kept_f = sorted((water[rc] for rc in kept), reverse=True)
    lost_f = sorted((water[rc] for rc in grid if rc not in kept), reverse=True)
    print(f"chips indexed: {len(kept)} of {len(grid)}")
    print(f"skipped: {dict(tally.skipped)}")
    print(f"flagged: {dict(tally.flagged)}")
    print(f"chips >= 25 % flooded indexed: {sum(f >= 0.25 for f in kept_f)} of "
          f"{sum(f >= 0.25 for f in water.values())}")  # fmt: skip
    print(f"flooded fraction of the indexed set: median {statistics.median(kept_f):.2f}, "
          f"mean {statistics.mean(kept_f):.2f}")  # fmt: skip
    print("lost chips' flooded fractions:", ", ".join(f"{f:.2f}" for f in lost_f) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
