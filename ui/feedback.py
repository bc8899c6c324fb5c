"""👍 / 👎 on results (Streamlit glue over ``closp_core.feedback``): the session's labels, their
place in the share URL, the buttons, and label files.

The labels of a session are a ``FeedbackLabels`` (chip key -> +1 / -1) kept next to their URL
value (``state.feedback``, the ``fb`` parameter: ``closp_core.feedback.sharelink``, short
prefixes of the chips' point ids, ~4 characters a label, so the 1,000 allowed fit in ~4 kB and
nothing is stored on the server). A session opened from a link decodes that value against the
index's ids (read once per index size, ``index_ids``); labels whose chips are no longer in the
index, or whose prefix names several chips, are dropped and the page says how many and why.
Links of the first form (whole point ids) still open.
"""

from __future__ import annotations

import streamlit as st

from closp_core.errors import ClospError
from closp_core.feedback import (
    NOT_RELEVANT,
    RELEVANT,
    FeedbackLabels,
    LabelFileBudget,
    encode_labels,
    export_labels,
    import_labels,
)
from closp_core.feedback.sharelink import IndexIds, encode_link, read_link
from closp_core.store import VectorStore
from ui import ranking, session
from ui.resources import AppContext, _store_key, get_context
from ui.state import SearchState
from ui.text import md

S_LABELS = "s_labels"  # (URL value, FeedbackLabels)
S_LABELS_NOTE = "s_labels_note"  # what happened to the labels of a link or file
# Material icons (Streamlit bundles their font: they show offline and on systems without an
# emoji font) on the buttons; words elsewhere
ICONS = {RELEVANT: ":material/thumb_up:", NOT_RELEVANT: ":material/thumb_down:"}
WORDS = {RELEVANT: "relevant", NOT_RELEVANT: "not relevant"}
MARKS = {RELEVANT: "✓ relevant", NOT_RELEVANT: "✗ not relevant"}


@st.cache_resource(max_entries=4, show_spinner=False)
def _cached_ids(_store: VectorStore, where: str, count: int) -> IndexIds:
    return IndexIds.of(_store)


def index_ids(ctx: AppContext) -> IndexIds | None:
    """The point ids of the context's index, sorted (read again whenever its chip count
    changes); ``None`` without an index."""
    if ctx.store is None:
        return None
    where = f"{_store_key(ctx.settings)} {id(ctx.store)}"  # a reopened index reads again
    return _cached_ids(ctx.store, where, ctx.store.count())


def current_labels(ctx: AppContext, state: SearchState) -> FeedbackLabels:
    """The session's labels; read from the URL value (through the store) when it changed."""
    held = st.session_state.get(S_LABELS)
    if held is not None and held[0] == state.feedback:
        return held[1]
    labels = FeedbackLabels()
    if state.feedback and ctx.store is not None:
        try:
            shared = read_link(ctx.store, state.feedback, index_ids(ctx))
        except ClospError as exc:
            st.session_state[S_LABELS_NOTE] = f"The labels in the link were dropped: {md(exc)}"
        else:
            labels = shared.labels
            st.session_state[S_LABELS_NOTE] = shared.note()
    keep(labels, ctx)
    return labels


def keep(labels: FeedbackLabels, ctx: AppContext | None = None) -> None:
    """Make ``labels`` the session's labels (and the URL's: the index's ids make it short)."""
    ids = index_ids(ctx if ctx is not None else get_context())
    # no index to make prefixes against: whole ids (the first form)
    value = encode_labels(labels) if ids is None else encode_link(labels, ids)
    st.session_state[S_LABELS] = (value, labels)
    session.update(feedback=value)


def toggle(key: str, value: int) -> None:
    """What 👍 / 👎 does: label the chip, or take the label off when it has that one already."""
    held = st.session_state.get(S_LABELS)
    labels = held[1] if held is not None else FeedbackLabels()
    keep(labels.toggle(key, value))


def buttons(key: str, labels: FeedbackLabels, where: str) -> None:
    """👍 and 👎 for chip ``key`` (the active one highlighted); ``where`` keeps keys apart."""
    left, right = st.columns(2)
    for column, value in ((left, RELEVANT), (right, NOT_RELEVANT)):
        column.button(
            "",
            icon=ICONS[value],
            key=f"fb_{where}_{value}",
            on_click=toggle,
            args=(key, value),
            type="primary" if labels.get(key) == value else "secondary",
            help=f"Mark as {WORDS[value]} (again: remove the mark)",
            width="stretch",
        )


def caption(key: str, labels: FeedbackLabels) -> str:
    """`` · ✓ relevant`` / `` · ✗ not relevant`` when the chip is labelled, else nothing."""
    value = labels.get(key)
    return f" · {MARKS[value]}" if value is not None else ""


def mark_line(key: str, labels: FeedbackLabels) -> str:
    """``✓ relevant`` / ``✗ not relevant`` / ``not marked``: a gallery card's second line."""
    value = labels.get(key)
    return MARKS[value] if value is not None else "not marked"


def clear_labels() -> None:
    """ "Clear all labels": no marks, and the ranking forgets them too."""
    keep(FeedbackLabels())
    ranking.rerank_now()


def label_files(ctx: AppContext, labels: FeedbackLabels, query: str) -> None:
    """Export the labels as GeoJSON, or import a label file (merged into these)."""
    if ctx.store is None:
        return
    with st.expander(
        f"Your labels: {len(labels.positive)} relevant, {len(labels.negative)} not relevant"
    ):
        if labels:
            try:
                text = export_labels(
                    ctx.store, labels, ctx.settings.collection, query=query or None
                )
            except ClospError as exc:
                st.error(md(exc))
            else:
                st.download_button(
                    "Export labels (GeoJSON)",
                    text,
                    file_name="closp-labels.geojson",
                    mime="application/geo+json",
                    key="labels_export",
                )
            st.button("Clear all labels", key="labels_clear", on_click=clear_labels)
        upload = st.file_uploader("Import labels", type=["geojson", "json"], key="labels_import")
        if upload is not None and st.button("Add these labels", key="labels_import_go"):
            try:
                budget = LabelFileBudget.from_settings(ctx.settings)
                resolved = import_labels(
                    upload.getvalue(), ctx.store, ctx.settings.collection, budget
                )
            except ClospError as exc:
                st.error(md(exc))
                return
            keep(labels.merged(resolved.labels), ctx)
            ranking.rerank_now()
            missing = f"; {len(resolved.missing)} not in this index" if resolved.missing else ""
            repeated = (
                f"; {resolved.repeated} repeated with the same value, kept once"
                if resolved.repeated
                else ""
            )
            st.session_state[S_LABELS_NOTE] = (
                f"Imported {len(resolved.labels)} labels from {md(upload.name)}{missing}{repeated}."
            )
            st.rerun()


def notes() -> None:
    """Say once what happened to labels read from a link or a file."""
    note = st.session_state.pop(S_LABELS_NOTE, None)
    if note:
        st.info(note)
