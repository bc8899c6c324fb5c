"""STAC assets -> bands of the band contract, with the values harmonised (see ``stac.py``).

Band names come from the asset's band metadata, then its key:

- ``eo:bands`` (STAC 1.0, https://github.com/stac-extensions/eo) or ``bands`` (STAC 1.1,
  https://github.com/radiantearth/stac-spec/blob/master/commons/common-metadata.md#bands):
  ``name`` (``B02``, ``vv``) or ``common_name`` / ``eo:common_name`` (``blue``, ``nir08``);
  an asset with several entries is a stack (entry i = band i);
- else the asset key: ``B02``, ``B8A``, ``vv``, ``vh``, a common name (Earth Search keys
  ``blue``, ``rededge1``, ``nir08``, ``swir16`` ...), or a band with a resolution suffix
  (Copernicus Data Space keys ``B02_10m``, ``B02_20m`` ...).

When several assets give the same band (CDSE's ``B02_10m`` / ``B02_20m`` / ``B02_60m``) the
finest one wins (``gsd``, ``raster:bands`` ``spatial_resolution``, or the key's suffix).
Thumbnails, overviews, ``visual``/metadata roles and assets whose media type is not an image
are ignored. An href the confinement rule refuses (``hrefs.py``; e.g. CDSE's ``s3://eodata``)
is replaced by the asset's first allowed ``alternate`` href (the STAC alternate-assets
extension, https://github.com/stac-extensions/alternate-assets), else the asset is dropped and
the reason is kept for the "missing band" message.

**Sentinel-2 DN offset.** Products of processing baseline >= 04.00 (from 2022-01-25) store
reflectance x 10000 **+ 1000**; the corpus CLOSP was trained on (2017-2018) has no offset.
Per band, the DN offset to add is, in order: 0 when the item says the provider removed it
already (Earth Search ``earthsearch:boa_offset_applied: true``); else ``offset / scale`` from
the band's ``raster:bands`` entry (``offset`` -0.1 at ``scale`` 0.0001 -> -1000; STAC 1.1
``raster:offset``/``raster:scale`` on the band or the asset); else -1000 when the processing
baseline (``s2:processing_baseline``, ``processing:version`` or the ``_Nxxyy_`` token of the
product name) is >= 04.00; 0 for an older baseline; else none is known (read as 0). S1 bands
never get an offset. The offset is applied by the one rule of ``bands.remove_dn_offset``: add
it, then clip at 0 (a DN below the offset is dark water, not a bad pixel).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

import pystac

from closp_core.bands import S1_BANDS, S2_BASELINE_OFFSET_DN
from closp_core.data.raster import BandRef, band_from_label
from closp_core.errors import DataError, HrefRefusedError

COMMON_NAMES: dict[str, str] = {
    "coastal": "B1", "blue": "B2", "green": "B3", "red": "B4", "rededge1": "B5",
    "rededge2": "B6", "rededge3": "B7", "nir": "B8", "nir08": "B8A", "nir09": "B9",
    "cirrus": "B10", "swir16": "B11", "swir22": "B12",
}  # fmt: skip
BASELINE_OFFSET_DN = S2_BASELINE_OFFSET_DN  # baseline >= 04.00: DN = reflectance x 10000 + 1000
_SKIP_ROLES = frozenset({"thumbnail", "overview", "visual", "metadata"})
_RES_SUFFIX = re.compile(r"^(?P<band>.+?)[_-](?P<res>\d+)m$", re.IGNORECASE)
_BASELINE_TOKEN = re.compile(r"_N(\d{2})(\d{2})(?:_|$)")
_IMAGE_TYPES = ("image/tiff", "image/jp2", "application/octet-stream")

Resolver = Callable[[str], str]  # href -> confined (and signed) href, or HrefRefusedError


@dataclasses.dataclass(frozen=True)
class _Candidate:
    ref: BandRef
    gsd: float


def item_bands(item: pystac.Item, resolve: Resolver) -> tuple[dict[str, BandRef], list[str]]:
    """Band name -> reference for ``item``'s band assets, and why assets were dropped."""
    found: dict[str, _Candidate] = {}
    dropped: list[str] = []
    for key, asset in item.assets.items():
        if not _is_band_asset(key, asset):
            continue
        names = _asset_band_names(key, asset)
        if not any(names):
            continue
        try:
            href = _asset_href(asset, resolve)
        except HrefRefusedError as err:
            dropped.append(f"asset {key!r}: {err}")
            continue
        gsd = _gsd(key, asset)
        for index, band in enumerate(names, start=1):
            if band is None:
                continue
            offset = dn_offset(item, asset, index - 1) if band not in S1_BANDS else None
            candidate = _Candidate(BandRef(href, index, offset), gsd)
            if band not in found or gsd < found[band].gsd:
                found[band] = candidate
    return {band: c.ref for band, c in found.items()}, dropped


def _is_band_asset(key: str, asset: pystac.Asset) -> bool:
    if _SKIP_ROLES & set(asset.roles or []) or key.lower() in _SKIP_ROLES:
        return False
    media = (asset.media_type or "").lower()
    return not media or media.startswith(_IMAGE_TYPES)


