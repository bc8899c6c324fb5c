"""Relevance feedback: 👍 / 👎 labels, the re-ranking they drive, their URL and file forms.

- ``labels``: ``FeedbackLabels`` (immutable chip key -> +1/-1), ``encode_labels`` /
  ``decode_labels`` (the first URL form: whole point ids) and ``resolve_ids`` (point ids back
  to keys via the store).
- ``sharelink``: the URL form the app writes (``encode_link`` / ``read_link``: short point-id
  prefixes resolved against the index's ids, ``IndexIds``; 1,000 labels in ~3–5 kB).
- ``rerank``: ``rerank(store, labels, query_vector, ...) -> FeedbackResult`` (Rocchio, then
  logistic regression once there are 3 labels of each kind) and ``rocchio``.
- ``labelfile``: ``export_labels`` / ``import_labels`` (GeoJSON with model and collection).
"""

from __future__ import annotations

from closp_core.errors import FeedbackError
from closp_core.feedback.labelfile import (
    LabelFile,
    LabelFileBudget,
    export_labels,
    import_labels,
    parse_label_file,
    read_label_file,
    relevance_name,
)
from closp_core.feedback.labels import (
    MAX_LABELS,
    NOT_RELEVANT,
    RELEVANT,
    FeedbackLabels,
    ResolvedLabels,
    decode_labels,
    encode_labels,
    resolve_ids,
)
from closp_core.feedback.rerank import (
    DEFAULT_CANDIDATES,
    MIN_PER_CLASS,
    FeedbackResult,
    RankMethod,
    RocchioWeights,
    rerank,
    rocchio,
)
from closp_core.feedback.sharelink import IndexIds, SharedLabels, encode_link, read_link

__all__ = [
    "DEFAULT_CANDIDATES",
    "MAX_LABELS",
    "MIN_PER_CLASS",
    "NOT_RELEVANT",
    "RELEVANT",
    "FeedbackError",
    "FeedbackLabels",
    "FeedbackResult",
    "IndexIds",
    "LabelFile",
    "LabelFileBudget",
    "RankMethod",
    "ResolvedLabels",
    "RocchioWeights",
    "SharedLabels",
    "decode_labels",
    "encode_labels",
    "encode_link",
    "export_labels",
    "import_labels",
    "parse_label_file",
    "read_label_file",
    "read_link",
    "relevance_name",
    "rerank",
    "resolve_ids",
    "rocchio",
]
