"""Sentinel products as they ship: a ``.SAFE`` folder, or its ``.zip``, -> scenes to read.

**Sentinel-2 L1C and L2A** (Copernicus Data Space, ESA's SAFE format; compact naming since
December 2016, older multi-tile products too). The product metadata, ``MTD_MSIL1C.xml`` or
``MTD_MSIL2A.xml`` at the product's root, gives:

- the **offset** per band: ``RADIO_ADD_OFFSET`` (L1C) / ``BOA_ADD_OFFSET`` (L2A), keyed by
  ``band_id`` 0-12, which ``Spectral_Information`` maps to the physical band (B1 ... B8A ...
  B12); the offset rule of ``bands.remove_dn_offset`` applies it. A product without the list
  is read by its processing baseline: >= 04.00 -> -1000, older -> none (0);
- the processing baseline, acquisition time (``PRODUCT_START_TIME``), platform
  (``SPACECRAFT_NAME``) and the product name (``PRODUCT_URI``, which names the tile).

The band files are taken from the layout, each band at its **native resolution**: L2A keeps
each band under ``GRANULE/<tile>/IMG_DATA/R10m|R20m|R60m`` (B2 at 10 m, 20 m and 60 m: the
10 m file wins); L1C keeps one file per band in ``IMG_DATA``. Each granule (tile) is one
scene with the product name as scene id (plus the tile when a product holds several).
Inside a ``.zip`` the band files are read in place through GDAL's ``/vsizip/`` (only members
whose first bytes are JPEG2000 or TIFF; nothing is extracted).

**Sentinel-1 GRD** is refused, with the analysis-ready alternatives: a GRD product holds
uncalibrated amplitude in radar geometry, placed only by ground control points. Turning it into
what CLOSP reads (sigma0/gamma0 backscatter in dB on a map grid) takes radiometric calibration,
thermal-noise removal and terrain correction with an elevation model -- geocoding from the GCPs
alone misplaces pixels by tens to hundreds of metres in relief. That is SNAP's or a provider's
job (Planetary Computer ``sentinel-1-rtc``); we read their output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path, PurePosixPath

from closp_core.bands import S2_BANDS, S2_BASELINE_OFFSET_DN
from closp_core.data.raster import BandRef, band_from_file_name
from closp_core.data.timestamps import check_acquired, parse_time
from closp_core.errors import DataError

MAX_METADATA_BYTES = 32 * 2**20  # MTD_MSIL2A.xml of a real product is ~60 kB
S2_METADATA = ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml")
_RESOLUTION = re.compile(r"(?:^|[_/])R?(10|20|60)m(?:$|[_/.])")
_S1_NAME = re.compile(r"^S1[A-D]_[A-Z0-9]{2}_(GRD|SLC|RAW|OCN)", re.IGNORECASE)
_TILE = re.compile(r"_(T\d{2}[A-Z]{3})(?:_|$)")
_IMAGE_SUFFIXES = (".jp2", ".tif", ".tiff")
S1_ALTERNATIVES = (
    "read an analysis-ready product instead: Planetary Computer's sentinel-1-rtc collection "
    "(terrain-corrected gamma0; add it from the STAC API, collection sentinel-1-rtc), or a "
    "GeoTIFF in dB with bands named VV and VH (e.g. from ESA SNAP: Calibrate -> "
    "Terrain-Correction -> LinearToFromdB)"
)


@dataclasses.dataclass(frozen=True)
class S2Product:
    """What a Sentinel-2 product's metadata and layout say (one entry per granule in ``bands``)."""

    name: str  # PRODUCT_URI without .SAFE, e.g. S2B_MSIL2A_20231217T135659_N0510_..._T21JUK_...
    level: str  # "L1C" | "L2A"
    baseline: float | None  # 5.1 for "05.10"
    acquired: dt.datetime | None
    platform: str | None  # "Sentinel-2B"
    offsets: dict[str, float]  # band -> ADD_OFFSET (-1000.0 from baseline 04.00, else 0.0)
    granules: dict[str, dict[str, BandRef]]  # tile -> band -> file at native resolution

    def scene_id(self, tile: str) -> str:
        """The product name; with the tile added when the product holds several granules."""
        return self.name if len(self.granules) == 1 else f"{self.name}_{tile}"


