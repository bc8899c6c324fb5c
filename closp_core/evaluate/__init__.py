"""Text->image retrieval evaluation: ``python -m closp_core.evaluate --help``.

``evaluate_chips(embedder, chips, out)`` evaluates any reader's output or a list of ``Chip``;
``evaluate_corpus`` takes an already embedded ``Corpus`` (e.g. ``corpus_from_store``).
"""

from closp_core.evaluate.queries import Query, label_queries, read_qrels, read_queries_jsonl
from closp_core.evaluate.retrieval import (
    Corpus,
    corpus_from_store,
    embed_corpus,
    evaluate_retrieval,
)
from closp_core.evaluate.run import evaluate_chips, evaluate_corpus

__all__ = [
    "Corpus",
    "Query",
    "corpus_from_store",
    "embed_corpus",
    "evaluate_chips",
    "evaluate_corpus",
    "evaluate_retrieval",
    "label_queries",
    "read_qrels",
    "read_queries_jsonl",
]
