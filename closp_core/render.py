"""Chip -> preview images (pure functions, no I/O beyond encoding PNG bytes).

Composites (the conventions peers use):
- S2 ``true_color`` B4-B3-B2, ``false_color`` B8-B4-B3 (vegetation red), ``swir`` B12-B8A-B4
  (burn scars, floods);
- S1 ``sar``: R = VV dB, G = VH dB, B = VV - VH (dB ratio); water is dark.
Each band is stretched on its own 2nd-98th percentile of the chip (display only).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from closp_core.bands import BANDS, Sensor, check_model_input
from closp_core.errors import ClospError

S2_COMPOSITES: dict[str, tuple[str, str, str]] = {
    "true_color": ("B4", "B3", "B2"),
    "false_color": ("B8", "B4", "B3"),
    "swir": ("B12", "B8A", "B4"),
}
COMPOSITES: dict[Sensor, tuple[str, ...]] = {
    Sensor.S2: tuple(S2_COMPOSITES),
    Sensor.S1: ("sar",),
}


def stretch(band: np.ndarray, low: float = 2.0, high: float = 98.0) -> np.ndarray:
    """``(H, W)`` float -> ``(H, W) uint8``: linear between the ``low``/``high`` percentiles.

    The percentiles are estimated on every second pixel in each direction (display only; it
    makes previews ~4x cheaper, which matters on ingest's hot path).
    """
    sample = band[::2, ::2] if band.size > 4096 else band
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return np.zeros(band.shape, np.uint8)
    lo, hi = np.percentile(finite, [low, high])
    if hi - lo < 1e-12:
        return np.full(band.shape, 0 if hi <= 0 else 128, np.uint8)
    scaled = np.clip((np.nan_to_num(band, nan=lo) - lo) / (hi - lo), 0.0, 1.0)
    return np.round(scaled * 255).astype(np.uint8)


def render_composite(pixels: np.ndarray, sensor: Sensor, name: str) -> np.ndarray:
    """Model-input ``pixels`` ``(C, H, W)`` of ``sensor`` -> ``(H, W, 3) uint8`` composite."""
    sensor = Sensor.parse(sensor)
    if name not in COMPOSITES[sensor]:
        raise ClospError(
            f"no composite {name!r} for {sensor.name}; choose one of {list(COMPOSITES[sensor])}"
        )
    return _render(check_model_input(pixels, sensor)[0], sensor, (name,))[name]


def render_previews(pixels: np.ndarray, sensor: Sensor) -> dict[str, np.ndarray]:
    """Every composite of ``sensor``: name -> ``(H, W, 3) uint8``."""
    sensor = Sensor.parse(sensor)
    return _render(check_model_input(pixels, sensor)[0], sensor, COMPOSITES[sensor])


def _render(chip: np.ndarray, sensor: Sensor, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Composites of one checked ``(C, H, W)`` chip; each band is stretched once."""
    if sensor is Sensor.S1:
        vv, vh = chip[0], chip[1]
        return {"sar": np.dstack([stretch(vv), stretch(vh), stretch(vv - vh)])}
    order = BANDS[Sensor.S2]
    stretched: dict[str, np.ndarray] = {}
    for band in {b for name in names for b in S2_COMPOSITES[name]}:
        stretched[band] = stretch(chip[order.index(band)])
    return {name: np.dstack([stretched[b] for b in S2_COMPOSITES[name]]) for name in names}


PREVIEW_SUFFIX = ".jpg"


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    """``(H, W, 3) uint8`` -> JPEG file content.

    JPEG, not PNG: previews are for display only, and JPEG encodes ~15x faster (0.08 vs 1.2 ms
    per 120x120 chip measured here) at a third of the size, which keeps ingest close to the
    encoder's speed.
    """
    buffer = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
