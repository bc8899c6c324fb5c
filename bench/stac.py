"""Remote COG reads through a STAC API: chips/s and bytes per chip over HTTP vs the same COGs on
disk, and the share of a scene's bytes read for a 5 km x 5 km area of interest.

    python -m bench.stac                 # Virginia strip (12 bands, 64 chips) + a 10980 px tile
    python -m bench.stac --runs 5 --no-big

The HTTP side is the test suite's STAC API and Range file server on 127.0.0.1
(``tests/data/stac_api``): latency is a loopback's, so this measures what windowed reads
fetch and what GDAL's HTTP layer costs, not a network. Disk bytes are the process's ``rchar``
(``/proc/self/io``: bytes read through read() calls, page cache included). Chips are read and
preprocessed, not embedded. Medians of ``--runs`` runs; say what else ran on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from closp_core.data import ChipSource, StacSource, Tally
from closp_core.data.stac.aoi import Aoi
from closp_core.data.stac.api import StacQuery, StacSearchSource
from closp_core.data.stac.remote import RemoteOptions
from tests.data.stac_api import layouts
from tests.data.stac_api import make_data as md
from tests.data.stac_api.helpers import ALL_TIME, S2, WORLD, inner_lonlat_box, serve

REMOTE = RemoteOptions(timeout_s=10, retries=1, hosts=("127.0.0.1",))  # the local server, listed


def rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def read_chips(source: ChipSource) -> int:
    tally = Tally()
    return sum(1 for unit in source.units() for _ in source.read(unit, tally))


def over_http(files: Path, item: dict[str, Any], aoi: Aoi) -> tuple[int, float, int]:
    """(chips, seconds, bytes served) for one search + read on a fresh server (no cache)."""
    with serve(files, [item]) as server:
        source = StacSearchSource(StacQuery(server.base_url, S2, aoi, ALL_TIME), remote=REMOTE)
        start = time.perf_counter()
        chips = read_chips(source)
        return chips, time.perf_counter() - start, server.total_bytes()


def from_disk(files: Path, item: dict[str, Any], aoi: Aoi) -> tuple[int, float, int]:
    """The same item as a local ItemCollection with relative hrefs."""
    text = json.dumps({"type": "FeatureCollection", "features": [item]})
    path = files / "bench-items.json"
    path.write_text(text.replace("{base}/files/", ""))
    source = StacSource(path, remote=REMOTE, aoi=aoi)
    before, start = rchar(), time.perf_counter()
    chips = read_chips(source)
    return chips, time.perf_counter() - start, rchar() - before


def compare(files: Path, runs: int) -> None:
    item = layouts.pc_s2(files)
    print(f"Virginia S2 strip, 12 band COGs, whole scene; median of {runs} runs")
    for name, read in (("http://127.0.0.1", over_http), ("local disk", from_disk)):
        results = [read(files, item, WORLD) for _ in range(runs)]
        chips = results[0][0]
        rate = statistics.median(c / s for c, s, _ in results)
        per_chip = statistics.median(b for *_, b in results) / chips / 1e3
        print(f"  {name:<17} {chips} chips  {rate:6.1f} chips/s  {per_chip:7.1f} kB per chip")


def share(files: Path, item: dict[str, Any], aoi: Aoi, name: str, scene_bytes: int) -> None:
    chips, seconds, fetched = over_http(files, item, aoi)
    print(
        f"  {name:<34} {chips:3d} chips  {fetched / 1e6:6.2f} MB of "
        f"{scene_bytes / 1e6:6.1f} MB = {fetched / scene_bytes:6.2%}  ({seconds:.1f} s)"
    )


def shares(files: Path, big: bool) -> None:
    print("5 km x 5 km AOI at the scene's centre: bytes fetched / bytes of the scene's files")
    virginia = layouts.pc_s2(files)
    b02 = md.s2_path(files, "B02")
    aoi = inner_lonlat_box(b02, rows=(-10, 490), cols=(710, 1210))  # clipped to the 4.8 km strip
    size = sum(md.s2_path(files, band).stat().st_size for band in md.L2A_BANDS)
    share(files, virginia, aoi, "Virginia strip (12 band files)", size)
    if not big:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = md.write_big_cog(Path(tmp) / "big.tif")
        item = layouts.pc_s2(files, "big-tile")
        for band in layouts.COMMON:
            item["assets"][band]["href"] = "{base}/files/big.tif"
        place = layouts.footprint(path)
        item["bbox"], item["geometry"] = place["bbox"], place["geometry"]
        aoi = inner_lonlat_box(path, rows=(5240, 5740), cols=(5240, 5740))
        share(Path(tmp), item, aoi, "10980 x 10980 px tile (1 file)", path.stat().st_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-big", action="store_true", help="skip the 10980 px tile (~5 s)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        files = md.ensure_files(Path(tmp) / "files")
        compare(files, args.runs)
        shares(files, not args.no_big)


if __name__ == "__main__":
    main()
