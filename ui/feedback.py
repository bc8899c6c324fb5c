"""👍 / 👎 on results (Streamlit glue over ``closp_core.feedback``): the session's labels, their
place in the share URL, the buttons, and label files.

The labels of a session are a ``FeedbackLabels`` (chip key -> +1 / -1) kept next to their URL
value (``state.feedback``, the ``fb`` parameter: base64url point ids, ~21 characters a label,
so 50 labels make ~1,070 characters and nothing is stored on the server). A session opened
from a link decodes that value and resolves the point ids to keys through the store once;
labels whose chips are no longer in the index are dropped and the user is told how many.
"""

from __future__ import annotations

import streamlit as st

from closp_core.errors import ClospError
from closp_core.feedback import (
    NOT_RELEVANT,
    RELEVANT,
    FeedbackLabels,
    LabelFileBudget,
    decode_labels,
    encode_labels,
    export_labels,
    import_labels,
    resolve_ids,
)
from ui import session
from ui.resources import AppContext
from ui.state import SearchState
from ui.text import md

S_LABELS = "s_labels"  # (URL value, FeedbackLabels)
S_LABELS_NOTE = "s_labels_note"  # what happened to the labels of a link or file
# Material icons (Streamlit bundles their font: they show offline and on systems without an
# emoji font) on the buttons; words elsewhere
ICONS = {RELEVANT: ":material/thumb_up:", NOT_RELEVANT: ":material/thumb_down:"}
WORDS = {RELEVANT: "relevant", NOT_RELEVANT: "not relevant"}
MARKS = {RELEVANT: "✓ relevant", NOT_RELEVANT: "✗ not relevant"}


def current_labels(ctx: AppContext, state: SearchState) -> FeedbackLabels:
    """The session's labels; read from the URL value (through the store) when it changed."""
    held = st.session_state.get(S_LABELS)
    if held is not None and held[0] == state.feedback:
        return held[1]
    labels = FeedbackLabels()
    if state.feedback and ctx.store is not None:
        try:
            resolved = resolve_ids(ctx.store, decode_labels(state.feedback))
        except ClospError as exc:
            st.session_state[S_LABELS_NOTE] = f"The labels in the link were dropped: {md(exc)}"
        else:
            labels = resolved.labels
            if resolved.missing:
                st.session_state[S_LABELS_NOTE] = (
                    f"{len(resolved.missing)} labelled chips of the link are no longer in the "
                    "index; their labels were dropped."
                )
    keep(labels)
    return labels


def keep(labels: FeedbackLabels) -> None:
    """Make ``labels`` the session's labels (and the URL's)."""
    value = encode_labels(labels)
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
            st.button(
                "Clear all labels", key="labels_clear", on_click=keep, args=(FeedbackLabels(),)
            )
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
            keep(labels.merged(resolved.labels))
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
