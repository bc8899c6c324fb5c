"""Marks that do not move the results under the pointer: the ranking re-runs on "Re-rank".

A 👍 / 👎 click shows on its chip at once (caption, buttons, map outline) and goes into the
share URL, but the results keep the order they had: the next click lands on the chip the user
aimed at. The ranking uses the labels as of the last re-rank (``ranked``); "Re-rank" (above
the gallery and under the results line, always drawn, disabled while nothing is new, so the
page never shifts) ranks with every mark. A new search (other query, filters, area...), a
label file, "Clear all labels" or a share link ranks with every mark straight away.

After a re-rank the engine's rule holds (``closp_core.feedback.rerank.keep_marks_in_order``):
a chip marked relevant never ranks below one marked not relevant.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from closp_core.feedback import FeedbackLabels
from ui.state import SearchState

S_RANKED = "s_ranked"  # (search key without labels, URL value, FeedbackLabels) ranked with


def _others(state: SearchState) -> tuple[object, ...]:
    return dataclasses.replace(state, feedback="").search_key()


def ranked(state: SearchState, labels: FeedbackLabels) -> tuple[SearchState, FeedbackLabels]:
    """The state and labels the results are ranked by: those of the last re-rank while only
    marks changed since, else ``state`` and ``labels`` themselves (and they are kept)."""
    held = st.session_state.get(S_RANKED)
    if held is None or held[0] != _others(state):
        held = (_others(state), state.feedback, labels)
        st.session_state[S_RANKED] = held
    return dataclasses.replace(state, feedback=held[1]), held[2]


def rerank_now() -> None:
    """What "Re-rank" does: the next run ranks with every mark."""
    st.session_state.pop(S_RANKED, None)


def pending(labels: FeedbackLabels, used: FeedbackLabels) -> int:
    """How many chips' marks differ between ``labels`` and the ranking's ``used``."""
    keys = {k for k, _ in labels} | {k for k, _ in used}
    return sum(1 for k in keys if labels.get(k) != used.get(k))


def rerank_control(labels: FeedbackLabels, used: FeedbackLabels, where: str) -> None:
    """The "Re-rank" button and one line on what it would do (same height either way)."""
    new = pending(labels, used)
    left, right = st.columns([1, 5], vertical_alignment="center")
    left.button(
        "Re-rank",
        key=f"rerank_{where}",
        icon=":material/sort:",
        on_click=rerank_now,
        disabled=new == 0,
        type="primary" if new else "secondary",
        width="stretch",
        help="Rank the results again with every mark",
    )
    right.caption(
        f"{new} mark{'s' if new != 1 else ''} since the last ranking: the results stay where "
        "they are until you press Re-rank."
        if new
        else "Marks show at once; the results stay in place until you press Re-rank."
    )
