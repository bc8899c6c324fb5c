"""Sentinel products in their real layouts, built in a test's folder from the shipped samples.

- ``write_s2_product``: an L1C or L2A ``.SAFE`` (folder or ``.zip``) of a 240 x 240 px (2.4 km)
  corner of the Virginia L1C scene (``samples/virginia-s2-l1c``), with ``MTD_MSIL1C.xml`` /
  ``MTD_MSIL2A.xml`` as ESA writes them (Product_Info, Spectral_Information, the offset lists),
  JPEG2000 band files (lossless) at their native resolutions (L2A: ``R10m/R20m/R60m``, plus the
  coarser copies, TCI and SCL a real product holds; L1C: one file per band in ``IMG_DATA``). The
  DNs carry the product's +1000 from processing baseline 04.00.
- ``write_s1_grd``: the skeleton of a Sentinel-1 GRD ``.SAFE`` (manifest, measurement TIFFs).
- ``write_spain_l2a_item``: the Sen1Floods11 Spain scene as an Earth Search-like L2A item: 12
  bands, dark-object-subtracted, noise sigma 20 DN, +1000, ``raster:bands`` offset -0.1 at scale
  0.0001, one GeoTIFF per band beside the item; about 5 % of each band's pixels fall below the
  offset (mostly water).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
VIRGINIA = SAMPLES / "virginia-s2-l1c"
SPAIN = SAMPLES / "sen1floods11-spain"
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
NATIVE = {"B02": 10, "B03": 10, "B04": 10, "B08": 10, "B05": 20, "B06": 20, "B07": 20, "B8A": 20,
          "B11": 20, "B12": 20, "B01": 60, "B09": 60, "B10": 60}  # fmt: skip
SIZE_M = 2400  # the product's side: 240 px at 10 m
START = "2023-01-12T15:59:41.024Z"


def virginia_band(band: str, resolution: int) -> tuple[np.ndarray, dict]:
    """The top-left ``SIZE_M`` square of a Virginia band, resampled to ``resolution`` m:
    (uint16 DNs, rasterio profile with the square's transform)."""
    with rasterio.open(VIRGINIA / f"T18SVG_20160112_{band}.tif") as src:
        left, top = src.bounds.left, src.bounds.top
        window = Window(0, 0, SIZE_M / src.res[0], SIZE_M / src.res[1])
        side = SIZE_M // resolution
        data = src.read(1, window=window, out_shape=(side, side), resampling=Resampling.average)
        profile = {
            "crs": src.crs,
            "transform": rasterio.Affine(resolution, 0, left, 0, -resolution, top),
        }
    return data.astype(np.uint16), profile


def write_band(path: Path, data: np.ndarray, profile: dict, driver: str = "JP2OpenJPEG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"REVERSIBLE": "YES", "QUALITY": "100"} if driver == "JP2OpenJPEG" else {}
    with rasterio.open(path, "w", driver=driver, width=data.shape[1], height=data.shape[0],
                       count=1, dtype=data.dtype, **profile, **options) as dst:  # fmt: skip
        dst.write(data, 1)


def product_name(level: str, baseline: str) -> str:
    """A product name as ESA forms it (baseline ``"05.10"`` -> ``N0510``)."""
    return (
        f"S2B_MSI{level}_20230112T155941_N{baseline.replace('.', '')}_R097_T18SVG_20230112T193612"
    )


def _metadata(level: str, baseline: str, files: list[str], offsets: bool) -> str:
    """MTD_MSIL1C.xml / MTD_MSIL2A.xml with the elements ESA writes (a real one is longer)."""
    tag = "BOA_ADD_OFFSET" if level == "L2A" else "RADIO_ADD_OFFSET"
    bands = [b for b in BANDS if level == "L1C" or b != "B10"]
    physical = [b.replace("B0", "B") for b in BANDS]
    offset_list = "".join(f'<{tag} band_id="{i}">-1000</{tag}>' for i in range(13))
    if level == "L2A":
        offset_block = f"<BOA_ADD_OFFSET_VALUES_LIST>{offset_list}</BOA_ADD_OFFSET_VALUES_LIST>"
        quant = '<QUANTIFICATION_VALUES_LIST><BOA_QUANTIFICATION_VALUE unit="none">10000'
        quant += "</BOA_QUANTIFICATION_VALUE></QUANTIFICATION_VALUES_LIST>"
    else:
        offset_block = f"<Radiometric_Offset_List>{offset_list}</Radiometric_Offset_List>"
        quant = '<QUANTIFICATION_VALUE unit="none">10000</QUANTIFICATION_VALUE>'
    spectral = "".join(
        f'<Spectral_Information bandId="{i}" physicalBand="{b}"><RESOLUTION>{NATIVE[BANDS[i]]}'
        "</RESOLUTION></Spectral_Information>"
        for i, b in enumerate(physical)
    )
    images = "".join(f"<IMAGE_FILE>{f}</IMAGE_FILE>" for f in files)
    level_text = "Level-2A" if level == "L2A" else "Level-1C"
    ns = f"https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_{level_text}.xsd"
    root = "Level-2A_User_Product" if level == "L2A" else "Level-1C_User_Product"
    del bands
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>'
        f'<n1:{root} xmlns:n1="{ns}"><n1:General_Info><Product_Info>'
        f"<PRODUCT_START_TIME>{START}</PRODUCT_START_TIME>"
        f"<PRODUCT_URI>{product_name(level, baseline)}.SAFE</PRODUCT_URI>"
        f"<PROCESSING_LEVEL>{level_text}</PROCESSING_LEVEL>"
        f"<PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>"
        '<Datatake datatakeIdentifier="GS2B_20230112T155941_030528_N05.10">'
        "<SPACECRAFT_NAME>Sentinel-2B</SPACECRAFT_NAME></Datatake>"
        '<Product_Organisation><Granule_List><Granule imageFormat="JPEG2000">'
        f"{images}</Granule></Granule_List></Product_Organisation></Product_Info>"
        f"<Product_Image_Characteristics>{quant}{offset_block if offsets else ''}"
        f"<Spectral_Information_List>{spectral}</Spectral_Information_List>"
        f"</Product_Image_Characteristics></n1:General_Info></n1:{root}>"
    )


def write_s2_product(
    folder: Path, level: str, baseline: str = "05.10", zipped: bool = False
) -> Path:
    """An L1C or L2A product (module docstring); returns the ``.SAFE`` folder or the ``.zip``.

    From baseline 04.00 the DNs carry +1000 and the metadata lists the offsets."""
    shifted = float(baseline) >= 4.0
    name = product_name(level, baseline)
    safe = folder / f"{name}.SAFE"
    granule = f"GRANULE/{level}_T18SVG_A030528_20230112T160425/IMG_DATA"
    files: list[str] = []
    stem = "T18SVG_20230112T155941"
    for band in BANDS:
        if level == "L2A" and band == "B10":
            continue
        resolutions = (
            [NATIVE[band]] if level == "L1C" else [r for r in (10, 20, 60) if r >= NATIVE[band]]
        )
        for res in resolutions:
            data, profile = virginia_band(band, res)
            if shifted:
                data = np.where(data > 0, data + 1000, 0).astype(np.uint16)
            rel = (
                f"{granule}/{stem}_{band}"
                if level == "L1C"
                else f"{granule}/R{res}m/{stem}_{band}_{res}m"
            )
            write_band(safe / f"{rel}.jp2", data, profile)
            files.append(rel)
    if level == "L2A":  # the files a real L2A holds beside the bands: never read as bands
        data, profile = virginia_band("B02", 20)
        for extra in ("TCI", "SCL", "AOT"):
            rel = f"{granule}/R20m/{stem}_{extra}_20m"
            write_band(safe / f"{rel}.jp2", (data % 11).astype(np.uint8), profile)
            files.append(rel)
    (safe / f"MTD_MSI{level}.xml").write_text(_metadata(level, baseline, files, shifted))
    (safe / "manifest.safe").write_text("<xfdu:XFDU/>")
    if not zipped:
        return safe
    archive = folder / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(safe.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    shutil.rmtree(safe)
    return archive


def write_s1_grd(folder: Path) -> Path:
    """A Sentinel-1 GRD ``.SAFE`` skeleton: manifest, annotation and a measurement TIFF."""
    safe = folder / "S1A_IW_GRDH_1SDV_20230112T225530_20230112T225555_046740_059A5B_2F5C.SAFE"
    (safe / "annotation" / "calibration").mkdir(parents=True)
    (safe / "manifest.safe").write_text("<xfdu:XFDU/>")
    (safe / "annotation" / "calibration" / "calibration-s1a-iw-grd-vv.xml").write_text(
        "<calibration/>"
    )
    data = (np.arange(64 * 64).reshape(64, 64) % 500).astype(np.uint16)
    profile = {"crs": None, "transform": rasterio.Affine.identity()}
    write_band(
        safe / "measurement" / "s1a-iw-grd-vv-20230112t225530-001.tiff", data, profile, "GTiff"
    )
    return safe


def write_spain_l2a_item(folder: Path, seed: int = 7) -> Path:
    """The Spain scene as an L2A item with the +1000 offset (module docstring); its path."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with rasterio.open(SPAIN / "Spain_7370579_S2Hand.tif") as src:
        stack = src.read().astype(np.float64)
        names = [d for d in src.descriptions]
        profile = {"crs": src.crs, "transform": src.transform}
        bounds = src.bounds
    assets = {}
    for i, name in enumerate(names):
        if name == "B10":
            continue
        band = stack[i]
        dark = np.percentile(band, 5)  # dark-object subtraction: ~5 % fall below 0 reflectance
        dn = band - dark + rng.normal(0.0, 20.0, band.shape) + 1000.0
        write_band(
            folder / f"{name}.tif",
            np.clip(np.rint(dn), 1, 65535).astype(np.uint16),
            profile,
            "GTiff",
        )
        assets[name] = {
            "href": f"./{name}.tif",
            "type": "image/tiff; application=geotiff",
            "roles": ["data"],
            "eo:bands": [{"name": name}],
            "raster:bands": [{"data_type": "uint16", "nodata": 0, "scale": 0.0001, "offset": -0.1}],
        }
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "id": "S2B_30SXH_20190918_0_L2A",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [
                    [bounds.left, bounds.bottom],
                    [bounds.right, bounds.bottom],
                    [bounds.right, bounds.top],
                    [bounds.left, bounds.top],
                    [bounds.left, bounds.bottom],
                ]
            ],
        },
        "bbox": [bounds.left, bounds.bottom, bounds.right, bounds.top],
        "properties": {
            "datetime": "2019-09-18T10:56:11Z",
            "constellation": "sentinel-2",
            "platform": "sentinel-2b",
        },
        "links": [],
        "assets": assets,
    }
    path = folder / "item.json"
    path.write_text(json.dumps(item))
    return path


def water_fraction(row: int, col: int, size: int = 120) -> float:
    """Share of labelled pixels that are water under the chip at (row, col) of the Spain grid
    (Sen1Floods11 hand label: 1 water, 0 not, -1 no data)."""
    with rasterio.open(SPAIN / "Spain_7370579_LabelHand.tif") as src:
        label = src.read(1, window=Window(col, row, size, size))
    valid = label >= 0
    return float((label[valid] == 1).mean()) if valid.any() else 0.0
