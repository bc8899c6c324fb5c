"""Preview images beside the index: one small JPEG per composite per chip.

Files live under ``<data_dir>/previews/<id[:2]>/<id>.<composite>.jpg`` (``id`` = the chip's point
id, a uuid5 of its key, so re-ingesting a chip overwrites its previews instead of adding more).
The payload stores these paths relative to ``data_dir``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from closp_core.data.chip import Chip
from closp_core.render import PREVIEW_SUFFIX, jpeg_bytes, render_previews
from closp_core.store import point_id

PREVIEW_DIR = "previews"


def preview_paths(key: str, composites: tuple[str, ...]) -> dict[str, str]:
    """Composite name -> path relative to the data folder, for the chip ``key``."""
    pid = point_id(key)
    return {name: f"{PREVIEW_DIR}/{pid[:2]}/{pid}.{name}{PREVIEW_SUFFIX}" for name in composites}


def write_previews(chip: Chip, data_dir: Path) -> dict[str, str]:
    """Render and write every composite of ``chip``; return name -> relative path.

    Each file is written atomically (temporary file, then rename), so a crash never leaves a
    half-written image behind.
    """
    images = render_previews(chip.pixels, chip.sensor)
    paths = preview_paths(chip.key, tuple(images))
    for name, relative in paths.items():
        target = data_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(jpeg_bytes(images[name]))
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return paths
