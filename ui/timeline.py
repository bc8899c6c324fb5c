"""A place over time and Compare (Streamlit glue over ``closp_core.timeline``).

"Same place over time" lists every chip of either sensor covering at least a quarter of the
selected chip (``timeline.DEFAULT_MIN_OVERLAP``), one per acquisition, by date, as a strip of
thumbnails; a click opens that chip. Compare shows two of them (by default the last before and
the first after a chosen date) side by side and as a swipe on a map: the two previews in two
panes of a small Leaflet map with the leaflet-side-by-side control (served from ``static/``
like the other plugins). S1 vs S1, S2 vs S2 and S1 vs S2 all work: each chip shows its own
composite (SAR for S1, the chosen S2 composite for S2).
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
import folium.plugins
import streamlit as st
from branca.element import MacroElement
from folium.raster_layers import ImageOverlay
from jinja2 import Template
from streamlit_folium import st_folium

from closp_core.errors import ClospError
from closp_core.store import ChipRecord
from closp_core.timeline import default_pair, same_place
from ui import session
from ui.maps import footprint_bounds, union_bounds
from ui.offline import base_map, offline
from ui.previews import record_preview, record_preview_url
from ui.resources import AppContext, explain
from ui.state import SearchState
from ui.text import md

STRIP_COLUMNS = 6
SWIPE_PANES = ("compare_left", "compare_right")


class PaneContainers(MacroElement):
    """leaflet-side-by-side clips a layer's ``getContainer()``; image overlays have none, so
    each overlay answers with its own pane (positioned like a tile layer's container)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {% for layer, pane in this.pairs %}
        {{ layer }}.getContainer = function () { return this._map.getPane({{ pane|tojson }}); };
        {% endfor %}
        {% endmacro %}
        """
    )

    def __init__(self, layers: Sequence[ImageOverlay], panes: Sequence[str]) -> None:
        super().__init__()
        self._name = "PaneContainers"
        self.pairs = [(layer.get_name(), pane) for layer, pane in zip(layers, panes, strict=True)]


def describe(record: ChipRecord) -> str:
    """``2019-09-17 · S1 · Flooded Area`` (plain text)."""
    date = record.acquired.date().isoformat() if record.acquired else "no date"
    return f"{date} · {record.sensor.name} · {', '.join(record.labels) or 'no labels'}"


def _open(key: str) -> None:
    session.update(selected=key)


def place_over_time(ctx: AppContext, record: ChipRecord, state: SearchState) -> None:
    """The strip of the chip's place over time, then Compare."""
    if ctx.store is None:
        return
    try:
        chips = [c.record for c in same_place(ctx.store, record)]
    except ClospError as exc:
        st.error(explain(exc, ctx.settings))
        return
    st.caption(
        f"{len(chips)} acquisitions of this place (chips of either sensor covering at least a "
        "quarter of it), oldest first. Open one, or compare two below."
    )
    strip(ctx, chips, record.key, state)
    if len(chips) < 2:
        st.info("Only this chip covers the place: nothing to compare yet.")
        return
    compare(ctx, chips, record, state)


def strip(ctx: AppContext, chips: Sequence[ChipRecord], current: str, state: SearchState) -> None:
    data_dir = str(ctx.settings.data_dir)
    for start in range(0, len(chips), STRIP_COLUMNS):
        columns = st.columns(STRIP_COLUMNS)
        for i, (column, rec) in enumerate(
            zip(columns, chips[start : start + STRIP_COLUMNS], strict=False), start=start
        ):
            with column:
                image = record_preview(data_dir, rec, state.composite)
                if image is not None:
                    st.image(image, width="stretch")
                st.caption(md(describe(rec)))
                st.button(
                    "Open",
                    key=f"tl_open_{i}",
                    on_click=_open,
                    args=(rec.key,),
                    disabled=rec.key == current,
                    width="stretch",
                )


def _pick(chips: Sequence[ChipRecord], record: ChipRecord, state: SearchState) -> tuple[int, int]:
    """Indexes of the two chips to compare: the URL's pair when both are here, else the last
    before and the first after the event date (or this chip's date)."""
    keys = [c.key for c in chips]
    if state.compare and all(k in keys for k in state.compare):
        return keys.index(state.compare[0]), keys.index(state.compare[1])
    when = state.event_date or (record.acquired.date() if record.acquired else None)
    before, after = default_pair(chips, when)
    if before is None or after is None:
        before, after = default_pair(chips)
    first = keys.index(before.key) if before is not None else 0
    second = keys.index(after.key) if after is not None else len(keys) - 1
    return first, second if second != first else min(first + 1, len(keys) - 1)


def _set_pair(keys: list[str]) -> None:
    first, second = (st.session_state[f"cmp_{side}"] for side in ("a", "b"))
    session.update(compare=(keys[first], keys[second]))


def compare(
    ctx: AppContext, chips: Sequence[ChipRecord], record: ChipRecord, state: SearchState
) -> None:
    """Two of the place's chips side by side, then as a swipe on the map."""
    st.markdown("**Compare**")
    first, second = _pick(chips, record, state)
    keys = [c.key for c in chips]
    names = [describe(c) for c in chips]
    left, right = st.columns(2)
    for column, side, index in ((left, "a", first), (right, "b", second)):
        st.session_state.setdefault(f"cmp_{side}", index)
        if st.session_state[f"cmp_{side}"] >= len(keys):
            st.session_state[f"cmp_{side}"] = index
        column.selectbox(
            "Before" if side == "a" else "After",
            range(len(keys)),
            format_func=names.__getitem__,
            key=f"cmp_{side}",
            on_change=_set_pair,
            args=(keys,),
        )
    a, b = chips[st.session_state["cmp_a"]], chips[st.session_state["cmp_b"]]
    data_dir = str(ctx.settings.data_dir)
    for column, rec in ((left, a), (right, b)):
        image = record_preview(data_dir, rec, state.composite)
        if image is not None:
            column.image(image, caption=describe(rec), width="stretch")
        else:
            column.caption(f"{md(describe(rec))}: preview unavailable")
    st_folium(
        swipe_map(a, b, ctx, state),
        key="compare_map",
        height=360,
        use_container_width=True,
        returned_objects=[],
    )
    st.caption("Drag the handle to swipe between the two (left: before, right: after).")


def swipe_map(a: ChipRecord, b: ChipRecord, ctx: AppContext, state: SearchState) -> folium.Map:
    """A small map with ``a``'s preview on the left of a swipe handle and ``b``'s on the right."""
    fmap = base_map(state.basemap)
    overlays = []
    for pane, z, rec in ((SWIPE_PANES[0], 360, a), (SWIPE_PANES[1], 361, b)):
        folium.map.CustomPane(pane, z_index=z, pointer_events=False).add_to(fmap)
        box = footprint_bounds(rec)
        url = record_preview_url(ctx.settings.data_dir, rec, state.composite)
        overlay = ImageOverlay(url or _BLANK, box or [[0, 0], [0, 0]], pane=pane, interactive=False)
        overlay.add_to(fmap)
        overlays.append(overlay)
    PaneContainers(overlays, SWIPE_PANES).add_to(fmap)
    offline(folium.plugins.SideBySideLayers(overlays[0], overlays[1])).add_to(fmap)
    boxes = [box for box in (footprint_bounds(a), footprint_bounds(b)) if box is not None]
    everything = union_bounds(boxes)
    if everything is not None:
        fmap.fit_bounds(everything, padding=(10, 10))
    return fmap


# a transparent 1 x 1 PNG: a chip without a preview still gets its side of the swipe
_BLANK = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
