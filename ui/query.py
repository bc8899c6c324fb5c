"""From a ``SearchState`` to the engine's ``SearchRequest`` (no Streamlit): the one place the
app's state becomes a search (``closp_core.search`` runs it; ``blend_near`` there says how
"Near here" mixes text and place)."""

from __future__ import annotations

from closp_core.bands import Sensor
from closp_core.feedback import FeedbackLabels
from closp_core.search import DEFAULT_TEXT_WEIGHT, SearchRequest
from closp_core.store import BBox, GeoPolygon, SearchFilters
from ui.state import SearchState

__all__ = ["DEFAULT_TEXT_WEIGHT", "filters_for", "request_for"]


def request_for(
    state: SearchState,
    marks: FeedbackLabels | None = None,
    *,
    text_weight: float = DEFAULT_TEXT_WEIGHT,
    with_near: bool = True,
    use_view: bool = True,
) -> SearchRequest:
    """The search of ``state`` with the session's 👍 / 👎 ``marks``.

    "More like this" (``state.like``) replaces the text and "Near here"; ``with_near``
    ``False`` (a model without a location encoder) leaves "Near here" out; ``use_view``
    ``False`` leaves out the map-view box. Raises ``SearchError`` / ``StoreInputError`` (both
    ``ClospError``) for invalid dates, boxes or polygons."""
    like = state.like or None
    return SearchRequest(
        text="" if like else state.query,
        like=like,
        near=state.near if (with_near and not like) else None,
        text_weight=text_weight,
        labels=state.labels,
        sensor=None if state.sensor == "both" else Sensor.parse(state.sensor),
        date_from=state.date_from,
        date_to=state.date_to,
        bbox=BBox(*state.bbox) if (use_view and state.in_view and state.bbox) else None,
        area=GeoPolygon(state.area) if state.area else None,
        marks=marks or FeedbackLabels(),
        hide_labelled=state.hide_labelled,
        limit=state.limit,
    )


def filters_for(state: SearchState, *, use_view: bool = True) -> SearchFilters:
    """The store filters of ``state``: labels (any of), sensor, dates, map view box, area."""
    return request_for(state, use_view=use_view).filters()
