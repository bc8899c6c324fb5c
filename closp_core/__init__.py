"""CLOSP engine: models, band contracts, embedder, readers, vector store (no UI code here).

The Python API (loaded on first use, so ``import closp_core`` stays light)::

    import closp_core
    idx = closp_core.open_index()  # the index of the CLOSP_* settings, with its model
    out = idx.search("flooded fields", bbox=(-1.0, 37.9, -0.6, 38.2))
    gdf = out.to_geodataframe()  # needs geopandas
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from closp_core.search import Index, SearchOutcome, SearchRequest, open_index

_LAZY = {
    "Index": "closp_core.search",
    "SearchOutcome": "closp_core.search",
    "SearchRequest": "closp_core.search",
    "open_index": "closp_core.search",
}
# ``closp_core.search`` is the package (its ``search`` function: ``closp_core.search.search``)
__all__ = ["Index", "SearchOutcome", "SearchRequest", "__version__", "open_index"]


def __getattr__(name: str) -> Any:
    """The API names of ``_LAZY``, imported when first asked for."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'closp_core' has no attribute {name!r}")
