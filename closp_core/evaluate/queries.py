"""Evaluation queries and their relevance judgements.

Two kinds:

- **label queries** (default): one per label of the label space; text = the label lower-cased
  (``label_text``, the training text); the gain of a chip = how many of the query's labels it
  carries (0 or 1 for one label; ``combinations`` adds one query per multi-label set seen in
  the corpus, whose gains are graded 0..n).
- **judged queries**: ``queries.jsonl`` (one JSON object per line: id in ``_id``/``id``/
  ``query_id``/``qid``, text in ``text``/``query``) and qrels (a file or a folder of files),
  each line ``qid docid gain`` or TREC ``qid 0 docid gain``, whitespace- or tab-separated; a
  header line (BEIR ``query-id corpus-id score``) is skipped. Doc ids are chip keys.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from closp_core.errors import ConfigError
from closp_core.labels import LABELS, label_text, sort_labels

_ID_KEYS = ("_id", "id", "query_id", "qid")
_TEXT_KEYS = ("text", "query")


@dataclasses.dataclass(frozen=True)
class Query:
    """One query: id, text, and the labels it asks for (empty for judged queries)."""

    qid: str
    text: str
    labels: tuple[str, ...] = ()


def label_queries(
    corpus_labels: Iterable[Sequence[str]] = (), combinations: bool = False
) -> list[Query]:
    """One query per label of ``LABELS`` (+ each multi-label set in the corpus if asked)."""
    queries = [Query(label, label_text([label]), (label,)) for label in LABELS]
    if combinations:
        seen = {tuple(sort_labels(labels)) for labels in corpus_labels if len(labels) > 1}
        for labels in sorted(seen):
            queries.append(Query(" + ".join(labels), label_text(labels), labels))
    return queries


def label_gains(queries: Sequence[Query], chip_labels: Sequence[Sequence[str]]) -> np.ndarray:
    """``(Q, N) float64``: per query and chip, how many of the query's labels the chip has."""
    vocab = {label: i for i, label in enumerate(LABELS)}
    chips = np.zeros((len(chip_labels), len(LABELS)), dtype=np.float64)
    for row, labels in enumerate(chip_labels):
        for label in labels:
            if label in vocab:
                chips[row, vocab[label]] = 1.0
    asked = np.zeros((len(queries), len(LABELS)), dtype=np.float64)
    for row, query in enumerate(queries):
        for label in query.labels:
            asked[row, vocab[label]] = 1.0
    return asked @ chips.T


def judged_gains(
    queries: Sequence[Query], qrels: Mapping[str, Mapping[str, float]], keys: Sequence[str]
) -> np.ndarray:
    """``(Q, N) float64`` gains from qrels; chips not judged for a query get 0."""
    column = {key: i for i, key in enumerate(keys)}
    gains = np.zeros((len(queries), len(keys)), dtype=np.float64)
    for row, query in enumerate(queries):
        for key, gain in qrels.get(query.qid, {}).items():
            if key in column:
                gains[row, column[key]] = gain
    return gains


def read_queries_jsonl(path: Path) -> list[Query]:
    """Queries from a JSON-lines file (see the module docstring)."""
    if not path.is_file():
        raise ConfigError(f"queries file {path} does not exist")
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            qid = next(str(item[k]) for k in _ID_KEYS if k in item)
            text = next(str(item[k]) for k in _TEXT_KEYS if k in item)
        except (json.JSONDecodeError, StopIteration, TypeError):
            raise ConfigError(
                f"{path}:{number}: expected a JSON object with an id ({'/'.join(_ID_KEYS)}) "
                f"and a text ({'/'.join(_TEXT_KEYS)})"
            ) from None
        queries.append(Query(qid, text))
    if not queries:
        raise ConfigError(f"queries file {path} holds no query")
    return queries


def read_qrels(path: Path) -> dict[str, dict[str, float]]:
    """Relevance judgements from a file or every file in a folder: qid -> chip key -> gain."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    if not path.exists() or not files:
        raise ConfigError(f"qrels {path} does not exist or holds no file")
    qrels: dict[str, dict[str, float]] = {}
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) not in (3, 4):
                raise ConfigError(f"{file}:{number}: expected 'qid docid gain' or TREC format")
            qid, key, gain = parts[0], parts[-2], parts[-1]
            try:
                value = float(gain)
            except ValueError:
                if number == 1:
                    continue  # a header line
                raise ConfigError(f"{file}:{number}: gain {gain!r} is not a number") from None
            qrels.setdefault(qid, {})[key] = value
    return qrels
