"""Where the Add imagery page may take files from (no Streamlit): uploads, allowed folders.

- **Uploads** are identified by their **content**, never by their names: each file's SHA-256
  is taken, a file whose bytes repeat an earlier file of the same upload is left out (and
  named in ``SavedUpload.duplicates``: indexed once, said so), and the rest are written under
  ``<data dir>/imports/upload-<hash of the contents>/`` with sanitised names (letters, digits,
  ``._-``; the suffixes ingest reads as uploads: GeoTIFF/COG, JPEG2000 band files and zipped
  Sentinel-2 products, ``UPLOAD_SUFFIXES``), each at most ``settings.upload_max_mb``. A file
  without a band token in its name (a band stack, whose scene id is its file name) is saved as
  ``<name>_<content hash>.tif``, so two different files both called ``scene.tif`` are two
  scenes; files of one band each keep their names (a scene is the group) and take their
  identity from the folder. The same content uploaded again, under any names, reuses the
  folder written the first time: the same scene ids and chip keys, so the chips already
  indexed are skipped instead of added twice. Nothing else on disk is touched. The names as
  uploaded are kept apart (``SavedUpload.names``: saved name -> name as uploaded, matched by
  content; chips added before keep the names they were added under): the scene reader *calls* a
  scene after them (``SceneSource(names=...)``) while its keys stay those of the saved files.
- **A path typed by a user** is read only when its real path (symlinks resolved) lies inside
  one of ``settings.import_paths`` (``CLOSP_IMPORT_DIRS``), and, for a folder, when every
  symbolic link below it resolves inside them too; anything else is refused, naming the
  setting. With the setting empty, no typed path is read at all. The reader checks each file's
  real path again when it opens it (``SceneSource(allowed_roots=...)``).
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from closp_core.data.base import RASTER_SUFFIXES
from closp_core.data.raster import band_from_file_name
from closp_core.errors import ClospError
from closp_core.settings import Settings

UPLOAD_SUFFIXES = frozenset({".tif", ".tiff", ".jp2", ".zip"})
# for the file picker: the same suffixes without their dot
UPLOAD_TYPES = tuple(sorted(s.removeprefix(".") for s in UPLOAD_SUFFIXES))
CONTENTS_FILE = ".contents.json"  # in an upload folder: saved name -> SHA-256 of its bytes
MAX_FOLDER_ENTRIES = 10_000  # entries looked at below a typed folder for escaping links
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ImportRefusedError(ClospError):
    """An upload or a path the Add imagery page may not take; the message says why."""


@dataclasses.dataclass(frozen=True)
class SavedUpload:
    """Where an upload was written, and what of it was left out as a repeat.

    ``duplicates``: ``(left out, same content as)`` pairs of the names as uploaded;
    ``names``: saved file name -> the name it was uploaded under."""

    folder: Path
    files: tuple[str, ...]
    duplicates: tuple[tuple[str, str], ...] = ()
    names: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def notes(self) -> list[str]:
        """One line per file left out, for the job's report."""
        return [
            f"left out {name}: the same content as {first} in this upload (indexed once)"
            for name, first in self.duplicates
        ]


def safe_file_name(name: str) -> str:
    """A file name made safe to write: the last path component, unusual characters as ``_``,
    no leading dots; ``ImportRefusedError`` unless its suffix is one of ``UPLOAD_SUFFIXES``."""
    base = re.split(r"[\\/]", name)[-1]
    clean = _UNSAFE.sub("_", base).lstrip(".") or "upload"
    if Path(clean).suffix.lower() not in UPLOAD_SUFFIXES:
        raise ImportRefusedError(
            f"{name!r} is not a file this page takes: upload GeoTIFF/COG files (.tif, .tiff), "
            "JPEG2000 band files (.jp2) or a zipped Sentinel-2 product (.zip)"
        )
    return clean[-120:]


def upload_name(name: str) -> str:
    """The name a file was uploaded under, for people: its last path component, control
    characters dropped (shown escaped wherever the app shows it)."""
    base = re.split(r"[\\/]", name)[-1]
    return "".join(c for c in base if c.isprintable()).strip() or "upload"


def size_text(size: int) -> str:
    """Bytes as MB (2**20) rounded *up* to 0.01: a file over a limit never reads as equal."""
    return f"{math.ceil(size / 2**20 * 100) / 100:.2f} MB"


def _check_size(name: str, data: bytes, max_mb: int) -> None:
    if len(data) > max_mb * 2**20:
        raise ImportRefusedError(
            f"{name!r} is {size_text(len(data))} ({len(data):,} bytes), more than the "
            f"{max_mb} MB allowed per file; upload a smaller file, or ask the operator to "
            "raise CLOSP_UPLOAD_MAX_MB or to allow a folder for the 'Folder on the server' tab"
        )


def _stored_name(name: str, digest: str, taken: set[str]) -> str:
    """The name a file is saved under: a stack's name carries its content hash; a band
    file keeps its name (its scene is the group); clashes get ``_2``, ``_3`` ..."""
    clean = safe_file_name(name)
    stem, suffix = Path(clean).stem, Path(clean).suffix
    if band_from_file_name(stem) is None:
        stem = f"{stem[:100]}_{digest[:12]}"
    stored, n = f"{stem}{suffix}", 1
    while stored in taken:
        n += 1
        stored = f"{stem}_{n}{suffix}"
    taken.add(stored)
    return stored


