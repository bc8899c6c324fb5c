"""From a ``SearchState`` to what the store takes: filters and the query vector (no Streamlit).

"Near here" (GeoCLOSP only) is our design; the paper does not publish how location is used at
query time. GeoCLOSP aligns each image embedding with the text of its labels *and* with the
location embedding of its centre, so both a text vector ``t`` and a location vector ``l`` point
towards the chips they describe. The query is their weighted sum, re-normalised:
``q = normalise(w * t + (1 - w) * l)`` with ``w`` = ``text_weight`` (0.5 by default; 1 = text
only, 0 = place only). Without text, ``q = l``: "chips that look like they are from here".
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from closp_core.bands import Sensor
from closp_core.errors import ClospError
from closp_core.store import BBox, GeoPolygon, SearchFilters, TimeRange
from ui.state import SearchState

DEFAULT_TEXT_WEIGHT = 0.5


def filters_for(state: SearchState, *, use_view: bool = True) -> SearchFilters:
    """The store filters of ``state``: labels (any of), sensor, dates, map view box, area.

    Raises ``StoreInputError`` (a ``ClospError``) for an invalid box or polygon."""
    sensor = None if state.sensor == "both" else Sensor.parse(state.sensor)
    time = None
    if state.date_from or state.date_to:
        start = _day_start(state.date_from) if state.date_from else None
        end = (
            _day_start(state.date_to) + dt.timedelta(days=1, microseconds=-1)
            if state.date_to
            else None
        )
        time = TimeRange(start, end)
    bbox = BBox(*state.bbox) if (use_view and state.in_view and state.bbox) else None
    polygon = GeoPolygon(state.area) if state.area else None
    return SearchFilters(labels=state.labels, sensor=sensor, time=time, bbox=bbox, polygon=polygon)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def blend_near(
    text_vector: np.ndarray | None, location_vector: np.ndarray, text_weight: float
) -> np.ndarray:
    """``normalise(w * text + (1 - w) * location)``; the location alone when there is no text.

    Both inputs are ``(384,)`` unit vectors; returns a ``(384,) float32`` unit vector."""
    if not 0.0 <= text_weight <= 1.0:
        raise ClospError(f"text weight must be between 0 and 1, got {text_weight}")
    loc = np.asarray(location_vector, dtype=np.float32)
    mixed = (
        loc
        if text_vector is None
        else (text_weight * np.asarray(text_vector, dtype=np.float32) + (1.0 - text_weight) * loc)
    )
    norm = float(np.linalg.norm(mixed))
    if not np.isfinite(norm) or norm == 0.0:
        raise ClospError("the text and location vectors cancel out; change the text weight")
    return (mixed / norm).astype(np.float32)
