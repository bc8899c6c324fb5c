"""Free space for the embedded index: why a full disk killed the process, and the guard.

**The SIGBUS.** Qdrant Edge keeps its write-ahead log and parts of its segments in
memory-mapped files it creates *sparse*: ``wal/open-1`` and ``wal/open-2`` (32 MB each), a
32 MB payload page and smaller files hold almost no blocks until written (a new index: 98 MB
apparent, 40 KB allocated). Writing a point stores into the mapped pages; when the file system
cannot give a page its block (disk full) the kernel sends SIGBUS and the process dies with no
Python exception to catch: ``ingest`` died mid-run, and afterwards ``ingest info`` and the app
died on open (opening replays and extends the log) even with 10 MB freed.

**The guard** (used by ``edge.EdgeStore``): before opening the index and before every write,
the free space must cover what the mapped files may still claim — the *sparse deficit*, the
bytes of its files not yet backed by blocks — plus ``NEW_FILES_BYTES`` for the files Edge may
create during the write (a new log segment, a new payload page) and the write itself; else
``StoreDiskFullError`` and nothing is written. To *start* adding imagery
(``check_writable``) at least ``Settings.min_free_mb`` must be free as well. A write refused
this way leaves the index as it was after the last acknowledged write: it opens and searches
again once space is freed (tested on a small tmpfs, ``tests/store/test_disk_full.py``).

What remains: another process filling the disk between the check and the write. Reserving the
blocks for real (``posix_fallocate``) would close that too, at ~100 MB of disk per index,
even an empty one; not done.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from closp_core.errors import StoreDiskFullError

WAL_SEGMENT_BYTES = 32 * 2**20  # Qdrant Edge's write-ahead log segment (two are mapped)
NEW_FILES_BYTES = 2 * WAL_SEGMENT_BYTES  # a new log segment and a new 32 MB payload page


def free_bytes(folder: Path) -> int:
    """Bytes a writer may still use on ``folder``'s file system."""
    return shutil.disk_usage(folder).free


def sparse_deficit(folder: Path) -> int:
    """Bytes of the regular files below ``folder`` not yet backed by disk blocks (what
    writes into their mapped pages may still claim)."""
    deficit = 0
    for top, _, names in os.walk(folder):
        for name in names:
            try:
                info = (Path(top) / name).lstat()
            except FileNotFoundError:  # Edge removed it meanwhile
                continue
            if stat.S_ISREG(info.st_mode):
                deficit += max(0, info.st_size - info.st_blocks * 512)
    return deficit


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def check_free(folder: Path, need: int, doing: str) -> None:
    """``StoreDiskFullError`` unless ``need`` bytes are free on ``folder``'s file system."""
    free = free_bytes(folder)
    if free < need:
        raise StoreDiskFullError(
            f"disk full: {_mb(free)} free on the disk of the index {folder}, {doing} needs at "
            f"least {_mb(need)}; nothing was written. Free space there (or move the data "
            "folder, CLOSP_DATA_DIR), then try again: the chips already indexed are kept"
        )


def check_room(folder: Path, extra: int, doing: str) -> None:
    """``check_free`` for a write of about ``extra`` bytes into the index at ``folder``: room
    for its sparse deficit, ``NEW_FILES_BYTES`` and ``extra``."""
    check_free(folder, sparse_deficit(folder) + NEW_FILES_BYTES + extra, doing)


_NO_SPACE = ("os error 28", "os error 122", "No space left on device", "Disk quota exceeded")


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (an ``OSError``, or Qdrant Edge's bare ``Exception`` carrying the OS
    error in its text) says the disk is full."""
    if isinstance(exc, OSError):
        return exc.errno in (28, 122)  # ENOSPC, EDQUOT
    return any(marker in str(exc) for marker in _NO_SPACE)


@contextlib.contextmanager
def disk_full_as_ours(folder: Path, doing: str) -> Iterator[None]:
    """Turn a full-disk error of a Qdrant Edge call into ``StoreDiskFullError``."""
    try:
        yield
    except Exception as exc:  # Qdrant Edge raises the bare Exception type for I/O errors
        if not is_disk_full(exc):
            raise
        raise StoreDiskFullError(
            f"disk full while {doing} in the index {folder} ({_mb(free_bytes(folder))} free); "
            "what was acknowledged before is kept (the write-ahead log replays it on the next "
            "open). Free space there, then try again"
        ) from None
