"""Evaluation end to end: model + corpus (chips, a training config's split, or an index) ->
metrics written as JSON, Markdown and PNG. A training config's split: ``rundata.role_chips``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from closp_core.data.chip import Chip
from closp_core.embedder import Embedder
from closp_core.evaluate.queries import Query, label_queries, read_qrels, read_queries_jsonl
from closp_core.evaluate.report import write_report
from closp_core.evaluate.retrieval import Corpus, embed_corpus, evaluate_retrieval
from closp_core.metrics import DEFAULT_KS

QUERIES_NAME = "queries.jsonl"
QRELS_NAME = "qrels"


def find_judgements(paths: Iterable[Path]) -> tuple[Path, Path] | None:
    """``queries.jsonl`` and ``qrels`` next to a data source (a CrisisLandMark folder)."""
    for path in paths:
        folder = path if path.is_dir() else path.parent
        if (folder / QUERIES_NAME).is_file() and (folder / QRELS_NAME).exists():
            return folder / QUERIES_NAME, folder / QRELS_NAME
    return None


def pick_queries(
    corpus: Corpus,
    judgements: tuple[Path, Path] | None,
    combinations: bool = False,
) -> tuple[list[Query], dict[str, dict[str, float]] | None, str]:
    """Judged queries when ``judgements`` is given, else label queries; and the kind's name."""
    if judgements is not None:
        return read_queries_jsonl(judgements[0]), read_qrels(judgements[1]), "judged"
    kind = "label (+ combinations)" if combinations else "label"
    return label_queries(corpus.labels, combinations), None, kind


def evaluate_corpus(
    embedder: Embedder,
    corpus: Corpus,
    out: Path | None = None,
    judgements: tuple[Path, Path] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    combinations: bool = False,
) -> dict[str, Any]:
    """Run the queries over ``corpus``; write the reports into ``out`` when given."""
    queries, qrels, kind = pick_queries(corpus, judgements, combinations)
    vectors = embedder.encode_text([q.text for q in queries])
    result = evaluate_retrieval(corpus, queries, vectors, qrels, ks)
    result = {"model": embedder.model_id, "query_kind": kind, "ks": sorted(ks), **result}
    result["queries"] = [{"qid": q.qid, "text": q.text} for q in queries]
    if out is not None:
        result["files"] = [str(p) for p in write_report(result, ks, out)]
    return result


def evaluate_chips(
    embedder: Embedder,
    chips: Iterable[Chip],
    out: Path | None = None,
    judgements: tuple[Path, Path] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    combinations: bool = False,
) -> dict[str, Any]:
    """Embed ``chips`` (any reader's output, or a list) and evaluate; see ``evaluate_corpus``."""
    corpus = embed_corpus(embedder, chips)
    return evaluate_corpus(embedder, corpus, out, judgements, ks, combinations)


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    """One line per scope with P@5 and the headline nDCG at the largest k."""
    top = max(result["ks"])
    nan = float("nan")
    return [
        f"{scope:9s} chips {result['chips'][scope]:7d}  P@5 {m.get('precision@5', nan):.4f}"
        f"  nDCG@{top} {m.get(f'ndcg@{top}', nan):.4f}"
        for scope, m in result["scopes"].items()
    ]
