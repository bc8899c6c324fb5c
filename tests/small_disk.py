"""A small file system for disk-full tests: a tmpfs the test mounts (root only), filled on
demand. Tests that cannot mount one are skipped with the reason."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

FILLER = ".filler"


@contextlib.contextmanager
def small_disk(where: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` mounted at ``where`` for the block; skips the test when this
    process may not mount (not root, or no mount permission in this container)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("disk-full tests mount a small tmpfs, which needs root and mount(8)")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for the disk-full test: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave_bytes: int = 0) -> Path:
    """Fill ``disk`` with one file until ``leave_bytes`` stay free (0: until ENOSPC)."""
    path = disk / FILLER
    chunk = b"\1" * 2**20
    with open(path, "ab") as fh:
        while shutil.disk_usage(disk).free - len(chunk) >= leave_bytes:
            try:
                fh.write(chunk)
                fh.flush()
            except OSError:
                break
        rest = shutil.disk_usage(disk).free - leave_bytes
        if rest > 0:
            with contextlib.suppress(OSError):
                fh.write(b"\1" * rest)
    return path


def free_space(disk: Path) -> None:
    """Remove what ``fill`` wrote."""
    (disk / FILLER).unlink(missing_ok=True)
