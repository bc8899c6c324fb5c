"""STAC Items, ItemCollections and static Catalogs -> band assets -> the raster-scene reader.

``StacSource(href, options)`` takes a local JSON file or an http(s) URL of a STAC Item
(``"type": "Feature"``), an ItemCollection (``"FeatureCollection"``) or a Catalog/Collection
(its items are found recursively through its links). Each item is one unit and one scene
(``scene_id`` = item id; keys ``stac/<item id>/<sensor>/r<row>_c<col>``).

Band assets: an asset's single ``eo:bands`` (or STAC 1.1 ``bands``) entry names its band
(``name`` ``B02``/``vv`` or ``common_name`` ``blue``, ``nir08`` ...); without it the asset key
does (``B02``, ``B8A``, ``vv``, ``vh``, or a common name). An asset listing several bands is a
stack (band i = the i-th entry). Thumbnails, overviews and assets that name no Sentinel band are
ignored; an item left with no band asset is a ``DataError``. Assets are read from their
(absolute or item-relative) hrefs by rasterio, remote ones through GDAL's ``/vsicurl/``.

Sensor: ``options.sensor``, else the item's ``constellation``/``platform`` (sentinel-1/-2),
else the band names. Time: ``options.acquired``, else the item's ``datetime`` (or
``start_datetime``), else as for raster scenes. Searching a STAC API (pystac-client) is left to
the caller: pass the resulting ItemCollection saved as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pystac
from pystac.errors import STACError, STACTypeError

from closp_core.bands import Sensor
from closp_core.data.base import check_labels
from closp_core.data.chip import Chip, DataError, Tally
from closp_core.data.chipping import SceneOptions
from closp_core.data.raster import BandRef, band_from_label
from closp_core.data.scene import SceneSpec, read_scene
from closp_core.data.timestamps import parse_time

COMMON_NAMES: dict[str, str] = {
    "coastal": "B1", "blue": "B2", "green": "B3", "red": "B4", "rededge1": "B5",
    "rededge2": "B6", "rededge3": "B7", "nir": "B8", "nir08": "B8A", "nir09": "B9",
    "cirrus": "B10", "swir16": "B11", "swir22": "B12",
}  # fmt: skip
_SKIP_ROLES = frozenset({"thumbnail", "overview", "visual", "metadata"})
_STAC_ERRORS = (OSError, STACError, STACTypeError, json.JSONDecodeError, ValueError, KeyError)


def _is_remote(href: str) -> bool:
    return "://" in href and not href.startswith("file://")


def load_items(href: str) -> list[pystac.Item]:
    """All items of a STAC Item / ItemCollection / Catalog at ``href``; ``DataError`` if none."""
    if not _is_remote(href) and not Path(href).exists():
        raise DataError(f"STAC {href}: no such file; give a STAC JSON file or an http(s) URL")
    try:
        text = pystac.StacIO.default().read_text(href)
        data = json.loads(text)
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "Feature":
            items = [pystac.Item.from_file(href)]
        elif kind == "FeatureCollection":
            items = list(pystac.ItemCollection.from_dict(data, preserve_dict=False))
        elif kind in ("Catalog", "Collection"):
            catalog = pystac.read_file(href)
            if not isinstance(catalog, pystac.Catalog):
                raise DataError(f"STAC {href}: type {kind} but not readable as a catalog")
            items = list(catalog.get_items(recursive=True))
        else:
            raise DataError(f"STAC {href}: not a STAC Item, ItemCollection or Catalog")
    except _STAC_ERRORS as err:
        what = "cannot reach" if _is_remote(href) and isinstance(err, OSError) else "cannot read"
        raise DataError(f"STAC {href}: {what} ({type(err).__name__}: {err})") from None
    if not items:
        raise DataError(f"STAC {href}: holds no items")
    return items


def asset_bands(item: pystac.Item, base: str) -> dict[str, BandRef]:
    """Band name -> asset reference for the item's band assets (see the module docstring)."""
    found: dict[str, BandRef] = {}
    for key, asset in item.assets.items():
        if _SKIP_ROLES & set(asset.roles or []) or key.lower() in _SKIP_ROLES:
            continue
        entries = asset.extra_fields.get("eo:bands") or asset.extra_fields.get("bands") or []
        names = [_entry_band(e) for e in entries if isinstance(e, dict)]
        if len(names) <= 1:
            names = [names[0] if names and names[0] else _label_band(key)]
        href = asset.get_absolute_href() or asset.href
        if not _is_remote(href) and not Path(href).is_absolute():
            href = posixpath.normpath(posixpath.join(base, href))
        for index, band in enumerate(names, start=1):
            if band is not None and band not in found:
                found[band] = BandRef(href, index)
    return found


def _label_band(label: str | None) -> str | None:
    if not label:
        return None
    return band_from_label(label) or COMMON_NAMES.get(label.strip().lower())


def _entry_band(entry: dict[str, Any]) -> str | None:
    common = entry.get("common_name") or entry.get("eo:common_name")
    return _label_band(entry.get("name")) or _label_band(common)


def item_sensor(item: pystac.Item) -> Sensor | None:
    """Sensor from ``constellation`` / ``platform`` properties, when they say Sentinel-1/-2."""
    text = " ".join(str(item.properties.get(k, "")) for k in ("constellation", "platform"))
    text = text.lower().replace("_", "-")
    if "sentinel-1" in text:
        return Sensor.S1
    if "sentinel-2" in text:
        return Sensor.S2
    return None


class StacSource:
    """``ChipSource`` for STAC: ``StacSource(href, options=None)``; one unit per item."""

    name = "stac"

    def __init__(self, href: str | Path, options: SceneOptions | None = None) -> None:
        self.href = str(href)
        self.options = options or SceneOptions()
        check_labels(self.options.labels, "STAC labels")
        self._items: dict[str, pystac.Item] | None = None

    def units(self) -> list[str]:
        """``<href>#<item id>`` per item."""
        if self._items is None:
            self._items = {f"{self.href}#{item.id}": item for item in load_items(self.href)}
        return list(self._items)

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        """The chips of one item's scene."""
        self.units()
        assert self._items is not None
        item = self._items.get(unit)
        if item is None:
            raise DataError(f"unknown STAC unit {unit!r}; use one from units()")
        base = (
            posixpath.dirname(self.href) if _is_remote(self.href) else str(Path(self.href).parent)
        )
        bands = asset_bands(item, base)
        if not bands:
            raise DataError(
                f"STAC {self.href}: item {item.id!r} has no usable band assets (name them in "
                "eo:bands or with keys like B02, B8A, vv, vh); assets: " + ", ".join(item.assets)
            )
        options = self.options
        if options.sensor is None and (sensor := item_sensor(item)) is not None:
            options = dataclasses.replace(options, sensor=sensor)
        when = item.datetime or parse_time(item.properties.get("start_datetime"))
        if options.acquired is None and when is not None:
            options = dataclasses.replace(options, acquired=when)
        spec = SceneSpec(item.id, unit, bands=bands, name_hints=(item.id,))
        return read_scene(spec, options, tally, source="stac")
