"""Our own error classes, all of them, in one place. Each message says what was wrong and what
to do next.

Library code raises these; pages and CLIs catch only these and show them. The type is chosen
where the error happens (never from a message's text afterwards).
"""

from __future__ import annotations


class ClospError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(ClospError):
    """A setting, a config file or a model config is invalid."""


class BandContractError(ClospError, ValueError):
    """An image array does not follow the band contract of its sensor."""


class WeightsUnavailableError(ClospError):
    """CLOSP weights could not be found locally nor fetched from the hub."""


class CheckpointMismatchError(ClospError):
    """A checkpoint's tensors do not fit the model built from its config."""


class LabelError(ClospError, ValueError):
    """A label is not part of our label space."""


class DataError(ClospError):
    """A source file or folder cannot be read; the message names it and says what is wrong."""


class MissingBandsError(DataError):
    """A scene or item lacks bands its sensor needs (the message names the missing ones)."""


class HrefRefusedError(DataError):
    """A STAC href points somewhere a catalogue may not make us read."""


class FeedbackError(ClospError, ValueError):
    """Relevance labels, a label file or a feedback request are invalid."""


class TimelineError(ClospError, ValueError):
    """A place-over-time or change request cannot be answered as asked."""


class GeoError(ClospError, ValueError):
    """A coordinate, box or polygon is invalid (``closp_core.geo``); the message says which
    point or edge and how to give it instead."""


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


class SearchError(ClospError, ValueError):
    """A search request is invalid or cannot be answered (``closp_core.search``)."""


class IndexNotFoundError(ClospError):
    """There is no index where the settings point (``closp_core.open_index``)."""


class ScoreMapError(ClospError, ValueError):
    """A score map, change map or its export cannot be made as asked (``closp_core.scoremap``)."""
