"""Write tiny local STAC documents and their GeoTIFF assets (deterministic; run to regenerate).

``python -m tests.data.stac.make_data`` writes into this folder:

- ``catalog/catalog.json`` -> ``catalog/s1-item/s1-item.json`` (assets keyed ``vv``/``vh``,
  ``constellation: sentinel-1``) and ``catalog/s2-item/s2-item.json`` (assets keyed by common
  names ``blue``, ``nir08`` ... with ``eo:bands`` names). Assets lie beside their item, as
  STAC's best practices lay them out (hrefs must stay inside the folder of the document given,
  ``closp_core/data/stac/hrefs.py``): ``catalog/s1-item/vv.tif``, ``vh.tif`` (120x120 float32 dB,
  VV -9, VH -17, EPSG:4326) and ``catalog/s2-item/*.tif`` (a copy of the scene tests' tiny S2
  band files, ``../scene/s2_bands``).
- ``items.json``: an ItemCollection (``FeatureCollection``) of both items, hrefs made relative
  to it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.transform import from_origin

from tests.data.scene import make_data as scene

HERE = Path(__file__).resolve().parent
S1_DIR = HERE / "catalog" / "s1-item"
S2_DIR = HERE / "catalog" / "s2-item"
COMMON = {
    "B01": "coastal",
    "B02": "blue",
    "B03": "green",
    "B04": "red",
    "B05": "rededge1",
    "B06": "rededge2",
    "B07": "rededge3",
    "B08": "nir",
    "B8A": "nir08",
    "B09": "nir09",
    "B10": "cirrus",
    "B11": "swir16",
    "B12": "swir22",
}
GEOMETRY = {"type": "Point", "coordinates": [-0.77, 38.12]}


def item(item_id: str, props: dict[str, Any], assets: dict[str, Any]) -> dict[str, Any]:
    """A minimal STAC 1.0 Item."""
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "geometry": GEOMETRY,
        "bbox": [-0.78, 38.11, -0.76, 38.13],
        "properties": props,
        "links": [],
        "assets": assets,
        "stac_extensions": [],
    }


def s1_item(base: Path) -> dict[str, Any]:
    assets = {
        pol: {
            "href": os.path.relpath(S1_DIR / f"{pol}.tif", base),
            "roles": ["data"],
            "type": "image/tiff; application=geotiff",
        }
        for pol in ("vv", "vh")
    }
    assets["thumbnail"] = {"href": "thumb.png", "roles": ["thumbnail"]}
    props = {"datetime": "2019-09-17T06:00:00Z", "constellation": "sentinel-1"}
    return item("s1-item", props, assets)


def s2_item(base: Path, folder: Path = S2_DIR) -> dict[str, Any]:
    assets = {
        common: {
            "href": os.path.relpath(folder / f"T99XYZ_20160112T160632_{band}.tif", base),
            "roles": ["data"],
            "eo:bands": [{"name": band, "common_name": common}],
        }
        for band, common in COMMON.items()
    }
    return item("s2-item", {"datetime": "2016-01-12T16:06:32Z", "platform": "sentinel-2a"}, assets)


def write_all(root: Path = HERE) -> None:
    S1_DIR.mkdir(parents=True, exist_ok=True)
    S2_DIR.mkdir(parents=True, exist_ok=True)
    for band_file in sorted((scene.HERE / "s2_bands").glob("*.tif")):
        shutil.copyfile(band_file, S2_DIR / band_file.name)
    for pol, value in (("vv", -9.0), ("vh", -17.0)):
        scene.write_band(
            S1_DIR / f"{pol}.tif",
            np.full((120, 120), value, np.float32),
            from_origin(-0.78, 38.13, 9e-5, 9e-5),
            crs="EPSG:4326",
        )
    catalog = root / "catalog"
    links = [{"rel": "root", "href": "./catalog.json"}]
    for make in (s1_item, s2_item):
        doc = make(catalog / make.__name__.replace("_", "-"))
        folder = catalog / doc["id"]
        folder.mkdir(parents=True, exist_ok=True)
        doc["links"] = [
            {"rel": "root", "href": "../catalog.json"},
            {"rel": "parent", "href": "../catalog.json"},
        ]
        (folder / f"{doc['id']}.json").write_text(json.dumps(doc, indent=1))
        links.append({"rel": "item", "href": f"./{doc['id']}/{doc['id']}.json"})
    cat = {
        "type": "Catalog",
        "stac_version": "1.0.0",
        "id": "tiny",
        "description": "tests",
        "links": links,
    }
    (catalog / "catalog.json").write_text(json.dumps(cat, indent=1))
    features = [s1_item(root), s2_item(root)]
    collection = {"type": "FeatureCollection", "features": features}
    (root / "items.json").write_text(json.dumps(collection, indent=1))


if __name__ == "__main__":
    write_all()
