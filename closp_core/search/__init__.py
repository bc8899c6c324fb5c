"""Search: one request type in, one outcome type out; the app, the CLI, notebooks and tests all
search through ``search()``.

- ``request``: ``SearchRequest`` (text and/or a query vector, "like", "near", filters, 👍 / 👎
  marks, limit), checked on creation; ``build.make_request`` builds one from loose values.
- ``query``: the query vector of a request ("near" blending: ``blend_near``).
- ``run``: ``search(store, request, encoder) -> SearchOutcome``.
- ``outcome``: ``SearchOutcome`` (hits, ranking method, title, notes, timings) and its GeoJSON,
  CSV and GeoDataFrame forms (``export`` writes the files).
- ``index``: the Python API, ``open_index()`` -> ``Index.search(...)``.
- ``cli``: ``python -m closp_core.search "TEXT" ... --out results.geojson``.
"""

from __future__ import annotations

from closp_core.search.build import make_request, marks_of, parse_box, read_area
from closp_core.search.index import Index, open_index
from closp_core.search.outcome import SearchOutcome
from closp_core.search.query import QueryEncoder, blend_near, query_vector
from closp_core.search.request import DEFAULT_LIMIT, DEFAULT_TEXT_WEIGHT, SearchRequest
from closp_core.search.run import search

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_TEXT_WEIGHT",
    "Index",
    "QueryEncoder",
    "SearchOutcome",
    "SearchRequest",
    "blend_near",
    "make_request",
    "marks_of",
    "open_index",
    "parse_box",
    "query_vector",
    "read_area",
    "search",
]
