"""Running a search for the state and showing its results: summary, gallery, downloads."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np
import streamlit as st

from closp_core.errors import ClospError
from closp_core.feedback import FeedbackLabels, rerank
from closp_core.store import Hit
from ui import feedback, session
from ui.export import hits_csv, hits_geojson
from ui.mapview import LAST_POINT
from ui.previews import composite_for, preview_bytes
from ui.query import DEFAULT_TEXT_WEIGHT, blend_near, filters_for
from ui.resources import AppContext, encode_query
from ui.state import SearchState
from ui.text import md

_MEMO = "s_search_memo"
GALLERY_COLUMNS = 6
# Thumbnails drawn at first: the browser draws 50 cards (image, caption, three buttons) in
# ~0.3 s on 2 cores, and the map's overlays wait for it; the map holds every result anyway.
GALLERY_FIRST = 2 * GALLERY_COLUMNS
_GALLERY_ALL = "s_gallery_all"


@dataclasses.dataclass(frozen=True)
class SearchOutcome:
    """Hits of one search, what was searched for, how long the two steps took, and (with
    👍 / 👎 labels) how the labels ranked it."""

    hits: list[Hit]
    title: str
    encode_ms: float
    search_ms: float
    note: str = ""


def query_vector(ctx: AppContext, state: SearchState) -> tuple[np.ndarray, str] | None:
    """The query vector and a title for it: "More like this", "Near here" or the text."""
    if ctx.embedder is None or ctx.store is None:
        return None
    if state.like:
        found = ctx.store.get([state.like], with_vectors=True)
        if not found or found[0].vector is None:
            raise ClospError(f"chip {state.like!r} is not in the index; clear 'More like this'")
        return found[0].vector, f"chips like {state.like}"
    text = encode_query(ctx.embedder, ctx.embedder.model_id, state.query) if state.query else None
    if state.near and ctx.has_location_encoder:
        lon, lat = state.near
        location = ctx.embedder.encode_locations(np.array([[lon, lat]]))[0]
        weight = float(st.session_state.get("w_text_weight", DEFAULT_TEXT_WEIGHT))
        about = f"“{state.query}” " if state.query else ""
        return blend_near(text, location, weight), f"{about}near {lat:.3f}, {lon:.3f}"
    if text is None:
        return None
    return text, f"“{state.query}”"


def run_search(ctx: AppContext, state: SearchState, labels: FeedbackLabels) -> SearchOutcome | None:
    """Search once per distinct state and index size (memoised in the session: chips added by
    a running job show up at the next rerun); ``None`` with neither a query nor a 👍 chip.
    With labels, ``closp_core.feedback.rerank`` ranks (Rocchio, then a classifier)."""
    key = (state.search_key(), ctx.store.count() if ctx.store is not None else 0)
    memo = st.session_state.get(_MEMO)
    if memo is not None and memo[0] == key:
        return memo[1]
    start = time.perf_counter()
    found = query_vector(ctx, state)
    if ctx.store is None or (found is None and not labels.positive):
        return None
    vector, title = found if found is not None else (None, "the chips marked relevant")
    encoded = time.perf_counter()
    filters = filters_for(state)
    note = ""
    if labels:
        result = rerank(
            ctx.store,
            labels,
            vector,
            filters=filters,
            limit=state.limit,
            hide_labelled=state.hide_labelled,
        )
        hits, note = list(result.hits), result.note
    elif vector is not None:
        hits = ctx.store.search(vector, limit=state.limit, filters=filters)
    else:
        return None
    done = time.perf_counter()
    outcome = SearchOutcome(hits, title, (encoded - start) * 1e3, (done - encoded) * 1e3, note)
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
    session.update(selected=key)


def gallery(
    ctx: AppContext, hits: Sequence[Hit], state: SearchState, labels: FeedbackLabels
) -> None:
    """Thumbnails of the results, best first; "Open" shows a chip's details, 👍 / 👎 mark it.
    The first ``GALLERY_FIRST``, and all of them once asked for (for the rest of the session)."""
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
                st.caption(
                    f"#{rank} · {hit.score:.3f} · {rec.sensor.name} · {date}"
                    + feedback.caption(rec.key, labels)
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
    st.slider("Near here: text weight", 0.0, 1.0, DEFAULT_TEXT_WEIGHT, 0.1, key="w_text_weight")
    if st.button("Near here", disabled=point is None, key="near_here", help="Click the map first"):
        session.update(near=point, like=None)
        st.rerun()
    if state.near and st.button("Clear “Near here”", key="clear_near"):
        session.update(near=None)
        st.rerun()
