"""Preview images beside the index: one small JPEG per composite per chip.

Files live under ``<data_dir>/previews/<id[:2]>/<id>.<composite>.jpg`` (``id`` = the chip's point
id, a uuid5 of its key, so re-ingesting a chip overwrites its previews instead of adding more).
The payload stores these paths relative to ``data_dir``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from closp_core.bands import Sensor
from closp_core.data.chip import Chip
from closp_core.render import PREVIEW_SUFFIX, jpeg_bytes, render_previews
from closp_core.store import point_id

PREVIEW_DIR = "previews"


def preview_paths(key: str, composites: tuple[str, ...]) -> dict[str, str]:
    """Composite name -> path relative to the data folder, for the chip ``key``."""
    pid = point_id(key)
    return {name: f"{PREVIEW_DIR}/{pid[:2]}/{pid}.{name}{PREVIEW_SUFFIX}" for name in composites}


def write_previews(chip: Chip, data_dir: Path) -> dict[str, str]:
    """Render and write every composite of ``chip``; return name -> relative path."""
    return write_chip_previews(chip.key, chip.sensor, chip.pixels, data_dir)


def write_chip_previews(
    key: str, sensor: Sensor, pixels: np.ndarray, data_dir: Path
) -> dict[str, str]:
    """Render and write every composite of the chip ``key`` (model-input ``pixels``
    ``(C, H, W)`` of ``sensor``); return name -> relative path.

    Each file is written atomically (a temporary file of this process and thread, then a
    rename), so a crash never leaves a half-written image behind.
    """
    images = render_previews(pixels, sensor)
    paths = preview_paths(key, tuple(images))
    suffix = f".{os.getpid()}-{threading.get_ident()}.tmp"
    for name, relative in paths.items():
        target = os.path.join(data_dir, relative)
        tmp = target + suffix
        try:
            _write(tmp, jpeg_bytes(images[name]))
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return paths


def _write(path: str, content: bytes) -> None:
    """Write ``content`` to ``path``, creating its folder the first time it is missing."""
    try:
        fh = open(path, "wb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fh = open(path, "wb")  # noqa: SIM115
    with fh:
        fh.write(content)
