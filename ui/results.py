"""Running the search of the state (``closp_core.search``) and showing its results: summary,
gallery, downloads."""

from __future__ import annotations

import time
from collections.abc import Sequence

import streamlit as st

from closp_core.feedback import FeedbackLabels
from closp_core.search import SearchOutcome, search
from closp_core.search.export import hits_csv, hits_geojson
from closp_core.store import Hit
from ui import feedback, session
from ui.mapview import LAST_POINT
from ui.previews import composite_for, preview_bytes
from ui.query import DEFAULT_TEXT_WEIGHT, request_for
from ui.resources import AppContext
from ui.state import SearchState
from ui.text import md

_MEMO = "s_search_memo"
GALLERY_COLUMNS = 6
# Thumbnails drawn at first: the browser draws 50 cards (image, caption, three buttons) in
# ~0.3 s on 2 cores, and the map's overlays wait for it; the map holds every result anyway.
GALLERY_FIRST = 2 * GALLERY_COLUMNS
_GALLERY_ALL = "s_gallery_all"
_SCROLL_PENDING = "s_scroll_to_map"  # set by "Open": when it was pressed (ns, a nonce)
# Brings the map into the window (the gallery is below it): the page's own script, no outside
# text in it; the nonce makes each opening a new element, so the script runs once per "Open".
_SCROLL_TO_MAP = """<script>/* open {n} */
(() => {{
    const maps = document.querySelectorAll("iframe[title='streamlit_folium.st_folium']");
    if (maps.length) maps[maps.length - 1].scrollIntoView({{behavior: "smooth", block: "center"}});
}})();
</script>"""
W_TEXT_WEIGHT = "w_text_weight"  # "Near here": the text's share (GeoCLOSP only)


def run_search(ctx: AppContext, state: SearchState, labels: FeedbackLabels) -> SearchOutcome | None:
    """Search once per distinct state, text weight and index size (memoised in the session:
    chips added by a running job show up at the next rerun) through
    ``closp_core.search.search``; ``None`` with neither a query nor a 👍 chip."""
    if ctx.store is None or ctx.embedder is None:
        return None
    weight = float(st.session_state.get(W_TEXT_WEIGHT, DEFAULT_TEXT_WEIGHT))
    key = (state.search_key(), weight, ctx.store.count())
    memo = st.session_state.get(_MEMO)
    if memo is not None and memo[0] == key:
        return memo[1]
    request = request_for(state, labels, text_weight=weight, with_near=ctx.has_location_encoder)
    if not request.has_query:
        return None
    outcome = search(ctx.store, request, ctx.embedder)
    st.session_state[_MEMO] = (key, outcome)
    return outcome


def summary(outcome: SearchOutcome) -> None:
    """One line: how many results, for what, and the timings."""
    st.markdown(
        f"**{len(outcome.hits)} results** for {md(outcome.title)} · "
        f"query encoded in {outcome.encode_ms:.0f} ms · search call {outcome.search_ms:.1f} ms"
    )
    if outcome.note:
        st.caption(md(outcome.note))


def _select(key: str) -> None:
    """ "Open" under a thumbnail: the chip's details, and the map goes to it (and into view)."""
    st.session_state[session.PICKED_ON_MAP] = None
    session.update(selected=key)
    st.session_state[_SCROLL_PENDING] = time.monotonic_ns()


def _scroll_to_map() -> None:
    """After an "Open" in the gallery, scroll the map into the window once."""
    nonce = st.session_state.pop(_SCROLL_PENDING, None)
    if nonce is not None:
        st.html(_SCROLL_TO_MAP.format(n=int(nonce)), unsafe_allow_javascript=True)


def gallery(
    ctx: AppContext, hits: Sequence[Hit], state: SearchState, labels: FeedbackLabels
) -> None:
    """Thumbnails of the results, best first; "Open" shows a chip's details, 👍 / 👎 mark it.
    The first ``GALLERY_FIRST``, and all of them once asked for (for the rest of the session)."""
    _scroll_to_map()
    data_dir = str(ctx.settings.data_dir)
    shown = len(hits) if st.session_state.get(_GALLERY_ALL) else min(len(hits), GALLERY_FIRST)
    for start in range(0, shown, GALLERY_COLUMNS):
        columns = st.columns(GALLERY_COLUMNS)
        for rank, (column, hit) in enumerate(
            zip(columns, hits[start : min(shown, start + GALLERY_COLUMNS)], strict=False),
            start=start + 1,
        ):
            rec = hit.record
            image = preview_bytes(
                data_dir, rec.previews.get(composite_for(rec, state.composite), "")
            )
            with column:
                if image is not None:
                    st.image(image, width="stretch")
                else:
                    st.caption("preview unavailable")
                date = rec.acquired.date().isoformat() if rec.acquired else "?"
                # the mark on a line of its own, always there: marking never re-wraps a card
                st.caption(
                    f"#{rank} · {hit.score:.3f} · {rec.sensor.name} · {date}  \n"
                    + feedback.mark_line(rec.key, labels)
                )
                st.button(
                    "Open",
                    key=f"open_{rank}",
                    on_click=_select,
                    args=(rec.key,),
                    type="primary" if rec.key == state.selected else "secondary",
                    width="stretch",
                )
                feedback.buttons(rec.key, labels, where=f"g{rank}")
    if len(hits) > GALLERY_FIRST:
        everything = bool(st.session_state.get(_GALLERY_ALL))
        st.button(
            f"Show the first {GALLERY_FIRST} thumbnails"
            if everything
            else f"Show all {len(hits)} thumbnails",
            key="gallery_all",
            on_click=_toggle_gallery,
        )


def _toggle_gallery() -> None:
    st.session_state[_GALLERY_ALL] = not st.session_state.get(_GALLERY_ALL)


def downloads(hits: Sequence[Hit], labels: FeedbackLabels | None = None) -> None:
    """GeoJSON (footprints with properties) and CSV of the results (a ``label`` column with
    the 👍 / 👎 marks when there are labels)."""
    left, right = st.columns(2)
    left.download_button(
        "Download GeoJSON",
        hits_geojson(hits, labels),
        file_name="closp-results.geojson",
        mime="application/geo+json",
        key="dl_geojson",
        width="stretch",
    )
    right.download_button(
        "Download CSV",
        hits_csv(hits, labels),
        file_name="closp-results.csv",
        mime="text/csv",
        key="dl_csv",
        width="stretch",
    )


def near_here_controls(ctx: AppContext, state: SearchState) -> None:
    """GeoCLOSP only: search near the last clicked map point, blended with the text."""
    if not ctx.has_location_encoder:
        return
    point = st.session_state.get(LAST_POINT)
    st.slider("Near here: text weight", 0.0, 1.0, DEFAULT_TEXT_WEIGHT, 0.1, key=W_TEXT_WEIGHT)
    if st.button("Near here", disabled=point is None, key="near_here", help="Click the map first"):
        session.update(near=point, like=None)
        st.rerun()
    if state.near and st.button("Clear “Near here”", key="clear_near"):
        session.update(near=None)
        st.rerun()
