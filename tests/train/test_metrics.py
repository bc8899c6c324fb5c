"""Ranking metrics against hand-computed values and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, ndcg_score

from closp_core.errors import ClospError
from closp_core.metrics import (
    average_precision_at_k,
    dcg_at_k,
    ideal_gains,
    mean_metrics,
    ndcg_at_k,
    precision_at_k,
    rank_gains,
    ranking_metrics,
    recall_at_k,
)

# One query, five items. Scores rank items 0, 1, 2, 3, 4 in that order; gains 2, 0, 1, 0, 3.
SCORES = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])
GAINS = np.array([[2.0, 0.0, 1.0, 0.0, 3.0]])


def test_hand_computed_example() -> None:
    ranked = rank_gains(SCORES, GAINS)
    ideal = ideal_gains(GAINS)
    dcg3 = 2 / math.log2(2) + 0 / math.log2(3) + 1 / math.log2(4)  # 2.5
    idcg3 = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert dcg_at_k(ranked, 3)[0] == pytest.approx(dcg3, abs=1e-12)
    assert ndcg_at_k(ranked, ideal, 3)[0] == pytest.approx(dcg3 / idcg3, abs=1e-12)
    n_rel = np.array([3])
    # relevant at ranks 1, 3, 5 -> AP@5 = (1/1 + 2/3 + 3/5) / 3
    assert average_precision_at_k(ranked, n_rel, 5)[0] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    # AP@2: one hit at rank 1, normalised by min(R, k) = 2
    assert average_precision_at_k(ranked, n_rel, 2)[0] == pytest.approx(0.5)
    assert recall_at_k(ranked, n_rel, 3)[0] == pytest.approx(2 / 3)
    assert precision_at_k(ranked, n_rel, 3)[0] == pytest.approx(2 / 3)
    # k beyond the collection: missing ranks count as non-relevant
    assert precision_at_k(ranked, n_rel, 10)[0] == pytest.approx(0.3)
    assert recall_at_k(ranked, n_rel, 10)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("k", [1, 3, 10, 50, 100])
def test_ndcg_matches_sklearn(k: int) -> None:
    rng = np.random.default_rng(k)
    gains = rng.integers(0, 4, size=(6, 50)).astype(float)
    scores = rng.normal(size=(6, 50))  # continuous: no ties
    ours = ndcg_at_k(rank_gains(scores, gains), ideal_gains(gains), k)
    for q in range(6):
        want = ndcg_score(gains[q : q + 1], scores[q : q + 1], k=k)
        assert abs(ours[q] - want) < 1e-9


def test_full_average_precision_matches_sklearn() -> None:
    rng = np.random.default_rng(7)
    gains = (rng.random((5, 40)) < 0.3).astype(float)
    scores = rng.normal(size=(5, 40))
    ours = average_precision_at_k(rank_gains(scores, gains), gains.sum(axis=1), 40)
    for q in range(5):
        assert abs(ours[q] - average_precision_score(gains[q], scores[q])) < 1e-9


def test_queries_without_relevant_items_are_left_out() -> None:
    gains = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    scores = np.array([[0.1, 0.5, 0.2], [0.3, 0.2, 0.1]])
    per_query = ranking_metrics(scores, gains, ks=[2])
    assert np.isnan(per_query["ndcg@2"][1]) and np.isnan(per_query["map@2"][1])
    means = mean_metrics(per_query)
    assert means["queries"] == 1
    assert means["recall@2"] == 0.0
    assert means["ndcg@2"] == 0.0
    assert set(per_query) >= {"precision@5", "ndcg@2", "map@2", "recall@2", "precision@2"}


def test_ties_break_by_item_order() -> None:
    ranked = rank_gains(np.array([[1.0, 1.0, 1.0]]), np.array([[0.0, 1.0, 2.0]]))
    assert ranked.tolist() == [[0.0, 1.0, 2.0]]


def test_bad_inputs() -> None:
    with pytest.raises(ClospError, match="k must be a positive integer"):
        dcg_at_k(np.ones((1, 3)), 0)
    with pytest.raises(ClospError, match="same shape"):
        rank_gains(np.ones((1, 3)), np.ones((1, 4)))
    with pytest.raises(ClospError, match="gains must be >= 0"):
        ranking_metrics(np.ones((1, 2)), -np.ones((1, 2)), ks=[1])
    with pytest.raises(ClospError, match="NaN"):
        rank_gains(np.array([[np.nan, 1.0]]), np.ones((1, 2)))
