"""SYNTHETIC multi-date fixture: a pre-flood copy of the real Sen1Floods11 Spain scene.

``python -m tests.data.multidate.make_data OUT_DIR`` (the tests call ``make_preflood`` on a
temporary folder; nothing is committed but this script and its README).

For each sensor the real scene ``samples/sen1floods11-spain/Spain_7370579_{S1,S2}Hand.tif``
(flood of September 2019) is copied with every pixel that the hand-labelled mask
``Spain_7370579_LabelHand.tif`` marks as water (value 1) replaced by the full band vector of a
real *dry* pixel of the same scene (mask value 0): the flood is "painted out".

- S2: a randomly drawn dry pixel with data in every band (numpy ``default_rng(SEED)``, one draw
  per water pixel, shared by all bands): real dry-field spectra.
- S1: the nearest dry pixel (``scipy.ndimage.distance_transform_edt`` indices): SAR fields are
  spatially correlated, and randomly drawn pixels make a speckle with no spatial structure
  that the demo model does not read as fields. Measured with the demo model ("flooded area",
  Spearman correlation between a chip's water share and its similarity change): S1 random
  -0.17, nearest +0.51; S2 random +0.95, nearest +0.41 (hence one rule per sensor).

Everything else (grid, CRS, dtype, band descriptions, no-data) is unchanged, so a chip without
flood water is pixel-identical in both copies. The copy is dated 31 days before the real
acquisition (``PREFLOOD_DATES``).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import rasterio
from scipy import ndimage

from closp_core.bands import Sensor

SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "sen1floods11-spain"
SCENE = "Spain_7370579"
SEED = 0
# the real acquisitions (samples/README.md) and the synthetic pre-flood ones, 31 days earlier
REAL_DATES = {
    Sensor.S1: dt.datetime(2019, 9, 17, tzinfo=dt.UTC),
    Sensor.S2: dt.datetime(2019, 9, 18, tzinfo=dt.UTC),
}
PREFLOOD_DATES = {s: d - dt.timedelta(days=31) for s, d in REAL_DATES.items()}


def _valid(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """``(H, W)`` True where every band holds data."""
    ok = np.isfinite(data).all(axis=0)
    if nodata is not None and np.isfinite(nodata):
        ok &= (data != nodata).all(axis=0)
    return ok


def paint_out_water(
    data: np.ndarray, mask: np.ndarray, nodata: float | None, seed: int = SEED
) -> np.ndarray:
    """``(B, H, W)`` copy with the mask's water pixels (1) replaced by random dry pixels (0)."""
    out = data.copy()
    water = mask == 1
    dry = np.flatnonzero(((mask == 0) & _valid(data, nodata)).ravel())
    picks = np.random.default_rng(seed).choice(dry, size=int(water.sum()), replace=True)
    flat = out.reshape(out.shape[0], -1)
    flat[:, np.flatnonzero(water.ravel())] = data.reshape(data.shape[0], -1)[:, picks]
    return out


def paint_nearest_dry(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(B, H, W)`` copy with each water pixel (1) given the values of its nearest non-water
    pixel (mask 0 or -1; the -1 no-data pixels of this scene are few and hold data)."""
    rows, cols = ndimage.distance_transform_edt(
        mask == 1, return_distances=False, return_indices=True
    )
    return data[:, rows, cols]


def make_preflood(out_dir: Path, root: Path = SAMPLES) -> dict[Sensor, Path]:
    """Write ``{SCENE}_{S1,S2}Hand_preflood.tif`` into ``out_dir``; return them by sensor."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with rasterio.open(root / f"{SCENE}_LabelHand.tif") as src:
        mask = src.read(1)
    written = {}
    for sensor in Sensor:
        with rasterio.open(root / f"{SCENE}_{sensor.name}Hand.tif") as src:
            data, profile, names = src.read(), src.profile, src.descriptions
        if data.shape[1:] != mask.shape:
            raise ValueError(f"{sensor.name} scene and label mask differ in size")
        path = out_dir / f"{SCENE}_{sensor.name}Hand_preflood.tif"
        with rasterio.open(path, "w", **profile) as dst:
            if sensor is Sensor.S1:
                dst.write(paint_nearest_dry(data, mask))
            else:
                dst.write(paint_out_water(data, mask, profile.get("nodata")))
            for i, name in enumerate(names, start=1):
                dst.set_band_description(i, name)
        written[sensor] = path
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the pre-flood copies into")
    for sensor, path in make_preflood(parser.parse_args().out).items():
        print(f"{sensor.value}: {path} (synthetic, dated {PREFLOOD_DATES[sensor].date()})")


if __name__ == "__main__":
    main()