class _Product:
    """A product folder or zip: list its members, read a member's bytes, name a member for GDAL."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        if path.is_file():
            try:
                self.zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as err:
                raise DataError(f"{path}: not a readable zip archive ({err})") from None
            names = [n for n in self.zip.namelist() if not n.endswith("/")]
            for name in names:
                if name.startswith("/") or ".." in PurePosixPath(name).parts:
                    raise DataError(f"{path}: refused: member {name!r} points outside the archive")
            self.members = names
        else:
            root = path.resolve()
            self.members = [
                p.relative_to(root).as_posix() for p in sorted(root.rglob("*")) if p.is_file()
            ]

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()

    def read(self, member: str, limit: int) -> bytes:
        """The first ``limit`` bytes of ``member``."""
        try:
            if self.zip is not None:
                with self.zip.open(member) as fh:
                    return fh.read(limit)
            with (self.path / member).open("rb") as fh:
                return fh.read(limit)
        except (OSError, zipfile.BadZipFile, RuntimeError) as err:
            raise DataError(f"{self.path}: cannot read {member} ({err})") from None

    def gdal_path(self, member: str) -> str:
        """A path GDAL opens: the file itself, or ``/vsizip/<zip>/<member>``; ``DataError``
        unless the member starts like a JPEG2000 or TIFF file (never a VRT or anything else)."""
        if self.zip is None:
            return str(self.path / member)
        head = self.read(member, 16)
        tiff = head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
        jp2 = head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xffO\xffQ"))
        if not (tiff or jp2):
            raise DataError(f"{self.path}: {member} is not a JPEG2000 or TIFF image; refused")
        return f"/vsizip/{self.path.resolve()}/{member}"


def is_product(path: Path) -> bool:
    """A ``.SAFE`` folder (or a folder holding a product's metadata file), or a ``.zip`` file."""
    if path.is_dir():
        return path.suffix.upper() == ".SAFE" or any(
            (path / name).is_file() for name in (*S2_METADATA, "manifest.safe")
        )
    return path.is_file() and path.suffix.lower() == ".zip"


def read_product(path: Path) -> S2Product:
    """The Sentinel-2 product at ``path`` (folder or zip); ``DataError`` for a Sentinel-1
    product (with the alternatives), or anything that is not a readable S2 L1C/L2A product."""
    product = _Product(path)
    try:
        return _read_s2(product)
    finally:
        product.close()


def _read_s2(product: _Product) -> S2Product:
    path = product.path
    metadata = [m for m in product.members if PurePosixPath(m).name in S2_METADATA]
    metadata = [m for m in metadata if len(PurePosixPath(m).parts) <= 2]  # at the product root
    if not metadata:
        if any(
            _S1_NAME.match(PurePosixPath(m).parts[0]) for m in product.members
        ) or _S1_NAME.match(path.name):
            raise DataError(
                f"{path}: a Sentinel-1 product in SAFE format: its measurement files hold "
                "uncalibrated amplitude in radar geometry (no map grid), not backscatter in dB; "
                f"{S1_ALTERNATIVES}"
            )
        raise DataError(
            f"{path}: not a Sentinel-2 L1C/L2A product (no MTD_MSIL1C.xml or MTD_MSIL2A.xml at "
            "its root); pass the .SAFE folder or the .zip as downloaded, or the band files"
        )
    if len(metadata) > 1:
        raise DataError(f"{path}: holds {len(metadata)} products ({metadata}); pass one")
    member = metadata[0]
    text = product.read(member, MAX_METADATA_BYTES + 1)
    if len(text) > MAX_METADATA_BYTES:
        raise DataError(f"{path}: {member} is larger than {MAX_METADATA_BYTES >> 20} MiB; refused")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise DataError(f"{path}: {member} is not valid XML ({err})") from None
    level = "L2A" if member.endswith("MTD_MSIL2A.xml") else "L1C"
    prefix = str(PurePosixPath(member).parent)
    prefix = "" if prefix == "." else prefix + "/"
    name = _text(root, "PRODUCT_URI") or PurePosixPath(prefix or path.name).name
    baseline = _baseline(_text(root, "PROCESSING_BASELINE"), path)
    acquired = check_acquired(parse_time(_text(root, "PRODUCT_START_TIME")), f"{path} (metadata)")
    granules = _granules(product, prefix)
    return S2Product(
        name=re.sub(r"\.SAFE$", "", name, flags=re.IGNORECASE),
        level=level,
        baseline=baseline,
        acquired=acquired,
        platform=_text(root, "SPACECRAFT_NAME"),
        offsets=_offsets(root, level, baseline, path),
        granules=granules,
    )


def _text(root: ET.Element, tag: str) -> str | None:
    """Text of the first element named ``tag`` (any namespace), stripped."""
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == tag and element.text and element.text.strip():
            return element.text.strip()
    return None


def _baseline(text: str | None, path: Path) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{path}: PROCESSING_BASELINE {text[:20]!r} is not a number") from None


def _offsets(root: ET.Element, level: str, baseline: float | None, path: Path) -> dict[str, float]:
    """Band -> ADD_OFFSET from the metadata's list, else from the processing baseline."""
    tag = "BOA_ADD_OFFSET" if level == "L2A" else "RADIO_ADD_OFFSET"
    physical = {
        e.get("bandId"): e.get("physicalBand")
        for e in root.iter()
        if e.tag.rsplit("}", 1)[-1] == "Spectral_Information"
    }
    found: dict[str, float] = {}
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] != tag:
            continue
        band_id = element.get("band_id", "")
        named = physical.get(band_id)
        band = named if named else (S2_BANDS[int(band_id)] if band_id.isdigit() else None)
        if band is None or band not in S2_BANDS:
            raise DataError(f"{path}: {tag} for an unknown band_id {band_id!r}")
        try:
            found[band] = float((element.text or "").strip())
        except ValueError:
            raise DataError(f"{path}: {tag} of {band} is {element.text!r}, not a number") from None
    if found:
        return found
    default = S2_BASELINE_OFFSET_DN if baseline is not None and baseline >= 4.0 else 0.0
    return dict.fromkeys(S2_BANDS, default)


