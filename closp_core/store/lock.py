"""One owning process per embedded index: an advisory ``flock`` on a file in the index folder.

Qdrant Edge itself refuses a second opener with a low-level WAL error; taking our own lock
first turns that into ``StoreLockedError`` naming the folder and the PID that holds it. The
kernel drops the lock when the holder exits or is killed, so a crash never leaves it stale.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from closp_core.errors import StoreLockedError

LOCK_NAME = "closp-store.lock"


class FolderLock:
    """Exclusive, non-blocking lock of ``folder`` (held until ``release()`` or exit)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise ``StoreLockedError`` saying who holds it and what to do."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreLockedError(
                f"the index {self.path.parent} is open in another process ({holder}). Only one "
                "process may open an embedded index at a time: close the app or wait for the "
                "ingest run to finish, or run a Qdrant server and set CLOSP_STORE_URL so that "
                "several processes can share the index"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:200]}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays: deleting lock files races with other openers)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
