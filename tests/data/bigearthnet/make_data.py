"""Write two tiny BigEarthNet (v1 layout) patch folders (seeded; run to regenerate).

``python -m tests.data.bigearthnet.make_data`` writes into this folder:

- ``S2B_MSIL2A_20170924T93020_69_24/``: S2 L2A, 12 GeoTIFFs (no B10), 10 m bands 120x120,
  20 m bands 60x60, 60 m bands 20x20 uint16, EPSG:32635, and ``*_labels_metadata.json``.
- ``S1A_IW_GRDH_1SDV_20170925T043256_35VPK_69_24/``: ``_VV.tif``/``_VH.tif`` float32 dB and
  metadata with the real typo ``lly`` (for ``lry``) and one label outside the label space.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from rasterio.crs import CRS
from rasterio.transform import from_origin

from tests.data.scene.make_data import write_band

HERE = Path(__file__).resolve().parent
S2_PATCH = "S2B_MSIL2A_20170924T93020_69_24"
S1_PATCH = "S1A_IW_GRDH_1SDV_20170925T043256_35VPK_69_24"
ULX, ULY = 682800.0, 6971220.0
EPSG = 32635
S2_RES = {
    "B01": 60,
    "B02": 10,
    "B03": 10,
    "B04": 10,
    "B05": 20,
    "B06": 20,
    "B07": 20,
    "B08": 10,
    "B8A": 20,
    "B09": 60,
    "B11": 20,
    "B12": 20,
}


def _metadata(labels: list[str], lower_key: str, time_key: str, when: str) -> dict[str, object]:
    return {
        "labels": labels,
        "coordinates": {"ulx": ULX, "uly": ULY, "lrx": ULX + 1200, lower_key: ULY - 1200},
        "projection": CRS.from_epsg(EPSG).to_wkt(),
        time_key: when,
    }


def write_s2_patch(root: Path) -> Path:
    folder = root / S2_PATCH
    folder.mkdir(parents=True, exist_ok=True)
    for i, (band, res) in enumerate(S2_RES.items()):
        n = 1200 // res
        dn = (500 + 100 * i + np.add.outer(np.arange(n), np.arange(n)) * (120 // n)).astype(
            np.uint16
        )
        write_band(
            folder / f"{S2_PATCH}_{band}.tif",
            dn,
            from_origin(ULX, ULY, res, res),
            crs=f"EPSG:{EPSG}",
        )
    meta = _metadata(
        ["Coniferous forest", "Peatbogs", "Water bodies"],
        "lry",
        "acquisition_date",
        "2017-09-24 09:30:20",
    )
    (folder / f"{S2_PATCH}_labels_metadata.json").write_text(json.dumps(meta))
    return folder


def write_s1_patch(root: Path) -> Path:
    folder = root / S1_PATCH
    folder.mkdir(parents=True, exist_ok=True)
    for band, value in (("VV", -11.0), ("VH", -18.0)):
        write_band(
            folder / f"{S1_PATCH}_{band}.tif",
            np.full((120, 120), value, np.float32),
            from_origin(ULX, ULY, 10, 10),
            crs=f"EPSG:{EPSG}",
        )
    meta = _metadata(
        ["Pastures", "Lunar regolith"], "lly", "acquisition_time", "2017-09-25T04:32:56"
    )
    meta["corresponding_s2_patch"] = S2_PATCH
    (folder / f"{S1_PATCH}_labels_metadata.json").write_text(json.dumps(meta))
    return folder


def copy_patch(folder: Path, root: Path, name: str) -> Path:
    """Copy the patch ``folder`` to ``root/name``, renamed as BigEarthNet names its files
    (``<name>_B02.tif``, ``<name>_labels_metadata.json``); hard links where possible."""
    target = root / name
    target.mkdir(parents=True, exist_ok=True)
    for file in folder.iterdir():
        dest = target / file.name.replace(folder.name, name)
        try:
            os.link(file, dest)
        except OSError:
            shutil.copyfile(file, dest)
    return target


def write_patch_folders(root: Path, count: int) -> list[Path]:
    """``count`` patch folders (alternately S2 and S1, named ``..._<i>_0``) in ``root``."""
    templates = root / "_templates"
    s2, s1 = write_s2_patch(templates), write_s1_patch(templates)
    folders = [
        copy_patch(s2, root, f"S2B_MSIL2A_20170924T93020_{i}_0")
        if i % 2 == 0
        else copy_patch(s1, root, f"S1A_IW_GRDH_1SDV_20170925T043256_35VPK_{i}_0")
        for i in range(count)
    ]
    shutil.rmtree(templates)
    return folders


def main() -> None:
    write_s2_patch(HERE)
    write_s1_patch(HERE)


if __name__ == "__main__":
    main()
