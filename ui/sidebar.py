"""The shared sidebar: filters for the Search and Explore pages (drawn once, by ``app.py``)."""

from __future__ import annotations

import streamlit as st

from closp_core.bands import Sensor
from closp_core.labels import EVENT_LABELS, LAND_COVER_LABELS
from ui import session
from ui.dates import first_day, range_text, sentinel_date
from ui.state import BASEMAPS, BY_NAME, MAX_RESULTS, MODES, SENSORS

MODE_NAMES = {"find": "Find chips like the query", "change": "What changed after a date"}
SENSOR_NAMES = {"both": "SAR + optical", "s1": "SAR (Sentinel-1)", "s2": "Optical (Sentinel-2)"}
BASEMAP_NAMES = {
    "offline": "Countries (offline)",
    "osm": "OpenStreetMap (online)",
    "esri": "Esri World Imagery (online)",
}


def _clear_area() -> None:
    """The sidebar's clear: the filter, and (``ui.maps.ClearDrawings``) the shape on the map.
    ``session.DRAWN`` keeps the shape: the map reports its old drawings until the next draw,
    and a report of the shape it already had must not bring the area back
    (``ui.mapview.area_change``)."""
    session.update(area=None)
    st.session_state[session.AREA_CLEARED] = st.session_state.get(session.AREA_CLEARED, 0) + 1


def _clear_view_filter() -> None:
    session.update(bbox=None)


def filters(*, show_limit: bool = True) -> None:
    """Search mode, then event type, land cover, sensor, dates, result count, map area,
    basemap."""
    with st.sidebar:
        if show_limit:  # the Search page
            search_mode()
        st.header("Filters")
        st.multiselect(
            "Event type",
            EVENT_LABELS,
            key=session.W_EVENTS,
            placeholder="Any event",
            help="Crisis labels. A chip matches if it carries any selected label.",
        )
        st.multiselect(
            "Land cover",
            LAND_COVER_LABELS,
            key=session.W_COVER,
            placeholder="Any land cover",
            help="The nine Dynamic World classes (any of them, combined with the events).",
        )
        st.radio("Sensor", SENSORS, key=session.W_SENSOR, format_func=SENSOR_NAMES.__getitem__)
        left, right = st.columns(2)
        sentinel_date("From", key=session.W_FROM, container=left)
        sentinel_date("To", key=session.W_TO, container=right)
        st.caption(f"Dates: {range_text()}; Sentinel-2 from {first_day(Sensor.S2)}.")
        if show_limit:
            st.slider("Number of results", 1, MAX_RESULTS, key=session.W_LIMIT)
        st.checkbox(
            "Only in the map view",
            key=session.W_IN_VIEW,
            on_change=_clear_view_filter,
            help="Keep only chips whose centre is inside the map as it is shown now.",
        )
        area = st.session_state.get(BY_NAME["area"].key)
        if area:
            st.caption(f"Search area: a drawn shape with {len(area) - 1} corners.")
            st.button("Clear the drawn area", on_click=_clear_area, key="clear_area")
        else:
            st.caption("Draw a rectangle or polygon on the map to search inside it.")
        st.selectbox(
            "Basemap", BASEMAPS, key=session.W_BASEMAP, format_func=BASEMAP_NAMES.__getitem__
        )
        if show_limit:
            st.checkbox(
                "Hide the chips I marked",
                key=session.W_HIDE_LABELLED,
                help="Keep your labels for the ranking, but show only chips not labelled yet.",
            )


def search_mode() -> None:
    """Find chips like the query, or places that changed into it after an event date."""
    st.radio(
        "Search",
        MODES,
        key=session.W_MODE,
        format_func=MODE_NAMES.__getitem__,
        help="“What changed”: places seen before and after the date, ranked by how much more "
        "like your text they became.",
    )
    if st.session_state.get(session.W_MODE) == "change":
        sentinel_date("Event date", key=session.W_EVENT_DATE)
