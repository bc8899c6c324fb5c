"""Local files a reader may open: regular GeoTIFF/JPEG2000 files, and VRTs that read only
what they name.

The format of a local file is decided here from its first bytes (``sniff_format``), never
from its suffix and never by GDAL's own guessing: TIFF/BigTIFF and JPEG2000 signatures, or
XML (a VRT candidate). Anything else is refused before GDAL sees it, so none of GDAL's many
other drivers (raw formats, ASCII grids, ...) is ever asked to make sense of it.

A GDAL VRT is an XML recipe that can read *any* file: raw bytes at an offset
(``VRTRawRasterBand``), files in other folders, other VRTs (even itself), remote URLs through
``/vsicurl/``, and run Python pixel functions. A VRT is accepted only when every source it
reads is a regular GeoTIFF/JPEG2000 file inside the VRT's own folder (or below it); anything
else is refused with a ``DataError`` before GDAL opens it. Element and attribute names are
compared case-insensitively, as GDAL does.

FIFOs, devices and sockets are refused before any open: reading a FIFO would block forever.
"""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

from closp_core.errors import DataError

MAX_VRT_BYTES = 1 << 20  # a hand-written or gdalbuildvrt VRT of a scene is a few kB
_SOURCE_TAGS = ("sourcefilename", "sourcedataset")
_CODE_TAGS = ("pixelfunctioncode", "pixelfunctionlanguage")
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jp2"),
    (b"\xffO\xffQ", "jp2"),  # raw JPEG2000 codestream
)


def is_remote(path: str) -> bool:
    """A URL or a GDAL virtual file system path (``/vsicurl/...``): not a local file."""
    return "://" in path or path.startswith("/vsi")


def check_regular_file(path: str | Path, what: str = "raster") -> None:
    """``DataError`` unless ``path`` is an existing, non-empty regular file (symlinks
    followed)."""
    try:
        info = os.stat(path)
        mode = info.st_mode
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; check the path") from None
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror or err})") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, device or socket)"
        raise DataError(f"{path}: is {kind}; point at a {what} file")
    if info.st_size == 0:
        raise DataError(
            f"{path}: is empty (0 bytes): the copy or upload did not finish; add the file again"
        )


def sniff_format(path: str | Path) -> str:
    """``"tiff"``, ``"jp2"`` or ``"vrt"`` (XML) from the first bytes of a regular file, else a
    ``DataError`` saying what it is not."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror or err})") from None
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return "vrt"
    what = "an empty file" if not head else f"a file starting with {head[:8]!r}"
    raise DataError(
        f"{path}: not a readable raster: neither GeoTIFF, JPEG2000 nor VRT ({what}); corrupt, "
        "truncated or another format"
    )


def check_vrt(path: str | Path) -> None:
    """Refuse a VRT that reads anything but regular raster files in its own folder."""
    vrt = Path(path)
    if vrt.stat().st_size > MAX_VRT_BYTES:
        raise DataError(f"{vrt}: refused: a VRT of {vrt.stat().st_size} bytes is not a scene")
    try:
        text = vrt.read_bytes().decode("utf-8")
        if "<!DOCTYPE" in text or "<!ENTITY" in text:
            raise DataError(f"{vrt}: refused: VRTs with DOCTYPE or ENTITY declarations")
        root = ET.fromstring(text)
    except (UnicodeDecodeError, ET.ParseError) as err:
        raise DataError(f"{vrt}: malformed VRT (not well-formed UTF-8 XML: {err})") from None
    if str(root.tag).lower() != "vrtdataset":
        raise DataError(f"{vrt}: an XML file but not a VRT (root <{root.tag}>); not a raster")
    for element in root.iter():
        tag = str(element.tag).lower()
        attrs = {str(k).lower(): v.strip().lower() for k, v in element.attrib.items()}
        if tag == "vrtrasterband" and attrs.get("subclass") == "vrtrawrasterband":
            raise DataError(
                f"{vrt}: refused: a VRTRawRasterBand reads raw bytes from another file; "
                "convert the data to a GeoTIFF"
            )
        if tag in _CODE_TAGS:
            raise DataError(f"{vrt}: refused: VRT pixel functions with code are not run")
        if tag in _SOURCE_TAGS:
            _check_source(vrt, element, attrs.get("relativetovrt") == "1")


def _check_source(vrt: Path, element: ET.Element, relative: bool) -> None:
    name = (element.text or "").strip()
    if not name:
        raise DataError(f"{vrt}: malformed VRT: an empty <{element.tag}>")
    if is_remote(name) or ":" in name.split("/")[0]:
        raise DataError(
            f"{vrt}: refused: it reads {name!r}, not a file beside the VRT; only sources in "
            "the VRT's own folder are read"
        )
    folder = vrt.parent.resolve()
    source = ((vrt.parent / name) if relative else Path(name)).resolve()
    if not source.is_relative_to(folder):
        raise DataError(
            f"{vrt}: refused: it reads {source}, outside the VRT's folder {folder}; only "
            "sources in the VRT's own folder are read"
        )
    try:
        check_regular_file(source, "raster")
        nested = source == vrt.resolve() or sniff_format(source) == "vrt"
    except DataError as err:
        raise DataError(f"{vrt}: cannot read its source: {err}") from None
    if nested:
        raise DataError(
            f"{vrt}: refused: it reads a VRT ({source.name}); nested (or recursive) VRTs "
            "are not read, point it at the raster files themselves"
        )
