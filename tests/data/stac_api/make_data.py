"""Real cloud-optimised GeoTIFFs for the STAC API tests, made from the shipped ``samples/``.

Written at test time (deterministic, ~7 MB, a few seconds; nothing here is committed) by
``ensure_files(folder)`` into ``folder``:

- ``s2/T18SVG_20230112_<band>.tif``: the Virginia Sentinel-2 strip (tile 18SVG, UTM 18N,
  1920 x 480 px at 10 m) as 12 L2A-like COGs (no B10), each band on its native 10/20/60 m
  grid, digital numbers **+ 1000** where not 0 (the offset of processing baseline >= 04.00,
  which the readers must remove), DEFLATE, 128 px tiles (small scenes: windows show), overviews.
- ``s2/T18SVG_20230112_B02_20m.tif`` / ``_B02_60m.tif``: B02 averaged to 20 / 60 m (CDSE
  offers every band at coarser resolutions too; the reader must pick 10 m).
- ``s1/vv.tif``, ``s1/vh.tif``: the Spain Sentinel-1 chip (EPSG:4326, 512 x 512) as linear
  gamma0 power (``10 ** (dB / 10)``) float32 COGs, like Planetary Computer's sentinel-1-rtc.
- ``cdse/*.jp2``: links to the S2 files under CDSE's names (GeoTIFFs with a .jp2 suffix, as
  the Virginia originals are).

``write_big_cog(path)`` writes the byte-count scene: 10980 x 10980 px (one S2 tile), one
uint16 band, COG tiled 512 and DEFLATE, filled with the real Virginia B04 strip repeated
(so it compresses like imagery), + 1000 like the others; ~160 MB, ~5 s.

``python -m tests.data.stac_api.make_data OUT`` writes the files into ``OUT``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import Resampling
from rasterio.io import MemoryFile

from closp_core.data.samples import SAMPLES_DIR

VIRGINIA = SAMPLES_DIR / "virginia-s2-l1c"
SPAIN_S1 = SAMPLES_DIR / "sen1floods11-spain" / "Spain_7370579_S1Hand.tif"
L2A_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
OFFSET_DN = 1000
S2_STEM = "T18SVG_20230112"
BIG_SIZE = 10980
BLOCK = 128  # small scenes: small tiles, so that windowed reads show
BIG_ORIGIN = (399960.0, 4200000.0)  # tile 18SVG's upper-left corner (UTM 18N)
_MARKER = ".complete"


def write_cog(array: np.ndarray, profile: dict[str, object], path: Path, block: int) -> Path:
    """``(bands, h, w)`` -> a COG at ``path`` (DEFLATE, ``block`` px tiles, overviews)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count, height, width = array.shape
    meta = {**profile, "driver": "GTiff", "count": count, "height": height, "width": width}
    meta["dtype"] = array.dtype.name
    for key in ("blockxsize", "blockysize", "tiled", "compress", "interleave"):
        meta.pop(key, None)
    with MemoryFile() as memory:
        with memory.open(**meta) as dst:
            dst.write(array)
        with memory.open() as src:
            rasterio.shutil.copy(src, path, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=str(block))
    return path


def s2_path(folder: Path, band: str, suffix: str = "") -> Path:
    return folder / "s2" / f"{S2_STEM}_{band}{suffix}.tif"


