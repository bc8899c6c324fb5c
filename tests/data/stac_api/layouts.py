"""STAC Items in the layouts of real APIs, pointing at the COGs of ``make_data`` on the test
server (``{base}`` = its URL). Field names, asset keys, roles and metadata copy the public
item structures (values shortened); the docs followed:

- Earth Search v1 ``sentinel-2-l2a`` (Element 84): assets by common name ``coastal, blue, green,
  red, rededge1..3, nir, nir08, nir09, swir16, swir22`` (+ ``scl``, ``visual``, ``thumbnail``,
  ``*-jp2`` variants on s3://), ``eo:bands`` named by common name, ``raster:bands`` ``scale``
  0.0001 / ``offset`` -0.1 for baseline >= 04.00, ``earthsearch:boa_offset_applied``;
  https://earth-search.aws.element84.com/v1/collections/sentinel-2-l2a and
  https://element84.com/earth-search/ .
- Microsoft Planetary Computer ``sentinel-2-l2a``: assets ``B01..B12, B8A`` (+ ``SCL``, ``AOT``,
  ``WVP``, ``visual``, ``preview``, metadata XML), ``eo:bands`` ``name`` B02 /
  ``common_name``, no raster offset, ``s2:processing_baseline``, ``s2:product_uri``;
  https://planetarycomputer.microsoft.com/dataset/sentinel-2-l2a .
- Planetary Computer ``sentinel-1-rtc``: assets ``vv``, ``vh`` (linear gamma0, float32,
  ``raster:bands`` nodata -32768), ``sar:polarizations``, ``platform`` SENTINEL-1A;
  https://planetarycomputer.microsoft.com/dataset/sentinel-1-rtc .
- Copernicus Data Space Ecosystem STAC ``sentinel-2-l2a`` (STAC 1.1): assets ``B02_10m``,
  ``B02_20m``, ``B02_60m`` ..., hrefs ``s3://eodata/...jp2`` with an ``alternate`` https href,
  STAC 1.1 ``bands`` with ``eo:common_name``, asset ``raster:scale`` / ``raster:offset``,
  ``processing:version``; https://documentation.dataspace.copernicus.eu/APIs/STAC.html .
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import rasterio
from rasterio.warp import transform_bounds

from tests.data.stac_api import make_data as md

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
    "B11": "swir16",
    "B12": "swir22",
}
COG = "image/tiff; application=geotiff; profile=cloud-optimized"
DATETIME = "2023-01-12T16:00:19Z"
EODATA = "s3://eodata/Sentinel-2/MSI/L2A/2023/01/12"
RECEIVE = {"vv": "vertical", "vh": "horizontal"}
PRODUCT = "S2B_MSIL2A_20230112T155509_N0509_R054_T18SVG_20230112T183519"


def footprint(path: Path) -> dict[str, Any]:
    """bbox, geometry and proj fields of a raster file."""
    with rasterio.open(path) as src:
        bbox = list(transform_bounds(src.crs, "EPSG:4326", *src.bounds))
        proj = {"proj:shape": [src.height, src.width], "proj:transform": list(src.transform)[:6]}
        epsg = src.crs.to_epsg()
    w, s, e, n = bbox
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return {
        "bbox": bbox,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "proj": proj,
        "epsg": epsg,
    }


def feature(
    item_id: str,
    collection: str,
    place: dict[str, Any],
    props: dict[str, Any],
    assets: dict[str, Any],
    version: str = "1.0.0",
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": version,
        "stac_extensions": [],
        "id": item_id,
        "collection": collection,
        "bbox": place["bbox"],
        "geometry": place["geometry"],
        "properties": {"datetime": DATETIME, **props},
        "links": [{"rel": "collection", "href": f"{{base}}/collections/{collection}"}],
        "assets": assets,
    }


def earth_search_s2(
    files: Path, item_id: str = "S2B_18SVG_20230112_0_L2A", offset_applied: bool = False
) -> dict[str, Any]:
    place = footprint(md.s2_path(files, "B02"))
    assets: dict[str, Any] = {}
    for band, common in COMMON.items():
        res = md._native_resolution(band)
        assets[common] = {
            "href": f"{{base}}/files/s2/{md.s2_path(files, band).name}",
            "type": COG,
            "title": f"{common} - {res}m",
            "roles": ["data", "reflectance"],
            "eo:bands": [{"name": common, "common_name": common}],
            "gsd": res,
            "raster:bands": [
                {
                    "nodata": 0,
                    "data_type": "uint16",
                    "bits_per_sample": 15,
                    "spatial_resolution": res,
                    "scale": 0.0001,
                    "offset": -0.1,
                }
            ],
        }
        assets[f"{common}-jp2"] = {
            "href": f"s3://sentinel-s2-l2a/tiles/18/S/VG/2023/1/12/0/{band}.jp2",
            "type": "image/jp2",
            "roles": ["data", "reflectance"],
            "eo:bands": [{"name": common, "common_name": common}],
        }
    assets["scl"] = {
        "href": "{base}/files/s2/SCL.tif",
        "type": COG,
        "roles": ["data"],
        "raster:bands": [{"nodata": 0, "data_type": "uint8"}],
    }
    assets["visual"] = {"href": "{base}/files/s2/TCI.tif", "type": COG, "roles": ["visual"]}
    assets["thumbnail"] = {
        "href": "{base}/files/preview.jpg",
        "type": "image/jpeg",
        "roles": ["thumbnail"],
    }
    assets["granule_metadata"] = {
        "href": "{base}/files/metadata.xml",
        "type": "application/xml",
        "roles": ["metadata"],
    }
    props = {
        "platform": "sentinel-2b",
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": 3.2,
        "proj:epsg": place["epsg"],
        "mgrs:utm_zone": 18,
        "mgrs:latitude_band": "S",
        "mgrs:grid_square": "VG",
        "grid:code": "MGRS-18SVG",
        "s2:product_type": "S2MSI2A",
        "s2:processing_baseline": "05.09",
        "s2:product_uri": f"{PRODUCT}.SAFE",
        "earthsearch:boa_offset_applied": offset_applied,
    }
    return feature(item_id, "sentinel-2-l2a", place, props, assets)


def pc_s2(
    files: Path,
    item_id: str = "S2B_MSIL2A_20230112T155509_R054_T18SVG_20230113T114513",
    bands: tuple[str, ...] = tuple(COMMON),
    product: str = PRODUCT,
    cloud: float = 3.2,
) -> dict[str, Any]:
    place = footprint(md.s2_path(files, "B02"))
    assets: dict[str, Any] = {}
    for band in bands:
        res = md._native_resolution(band)
        assets[band] = {
            "href": f"{{base}}/files/s2/{md.s2_path(files, band).name}",
            "type": COG,
            "title": f"Band {band} - {res}m",
            "roles": ["data"],
            "gsd": float(res),
            "eo:bands": [{"name": band, "common_name": COMMON[band]}],
            **place["proj"],
        }
    assets["SCL"] = {
        "href": "{base}/files/s2/SCL.tif",
        "type": COG,
        "roles": ["data"],
        "eo:bands": [{"name": "SCL", "description": "Scene classification"}],
    }
    assets["preview"] = {
        "href": "{base}/files/preview.png",
        "type": "image/png",
        "roles": ["thumbnail"],
    }
    assets["product-metadata"] = {
        "href": "{base}/files/MTD_MSIL2A.xml",
        "type": "application/xml",
        "roles": ["metadata"],
    }
    props = {
        "platform": "Sentinel-2B",
        "constellation": "Sentinel 2",
        "instruments": ["msi"],
        "eo:cloud_cover": cloud,
        "proj:epsg": place["epsg"],
        "s2:mgrs_tile": "18SVG",
        "s2:product_type": "S2MSI2A",
        "s2:processing_baseline": "05.09",
        "s2:product_uri": f"{product}.SAFE",
        "sat:orbit_state": "descending",
    }
    return feature(item_id, "sentinel-2-l2a", place, props, assets)


def pc_s1_rtc(files: Path, item_id: str = "S1A_IW_GRDH_1SDV_20190917T060000_rtc") -> dict[str, Any]:
    place = footprint(files / "s1" / "vv.tif")
    assets = {
        pol: {
            "href": f"{{base}}/files/s1/{pol}.tif",
            "type": COG,
            "title": f"{pol.upper()}: vertical transmit, {RECEIVE[pol]} receive",
            "description": "Terrain-corrected gamma naught values (radiometric terrain correction)",
            "roles": ["data"],
            "raster:bands": [
                {"nodata": -32768, "data_type": "float32", "spatial_resolution": 10.0}
            ],
        }
        for pol in ("vv", "vh")
    }
    assets["rendered_preview"] = {
        "href": "{base}/files/preview.png",
        "type": "image/png",
        "roles": ["overview"],
    }
    props = {
        "datetime": "2019-09-17T06:00:00Z",
        "platform": "SENTINEL-1A",
        "constellation": "Sentinel-1",
        "sar:polarizations": ["VV", "VH"],
        "sar:product_type": "GRD",
        "sar:instrument_mode": "IW",
        "proj:epsg": place["epsg"],
    }
    return feature(item_id, "sentinel-1-rtc", place, props, assets)


def cdse_s2(files: Path, item_id: str = PRODUCT) -> dict[str, Any]:
    place = footprint(md.s2_path(files, "B02"))
    assets: dict[str, Any] = {}
    keys = [(b, md._native_resolution(b)) for b in COMMON] + [("B02", 20), ("B02", 60)]
    for band, res in keys:
        native = md._native_resolution(band)
        path = md.cdse_name(band, res).removeprefix("cdse/")
        assets[f"{band}_{res}m"] = {
            "href": f"{EODATA}/{PRODUCT}.SAFE/GRANULE/IMG_DATA/R{res}m/{path}",
            "type": "image/jp2",
            "title": f"{COMMON[band]} - {res}m",
            "roles": ["data", "reflectance"] + ([] if res == native else ["sampling:downsampled"]),
            "gsd": res,
            "bands": [{"name": band, "eo:common_name": COMMON[band]}],
            "raster:scale": 0.0001,
            "raster:offset": -0.1,
            "nodata": 0,
            "data_type": "uint16",
            "alternate": {"https": {"href": f"{{base}}/files/{md.cdse_name(band, res)}"}},
            "auth:refs": ["s3"],
            "proj:code": f"EPSG:{place['epsg']}",
        }
    assets["TCI_10m"] = {
        "href": "s3://eodata/x/TCI_10m.jp2",
        "type": "image/jp2",
        "roles": ["visual"],
    }
    assets["product_metadata"] = {
        "href": "s3://eodata/x/MTD_MSIL2A.xml",
        "type": "application/xml",
        "roles": ["metadata"],
    }
    props = {
        "platform": "sentinel-2b",
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "processing:version": "05.09",
        "product:type": "S2MSI2A",
        "grid:code": "MGRS-18SVG",
        "proj:code": f"EPSG:{place['epsg']}",
        "eo:cloud_cover": 3.2,
    }
    return feature(item_id, "sentinel-2-l2a", place, props, assets, version="1.1.0")
