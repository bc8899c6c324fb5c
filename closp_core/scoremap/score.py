"""Per-chip scores of a chip table against the current ranking signal.

- no marks: cosine of each chip's vector to the query vector (text, "like" or "near");
- 👍 / 👎 marks, fewer than 3 of each: cosine to the Rocchio vector (``feedback.rocchio``);
- 3 and 3 or more: P(relevant) of a balanced logistic regression on the marked chips' vectors
  (per sensor when each sensor has 3 and 3), with the area's 20 least similar chips as weak
  negatives, as ``feedback.rerank`` does for its candidates.

**Comparable across areas, days and users**: a cosine depends only on the chip and the query,
a probability only on the chip and the marks, never on the other chips in view (no per-area
normalisation, no percentile of the area). The same chip under the same query gets the same
score whatever map it is drawn in, so a threshold means the same thing everywhere; two users
with the same text (or the same marks, shared by the link) see the same map.
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np

from closp_core.errors import ScoreMapError
from closp_core.feedback import FeedbackLabels, rocchio
from closp_core.scoremap.table import ChipTable

MIN_PER_CLASS = 3
BACKGROUND = 20
BACKGROUND_WEIGHT = 0.25
SEED = 0
PROBABILITY_THRESHOLD = 0.5
OTSU_BINS = 64


class ScoreKind(enum.Enum):
    """What a score is (``value``: words for legends and files)."""

    COSINE = "cosine similarity"
    PROBABILITY = "P(relevant)"
    CHANGE = "cosine after - before"


@dataclasses.dataclass(frozen=True, eq=False)
class ChipScores:
    """``values (N,) float32``, one per row of the table, and what they are."""

    values: np.ndarray
    kind: ScoreKind


def cosine_scores(table: ChipTable, vector: np.ndarray) -> np.ndarray:
    """``(N,) float32`` cosine of each chip to the ``(384,)`` unit ``vector``."""
    return table.vectors @ np.asarray(vector, np.float32)


def score_chips(
    table: ChipTable,
    query: np.ndarray | None,
    marks: FeedbackLabels,
    marked: dict[str, np.ndarray],
) -> ChipScores:
    """Scores of every chip of ``table`` (module docstring). ``marked``: key -> ``(384,)``
    vector of the marked chips found in the index."""
    pos = [marked[k] for k in marks.positive if k in marked]
    neg = [marked[k] for k in marks.negative if k in marked]
    if not pos and not neg:
        if query is None:
            raise ScoreMapError("nothing to score by: type a query or mark a chip relevant")
        return ChipScores(cosine_scores(table, query), ScoreKind.COSINE)
    ranking = rocchio(query, _stack(pos), _stack(neg))
    cosine = cosine_scores(table, ranking)
    if len(pos) < MIN_PER_CLASS or len(neg) < MIN_PER_CLASS or not len(table):
        return ChipScores(cosine, ScoreKind.COSINE)
    return ChipScores(_probabilities(table, cosine, marks, marked), ScoreKind.PROBABILITY)


def _stack(vectors: list[np.ndarray]) -> np.ndarray:
    return np.array(vectors, np.float32).reshape(-1, 384)


def _probabilities(
    table: ChipTable, cosine: np.ndarray, marks: FeedbackLabels, marked: dict[str, np.ndarray]
) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression  # ~0.5 s import: only when used

    sensor_of = dict(zip(table.keys.tolist(), table.sensors.tolist(), strict=True))
    labelled = [(k, v) for k, v in marks if k in marked]
    per_sensor = all(
        sum(1 for k, v in labelled if sensor_of.get(k) == code and v == sign) >= MIN_PER_CLASS
        for code in (0, 1)
        for sign in (1, -1)
    )
    out = np.zeros(len(table), np.float32)
    for code in (0, 1) if per_sensor else (None,):
        rows = np.flatnonzero(table.sensors == code) if code is not None else np.arange(len(table))
        if not len(rows):
            continue
        train = [(k, v) for k, v in labelled if code is None or sensor_of.get(k) == code]
        background = rows[np.argsort(cosine[rows], kind="stable")[:BACKGROUND]]
        background = np.array([i for i in background if table.keys[i] not in marks], np.int64)
        x = np.concatenate([_stack([marked[k] for k, _ in train]), table.vectors[background]])
        y = np.array([1 if v > 0 else 0 for _, v in train] + [0] * len(background))
        weight = np.r_[np.ones(len(train)), np.full(len(background), BACKGROUND_WEIGHT)]
        model = LogisticRegression(class_weight="balanced", max_iter=1000, random_state=SEED)
        model.fit(x.astype(np.float64), y, sample_weight=weight)
        out[rows] = model.predict_proba(table.vectors[rows].astype(np.float64))[:, 1]
    return out


def suggested_threshold(values: np.ndarray, kind: ScoreKind) -> float:
    """The threshold the UI starts at: 0.5 for a probability; otherwise Otsu's split of the
    scores (the threshold that best separates them into two groups), rounded to 0.001."""
    finite = values[np.isfinite(values)]
    if kind is ScoreKind.PROBABILITY:
        return PROBABILITY_THRESHOLD
    if len(finite) < 2 or float(finite.min()) == float(finite.max()):
        return round(float(finite.max()) if len(finite) else 0.0, 3)
    counts, edges = np.histogram(finite, bins=OTSU_BINS)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)
    w1 = w0[-1] - w0
    m0 = np.cumsum(counts * centres) / np.maximum(w0, 1)
    m1 = (np.sum(counts * centres) - np.cumsum(counts * centres)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return round(float(edges[int(np.argmax(between[:-1])) + 1]), 3)
