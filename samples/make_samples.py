"""Rebuild the shipped sample corpus in ``samples/`` from the read-only originals.

    python samples/make_samples.py [--shared ../shared/data]

Writes (all real Copernicus Sentinel data, see samples/README.md for provenance and licences):
- ``virginia-s2-l1c/T18SVG_20160112_B??.tif``: a 4.8 x 19.2 km strip of the Virginia L1C scene,
  every band on its *native* grid (the 10 m grid stays offset from the 20/60 m grids, as in
  the original), cropped by georeference, deflate-compressed.
- ``sen1floods11-spain/``: the Spain_7370579 S1, S2 and hand-labelled water mask, recompressed.
- ``bigearthnet/``: the six BigEarthNet S1/S2 example patch pairs, unpacked.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tarfile
from pathlib import Path

import rasterio
from rasterio.windows import Window, bounds, from_bounds

HERE = Path(__file__).resolve().parent
# The strip: rows 840-1320, all 1920 columns of the 10 m grid (farmland, salt marsh, lagoon,
# barrier island, beach, Atlantic). 4 chip rows x 16 chip columns of 120 px.
VIRGINIA_WINDOW = Window(0, 840, 1920, 480)
COMPRESSION = {"compress": "deflate", "predictor": 2, "zlevel": 9, "tiled": True}


def crop_virginia(src_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with rasterio.open(src_dir / "s2_B02.jp2") as ref:
        box = bounds(VIRGINIA_WINDOW, ref.transform)
    for path in sorted(src_dir.glob("s2_B*.jp2")):
        with rasterio.open(path) as src:  # a GeoTIFF despite the suffix
            w = from_bounds(*box, transform=src.transform)
            col0, row0 = max(0, math.floor(w.col_off)), max(0, math.floor(w.row_off))
            col1 = min(src.width, math.ceil(w.col_off + w.width))
            row1 = min(src.height, math.ceil(w.row_off + w.height))
            window = Window(col0, row0, col1 - col0, row1 - row0)
            data = src.read(1, window=window)
            profile = src.profile | COMPRESSION
            profile.update(
                driver="GTiff",
                width=data.shape[1],
                height=data.shape[0],
                transform=src.window_transform(window),
                blockxsize=256,
                blockysize=256,
            )
        band = path.stem.split("_")[1]
        target = out_dir / f"T18SVG_20160112_{band}.tif"
        with rasterio.open(target, "w", **profile) as dst:
            dst.write(data, 1)
            dst.update_tags(ACQUISITION_DATE="2016-01-12", TILE="18SVG", PRODUCT="S2 L1C")
            dst.set_band_description(1, band)


def recompress_spain(src_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(src_dir.glob("Spain_7370579_*.tif")):
        with rasterio.open(path) as src:
            data = src.read()
            profile = src.profile | COMPRESSION
            profile.update(blockxsize=256, blockysize=256)
            descriptions = src.descriptions
        with rasterio.open(out_dir / path.name, "w", **profile) as dst:
            dst.write(data)
            for i, text in enumerate(descriptions, start=1):
                if text:
                    dst.set_band_description(i, text)
    shutil.copy(src_dir / "Sen1Floods11_Metadata.geojson", out_dir)


def unpack_bigearthnet(src_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for archive in sorted(src_dir.glob("*.tar.bz2")):
        with tarfile.open(archive) as tar:
            tar.extractall(out_dir, filter="data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared" / "data")
    args = parser.parse_args()
    crop_virginia(args.shared / "s2-l1c-virginia", HERE / "virginia-s2-l1c")
    recompress_spain(args.shared / "sen1floods11-sample", HERE / "sen1floods11-spain")
    unpack_bigearthnet(args.shared / "bigearthnet-examples", HERE / "bigearthnet")
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"samples/: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
