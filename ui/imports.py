"""Where the Add imagery page may take files from (no Streamlit): uploads, allowed folders.

- **Uploads** are written under ``<data dir>/imports/upload-<content hash>/`` with sanitised
  names (letters, digits, ``._-``; GeoTIFF suffixes only), each at most
  ``settings.upload_max_mb``; nothing else on disk is touched. The folder is named by the files'
  names and bytes, so uploading the same files again gives the same scene ids and chip keys,
  and the chips already indexed are skipped instead of added twice.
- **A path typed by a user** is read only when it resolves (symlinks followed) inside one of
  ``settings.import_paths`` (``CLOSP_IMPORT_DIRS``); anything else is refused, naming the
  setting. With the setting empty, no typed path is read at all.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from closp_core.data.base import RASTER_SUFFIXES
from closp_core.errors import ClospError
from closp_core.settings import Settings

UPLOAD_SUFFIXES = frozenset({".tif", ".tiff"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ImportRefusedError(ClospError):
    """An upload or a path the Add imagery page may not take; the message says why."""


def safe_file_name(name: str) -> str:
    """A file name made safe to write: the last path component, unusual characters as ``_``,
    no leading dots; ``ImportRefusedError`` unless it ends in .tif/.tiff."""
    base = re.split(r"[\\/]", name)[-1]
    clean = _UNSAFE.sub("_", base).lstrip(".") or "upload"
    if Path(clean).suffix.lower() not in UPLOAD_SUFFIXES:
        raise ImportRefusedError(f"{name!r}: only GeoTIFF/COG files (.tif, .tiff) are taken")
    return clean[-120:]


def save_uploads(files: Sequence[tuple[str, bytes]], data_dir: Path, max_mb: int) -> Path:
    """Write uploaded ``(name, bytes)`` files into a new folder under ``data_dir/imports``;
    return the folder. ``ImportRefusedError`` (nothing written) for no files, a file too large
    or not a GeoTIFF by name."""
    if not files:
        raise ImportRefusedError("no files chosen; pick one or more GeoTIFF/COG files")
    names: list[str] = []
    for name, data in files:
        if len(data) > max_mb * 2**20:
            raise ImportRefusedError(
                f"{name!r} is {len(data) / 2**20:.0f} MB, more than the {max_mb} MB allowed "
                "(CLOSP_UPLOAD_MAX_MB); use a folder on the server (CLOSP_IMPORT_DIRS) instead"
            )
        clean = safe_file_name(name)
        stem, suffix = Path(clean).stem, Path(clean).suffix
        n = 1
        while clean in names:
            n += 1
            clean = f"{stem}_{n}{suffix}"
        names.append(clean)
    digest = hashlib.sha256()
    for clean, (_, data) in zip(names, files, strict=True):
        digest.update(clean.encode() + b"\0" + hashlib.sha256(data).digest())
    folder = data_dir / "imports" / f"upload-{digest.hexdigest()[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    for clean, (_, data) in zip(names, files, strict=True):
        (folder / clean).write_bytes(data)
    return folder


def allowed_import_path(text: str, settings: Settings) -> Path:
    """The raster file or folder ``text`` names, if it lies inside ``CLOSP_IMPORT_DIRS``;
    otherwise ``ImportRefusedError`` saying why."""
    roots = settings.import_paths
    if not roots:
        raise ImportRefusedError(
            "the app reads no folders by path: the operator sets CLOSP_IMPORT_DIRS to the "
            "folders it may read"
        )
    if not text.strip() or "\x00" in text:
        raise ImportRefusedError("type the path of a scene file or folder")
    path = Path(text.strip()).expanduser().resolve()
    if not any(path.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise ImportRefusedError(
            f"{text.strip()!r} is outside the folders the app may read ({allowed}); "
            "ask the operator to add it to CLOSP_IMPORT_DIRS"
        )
    if path.is_dir() or (path.is_file() and path.suffix.lower() in {*RASTER_SUFFIXES, ".zip"}):
        return path
    raise ImportRefusedError(f"{text.strip()!r} is not a raster file or a folder of them")
