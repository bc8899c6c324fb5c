"""``search(store, request, encoder)``: the one search of the app, the CLI, notebooks and tests.

Without marks the store ranks by cosine to the query vector (method ``QUERY``); with 👍 / 👎
marks ``closp_core.feedback.rerank`` ranks (Rocchio, then a classifier; its note says which).
"""

from __future__ import annotations

import time

from closp_core.errors import SearchError
from closp_core.feedback import RankMethod, rerank
from closp_core.search.outcome import SearchOutcome
from closp_core.search.query import QueryEncoder, query_vector
from closp_core.search.request import SearchRequest
from closp_core.store import VectorStore


def search(
    store: VectorStore, request: SearchRequest, encoder: QueryEncoder | None = None
) -> SearchOutcome:
    """Run ``request`` against ``store``; ``encoder`` (an ``Embedder`` of the index's model)
    encodes the text and the "near" place, and may be ``None`` when neither is asked for.

    Raises ``SearchError`` when there is nothing to rank by (no text, vector, chip, place or
    chip marked relevant) or the request needs the model and there is none; the store's
    errors for bad filters or an index of another model; ``FeedbackError`` for unusable marks.
    """
    if not isinstance(request, SearchRequest):
        raise SearchError(f"search takes a SearchRequest, got {type(request).__name__}")
    if not request.has_query:
        raise SearchError(
            "nothing to search for: give text, a query vector, a chip ('like'), a place "
            "('near') or mark a chip as relevant"
        )
    start = time.perf_counter()
    vector, title = query_vector(store, request, encoder)
    encoded = time.perf_counter()
    filters = request.filters()
    notes: tuple[str, ...] = ()
    if request.marks:
        result = rerank(
            store,
            request.marks,
            vector,
            filters=filters,
            limit=request.limit,
            hide_labelled=request.hide_labelled,
        )
        hits, method, notes = result.hits, result.method, (result.note,)
    else:
        if vector is None:  # has_query without marks means a vector was made
            raise SearchError("nothing to rank by: give text or mark a chip as relevant")
        found = store.search(vector, limit=request.limit, filters=filters)
        hits, method = tuple(found), RankMethod.QUERY
    done = time.perf_counter()
    return SearchOutcome(
        request=request,
        hits=hits,
        method=method,
        title=title,
        notes=notes,
        encode_ms=(encoded - start) * 1e3,
        search_ms=(done - encoded) * 1e3,
    )