def save_uploads(files: Sequence[tuple[str, bytes]], data_dir: Path, max_mb: int) -> SavedUpload:
    """Write uploaded ``(name, bytes)`` files, each once by content, into a folder under
    ``data_dir/imports`` named by their contents (module docstring). ``ImportRefusedError``
    (nothing written) for no files, a file too large or not of an upload type by name."""
    if not files:
        raise ImportRefusedError(
            "no files chosen; pick one or more GeoTIFF/COG, JPEG2000 or zipped product files"
        )
    first: dict[str, str] = {}  # content digest and band -> first name
    kept: list[tuple[str, str, bytes]] = []
    duplicates: list[tuple[str, str]] = []
    for name, data in files:
        _check_size(name, data, max_mb)
        band = band_from_file_name(Path(safe_file_name(name)).stem)
        digest = hashlib.sha256(data).hexdigest()
        identity = f"{digest}:{band[0] if band else ''}"
        if identity in first:
            duplicates.append((name, first[identity]))
            continue
        first[identity] = name
        kept.append((name, digest, data))
    whole = hashlib.sha256("\n".join(sorted(first)).encode()).hexdigest()
    folder = data_dir / "imports" / f"upload-{whole[:16]}"
    by_digest = {digest: upload_name(name) for name, digest, _ in kept}
    if folder.is_dir():  # the same contents came before: same files, same keys
        names = _names_by_content(folder, by_digest)
        return SavedUpload(folder, tuple(sorted(p.name for p in folder.iterdir()
                                                if p.name != CONTENTS_FILE)),
                           tuple(duplicates), names)  # fmt: skip
    taken: set[str] = set()
    stored = [(_stored_name(n, d, taken), d, b) for n, d, b in kept]
    contents = json.dumps({name: digest for name, digest, _ in stored}).encode()
    staging = _write_staging(
        folder.parent, [(name, data) for name, _, data in stored] + [(CONTENTS_FILE, contents)]
    )
    try:
        staging.rename(folder)
    except OSError:  # another session wrote the same contents meanwhile: theirs is the same
        shutil.rmtree(staging, ignore_errors=True)
    names = {name: by_digest[digest] for name, digest, _ in stored}
    return SavedUpload(folder, tuple(sorted(taken)), tuple(duplicates), names)


def _names_by_content(folder: Path, by_digest: Mapping[str, str]) -> dict[str, str]:
    """Saved file name -> this upload's name for the same content, in an upload folder
    written before (its ``CONTENTS_FILE``; folders written without one are hashed again)."""
    try:
        saved = json.loads((folder / CONTENTS_FILE).read_text())
    except (OSError, ValueError):
        saved = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in folder.iterdir() if p.is_file()}  # fmt: skip
    if not isinstance(saved, dict):
        return {}
    return {str(n): by_digest[d] for n, d in saved.items() if d in by_digest}


def _write_staging(parent: Path, files: Sequence[tuple[str, bytes]]) -> Path:
    """``files`` written into a new hidden folder of ``parent``; on a full disk (or any write
    error) nothing is left behind and ``ImportRefusedError`` says so."""
    staging: Path | None = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=parent))
        for name, data in files:
            (staging / name).write_bytes(data)
    except OSError as err:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        full = err.errno in (errno.ENOSPC, errno.EDQUOT)
        raise ImportRefusedError(
            "disk full: the upload could not be saved and nothing of it was kept; ask the "
            "operator to free space, then press 'Add these files' again"
            if full
            else f"the upload could not be saved ({err.strerror or err}); nothing of it was kept"
        ) from None
    return staging


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def escaping_links(folder: Path, roots: Sequence[Path]) -> list[str]:
    """Symbolic links below ``folder`` (not followed into) whose targets resolve outside
    ``roots``, as ``link -> target`` texts; ``ImportRefusedError`` for a folder too large to
    check (``MAX_FOLDER_ENTRIES``)."""
    found: list[str] = []
    seen = 0
    for top, dirs, names in os.walk(folder, followlinks=False):
        for name in [*dirs, *names]:
            seen += 1
            if seen > MAX_FOLDER_ENTRIES:
                raise ImportRefusedError(
                    f"{folder} holds more than {MAX_FOLDER_ENTRIES:,} entries; point at the "
                    "scene's own folder"
                )
            entry = Path(top) / name
            if entry.is_symlink() and not _inside(entry.resolve(), roots):
                found.append(f"{entry} -> {entry.resolve()}")
    return found


def allowed_import_path(text: str, settings: Settings) -> Path:
    """The raster file or folder ``text`` names, if its real path and every link below it
    lie inside ``CLOSP_IMPORT_DIRS``; otherwise ``ImportRefusedError`` saying why."""
    roots = settings.import_paths
    if not roots:
        raise ImportRefusedError(
            "the app reads no folders by path: the operator sets CLOSP_IMPORT_DIRS to the "
            "folders it may read"
        )
    if not text.strip() or "\x00" in text:
        raise ImportRefusedError("type the path of a scene file or folder")
    path = Path(text.strip()).expanduser().resolve()
    allowed = ", ".join(str(r) for r in roots)
    if not _inside(path, roots):
        raise ImportRefusedError(
            f"{text.strip()!r} is outside the folders the app may read ({allowed}); "
            "ask the operator to add it to CLOSP_IMPORT_DIRS"
        )
    if path.is_dir():
        escaping = escaping_links(path, roots)
        if escaping:
            raise ImportRefusedError(
                f"{text.strip()!r} holds {len(escaping)} link(s) to files outside the folders "
                f"the app may read ({allowed}), e.g. {escaping[0]}; remove them or copy the "
                "files into the folder"
            )
        return path
    if path.is_file() and path.suffix.lower() in {*RASTER_SUFFIXES, ".zip"}:
        return path
    raise ImportRefusedError(f"{text.strip()!r} is not a raster file or a folder of them")
