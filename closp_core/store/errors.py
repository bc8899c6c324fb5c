"""The vector store's errors live in ``closp_core.errors`` with every other error class; this
module keeps the old import path working."""

from __future__ import annotations

from closp_core.errors import (
    ModelMismatchError,
    StoreClosedError,
    StoreDiskFullError,
    StoreError,
    StoreInputError,
    StoreLockedError,
    StoreUnavailableError,
)

__all__ = [
    "ModelMismatchError",
    "StoreClosedError",
    "StoreDiskFullError",
    "StoreError",
    "StoreInputError",
    "StoreLockedError",
    "StoreUnavailableError",
]
