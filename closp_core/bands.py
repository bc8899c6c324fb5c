"""The band contract: what each CLOSP image encoder expects, and how source pixels get there.

Model input, per sensor (see ../shared/docs/CLOSP.md):

- ``Sensor.S2``: ``(N, 13, H, W) float32``, reflectance / 10000, bands in SSL4EO order
  B1, B2, B3, B4, B5, B6, B7, B8, B8A, B9, B10, B11, B12 (B10 is zero when a product lacks it).
- ``Sensor.S1``: ``(N, 2, H, W) float32``, backscatter in dB, bands VV, VH, not normalised.

``prepare_s2`` / ``prepare_s1`` turn source pixels into that form; ``check_model_input`` is the
gate in front of the encoders. The encoder is always chosen by a declared ``Sensor``, never by
counting channels.

**The Sentinel-2 offset rule** (``remove_dn_offset``, applied by every reader before anything
else looks at the values). Since processing baseline 04.00 (25 January 2022) ESA stores
``DN = reflectance x 10000 + 1000`` in L1C and L2A products, so that negative reflectance (dark
water after atmospheric correction, noise over dark targets) is not cut off; the product says
so per band as ``RADIO_ADD_OFFSET`` (L1C, ``MTD_MSIL1C.xml``) or ``BOA_ADD_OFFSET`` (L2A,
``MTD_MSIL2A.xml``) = -1000, with ``reflectance = (DN + ADD_OFFSET) / QUANTIFICATION_VALUE``
(ESA, Sentinel-2 Products Specification Document, baseline 04.00 onwards; STAC catalogues
declare the same as ``raster:bands`` ``offset`` -0.1 at ``scale`` 0.0001). CLOSP was trained on
2017-2018 products, which have no offset. The rule: **add the product's offset, then clip at
0**; no-data (NaN) stays no-data. A DN below the offset is valid data -- in a flood scene it is
mostly water -- and is never masked nor counted as outside the physical range; it becomes 0
reflectance, as in the harmonised collections responders compare against (Earth Engine's
``COPERNICUS/S2_SR_HARMONIZED`` and Planetary Computer's harmonised recipe shift newer scenes
into the old range and clip at 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

import numpy as np

from closp_core.errors import BandContractError


class Sensor(StrEnum):
    """The two image sensors CLOSP knows."""

    S1 = "s1"  # Sentinel-1 SAR (VV, VH in dB)
    S2 = "s2"  # Sentinel-2 multispectral (13 bands, reflectance / 10000)

    @classmethod
    def parse(cls, value: str | Sensor) -> Sensor:
        """``"s1"``/``"S1"``/``Sensor.S1`` -> ``Sensor.S1``; anything else is a clear error."""
        if isinstance(value, Sensor):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise BandContractError(
                f"unknown sensor {value!r}: use one of {[s.value for s in cls]}"
            ) from None


S2_BANDS: tuple[str, ...] = (
    "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12",
)  # fmt: skip
S2_B10_INDEX = S2_BANDS.index("B10")
S2_BANDS_WITHOUT_B10: tuple[str, ...] = tuple(b for b in S2_BANDS if b != "B10")
S1_BANDS: tuple[str, ...] = ("VV", "VH")
BANDS: dict[Sensor, tuple[str, ...]] = {Sensor.S1: S1_BANDS, Sensor.S2: S2_BANDS}

S2_SCALE = 10000.0
S2_BASELINE_OFFSET_DN = -1000.0  # ADD_OFFSET of processing baseline >= 04.00 products
# dB value used for a few missing SAR pixels (documented choice: very dark, like calm water
# or radar shadow, instead of the reference loader's 1e-6 which is ~0 dB, i.e. bright).
S1_FILL_DB = -30.0
# Model-ready S2 reflectance above this is certainly still in digital numbers.
_MAX_PLAUSIBLE_REFLECTANCE = 100.0


def canonical_band_name(name: str) -> str:
    """``"B02"``, ``"b2"``, ``"B8a"`` -> ``"B2"``, ``"B8A"``; ``"vv"`` -> ``"VV"``."""
    text = name.strip().upper()
    if text.startswith("B") and len(text) > 1:
        digits = text[1:].rstrip("A").lstrip("0") or "0"
        return "B" + digits + ("A" if text.endswith("A") else "")
    return text


def _as_batch(array: np.ndarray, what: str) -> tuple[np.ndarray, bool]:
    """Return ``(N, C, H, W)`` and whether a batch axis was added."""
    try:
        arr = np.asarray(array)
    except (TypeError, ValueError) as err:  # ragged nested lists, ...
        raise BandContractError(f"{what}: not an array of pixels ({err})") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise BandContractError(
            f"{what}: pixels must be integer or float numbers, got dtype {arr.dtype}"
        )
    if arr.ndim not in (3, 4):
        raise BandContractError(
            f"{what}: expected (bands, H, W) or (N, bands, H, W), got shape {arr.shape}"
        )
    if arr.ndim == 4 and arr.shape[0] == 0:
        raise BandContractError(f"{what}: empty batch (0 chips); pass at least one chip")
    if 0 in arr.shape[-2:]:
        raise BandContractError(f"{what}: chips of {arr.shape[-2:]} pixels hold no pixel")
    return (arr[None], True) if arr.ndim == 3 else (arr, False)


def check_band_names(names: Sequence[str], what: str) -> list[str]:
    """``names`` -> canonical band names; ``BandContractError`` for one string instead of a
    list, a name that is not a non-empty string, or a band named twice."""
    if isinstance(names, str | bytes):
        raise BandContractError(
            f"{what}: band_names must be a list such as ['VV', 'VH'], got one string {names!r}"
        )
    canon: list[str] = []
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise BandContractError(
                f"{what}: band_names[{i}] is {name!r}; every band needs a name such as 'B02'"
            )
        canon.append(canonical_band_name(name))
    doubled = sorted({b for b in canon if canon.count(b) > 1})
    if doubled:
        raise BandContractError(f"{what}: band(s) {doubled} named twice in {list(names)}")
    return canon


def _order_bands(
    arr: np.ndarray, names: Sequence[str], wanted: Sequence[str], what: str
) -> np.ndarray:
    """Reorder axis 1 of ``arr`` from ``names`` to ``wanted`` (by name, never by value)."""
    canon = check_band_names(names, what)
    if len(canon) != arr.shape[1]:
        raise BandContractError(f"{what}: {len(canon)} band names given for {arr.shape[1]} bands")
    missing = [b for b in wanted if b not in canon]
    if missing:
        raise BandContractError(f"{what}: missing bands {missing}; got {canon}")
    return arr[:, [canon.index(b) for b in wanted]]


def prepare_s2(dn: np.ndarray, band_names: Sequence[str] | None = None) -> np.ndarray:
    """Sentinel-2 digital numbers -> model input.

    ``dn``: ``(13|12, H, W)`` or ``(N, 13|12, H, W)``, reflectance x 10000 (L1C or L2A).
    Without ``band_names`` the bands must already be in SSL4EO order (12 bands = that order
    without B10). With names, bands are picked by name; a missing B10 becomes zeros.
    Returns ``float32`` reflectance / 10000, 13 bands, NaN -> 0, same rank as the input.
    """
    arr, added = _as_batch(dn, "S2 image")
    if band_names is not None:
        canon = check_band_names(band_names, "S2 image")
        wanted = S2_BANDS if "B10" in canon else S2_BANDS_WITHOUT_B10
        arr = _order_bands(arr, band_names, wanted, "S2 image")
    if arr.shape[1] == len(S2_BANDS_WITHOUT_B10):
        zeros = np.zeros((arr.shape[0], 1, *arr.shape[2:]), dtype=arr.dtype)
        arr = np.concatenate([arr[:, :S2_B10_INDEX], zeros, arr[:, S2_B10_INDEX:]], axis=1)
    if arr.shape[1] != len(S2_BANDS):
        raise BandContractError(
            f"S2 image: expected 13 bands {list(S2_BANDS)} (or 12 without B10), got {arr.shape[1]}"
        )
    out = arr.astype(np.float32) / S2_SCALE
    _reject_unusable(out, "S2 image")
    out = np.nan_to_num(out, nan=0.0)
    return out[0] if added else out


def remove_dn_offset(dn: np.ndarray, add_offset: float) -> np.ndarray:
    """Sentinel-2 digital numbers of a product with ``ADD_OFFSET`` ``add_offset`` (-1000 for
    baseline >= 04.00, 0 before) -> DNs in the offset-free range (reflectance x 10000) of the
    corpus, clipped at 0; NaN (no-data) stays NaN. Any shape; returns ``float32``. The rule and
    its sources: module docstring."""
    out = np.asarray(dn, dtype=np.float32)
    if not add_offset:
        return out
    out = out + np.float32(add_offset)
    np.maximum(out, np.float32(0.0), out=out)  # NaN stays NaN (np.maximum propagates it)
    return out


def linear_to_db(power: np.ndarray, floor_db: float = -50.0) -> np.ndarray:
    """SAR backscatter in linear power -> dB (``10 * log10``); zero/negative -> ``floor_db``."""
    p = np.asarray(power, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10.0 * np.log10(p)
    db = np.where(np.isnan(p), np.nan, np.where(p > 0, np.maximum(db, floor_db), floor_db))
    return db.astype(np.float32)


def prepare_s1(db: np.ndarray, band_names: Sequence[str] | None = None) -> np.ndarray:
    """Sentinel-1 backscatter in dB -> model input.

    ``db``: ``(2, H, W)`` or ``(N, 2, H, W)`` in dB (convert linear power with
    ``linear_to_db`` first). Without ``band_names`` the order must already be VV, VH; with
    names (e.g. ``["VH", "VV"]``) the bands are put into VV, VH order by name.
    A few NaN pixels are filled with ``S1_FILL_DB``; returns ``float32``, same rank.
    """
    arr, added = _as_batch(db, "S1 image")
    if band_names is not None:
        arr = _order_bands(arr, band_names, S1_BANDS, "S1 image")
    if arr.shape[1] != len(S1_BANDS):
        raise BandContractError(
            f"S1 image: expected 2 bands {list(S1_BANDS)} in dB, got {arr.shape[1]}"
        )
    out = arr.astype(np.float32)
    _reject_unusable(out, "S1 image")
    out = np.nan_to_num(out, nan=S1_FILL_DB)
    return out[0] if added else out


def _reject_unusable(batch: np.ndarray, what: str) -> None:
    """Infinite pixels, or a chip with no finite pixel at all, are errors."""
    if np.isinf(batch).any():
        raise BandContractError(
            f"{what}: contains infinite values; mask them as NaN (no data) first"
        )
    empty = np.isnan(batch).reshape(batch.shape[0], -1).all(axis=1)
    if empty.any():
        raise BandContractError(
            f"{what}: chip(s) {np.flatnonzero(empty).tolist()} hold no valid pixel (all NaN)"
        )


def check_model_input(images: np.ndarray, sensor: Sensor) -> np.ndarray:
    """Validate model input for ``sensor`` and return it as ``(N, C, H, W) float32``.

    Raises ``BandContractError`` naming what was expected for a wrong rank, band count,
    dtype, non-finite pixels, or S2 pixels that are still digital numbers.
    """
    sensor = Sensor.parse(sensor)
    bands = BANDS[sensor]
    arr, _ = _as_batch(images, f"{sensor.name} model input")
    if not np.issubdtype(arr.dtype, np.floating):
        raise BandContractError(
            f"{sensor.name} model input: expected float pixels, got {arr.dtype}; "
            f"use prepare_{sensor.value}() on source pixels"
        )
    if arr.shape[1] != len(bands):
        raise BandContractError(
            f"{sensor.name} model input: expected {len(bands)} bands {list(bands)}, "
            f"got {arr.shape[1]}"
            + ("; 12-band S2 needs prepare_s2() to add B10" if sensor is Sensor.S2 else "")
        )
    # min and max propagate NaN and reach +/-inf: two read-only passes, no temporary arrays
    # (4x cheaper than isfinite + abs on ingest's hot path)
    low, high = float(arr.min()), float(arr.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        raise BandContractError(
            f"{sensor.name} model input: contains NaN or infinite values; "
            f"use prepare_{sensor.value}() to fill no-data"
        )
    largest = max(abs(low), abs(high))
    if sensor is Sensor.S2 and largest > _MAX_PLAUSIBLE_REFLECTANCE:
        raise BandContractError(
            "S2 model input: values look like digital numbers (max "
            f"{largest:.0f}); divide by 10000 with prepare_s2()"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)
