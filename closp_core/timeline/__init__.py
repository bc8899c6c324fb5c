"""A place over time and change search.

- ``place``: ``same_place(store, record)`` (the chips of either sensor covering a chip, by
  date; overlap threshold documented there) and ``default_pair(records, date)``.
- ``change``: ``changed_into(store, query_vector, date, area, filters)`` -> ``ChangeResult``
  (places ranked by their change towards the query; a reason when there is none).
Footprint overlap: ``GeoPolygon.overlap_share`` (``closp_core.geo``).
"""

from __future__ import annotations

from closp_core.errors import TimelineError
from closp_core.timeline.change import (
    MIN_PAIRS_FOR_Z,
    SCORE_DELTA,
    SCORE_Z,
    ChangePair,
    ChangeReason,
    ChangeResult,
    changed_into,
)
from closp_core.timeline.place import DEFAULT_MIN_OVERLAP, PlaceChip, default_pair, same_place

__all__ = [
    "DEFAULT_MIN_OVERLAP",
    "MIN_PAIRS_FOR_Z",
    "SCORE_DELTA",
    "SCORE_Z",
    "ChangePair",
    "ChangeReason",
    "ChangeResult",
    "PlaceChip",
    "TimelineError",
    "changed_into",
    "default_pair",
    "same_place",
]
