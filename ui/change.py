"""The "what changed into <text> after <date>" mode of the Search page (Streamlit glue over
``closp_core.timeline.changed_into``).

The query text, the event date (sidebar) and the area — the drawn one, else the map as last
shown — go to ``changed_into``: places with a chip before and after the date (same sensor),
ranked by how much more like the text they became (the engine's docstring says how). The map
shows each place's *after* chip; the table beside it lists before → after pairs, and picking a
row opens the pair in Compare. Exports carry the pair (before chip, dates, similarities).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import streamlit as st

from closp_core.errors import ClospError
from closp_core.search.export import hits_csv, hits_geojson
from closp_core.store import BBox, GeoPolygon, Hit
from closp_core.timeline import ChangePair, ChangeResult, changed_into
from ui import session
from ui.mapview import LAST_BOUNDS
from ui.query import filters_for
from ui.resources import AppContext, encode_query, explain
from ui.state import SearchState
from ui.text import md

_MEMO = "s_change_memo"


def change_area(state: SearchState) -> tuple[BBox | GeoPolygon | None, str]:
    """The area of a change search and how to say it: drawn, else the map view, else none."""
    if state.area:
        return GeoPolygon(state.area), "the drawn area"
    bounds = st.session_state.get(LAST_BOUNDS)
    if bounds:
        return BBox(*bounds), "the map view"
    return None, "anywhere (draw an area or move the map to narrow it)"


def run_change(ctx: AppContext, state: SearchState) -> tuple[ChangeResult, str] | None:
    """The change search of ``state`` (memoised per state, area and index size) and where it
    looked; ``None`` until there is a query and an event date."""
    if ctx.embedder is None or ctx.store is None or not state.query or not state.event_date:
        return None
    area, where = change_area(state)
    key = (state.search_key(), area, ctx.store.count())
    memo = st.session_state.get(_MEMO)
    if memo is not None and memo[0] == key:
        return memo[1]
    vector = encode_query(ctx.embedder, ctx.embedder.model_id, state.query)
    filters = filters_for(state, use_view=False)
    start = time.perf_counter()
    result = changed_into(ctx.store, vector, state.event_date, area, filters, limit=state.limit)
    elapsed = (time.perf_counter() - start) * 1e3
    found = (result, f"{where}, {elapsed:.0f} ms")
    st.session_state[_MEMO] = (key, found)
    return found


def change_notice(ctx: AppContext, state: SearchState) -> list[Hit]:
    """Run the change search and say what it found (or why nothing); the after chips."""
    if not state.event_date:
        st.info("Pick the event date in the sidebar, type what the places changed into, Enter.")
        return []
    if not state.query:
        st.info("Type what the places changed into (e.g. “flooded area”) and press **Enter**.")
        return []
    try:
        found = run_change(ctx, state)
    except ClospError as exc:
        st.error(explain(exc, ctx.settings))
        return []
    if found is None:
        return []
    result, where = found
    if not result.pairs:
        st.warning(md(result.message))
        return []
    st.markdown(
        f"**{len(result.pairs)} places** changed into “{md(state.query)}” after "
        f"{state.event_date:%Y-%m-%d} · {md(where)}"
    )
    st.caption(md(result.message))
    return list(result.as_hits())


def _open_pair(pairs: Sequence[ChangePair]) -> None:
    rows = st.session_state["change_table"].selection.rows
    if rows and rows[0] < len(pairs):
        pair = pairs[rows[0]]
        session.update(selected=pair.after.key, timeline=True, compare=(pair.before.key, pair.key))


def pairs_table(ctx: AppContext, state: SearchState) -> None:
    """The before -> after pairs; picking one opens it in Compare."""
    found = run_change(ctx, state)
    if found is None:
        return
    pairs = found[0].pairs
    st.caption("Each place before and after the date. Pick a row to compare the two.")
    st.dataframe(
        [
            {
                "#": rank,
                "score": round(p.score, 3),
                "change": round(p.delta, 3),
                "sensor": p.after.sensor.name,
                "before": p.before.acquired.date().isoformat() if p.before.acquired else "",
                "after": p.after.acquired.date().isoformat() if p.after.acquired else "",
                "labels after": ", ".join(p.after.labels),
            }
            for rank, p in enumerate(pairs, start=1)
        ],
        hide_index=True,
        height=420,
        key="change_table",
        on_select=lambda: _open_pair(pairs),
        selection_mode="single-row",
    )


def pair_extras(pairs: Sequence[ChangePair]) -> list[dict[str, Any]]:
    """Export properties of each pair (the before chip, dates, similarities)."""
    return [
        {
            "before_key": p.before.key,
            "before_acquired": p.before.acquired.isoformat() if p.before.acquired else None,
            "sim_before": round(p.sim_before, 6),
            "sim_after": round(p.sim_after, 6),
            "change": round(p.delta, 6),
            "overlap": round(p.overlap, 3),
        }
        for p in pairs
    ]


def change_downloads(ctx: AppContext, state: SearchState) -> None:
    """The pairs as GeoJSON / CSV: the after chip's footprint and properties, and the pair's."""
    found = run_change(ctx, state)
    if found is None or not found[0].pairs:
        return
    result = found[0]
    hits, extras = list(result.as_hits()), pair_extras(result.pairs)
    left, right = st.columns(2)
    left.download_button(
        "Download changes (GeoJSON)",
        hits_geojson(hits, extra=extras),
        file_name="closp-changes.geojson",
        mime="application/geo+json",
        key="dl_change_geojson",
        width="stretch",
    )
    right.download_button(
        "Download changes (CSV)",
        hits_csv(hits, extra=extras),
        file_name="closp-changes.csv",
        mime="text/csv",
        key="dl_change_csv",
        width="stretch",
    )
