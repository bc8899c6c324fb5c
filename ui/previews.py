"""Chip preview images: paths come only from stored records and must stay inside the data folder.

Nothing a user types reaches a path: a preview path is ``record.previews[name]`` (written by
ingest), resolved under ``settings.data_dir`` and refused if it leaves that folder (``..``,
absolute paths, symlinks out) or is not a JPEG/PNG file. A file that does not decode as a
JPEG/PNG of sensible size (corrupt, truncated, replaced) is treated as missing: the app shows
no preview for it instead of failing. The cache is keyed by the file's size and modification
time, so a preview that is repaired or rewritten shows again without a restart.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import streamlit as st
from PIL import Image

from closp_core.bands import Sensor
from closp_core.render import COMPOSITES
from closp_core.store import ChipRecord

IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
IMAGE_FORMATS = frozenset({"JPEG", "PNG"})
MAX_PREVIEW_PIXELS = 2048 * 2048  # previews are a few hundred pixels wide; larger is not ours


def safe_preview_path(data_dir: Path, relative: str | None) -> Path | None:
    """``data_dir / relative`` if it is an image file inside ``data_dir``, else ``None``."""
    if not relative:
        return None
    root = data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path.suffix.lower() not in IMAGE_TYPES:
        return None
    return path if path.is_file() else None


def decodes_as_preview(data: bytes) -> bool:
    """Whether ``data`` is a whole JPEG/PNG image of at most ``MAX_PREVIEW_PIXELS``."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in IMAGE_FORMATS:
                return False
            if image.width * image.height > MAX_PREVIEW_PIXELS:
                return False
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    return True


@st.cache_data(max_entries=5000, show_spinner=False)
def _checked_preview(path: str, size: int, mtime_ns: int) -> bytes | None:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return data if decodes_as_preview(data) else None


def preview_bytes(data_dir: str, relative: str) -> bytes | None:
    """The bytes of a preview file, or ``None`` when it is missing, refused or corrupt."""
    path = safe_preview_path(Path(data_dir), relative)
    if path is None:
        return None
    try:
        status = path.stat()
    except OSError:
        return None
    return _checked_preview(str(path), status.st_size, status.st_mtime_ns)


def preview_data_url(data_dir: Path, relative: str | None) -> str | None:
    """A ``data:`` URL of a preview (for Leaflet image overlays), or ``None``."""
    if not relative:
        return None
    data = preview_bytes(str(data_dir), relative)
    if data is None:
        return None
    mime = IMAGE_TYPES[Path(relative).suffix.lower()]
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def composite_for(record: ChipRecord, s2_composite: str) -> str:
    """The composite to show for a chip: the chosen one for S2, the SAR composite for S1."""
    if record.sensor is Sensor.S2 and s2_composite in COMPOSITES[Sensor.S2]:
        return s2_composite
    return COMPOSITES[record.sensor][0]


def record_preview(data_dir: Path | str, record: ChipRecord, s2_composite: str) -> bytes | None:
    """The bytes of ``record``'s preview in the composite to show (``composite_for``)."""
    return preview_bytes(
        str(data_dir), record.previews.get(composite_for(record, s2_composite), "")
    )


def record_preview_url(data_dir: Path, record: ChipRecord, s2_composite: str) -> str | None:
    """``record_preview`` as a ``data:`` URL (for map overlays), or ``None``."""
    return preview_data_url(data_dir, record.previews.get(composite_for(record, s2_composite)))
