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


class SearchError(ClospError, ValueError):
    """A search request is invalid or cannot be answered (``closp_core.search``)."""


class IndexNotFoundError(ClospError):
    """There is no index where the settings point (``closp_core.open_index``)."""
