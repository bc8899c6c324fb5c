"""The query vector of a ``SearchRequest``: text, a given vector, a chip ("like"), a place.

"Near here" (GeoCLOSP only) is our design; the paper does not publish how location is used at
query time. GeoCLOSP aligns each image embedding with the text of its labels *and* with the
location embedding of its centre, so both a text vector ``t`` and a location vector ``l`` point
towards the chips they describe. The query is their weighted sum, re-normalised:
``q = normalise(w * t + (1 - w) * l)`` with ``w`` = ``text_weight`` (0.5 by default; 1 = text
only, 0 = place only). Without text, ``q = l``: "chips that look like they are from here".
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from closp_core.errors import SearchError
from closp_core.search.request import SearchRequest
from closp_core.store import VectorStore


class QueryEncoder(Protocol):
    """What a search needs of ``closp_core.embedder.Embedder`` (texts and places -> vectors)."""

    def encode_text(self, texts: list[str]) -> np.ndarray: ...  # (N, 384) float32

    def encode_locations(self, lonlat: np.ndarray) -> np.ndarray: ...  # (N, 2) -> (N, 384)

    @property
    def has_location_encoder(self) -> bool: ...


def blend_near(
    text_vector: np.ndarray | None, location_vector: np.ndarray, text_weight: float
) -> np.ndarray:
    """``normalise(w * text + (1 - w) * location)``; the location alone when there is no text.

    Both inputs are ``(384,)`` unit vectors; returns a ``(384,) float32`` unit vector."""
    if not 0.0 <= text_weight <= 1.0:
        raise SearchError(f"text weight must be between 0 and 1, got {text_weight}")
    loc = np.asarray(location_vector, dtype=np.float32)
    mixed = (
        loc
        if text_vector is None
        else (text_weight * np.asarray(text_vector, dtype=np.float32) + (1.0 - text_weight) * loc)
    )
    norm = float(np.linalg.norm(mixed))
    if not np.isfinite(norm) or norm == 0.0:
        raise SearchError("the text and location vectors cancel out; change the text weight")
    return (mixed / norm).astype(np.float32)


def _need(encoder: QueryEncoder | None, what: str) -> QueryEncoder:
    if encoder is None:
        raise SearchError(
            f"{what} needs the CLOSP model: pass an encoder (closp_core.embedder.Embedder), "
            "or give the query as a vector"
        )
    return encoder


def query_vector(
    store: VectorStore, request: SearchRequest, encoder: QueryEncoder | None
) -> tuple[np.ndarray | None, str]:
    """The ``(384,) float32`` query vector of ``request`` (``None``: only 👍 marks rank) and a
    title for it: "chips like <key>", "“text” near lat, lon", "“text”"."""
    if request.like:
        found = store.get([request.like], with_vectors=True)
        if not found or found[0].vector is None:
            raise SearchError(f"chip {request.like!r} is not in the index; clear 'More like this'")
        return np.asarray(found[0].vector, np.float32), f"chips like {request.like}"
    text = request.vector
    if text is None and request.text:
        text = _need(encoder, "a text query").encode_text([request.text])[0]
    quoted = f"“{request.text}”" if request.text else ("a query vector" if text is not None else "")
    if request.near:
        places = _need(encoder, "“near”")
        if not places.has_location_encoder:
            raise SearchError(
                "“near” needs a GeoCLOSP model (one with a location encoder); this model has "
                "none: leave out near, or set CLOSP_MODEL to a GeoCLOSP variant"
            )
        lon, lat = request.near
        location = places.encode_locations(np.array([[lon, lat]]))[0]
        about = f"{quoted} " if quoted else ""
        return blend_near(text, location, request.text_weight), f"{about}near {lat:.3f}, {lon:.3f}"
    if text is None:
        return None, "the chips marked relevant"
    return np.asarray(text, np.float32), quoted
