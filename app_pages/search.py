"""Search: a text query (or "More like this" / "Near here"), filters, map, gallery, details."""

from __future__ import annotations

import streamlit as st
from folium.raster_layers import ImageOverlay

from closp_core.errors import ClospError
from closp_core.feedback import FeedbackLabels
from closp_core.store import Hit, VectorStore
from ui import change, feedback, ranking, scoremap, session, timeline
from ui.details import chip_details
from ui.maps import hits_at, results_layers, search_base_map
from ui.mapview import show_map
from ui.resources import AppContext, chip_count, empty_index_prompt, explain, get_context
from ui.results import downloads, gallery, near_here_controls, run_search, summary
from ui.state import MAX_QUERY_CHARS, SearchState
from ui.text import md_code

EXAMPLES = (
    "flooded fields next to a river",
    "farmland with crops",
    "coastal salt marsh and lagoon",
    "dense forest",
    "urban area with buildings",
)
COMPOSITE_LABELS = {"true_color": "True colour", "false_color": "False colour", "swir": "SWIR"}


def _use_example(text: str) -> None:
    st.session_state[session.W_QUERY] = text
    session.update(like=None, near=None, selected=None)


def _new_text_query() -> None:
    session.update(like=None, near=None, selected=None)


def query_box() -> None:
    """The query box (Enter searches) and one-click example queries."""
    st.text_input(
        "Describe what you are looking for",
        key=session.W_QUERY,
        max_chars=MAX_QUERY_CHARS,
        placeholder="e.g. flooded fields next to a river — then press Enter",
        on_change=_new_text_query,
    )
    columns = st.columns(len(EXAMPLES))
    for i, (column, text) in enumerate(zip(columns, EXAMPLES, strict=True)):
        column.button(
            text, key=f"example_{i}", on_click=_use_example, args=(text,), type="tertiary"
        )


def track_new_search(state: SearchState) -> None:
    """A new result list: forget the map view (the map fits the results) unless following it."""
    last = st.session_state.get("s_last_search")
    if last is not None and last != state.search_key():
        st.session_state[session.ANCHOR] = None
        if not state.in_view:
            session.update(view=None)
    st.session_state["s_last_search"] = state.search_key()


def _open_row() -> None:
    rows = st.session_state["result_table"].selection.rows
    hits = st.session_state.get("s_table_keys", [])
    if rows and rows[0] < len(hits):
        st.session_state[session.PICKED_ON_MAP] = None  # the map goes to the chip
        session.update(selected=hits[rows[0]])


def result_table(hits: list[Hit], labels: FeedbackLabels) -> None:
    """The results as a table; selecting a row opens the chip."""
    st.caption(
        "Click a footprint or a row, or “Open” under a thumbnail, to see a chip; thumbs up / "
        "down (under the thumbnails, in a footprint's popup, in the details) refine the ranking. "
        "Outline colours: blue = lowest score of this list … red = highest."
    )
    st.session_state["s_table_keys"] = [hit.key for hit in hits]
    st.dataframe(
        [
            {
                "#": rank,
                "score": round(hit.score, 3),
                "mark": feedback.caption(hit.key, labels).removeprefix(" · "),
                "sensor": hit.record.sensor.name,
                "date": hit.record.acquired.date().isoformat() if hit.record.acquired else "",
                "scene": hit.record.scene_id or "",
                "labels": ", ".join(hit.record.labels),
                "source": hit.record.source,
            }
            for rank, hit in enumerate(hits, start=1)
        ],
        hide_index=True,
        height=520,
        column_config={  # every column readable: labels and source are the long ones
            "#": st.column_config.NumberColumn(width="small"),
            "score": st.column_config.NumberColumn(width="small", format="%.3f"),
            "mark": st.column_config.TextColumn(width="small"),
            "sensor": st.column_config.TextColumn(width="small"),
            "date": st.column_config.TextColumn(width="small"),
            "scene": st.column_config.TextColumn(width="medium"),
            "labels": st.column_config.TextColumn(width="large"),
            "source": st.column_config.TextColumn(width="medium"),
        },
        key="result_table",
        on_select=_open_row,
        selection_mode="single-row",
    )


def pick_at(hits: list[Hit], lon: float, lat: float) -> str | None:
    """The chip a map click opens (the best under the point); all of them are kept for the
    side panel's "under this point" list."""
    keys = hits_at(hits, lon, lat)
    st.session_state[session.UNDER_POINT] = keys
    return keys[0] if keys else None


def under_point(state: SearchState, hits: list[Hit]) -> None:
    """Every chip under the last clicked point, when footprints overlap there (one opens)."""
    keys = st.session_state.get(session.UNDER_POINT) or []
    if len(keys) < 2 or state.selected not in keys:
        return
    by_key = {hit.key: hit for hit in hits}
    st.caption(f"{len(keys)} chips under this point:")
    for rank, key in enumerate(k for k in keys if k in by_key):
        rec = by_key[key].record
        when = rec.acquired.date().isoformat() if rec.acquired else "undated"
        st.button(
            f"{rec.sensor.name} · {when} · {by_key[key].score:.3f}",
            key=f"under_{rank}",
            on_click=session.update,
            kwargs={"selected": key},
            disabled=key == state.selected,
            help=key,
        )


