"""Errors of the vector store. Each message says what was wrong and what to do next.

``StoreError`` and ``StoreInputError`` are defined in ``closp_core.errors`` (the records below
the store raise ``StoreInputError``) and re-exported here."""

from __future__ import annotations

from closp_core.errors import StoreError, StoreInputError

__all__ = [
    "ModelMismatchError",
    "StoreClosedError",
    "StoreError",
    "StoreInputError",
    "StoreLockedError",
    "StoreUnavailableError",
]


class ModelMismatchError(StoreError):
    """The collection holds vectors of another model than the one writing or querying it."""


class StoreLockedError(StoreError):
    """The embedded index folder is held open by another process (or another handle)."""


class StoreClosedError(StoreError):
    """The store was used after ``close()``."""


class StoreUnavailableError(StoreError):
    """The embedded index folder has gone (deleted, moved, its disk unmounted) or was replaced
    by another folder since it was opened; ``replaced`` tells which. Nothing is written to it."""

    def __init__(self, message: str, *, replaced: bool = False) -> None:
        super().__init__(message)
        self.replaced = replaced
