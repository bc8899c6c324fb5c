"""Chip preview images: paths come only from stored records and must stay inside the data folder.

Nothing a user types reaches a path: a preview path is ``record.previews[name]`` (written by
ingest), resolved under ``settings.data_dir`` and refused if it leaves that folder (``..``,
absolute paths, symlinks out) or is not a JPEG/PNG file.
"""

from __future__ import annotations

import base64
from pathlib import Path

import streamlit as st

from closp_core.bands import Sensor
from closp_core.render import COMPOSITES
from closp_core.store import ChipRecord

IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def safe_preview_path(data_dir: Path, relative: str | None) -> Path | None:
    """``data_dir / relative`` if it is an image file inside ``data_dir``, else ``None``."""
    if not relative:
        return None
    root = data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path.suffix.lower() not in IMAGE_TYPES:
        return None
    return path if path.is_file() else None


@st.cache_data(max_entries=5000, show_spinner=False)
def preview_bytes(data_dir: str, relative: str) -> bytes | None:
    """The bytes of a preview file (cached), or ``None`` when it is missing or refused."""
    path = safe_preview_path(Path(data_dir), relative)
    return path.read_bytes() if path is not None else None


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
