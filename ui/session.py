"""The search state in ``st.session_state`` and in the URL (``st.query_params``).

Widgets own their session-state keys (``W_*``); the rest of the state (drawn area, map view,
selected chip, "More like this", "Near here") lives under ``S_*`` keys. On a session's first
run the URL fills both, so opening a copied URL restores the same search; after every run the
URL is rewritten from the state.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from ui.state import (
    BY_NAME,
    FIELDS,
    SearchState,
    clean_query,
    dropped_params,
    from_params,
    to_params,
)

# The widgets' keys (the sidebar and the pages draw their inputs with these)
W_QUERY = BY_NAME["query"].key
W_EVENTS = BY_NAME["events"].key
W_COVER = BY_NAME["land_cover"].key
W_SENSOR = BY_NAME["sensor"].key
W_FROM = BY_NAME["date_from"].key
W_TO = BY_NAME["date_to"].key
W_LIMIT = BY_NAME["limit"].key
W_IN_VIEW = BY_NAME["in_view"].key
W_COMPOSITE = BY_NAME["composite"].key
W_BASEMAP = BY_NAME["basemap"].key
W_HIDE_LABELLED = BY_NAME["hide_labelled"].key
W_MODE = BY_NAME["mode"].key
W_EVENT_DATE = BY_NAME["event_date"].key
W_SCORE_COMBINE = BY_NAME["score_combine"].key
WIDGETS = {field.key: field.name for field in FIELDS if field.widget}
OTHERS = {field.key: field.name for field in FIELDS if not field.widget}
_LIST_FIELDS = {field.name for field in FIELDS if field.widget and field.codec.repeated}
_INIT = "s_initialised"
ANCHOR = "s_anchor"
DRAWN = "s_drawn"  # the shape the map last reported (None once its trash tool cleared it)
PICKED_ON_MAP = "s_picked_on_map"  # the chip last opened by a click on the map itself
UNDER_POINT = "s_under_point"  # keys of every chip under the last clicked map point
URL_NOTE = "s_url_note"  # what the opening link held that could not be used
AREA_CLEARED = "s_area_cleared"  # how often the sidebar cleared the area (the map follows)


def init_from_url() -> None:
    """First run of a session: the URL's search state into session state. Later runs: keep
    widget values alive across pages (Streamlit drops those of widgets not drawn)."""
    if not st.session_state.get(_INIT):
        params = {key: st.query_params.get_all(key) for key in st.query_params}
        state = from_params(params)
        dropped = dropped_params(params)
        st.session_state[URL_NOTE] = (
            f"Left out of the link, not valid: {', '.join(dropped)}." if dropped else None
        )
        for key, field in (WIDGETS | OTHERS).items():
            value = getattr(state, field)
            st.session_state[key] = list(value) if field in _LIST_FIELDS else value
        st.session_state[ANCHOR] = state.view  # the map opens where the URL says
        st.session_state[_INIT] = True
        return
    for key in WIDGETS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def current_state() -> SearchState:
    """The state as the widgets and the map left it."""
    values: dict[str, Any] = {}
    for key, field in (WIDGETS | OTHERS).items():
        if key in st.session_state:
            value = st.session_state[key]
            values[field] = tuple(value) if field in _LIST_FIELDS else value
    values["query"] = clean_query(values.get("query", ""))
    return dataclasses.replace(SearchState(), **values)


def update(**changes: Any) -> None:
    """Change non-widget parts of the state (``area``, ``view``, ``selected``, ``like``...)."""
    by_field = {field: key for key, field in OTHERS.items()}
    for field, value in changes.items():
        st.session_state[by_field[field]] = value


def write_url() -> None:
    """Rewrite the URL from the state (only when it changed)."""
    wanted = to_params(current_state())
    now = {key: st.query_params.get_all(key) for key in st.query_params}
    normalised = {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}
    if now != normalised:
        st.query_params.from_dict(wanted)
