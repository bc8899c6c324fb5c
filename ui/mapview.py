"""``st_folium`` glue: show a map, read back view, drawn area and clicks into the search state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import folium
import streamlit as st
from streamlit_folium import st_folium

from ui import session
from ui.maps import Layers
from ui.state import LonLat, SearchState

RETURNED = ["last_object_clicked", "last_clicked", "all_drawings", "bounds", "zoom", "center"]
_HANDLED_CLICK = "s_handled_click"
_HANDLED_POINT = "s_handled_point"
_HANDLED_MARK = "s_handled_mark"
LAST_POINT = "s_last_point"  # (lon, lat) of the last click anywhere on the map ("Near here")
LAST_BOUNDS = "s_last_bounds"  # (west, south, east, north) of the map as last shown


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def bounds_to_bbox(bounds: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """Leaflet bounds -> ``(west, south, east, north)`` clamped to valid degrees."""
    try:
        sw, ne = bounds["_southWest"], bounds["_northEast"]
        west, east = _clamp(sw["lng"], -180, 180), _clamp(ne["lng"], -180, 180)
        south, north = _clamp(sw["lat"], -90, 90), _clamp(ne["lat"], -90, 90)
    except (KeyError, TypeError):
        return None
    if west >= east or south >= north:
        return None
    return round(west, 5), round(south, 5), round(east, 5), round(north, 5)


def _moved(old: tuple[float, ...] | None, new: tuple[float, ...]) -> bool:
    return old is None or any(abs(a - b) > 1e-4 for a, b in zip(old, new, strict=True))


def drawn_area(drawings: list[dict[str, Any]] | None) -> tuple[LonLat, ...] | None:
    """The ring of the last drawn rectangle/polygon, or ``None``."""
    for drawing in reversed(drawings or []):
        geometry = drawing.get("geometry") or {}
        if geometry.get("type") == "Polygon" and geometry.get("coordinates"):
            return tuple((round(p[0], 5), round(p[1], 5)) for p in geometry["coordinates"][0])
    return None


def area_change(
    drawings: list[dict[str, Any]] | None, drawn: tuple[LonLat, ...] | None, state: SearchState
) -> tuple[tuple[LonLat, ...] | None, tuple[LonLat, ...] | bool | None]:
    """(what the map now has drawn, the new search area or ``False`` for no change) from the
    map's ``all_drawings`` and what it had drawn before (``drawn``):

    - a new shape becomes the area (unless the sidebar cleared it: it never comes back);
    - the map's trash tool (no shape left where one was) clears the area it had set;
    - an area that came from a share link stays while the map has drawn nothing."""
    area = drawn_area(drawings)
    if area is not None:
        return area, (area if area not in (state.area, drawn) else False)
    if drawings is not None and drawn is not None:
        return None, (None if state.area == drawn else False)
    return drawn, False


def show_map(
    fmap: folium.Map,
    layers: Layers,
    state: SearchState,
    *,
    key: str,
    pick: Callable[[float, float], str | None],
    anchor: tuple[float, float, int] | None,
    height: int = 560,
    on_mark: Callable[[str, int], None] | None = None,
) -> None:
    """Draw ``fmap`` with ``layers`` in it and fold what comes back into the state; reruns
    when results change. ``fmap`` must not depend on results: the browser keeps the map it has
    and swaps ``layers`` in place whenever they change (streamlit-folium's dynamic layers).

    ``pick(lon, lat)`` maps a click on a shape to a chip key. ``anchor``: a view (lat, lon,
    zoom) to put the map at instead of where it fits itself (a restored URL, "only in the map
    view"); the browser applies it only when it changes, so keep passing the same one.
    ``on_mark(key, value)``: a 👍 / 👎 clicked in a popup (``ui.maps.MarkButtons``)."""
    view = anchor
    layers.scripts_only = True  # the scripts st_folium builds, without folium's HTML page
    out = st_folium(
        fmap,
        key=key,
        feature_group_to_add=layers,
        height=height,
        use_container_width=True,
        returned_objects=RETURNED,
        center=(view[0], view[1]) if view else None,
        zoom=view[2] if view else None,
    )
    if not out or out.get("center") is None:  # nothing reported by the browser yet
        return
    mark = out.get("closp_mark")
    if on_mark is not None and _new_mark(mark):
        on_mark(str(mark["key"]), int(mark["value"]))
        st.rerun()
    changes = _changes(out, state, pick)
    new_point = changes.pop("point", False)
    if changes:
        session.update(**changes)
    if new_point or set(changes) - {"view"}:
        st.rerun(scope="app")  # results, the side panel or "Near here" depend on it
    if changes:
        session.write_url()  # a view change alone: only the map's fragment (if any) reran


def _new_mark(mark: Any) -> bool:
    """A 👍 / 👎 click from a popup not handled yet (well formed: key text, value +/-1)."""
    if not isinstance(mark, dict) or mark.get("n") == st.session_state.get(_HANDLED_MARK):
        return False
    st.session_state[_HANDLED_MARK] = mark.get("n")
    return isinstance(mark.get("key"), str) and mark.get("value") in (1, -1)


def _changes(
    out: dict[str, Any], state: SearchState, pick: Callable[[float, float], str | None]
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    center, zoom = out.get("center") or {}, out.get("zoom")
    if "lat" in center and zoom is not None:
        view = (round(center["lat"], 5), round(center["lng"], 5), int(zoom))
        if _moved(state.view, view):
            changes["view"] = view
    bbox = bounds_to_bbox(out.get("bounds") or {})
    if bbox is not None:
        st.session_state[LAST_BOUNDS] = bbox
    if state.in_view and bbox is not None and _moved(state.bbox, bbox):
        changes["bbox"] = bbox
    drawn, area = area_change(out.get("all_drawings"), st.session_state.get(session.DRAWN), state)
    st.session_state[session.DRAWN] = drawn
    if area is not False:
        changes["area"] = area
    clicked = out.get("last_object_clicked")
    if clicked and clicked != st.session_state.get(_HANDLED_CLICK):
        st.session_state[_HANDLED_CLICK] = clicked
        chip = pick(clicked["lng"], clicked["lat"])
        if chip is not None and chip != state.selected:
            changes["selected"] = chip
            st.session_state[session.PICKED_ON_MAP] = chip  # already in view: no jump, no outline
    point = out.get("last_clicked")
    if point and point != st.session_state.get(_HANDLED_POINT):
        st.session_state[_HANDLED_POINT] = point
        st.session_state[LAST_POINT] = (round(point["lng"], 5), round(point["lat"], 5))
        changes["point"] = True
    return changes
