"""CLOSP search: the web app. ``streamlit run app.py`` (or ``make run``).

Page config, the shared sidebar (filters for Search and Explore), the status line and the
navigation over ``app_pages/``; the search state is restored from and written back to the URL.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

st.set_page_config(
    page_title="CLOSP search — Sentinel-1 & Sentinel-2",
    page_icon=str(Path(__file__).parent / "static" / "favicon.png"),
    layout="wide",
)

from ui import session, sidebar  # noqa: E402  (after set_page_config)
from ui.resources import get_context, show_problems, status_line  # noqa: E402

PAGES = [
    st.Page("app_pages/search.py", title="Search", icon=":material/search:", default=True),
    st.Page("app_pages/explore.py", title="Explore", icon=":material/map:", url_path="explore"),
    st.Page(
        "app_pages/collection.py",
        title="Collection",
        icon=":material/bar_chart:",
        url_path="collection",
    ),
    st.Page(
        "app_pages/add_imagery.py",
        title="Add imagery",
        icon=":material/add_photo_alternate:",
        url_path="add",
    ),
    st.Page("app_pages/about.py", title="About", icon=":material/info:", url_path="about"),
]

session.init_from_url()
page = st.navigation(PAGES)
ctx = get_context()
status_line(ctx)
show_problems(ctx)
if st.session_state.get(session.URL_NOTE):
    st.warning(st.session_state[session.URL_NOTE])
if page.title in ("Search", "Explore"):
    sidebar.filters(show_limit=page.title == "Search")
page.run()
session.write_url()
