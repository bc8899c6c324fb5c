"""Pixel values a sensor can physically produce, and the units a scene's values are in.

Readers check every scene twice: once as a whole (``check_scene_values`` on a sample of its
pixels, before any chip is made: wrong units refuse the whole scene, so none of it is indexed)
and once per chip (``screen_chip``: the odd impossible pixel is masked and the chip flagged).

Thresholds (values of *valid* pixels, i.e. no-data already removed):

- **S2 digital numbers**: ``S2_DN_RANGE = [0, 30000]``, judged *after* the offset rule
  (``bands.remove_dn_offset``: a product's +1000 offset removed, then clipped at 0, so a DN
  below the offset -- dark water -- is valid data here, never outside the range). Real
  top-of-atmosphere and surface reflectance stays below ~1.6 even on snow and bright clouds,
  i.e. below ~17000-21000 DN; 30000 leaves a wide margin. 65535 marks saturated pixels in L1C;
  negative DNs do not exist.
- **Shifted S2 scenes** (``offset_not_removed``): when nothing declares an offset (no product
  metadata, no STAC offset, no ``s2_offset``) but in *every* band at least ``SHIFT_SHARE``
  (99.9 %) of the sampled valid pixels sit at or above ``SHIFT_DN`` (1000), the scene is a
  baseline >= 04.00 product whose +1000 was not removed: real scenes always hold dark pixels
  (water, shadow, and the cirrus band B10 in every L1C) below 0.1 reflectance in some band.
  The scene is indexed as it is and flagged (``SHIFT_FLAG``, with the override).
- **S2 already scaled**: a scene whose 99th percentile is <= ``S2_SCALED_P99`` (2.0) holds
  reflectance that was already divided by 10000 (real DNs of any scene are in the hundreds at
  least): dividing again would give the model a black image.
- **S1 backscatter in dB**: ``S1_DB_RANGE = [-60, +40] dB``. The Sentinel-1 noise floor is
  around -25 to -30 dB, ``linear_to_db`` floors zero power at -50 dB, and the brightest point
  targets (ships, corner reflectors, buildings) reach about +30 dB; the shipped Spain sample
  spans -47 ... +26 dB. Linear power is checked against the same range converted
  (``[0, 10^4]``; zero is allowed and becomes the -50 dB floor).
- **S1 linear vs dB**: linear power is never negative, while dB backscatter is almost always
  negative (a natural scene at or above 0 dB everywhere does not exist). So a scene read as
  linear (``--linear`` or a units tag) with more than ``NEGATIVE_SHARE`` (1 %) negative values
  is already in dB, and a scene read as dB with fewer than 1 % negative values is linear power
  (or amplitude): both are refused.
- **Refusal**: a scene whose sampled valid pixels lie outside the range by more than
  ``REFUSE_SHARE`` (50 %) is refused as a whole; below that, the pixels outside the range are
  masked as no-data in each chip (chips with too much no-data are then skipped as usual) and
  the chips are counted as flagged.

``units_check=False`` (``--units-check off``) skips the scene-level refusals and keeps the
pixel values as they are; chips with pixels outside the range are still counted as flagged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from closp_core.bands import Sensor
from closp_core.data.budget import check_not_empty
from closp_core.data.chip import Tally
from closp_core.data.raster import BandGrid, display_path
from closp_core.errors import DataError

S2_DN_RANGE = (0.0, 30000.0)
S2_SCALED_P99 = 2.0
S1_DB_RANGE = (-60.0, 40.0)
S1_LINEAR_RANGE = (0.0, 10.0 ** (S1_DB_RANGE[1] / 10.0))
NEGATIVE_SHARE = 0.01
REFUSE_SHARE = 0.5
_OVERRIDE = "pass --units-check off (units_check=False) to index the values as they are"
SHIFT_DN = 1000.0
SHIFT_SHARE = 0.999
SHIFT_FLAG = (
    "S2 scene whose every band sits at or above 1000 DN while nothing declares an offset: looks "
    "like a +1000 offset (processing baseline >= 04.00) that was not removed; if so, add it "
    "again with the offset removed (Add imagery: tick 'Sentinel-2 values carry the +1000 "
    "offset'; python -m ingest scene: --s2-offset 1000 --force)"
)


def physical_range(sensor: Sensor, linear: bool) -> tuple[float, float]:
    """(low, high) valid pixel values of ``sensor`` in the units the scene is read in."""
    if sensor is Sensor.S2:
        return S2_DN_RANGE
    return S1_LINEAR_RANGE if linear else S1_DB_RANGE


def _range_text(sensor: Sensor, linear: bool) -> str:
    low, high = physical_range(sensor, linear)
    if sensor is Sensor.S2:
        return f"S2 digital numbers [{low:.0f}, {high:.0f}]"
    return f"S1 linear power [{low:g}, {high:g}]" if linear else f"S1 dB [{low:g}, {high:g}]"


def check_scene_values(sample: np.ndarray, sensor: Sensor, linear: bool, what: str) -> None:
    """Refuse a scene whose sampled pixels (any shape, NaN = no-data) are in the wrong units or
    mostly outside the physical range (thresholds in the module docstring); ``DataError``."""
    values = sample[np.isfinite(sample)].astype(np.float64, copy=False)
    if values.size == 0:
        return  # nothing to judge: every chip will be skipped for no-data
    if sensor is Sensor.S1:
        negative = float((values < 0).mean())
        if linear and negative > NEGATIVE_SHARE:
            raise DataError(
                f"{what}: read as linear power (--linear or a units tag) but {negative:.0%} of "
                "the sampled pixels are negative, so it is already in dB; drop --linear (pass "
                f"--db if a units tag is wrong), or {_OVERRIDE}"
            )
        if not linear and negative <= NEGATIVE_SHARE:
            raise DataError(
                f"{what}: read as dB but only {negative:.1%} of the sampled pixels are negative "
                f"(median {float(np.median(values)):.3g}); it looks like linear power or "
                f"amplitude, not dB: pass --linear (s1_linear=True) if it is linear power, or "
                f"{_OVERRIDE}"
            )
    low, high = physical_range(sensor, linear)
    outside = float(((values < low) | (values > high)).mean())
    if outside > REFUSE_SHARE:
        raise DataError(
            f"{what}: {outside:.0%} of the sampled pixels lie outside the physical range of "
            f"{_range_text(sensor, linear)} (values {float(values.min()):.4g} ... "
            f"{float(values.max()):.4g}); these are not {sensor.name} values in the expected "
            f"units; {_OVERRIDE}"
        )
    if sensor is Sensor.S2 and float(np.quantile(values, 0.99)) <= S2_SCALED_P99:
        raise DataError(
            f"{what}: 99 % of the sampled pixels are <= {S2_SCALED_P99:g}: this is reflectance "
            "already divided by 10000, but S2 input must be digital numbers (reflectance x "
            f"10000); multiply it by 10000, or {_OVERRIDE}"
        )


def screen_chip(
    raw: np.ndarray, sensor: Sensor, linear: bool, mask: bool
) -> tuple[np.ndarray, bool]:
    """``(bands, H, W)`` raw pixels -> (pixels, whether any valid pixel was outside the
    physical range). With ``mask`` those pixels become NaN (no-data); the input is not changed."""
    low, high = physical_range(sensor, linear)
    with np.errstate(invalid="ignore"):
        bad = (raw < low) | (raw > high)
    if not bad.any():
        return raw, False
    if not mask:
        return raw, True
    out = raw.astype(np.float32, copy=True)
    out[bad] = np.nan
    return out, True


def range_flag(sensor: Sensor, linear: bool, masked: bool) -> str:
    """The tally reason for chips with pixels outside the physical range."""
    action = "masked as no-data" if masked else "kept: units check off"
    limits = _range_text(sensor, linear)
    return f"pixels outside the physical range of {limits} ({action})"


def offset_not_removed(sample: np.ndarray) -> bool:
    """``(n, bands, h, w)`` S2 digital numbers (NaN no-data): True when every band has at least
    ``SHIFT_SHARE`` of its valid pixels at or above ``SHIFT_DN`` (module docstring)."""
    bands = np.moveaxis(np.asarray(sample, dtype=np.float32), -3, 0).reshape(sample.shape[-3], -1)
    shares = []
    for band in bands:
        valid = band[np.isfinite(band)]
        if valid.size == 0:
            return False
        shares.append(float((valid >= SHIFT_DN).mean()))
    return bool(shares) and min(shares) >= SHIFT_SHARE


def sample_pixels(
    grid: BandGrid, rows: Sequence[int], cols: Sequence[int], size: int
) -> np.ndarray:
    """Up to 3 x 3 chip windows spread over the scene -> ``(n, bands, size, size)`` raw pixels
    (NaN no-data), for the scene-level value checks; leaves ``grid.inf_pixels`` as it was."""

    def spread(offsets: Sequence[int]) -> list[int]:
        return [offsets[i] for i in sorted({0, len(offsets) // 2, len(offsets) - 1})]

    infinite = grid.inf_pixels
    windows = [grid.read(r, c, size, size) for r in spread(rows) for c in spread(cols)]
    grid.inf_pixels = infinite
    return np.stack(windows)


def check_sample(
    sample: np.ndarray,
    grid: BandGrid,
    sensor: Sensor,
    linear: bool,
    units_check: bool,
    tally: Tally,
) -> None:
    """The scene-level checks on ``sample_pixels``: not empty, the sensor's units (unless
    ``units_check`` is off), and the +1000 offset guard for S2 without a declared offset."""
    what = ", ".join(display_path(f) for f in grid.files)
    check_not_empty(sample, what)
    if units_check:
        check_scene_values(sample, sensor, linear, what)
    offset_unknown = sensor is Sensor.S2 and all(r.dn_offset is None for r in grid.refs.values())
    if offset_unknown and offset_not_removed(sample):
        tally.flag(SHIFT_FLAG, 1, "scenes")
