"""The details of one chip: all composites, metadata, footprint, "More like this"."""

from __future__ import annotations

import json

import streamlit as st

from closp_core.feedback import FeedbackLabels
from closp_core.render import COMPOSITES
from closp_core.search.export import chip_properties
from closp_core.store import ChipRecord
from ui import feedback, session
from ui.previews import preview_bytes
from ui.resources import AppContext
from ui.state import SearchState
from ui.text import md_code

COMPOSITE_NAMES = {
    "true_color": "True colour (B4, B3, B2)",
    "false_color": "False colour (B8, B4, B3)",
    "swir": "SWIR (B12, B8A, B4)",
    "sar": "SAR (VV, VH, VV−VH)",
}


def _more_like(key: str) -> None:
    session.update(like=key, near=None, selected=key, view=None)


def _close() -> None:
    session.update(selected=None, timeline=False, compare=None)


def _toggle_timeline(on: bool) -> None:
    session.update(timeline=on, compare=None)


def chip_details(
    ctx: AppContext,
    key: str,
    score: float | None = None,
    *,
    state: SearchState | None = None,
    labels: FeedbackLabels | None = None,
) -> None:
    """Everything about chip ``key``; "More like this" when a search is possible; with
    ``labels``, 👍 / 👎; with ``state``, its place over time."""
    if ctx.store is None:
        return
    found = ctx.store.get([key])
    if not found:
        st.warning(f"Chip {md_code(key)} is not in the index.")
        return
    record = found[0]
    head, close = st.columns([5, 1])
    head.subheader("Chip details")
    close.button("✕", key="close_details", on_click=_close, help="Close the details")
    _composites(ctx, record)
    if labels is not None:
        feedback.buttons(record.key, labels, where="details")
    if ctx.embedder is not None:
        st.button(
            "More like this",
            key="more_like_this",
            on_click=_more_like,
            args=(record.key,),
            type="primary",
            help="Search with this chip's own embedding as the query",
        )
    if state is not None:
        st.button(
            "Hide the place over time" if state.timeline else "Same place over time",
            key="timeline_toggle",
            on_click=_toggle_timeline,
            args=(not state.timeline,),
            help="Every chip of either sensor covering this place, by date; compare two",
        )
    props = chip_properties(record, score, feedback=labels)
    st.dataframe(
        {"field": list(props), "value": ["" if v is None else str(v) for v in props.values()]},
        hide_index=True,
        width="stretch",
    )
    if record.footprint is not None:
        with st.expander("Footprint (GeoJSON, WGS84)"):
            st.code(json.dumps(record.footprint.to_geojson()), language="json")


def _composites(ctx: AppContext, record: ChipRecord) -> None:
    names = [n for n in COMPOSITES[record.sensor] if n in record.previews]
    if not names:
        st.caption("No preview images for this chip.")
        return
    columns = st.columns(len(names))
    for column, name in zip(columns, names, strict=True):
        image = preview_bytes(str(ctx.settings.data_dir), record.previews[name])
        caption = COMPOSITE_NAMES.get(name, name)
        if image is not None:
            column.image(image, caption=caption, width="stretch")
        else:
            column.caption(f"{caption}: preview unavailable (missing or unreadable file)")