def _asset_band_names(key: str, asset: pystac.Asset) -> list[str | None]:
    entries = band_entries(asset)
    names = [entry_band(e) for e in entries]
    if len(names) <= 1:
        return [names[0] if names and names[0] else label_band(key)]
    return names


def band_entries(asset: pystac.Asset) -> list[dict[str, Any]]:
    """The asset's band entries: ``eo:bands`` or STAC 1.1 ``bands`` (dicts only)."""
    entries = asset.extra_fields.get("eo:bands") or asset.extra_fields.get("bands") or []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def label_band(label: str | None) -> str | None:
    """``B02``, ``vv``, ``nir08``, ``B02_10m`` -> canonical band, else None."""
    if not label:
        return None
    text = label.strip()
    match = _RES_SUFFIX.match(text)
    if match:
        text = match.group("band")
    return band_from_label(text) or COMMON_NAMES.get(text.lower())


def entry_band(entry: Mapping[str, Any]) -> str | None:
    """A band entry's ``name``, else its common name, as a canonical band."""
    common = entry.get("common_name") or entry.get("eo:common_name")
    return label_band(_text(entry.get("name"))) or label_band(_text(common))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _asset_href(asset: pystac.Asset, resolve: Resolver) -> str:
    """The asset's href if allowed, else its first allowed alternate href."""
    try:
        return resolve(asset.href)
    except HrefRefusedError as first:
        alternates = asset.extra_fields.get("alternate")
        if isinstance(alternates, dict):
            for alt in alternates.values():
                if isinstance(alt, dict) and isinstance(alt.get("href"), str):
                    try:
                        return resolve(alt["href"])
                    except HrefRefusedError:
                        continue
        raise first from None


def _gsd(key: str, asset: pystac.Asset) -> float:
    """Resolution in metres (smaller wins); unknown -> inf."""
    for value in (asset.extra_fields.get("gsd"), *_raster_values(asset, "spatial_resolution")):
        if isinstance(value, int | float) and value > 0:
            return float(value)
    match = _RES_SUFFIX.match(key)
    return float(match.group("res")) if match else float("inf")


def _raster_values(asset: pystac.Asset, name: str) -> list[Any]:
    entries = asset.extra_fields.get("raster:bands")
    values = [e.get(name) for e in entries or [] if isinstance(e, dict)]
    values += [e.get(f"raster:{name}") for e in band_entries(asset)]
    return [*values, asset.extra_fields.get(f"raster:{name}")]


def _scale_offset(asset: pystac.Asset, index: int) -> tuple[float | None, float | None]:
    """(scale, offset) of band ``index`` (0-based) from raster metadata, when declared."""
    found: list[tuple[Any, Any]] = []
    raster = asset.extra_fields.get("raster:bands")
    if isinstance(raster, list) and index < len(raster) and isinstance(raster[index], dict):
        found.append((raster[index].get("scale"), raster[index].get("offset")))
    entries = band_entries(asset)
    if index < len(entries):
        entry = entries[index]
        found.append((entry.get("raster:scale"), entry.get("raster:offset")))
    found.append((asset.extra_fields.get("raster:scale"), asset.extra_fields.get("raster:offset")))
    for scale, offset in found:
        if isinstance(offset, int | float):
            return (float(scale) if isinstance(scale, int | float) and scale else None), offset
    return None, None


def processing_baseline(item: pystac.Item) -> float | None:
    """Sentinel-2 processing baseline (``4.0`` for "04.00"), when the item says it."""
    props = item.properties
    for key in ("s2:processing_baseline", "processing:version"):
        try:
            return float(str(props[key]))
        except (KeyError, ValueError):
            continue
    for name in (props.get("s2:product_uri"), item.id):
        match = _BASELINE_TOKEN.search(str(name or ""))
        if match:
            return float(f"{match.group(1)}.{match.group(2)}")
    return None


def dn_offset(item: pystac.Item, asset: pystac.Asset, index: int) -> float | None:
    """The DN offset to add to S2 band ``index`` of ``asset`` (module docstring: the rule);
    None when the item says nothing of one (read as 0, but the shifted-scene guard may speak)."""
    if item.properties.get("earthsearch:boa_offset_applied") is True:
        return 0.0
    scale, offset = _scale_offset(asset, index)
    if offset is not None:
        return float(offset) / (scale or 1e-4)  # physical = DN * scale + offset
    baseline = processing_baseline(item)
    if baseline is None:
        return None
    return BASELINE_OFFSET_DN if baseline >= 4.0 else 0.0


def says_linear(item: pystac.Item, linear_collections: frozenset[str]) -> bool | None:
    """Whether the item's SAR values are linear power (``True``), dB (``False``) or unknown."""
    if item.collection_id in linear_collections:
        return True
    for asset in item.assets.values():
        for unit in (*_raster_values(asset, "unit"), asset.extra_fields.get("unit")):
            text = str(unit or "").strip().lower()
            if text in ("db", "decibel", "decibels"):
                return False
            if text in ("linear", "power", "intensity", "amplitude^2"):
                return True
    return None


def check_signed(href: str, signed: str) -> str:
    """A signer's result must stay an http(s) URL."""
    if not signed.lower().startswith(("http://", "https://")):
        raise DataError(f"the signer turned {href} into {signed!r}, not an http(s) URL")
    return signed
