"""Ranking metrics with graded relevance, in plain numpy.

Conventions (one query per row; ``gains`` are graded relevance, ``>= 0``; an item is
*relevant* when its gain is ``> 0``):

- **nDCG@k** = DCG@k / IDCG@k with *linear* gains, ``DCG@k = sum_{i<=k} gain_i / log2(i + 1)``
  (ranks ``i`` from 1), the ideal DCG taken over the whole collection. This is the definition of
  scikit-learn's ``ndcg_score`` (``ignore_ties=True``), and is checked against it in tests.
- **AP@k** = ``(1 / min(R, k)) * sum_{i<=k} rel_i * P@i`` with ``R`` the number of relevant items
  in the collection, so a perfect ranking scores 1; with ``k >= N`` this is the usual average
  precision. **mAP@k** is its mean over queries.
- **Recall@k** = relevant items in the top ``k`` / ``R``; **P@k** = relevant items in the top
  ``k`` / ``k`` (a collection smaller than ``k`` counts its missing ranks as non-relevant).
- Queries with no relevant item (``R = 0``) have undefined metrics: their values are NaN and
  ``mean_metrics`` leaves them out (it reports how many queries it averaged).

Ties in the scores are broken by item order (a stable sort), so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from closp_core.errors import ClospError

DEFAULT_KS: tuple[int, ...] = (10, 100, 1000)
METRIC_NAMES: tuple[str, ...] = ("ndcg", "map", "recall", "precision")


def _as_2d(array: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(array, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise ClospError(f"{what}: expected (queries, items), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ClospError(f"{what}: contains NaN or infinite values")
    return arr


def _check_k(k: int) -> int:
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ClospError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _top(ranked: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` columns of ``(Q, D)``, zero-padded when ``D < k``."""
    if ranked.shape[1] >= k:
        return ranked[:, :k]
    pad = np.zeros((ranked.shape[0], k - ranked.shape[1]), dtype=ranked.dtype)
    return np.concatenate([ranked, pad], axis=1)


def _discounts(k: int) -> np.ndarray:
    """``1 / log2(i + 1)`` for ranks ``i = 1..k``."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def rank_gains(scores: np.ndarray, gains: np.ndarray, depth: int | None = None) -> np.ndarray:
    """Gains reordered by descending score: ``(Q, N)`` scores and gains -> ``(Q, depth)``.

    ``depth`` defaults to ``N``; ties keep item order (stable sort).
    """
    s, g = _as_2d(scores, "scores"), _as_2d(gains, "gains")
    if s.shape != g.shape:
        raise ClospError(f"scores {s.shape} and gains {g.shape} must have the same shape")
    order = np.argsort(-s, axis=1, kind="stable")
    if depth is not None:
        order = order[:, : _check_k(depth)]
    return np.take_along_axis(g, order, axis=1)


def ideal_gains(gains: np.ndarray) -> np.ndarray:
    """``(Q, N)`` gains of the whole collection sorted descending (the ideal ranking)."""
    return -np.sort(-_as_2d(gains, "gains"), axis=1)


def dcg_at_k(ranked: np.ndarray, k: int) -> np.ndarray:
    """``(Q, D)`` gains in rank order -> ``(Q,)`` DCG@k (linear gains, log2 discount)."""
    k = _check_k(k)
    return _top(_as_2d(ranked, "ranked gains"), k) @ _discounts(k)


def ndcg_at_k(ranked: np.ndarray, ideal: np.ndarray, k: int) -> np.ndarray:
    """``(Q, D)`` ranked gains and ``(Q, N)`` ideal (sorted) gains -> ``(Q,)`` nDCG@k.

    NaN where the collection holds no relevant item for a query.
    """
    best = dcg_at_k(ideal, k)
    got = dcg_at_k(ranked, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(best > 0, got / np.where(best > 0, best, 1.0), np.nan)


def average_precision_at_k(ranked: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """``(Q, D)`` ranked gains and ``(Q,)`` relevant counts -> ``(Q,)`` AP@k (NaN if R = 0)."""
    k = _check_k(k)
    rel = (_top(_as_2d(ranked, "ranked gains"), k) > 0).astype(np.float64)
    precision = np.cumsum(rel, axis=1) / np.arange(1, k + 1)
    total = np.asarray(n_relevant, dtype=np.float64).reshape(-1)
    denom = np.minimum(total, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (rel * precision).sum(axis=1) / np.maximum(denom, 1), np.nan)


def recall_at_k(ranked: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """``(Q, D)`` ranked gains and ``(Q,)`` relevant counts -> ``(Q,)`` Recall@k (NaN if R = 0)."""
    hits = (_top(_as_2d(ranked, "ranked gains"), _check_k(k)) > 0).sum(axis=1)
    total = np.asarray(n_relevant, dtype=np.float64).reshape(-1)
    return np.where(total > 0, hits / np.maximum(total, 1), np.nan)


def precision_at_k(ranked: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """``(Q, D)`` ranked gains -> ``(Q,)`` P@k (NaN where the query has no relevant item)."""
    k = _check_k(k)
    hits = (_top(_as_2d(ranked, "ranked gains"), k) > 0).sum(axis=1)
    total = np.asarray(n_relevant, dtype=np.float64).reshape(-1)
    return np.where(total > 0, hits / k, np.nan)


def ranking_metrics(
    scores: np.ndarray, gains: np.ndarray, ks: Iterable[int] = DEFAULT_KS
) -> dict[str, np.ndarray]:
    """Every metric at every ``k`` for ``(Q, N)`` scores and gains -> name -> ``(Q,)`` values.

    Names are ``"ndcg@10"``, ``"map@10"``, ``"recall@10"``, ``"precision@10"`` ... (and
    ``"precision@5"`` always, the figure the demo model's quality bar uses).
    """
    ks = sorted({_check_k(k) for k in ks})
    g = _as_2d(gains, "gains")
    if (g < 0).any():
        raise ClospError("gains must be >= 0 (graded relevance)")
    ranked = rank_gains(scores, g, depth=min(max([*ks, 5]), g.shape[1]))
    ideal = ideal_gains(g)
    n_relevant = (g > 0).sum(axis=1)
    out: dict[str, np.ndarray] = {"precision@5": precision_at_k(ranked, n_relevant, 5)}
    for k in ks:
        out[f"ndcg@{k}"] = ndcg_at_k(ranked, ideal, k)
        out[f"map@{k}"] = average_precision_at_k(ranked, n_relevant, k)
        out[f"recall@{k}"] = recall_at_k(ranked, n_relevant, k)
        out[f"precision@{k}"] = precision_at_k(ranked, n_relevant, k)
    return out


def mean_metrics(per_query: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Means over the queries that have a relevant item; adds ``"queries"`` (how many)."""
    out: dict[str, float] = {}
    counted = 0
    for name, values in per_query.items():
        arr = np.asarray(values, dtype=np.float64)
        valid = arr[~np.isnan(arr)]
        counted = max(counted, valid.size)
        out[name] = float(valid.mean()) if valid.size else float("nan")
    out["queries"] = float(counted)
    return out


def metric_columns(ks: Sequence[int]) -> list[str]:
    """Column order used in reports: P@5, then nDCG/mAP/Recall at each ``k``."""
    cols = ["precision@5"]
    for k in sorted(ks):
        cols += [f"ndcg@{k}", f"map@{k}", f"recall@{k}"]
    return cols
