"""Our own error classes. Each message says what was wrong and what to do next.

Library code raises these; pages and CLIs catch only these and show them.
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


class GeoError(ClospError, ValueError):
    """A coordinate, box or polygon is invalid (``closp_core.geo``); the message says which
    point or edge and how to give it instead."""


class StoreError(ClospError):
    """The vector store cannot do what was asked (base class of the store's errors)."""


class StoreInputError(StoreError, ValueError):
    """A vector, filter, record or limit given to the store is invalid."""