def _granules(product: _Product, prefix: str) -> dict[str, dict[str, BandRef]]:
    """Tile -> band -> file at the band's native resolution, from ``GRANULE/*/IMG_DATA``."""
    best: dict[str, dict[str, tuple[int, str]]] = {}
    for member in product.members:
        if not member.startswith(prefix + "GRANULE/") or "/IMG_DATA/" not in member:
            continue
        if not member.lower().endswith(_IMAGE_SUFFIXES):
            continue
        granule = PurePosixPath(member).parts[len(PurePosixPath(prefix).parts) + 1]
        tile_match = _TILE.search(granule)
        tile = tile_match.group(1) if tile_match else granule
        parsed = band_from_file_name(PurePosixPath(member).stem)
        if parsed is None or parsed[0] not in S2_BANDS:
            continue  # TCI, AOT, WVP, SCL, masks
        match = _RESOLUTION.search(member[len(prefix) :])
        resolution = int(match.group(1)) if match else 0  # L1C: one file per band
        bands = best.setdefault(tile, {})
        if parsed[0] not in bands or resolution < bands[parsed[0]][0]:
            bands[parsed[0]] = (resolution, member)
    if not best:
        raise DataError(
            f"{product.path}: no band files under GRANULE/*/IMG_DATA; is the product complete?"
        )
    return {
        tile: {band: BandRef(product.gdal_path(m)) for band, (_, m) in sorted(bands.items())}
        for tile, bands in sorted(best.items())
    }