def write_s2(folder: Path) -> None:
    """The 12 L2A-like bands (+1000 DN) and the coarser B02 copies."""
    for band in L2A_BANDS:
        with rasterio.open(VIRGINIA / f"T18SVG_20160112_{band}.tif") as src:
            dn = src.read().astype(np.uint16)
            profile = src.profile
        shifted = np.where(dn > 0, dn + OFFSET_DN, 0).astype(np.uint16)
        write_cog(shifted, profile, s2_path(folder, band), BLOCK)
    with rasterio.open(s2_path(folder, "B02")) as src:
        for res in (20, 60):
            factor = res // 10
            shape = (1, src.height // factor, src.width // factor)
            data = src.read(out_shape=shape, resampling=Resampling.average)
            profile = {**src.profile, "transform": src.transform @ src.transform.scale(factor)}
            write_cog(data, profile, s2_path(folder, "B02", f"_{res}m"), BLOCK)


def write_s1(folder: Path) -> None:
    """VV and VH of the Spain chip as linear power."""
    with rasterio.open(SPAIN_S1) as src:
        db = src.read().astype(np.float32)
        profile = src.profile
    linear = np.where(np.isnan(db), np.nan, 10.0 ** (db / 10.0)).astype(np.float32)
    for i, pol in enumerate(("vv", "vh")):
        profile = {**profile, "nodata": np.nan}
        write_cog(linear[i : i + 1], profile, folder / "s1" / f"{pol}.tif", BLOCK)


def cdse_name(band: str, res: int) -> str:
    return f"cdse/{S2_STEM}T155509_{band}_{res}m.jp2"


def link_cdse(folder: Path) -> None:
    """CDSE-named links to the S2 files (relative, inside ``folder``)."""
    (folder / "cdse").mkdir(exist_ok=True)
    for band in L2A_BANDS:
        res = _native_resolution(band)
        link = folder / cdse_name(band, res)
        link.unlink(missing_ok=True)
        link.symlink_to(Path("..") / "s2" / s2_path(folder, band).name)
    for res in (20, 60):
        link = folder / cdse_name("B02", res)
        link.unlink(missing_ok=True)
        link.symlink_to(Path("..") / "s2" / s2_path(folder, "B02", f"_{res}m").name)


def _native_resolution(band: str) -> int:
    if band in ("B02", "B03", "B04", "B08"):
        return 10
    return 60 if band in ("B01", "B09") else 20


def ensure_files(folder: Path) -> Path:
    """Write the small COGs into ``folder`` unless a previous call already did."""
    if (folder / _MARKER).exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    write_s2(folder)
    write_s1(folder)
    link_cdse(folder)
    (folder / _MARKER).write_text("ok\n")
    return folder


def write_big_cog(path: Path, size: int = BIG_SIZE) -> Path:
    """The byte-count scene (module docstring), built through a mosaic VRT: memory stays flat."""
    source = (VIRGINIA / "T18SVG_20160112_B04.tif").resolve()
    with rasterio.open(source) as src:
        width, height = src.width, src.height
    tiles = [  # + OFFSET_DN like the small L2A-like files: the reader takes it off again
        f'<ComplexSource><SourceFilename relativeToVRT="0">{source}</SourceFilename>'
        f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{width}" '
        f'ySize="{height}"/><DstRect xOff="{c}" yOff="{r}" xSize="{width}" ySize="{height}"/>'
        f"<ScaleOffset>{OFFSET_DN}</ScaleOffset><ScaleRatio>1</ScaleRatio></ComplexSource>"
        for r in range(0, size, height)
        for c in range(0, size, width)
    ]
    x0, y0 = BIG_ORIGIN
    vrt = (
        f'<VRTDataset rasterXSize="{size}" rasterYSize="{size}"><SRS>EPSG:32618</SRS>'
        f"<GeoTransform>{x0}, 10, 0, {y0}, 0, -10</GeoTransform>"
        f'<VRTRasterBand dataType="UInt16" band="1">{"".join(tiles)}</VRTRasterBand>'
        "</VRTDataset>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    vrt_path = path.with_suffix(".vrt")
    vrt_path.write_text(vrt)
    with rasterio.open(vrt_path) as src:
        rasterio.shutil.copy(
            src,
            path,
            driver="COG",
            COMPRESS="DEFLATE",
            BLOCKSIZE="512",
            OVERVIEWS="NONE",
            LEVEL="1",
            NUM_THREADS="2",
        )
    vrt_path.unlink()
    return path


if __name__ == "__main__":
    ensure_files(Path(sys.argv[1]))
