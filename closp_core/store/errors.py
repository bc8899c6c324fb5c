"""Errors of the vector store. Each message says what was wrong and what to do next."""

from __future__ import annotations

from closp_core.errors import ClospError


class StoreError(ClospError):
    """The vector store cannot do what was asked (base class of the store's errors)."""


class StoreInputError(StoreError, ValueError):
    """A vector, filter, record or limit given to the store is invalid."""


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


class StoreDiskFullError(StoreError):
    """The disk of the embedded index has too little free space to open it or to write; the
    message says how much is free, how much is needed, and that nothing was lost."""