@st.fragment
def results_map(
    ctx: AppContext,
    state: SearchState,
    hits: list[Hit],
    labels: FeedbackLabels,
    score_layer: ImageOverlay | None = None,
) -> None:
    """The results map. A fragment: panning or zooming (the map reports its view, and every
    new result list moves it once) reruns only this, not the page; anything else it reports
    reruns the page (``ui.mapview.show_map``)."""
    anchor = state.view if state.in_view else st.session_state.get(session.ANCHOR)
    fit_key = None if state.in_view else state.search_id()
    cleared = st.session_state.get(session.AREA_CLEARED, 0)
    picked = st.session_state.get(session.PICKED_ON_MAP)
    opened = state.selected if state.selected != picked else None  # a map click: in view
    layers = results_layers(
        hits,
        ctx.settings.data_dir,
        state,
        fit_key=fit_key,
        labels=labels,
        cleared=cleared,
        opened=opened,
        overlay=score_layer,
    )
    show_map(
        search_base_map(state),
        layers,
        state,
        key="results_map",
        pick=lambda lon, lat: pick_at(hits, lon, lat),
        anchor=anchor,
        on_mark=feedback.toggle,
    )


def results(
    ctx: AppContext,
    state: SearchState,
    hits: list[Hit],
    labels: FeedbackLabels,
    used: FeedbackLabels,
) -> None:
    """Map with the details/result list beside it, then downloads and the gallery. The map is
    there before the first query too (draw an area first, if you like), always at the same
    place in the page, so the browser keeps it and only swaps its result layers. ``labels``:
    the marks shown; ``used``: those the ranking used (``ui.ranking``)."""
    scores = {hit.key: hit.score for hit in hits}
    map_col, side_col = st.columns([3, 2], gap="medium")
    smap = scoremap.current_map(ctx, state, used) if state.score_map and hits else None
    with side_col:
        score_layer = score_map_panel(smap, state, hits, ctx.store)
    with map_col:
        st.radio(
            "S2 composite",
            list(COMPOSITE_LABELS),
            key=session.W_COMPOSITE,
            format_func=COMPOSITE_LABELS.__getitem__,
            horizontal=True,
            help="Sentinel-1 chips always show the SAR composite.",
        )
        results_map(ctx, state, hits, labels, score_layer)
    with side_col:
        if state.selected:
            under_point(state, hits)
            chip_details(
                ctx, state.selected, scores.get(state.selected), state=state, labels=labels
            )
        elif state.mode == "change" and hits:
            change.pairs_table(ctx, state)
        elif hits:
            result_table(hits, labels)
        near_here_controls(ctx, state)
    if state.selected and state.timeline:
        record = ctx.store.get([state.selected]) if ctx.store is not None else []
        if record:
            st.subheader("Same place over time")
            timeline.place_over_time(ctx, record[0], state)
    if state.mode == "change":
        change.change_downloads(ctx, state)
    elif hits:
        downloads(hits, labels)
    feedback.label_files(ctx, labels, state.query)
    if hits:
        if state.mode != "change":
            ranking.rerank_control(labels, used, "gallery")
        gallery(ctx, hits, state, labels)


def score_map_panel(
    smap: scoremap.ScoreMap | None, state: SearchState, hits: list[Hit], store: VectorStore | None
) -> ImageOverlay | None:
    """The score-map button and, when on, its controls, figures and downloads; the overlay."""
    if hits:
        label = "Hide the score map" if state.score_map else "Score every chip in view"
        st.button(label, key="score_map_button", on_click=session.update,
                  kwargs={"score_map": not state.score_map, "score_threshold": None},
                  help="Score every indexed chip in the map view (or drawn area) and draw "
                  "the scores as a grid, with a threshold and the area above it.")  # fmt: skip
    if smap is None:
        return None
    threshold = scoremap.threshold_of(state, smap)
    opacity = scoremap.controls(smap, state)
    scoremap.downloads(smap, threshold, store)
    return scoremap.overlay(smap, threshold, opacity)


def search_notice(
    ctx: AppContext, state: SearchState, labels: FeedbackLabels, used: FeedbackLabels
) -> list[Hit]:
    """Run the search (ranked with ``used``) and say what it gave (or what is missing) in one
    place; the hits."""
    feedback.notes()
    if state.mode == "change":
        return change.change_notice(ctx, state)
    if state.like:
        st.info(f"Showing chips like {md_code(state.like)} (its own embedding is the query).")
        st.button(
            "Back to the text search",
            key="clear_like",
            on_click=session.update,
            kwargs={"like": None},
        )
    try:
        outcome = run_search(ctx, state, used)
    except ClospError as exc:
        st.error(explain(exc, ctx.settings))
        return []
    if outcome is None:
        st.info("Type what you are looking for and press **Enter**, or pick an example above.")
        return []
    summary(outcome)
    if not outcome.hits:
        st.warning("No chip matches these filters. Remove some filters or the drawn area.")
    else:
        ranking.rerank_control(labels, used, "top")
    return outcome.hits


def page() -> None:
    ctx = get_context()
    if ctx.store is None or ctx.embedder is None:
        return  # app.py has shown what is missing
    if chip_count(ctx) == 0:
        empty_index_prompt(ctx)
        return
    query_box()
    state = session.current_state()
    labels = feedback.current_labels(ctx, state)
    state = session.current_state()  # the labels may have been made canonical
    state, used = ranking.ranked(state, labels)  # marks since the last re-rank wait for it
    track_new_search(state)
    with st.container():  # one slot, whatever it says: the map below keeps its place
        hits = search_notice(ctx, state, labels, used)
    results(ctx, state, hits, labels, used)


page()
