"""Explore: the collection on the map without a text query: filter, see where, open a chip."""

from __future__ import annotations

import streamlit as st

from closp_core.errors import ClospError
from closp_core.store import ChipRecord, SearchFilters
from ui import session
from ui.details import chip_details
from ui.maps import collection_layers, nearest_record, search_base_map
from ui.mapview import show_map
from ui.query import filters_for
from ui.resources import AppContext, chip_count, empty_index_prompt, explain, get_context

_MEMO = "s_explore_memo"


def browse(ctx: AppContext, filters: SearchFilters, most: int) -> list[ChipRecord]:
    """Up to ``most`` chips matching ``filters`` (memoised per filters in the session)."""
    memo = st.session_state.get(_MEMO)
    if memo is not None and memo[0] == (filters, most):
        return memo[1]
    assert ctx.store is not None
    records: list[ChipRecord] = []
    cursor: str | None = None
    while len(records) < most:
        page = ctx.store.browse(filters, limit=min(1000, most - len(records)), cursor=cursor)
        records.extend(page.records)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    st.session_state[_MEMO] = ((filters, most), records)
    return records


def page() -> None:
    ctx = get_context()
    if ctx.store is None:
        return
    if chip_count(ctx) == 0:
        if ctx.embedder is not None:
            empty_index_prompt(ctx)
        return
    state = session.current_state()
    st.subheader("Explore the collection")
    most = st.slider("Chips on the map (at most)", 100, 5000, 1000, step=100, key="w_explore_max")
    try:
        filters = filters_for(state)
        total = ctx.store.count(filters)
        records = browse(ctx, filters, most)
    except ClospError as exc:
        st.error(explain(exc, ctx.settings))
        return
    st.caption(
        f"{total} chips match the filters; {len(records)} on the map, clustered "
        "(red: event labels). Click a point to open the chip."
    )
    selected = ctx.store.get([state.selected]) if state.selected else []
    map_col, side_col = st.columns([3, 2], gap="medium")
    with map_col:
        layers = collection_layers(
            records,
            state,
            selected[0] if selected else None,
            ctx.settings.data_dir,
            fit_key=None if (state.in_view or selected) else f"{state.search_id()}-{most}",
        )
        anchor = state.view if (state.in_view or selected) else st.session_state.get(session.ANCHOR)
        show_map(
            search_base_map(state),
            layers,
            state,
            key="explore_map",
            pick=lambda lon, lat: nearest_record(records, lon, lat),
            anchor=anchor,
        )
    with side_col:
        if selected:
            chip_details(ctx, selected[0].key)
        else:
            st.dataframe(
                [
                    {
                        "sensor": r.sensor.name,
                        "acquired": r.acquired.date().isoformat() if r.acquired else "",
                        "scene": r.scene_id or "",
                        "labels": ", ".join(r.labels),
                        "source": r.source,
                        "key": r.key,
                    }
                    for r in records[:500]
                ],
                hide_index=True,
                width="stretch",
                height=520,
            )


page()
