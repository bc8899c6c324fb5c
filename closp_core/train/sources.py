"""The data-source registry moved to ``closp_core.sources`` (below training and evaluation).

Kept only for ``closp_core/train/data.py``'s import until it imports ``closp_core.sources``;
new code imports ``closp_core.sources``.
"""

from closp_core.sources import (
    ChipListSource,
    SamplesSource,
    build_source,
    known_kinds,
    register_source,
)

__all__ = ["ChipListSource", "SamplesSource", "build_source", "known_kinds", "register_source"]
