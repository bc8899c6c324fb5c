"""Text->image retrieval evaluation: embed a corpus (or read an index), rank, score.

One text query ranks S1 and S2 chips in one list ("combined"); per-sensor figures rank only that
sensor's chips. Ranking is exact (cosine of unit vectors, brute force), as in the paper.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from closp_core.bands import Sensor
from closp_core.data.chip import Chip
from closp_core.embedder import Embedder
from closp_core.errors import ConfigError
from closp_core.evaluate.queries import Query, judged_gains, label_gains
from closp_core.metrics import DEFAULT_KS, mean_metrics, ranking_metrics

QUERY_CHUNK = 64  # queries scored at once: (64, N) float64 score and gain matrices


@dataclasses.dataclass
class Corpus:
    """Embedded chips: ``vectors`` ``(N, 384) float32`` unit vectors, one row per key."""

    keys: list[str]
    sensors: list[Sensor]
    labels: list[tuple[str, ...]]
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


def embed_corpus(embedder: Embedder, chips: Iterable[Chip], chunk: int = 256) -> Corpus:
    """Embed chips in chunks (per sensor inside a chunk); pixels are not kept."""
    keys: list[str] = []
    sensors: list[Sensor] = []
    labels: list[tuple[str, ...]] = []
    vectors: list[np.ndarray] = []
    pending: list[Chip] = []

    def flush() -> None:
        for sensor in Sensor:
            group = [c for c in pending if c.sensor is sensor]
            if not group:
                continue
            pixels = np.stack([c.pixels for c in group])
            vectors.append(embedder.encode_images(pixels, sensor))
            keys.extend(c.key for c in group)
            sensors.extend([sensor] * len(group))
            labels.extend(tuple(c.labels) for c in group)
        pending.clear()

    for chip in chips:
        pending.append(chip)
        if len(pending) >= chunk:
            flush()
    flush()
    if not keys:
        raise ConfigError("the evaluation corpus is empty; check the data source")
    return Corpus(keys, sensors, labels, np.concatenate(vectors))


def corpus_from_store(store: Any, batch: int = 1000) -> Corpus:
    """Every chip of an existing index with its stored vector (a ``VectorStore``)."""
    records = list(store.iter_records())
    if not records:
        raise ConfigError("the index is empty; ingest chips first")
    keys = [r.key for r in records]
    with_vectors = []
    for start in range(0, len(keys), batch):
        with_vectors += store.get(keys[start : start + batch], with_vectors=True)
    vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in with_vectors])
    return Corpus(
        [r.key for r in with_vectors],
        [Sensor.parse(r.sensor) for r in with_vectors],
        [tuple(r.labels) for r in with_vectors],
        vectors,
    )


def scope_columns(corpus: Corpus) -> dict[str, np.ndarray]:
    """Column indices per scope: ``combined`` and each sensor present."""
    sensors = np.array([s.value for s in corpus.sensors])
    scopes = {"combined": np.arange(len(corpus))}
    for sensor in Sensor:
        cols = np.flatnonzero(sensors == sensor.value)
        if cols.size:
            scopes[sensor.value] = cols
    return scopes


def evaluate_retrieval(
    corpus: Corpus,
    queries: Sequence[Query],
    query_vectors: np.ndarray,
    qrels: Mapping[str, Mapping[str, float]] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, Any]:
    """Metrics per scope (mean over queries with a relevant chip) and per query.

    ``qrels`` given: gains from them; else label-overlap gains from ``query.labels``.
    Returns ``{"scopes": {scope: {metric: mean}}, "per_query": {scope: {qid: {metric: v}}},
    "relevant": {scope: {qid: count}}, "chips": {scope: N}}``.
    """
    if len(queries) != len(query_vectors):
        raise ConfigError(f"{len(queries)} queries but {len(query_vectors)} query vectors")
    out: dict[str, Any] = {"scopes": {}, "per_query": {}, "relevant": {}, "chips": {}}
    for scope, cols in scope_columns(corpus).items():
        vectors = corpus.vectors[cols].astype(np.float64)
        keys = [corpus.keys[i] for i in cols]
        labels = [corpus.labels[i] for i in cols]
        per_query: dict[str, list[np.ndarray]] = {}
        relevant: list[np.ndarray] = []
        for start in range(0, len(queries), QUERY_CHUNK):
            chunk = list(queries[start : start + QUERY_CHUNK])
            gains = (
                judged_gains(chunk, qrels, keys)
                if qrels is not None
                else label_gains(chunk, labels)
            )
            scores = query_vectors[start : start + QUERY_CHUNK].astype(np.float64) @ vectors.T
            for name, values in ranking_metrics(scores, gains, ks).items():
                per_query.setdefault(name, []).append(values)
            relevant.append((gains > 0).sum(axis=1))
        merged = {name: np.concatenate(parts) for name, parts in per_query.items()}
        counts = np.concatenate(relevant)
        out["scopes"][scope] = mean_metrics(merged)
        out["chips"][scope] = len(cols)
        out["relevant"][scope] = {q.qid: int(n) for q, n in zip(queries, counts, strict=True)}
        out["per_query"][scope] = {
            q.qid: {name: _finite(values[i]) for name, values in merged.items()}
            for i, q in enumerate(queries)
        }
    return out


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
