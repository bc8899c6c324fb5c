"""rerank and rocchio on both back ends: methods, labels flagged/hidden, filters, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.feedback import (
    FeedbackError,
    FeedbackLabels,
    RankMethod,
    RocchioWeights,
    rerank,
    rocchio,
)
from closp_core.store import ChipRecord, Hit, SearchFilters, StoreInputError, VectorStore
from tests.feedback.conftest import concept_records


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _query(centres: np.ndarray) -> np.ndarray:
    """Between the target concept 0 and concept 1, nearer concept 1 (text alone is poor)."""
    return _unit(0.45 * centres[0] + 0.55 * centres[1])


def _precision(hits: list, label: str = "Water") -> float:
    return sum(label in h.record.labels for h in hits) / len(hits)


def test_rocchio_formula() -> None:
    rng = np.random.default_rng(1)
    q, p, n = (_unit(rng.normal(size=384)) for _ in range(3))
    pos = np.stack([p, _unit(p + 0.1 * rng.normal(size=384))])
    expected = _unit(1.0 * q + 0.75 * pos.mean(0) - 0.15 * n)
    np.testing.assert_allclose(rocchio(q, pos, n[None]), expected, atol=1e-6)
    no_query = rocchio(None, pos, np.zeros((0, 384)))
    np.testing.assert_allclose(no_query, _unit(pos.mean(0)), atol=1e-6)
    weighted = rocchio(q, pos, n[None], RocchioWeights(a=0.5, b=1.0, c=0.0))
    np.testing.assert_allclose(weighted, _unit(0.5 * q + pos.mean(0)), atol=1e-6)
    assert rocchio(q, np.zeros((0, 384)), np.zeros((0, 384))) == pytest.approx(q, abs=1e-6)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((None, np.zeros((0, 384)), np.ones((1, 384))), "mark at least one chip as relevant"),
        ((np.zeros(384), np.ones((1, 384)), np.zeros((0, 384))), "all zeros"),
        ((np.ones(5), np.ones((1, 384)), np.zeros((0, 384))), "expected shape"),
    ],
)
def test_rocchio_bad_input(args: tuple, match: str) -> None:
    with pytest.raises((FeedbackError, StoreInputError), match=match):
        rocchio(*args)


def test_rocchio_cancelling_terms_and_bad_weights() -> None:
    v = _unit(np.ones(384))
    with pytest.raises(FeedbackError, match="cancel out"):
        rocchio(v, np.zeros((0, 384)), v[None], RocchioWeights(a=1.0, b=0.75, c=1.0))
    with pytest.raises(FeedbackError, match="weight c must be a number >= 0"):
        RocchioWeights(c=-0.1)
    with pytest.raises(FeedbackError, match="must be finite"):
        RocchioWeights(a=float("nan"))


def test_no_labels_is_a_plain_search(
    concept_store: VectorStore, concepts: tuple[list[ChipRecord], np.ndarray]
) -> None:
    q = _query(concepts[1])
    result = rerank(concept_store, FeedbackLabels(), q, limit=20)
    plain = concept_store.search(q, limit=20)
    assert result.method is RankMethod.QUERY
    assert [h.key for h in result.hits] == [h.key for h in plain]
    assert [h.score for h in result.hits] == pytest.approx([h.score for h in plain], abs=1e-6)
    assert (result.positives, result.negatives, result.missing) == (0, 0, ())
    assert "mark results" in result.note


def _simulated_labels(store: VectorStore, q: np.ndarray, k: int) -> FeedbackLabels:
    """First k Water and first k other chips of the query's own ranking."""
    hits = store.search(q, limit=100)
    pos = [h.key for h in hits if "Water" in h.record.labels][:k]
    neg = [h.key for h in hits if "Water" not in h.record.labels][:k]
    return FeedbackLabels.of({**dict.fromkeys(pos, 1), **dict.fromkeys(neg, -1)})


def test_rocchio_then_logistic_improve_the_ranking(
    concept_store: VectorStore, concepts: tuple[list[ChipRecord], np.ndarray]
) -> None:
    q = _query(concepts[1])
    text_only = rerank(concept_store, FeedbackLabels(), q, limit=20)
    few = _simulated_labels(concept_store, q, 1)
    rocchio_result = rerank(concept_store, few, q, limit=20, hide_labelled=True)
    assert rocchio_result.method is RankMethod.ROCCHIO
    assert "Rocchio" in rocchio_result.note and "takes over at 3" in rocchio_result.note
    many = _simulated_labels(concept_store, q, 3)
    logistic = rerank(concept_store, many, q, limit=20, hide_labelled=True)
    assert logistic.method in (RankMethod.LOGISTIC, RankMethod.LOGISTIC_PER_SENSOR)
    assert all(0.0 <= h.score <= 1.0 for h in logistic.hits)  # probabilities
    assert [h.score for h in logistic.hits] == sorted(
        (h.score for h in logistic.hits), reverse=True
    )
    assert _precision(list(text_only.hits)) < 0.6
    assert _precision(list(rocchio_result.hits)) >= _precision(list(text_only.hits)) + 0.2
    assert _precision(list(logistic.hits)) >= 0.9
    again = rerank(concept_store, many, q, limit=20, hide_labelled=True)
    assert [h.key for h in again.hits] == [h.key for h in logistic.hits]  # deterministic


def test_labelled_chips_are_flagged_or_hidden(
    concept_store: VectorStore, concepts: tuple[list[ChipRecord], np.ndarray]
) -> None:
    q = _query(concepts[1])
    labels = _simulated_labels(concept_store, q, 3)
    shown = rerank(concept_store, labels, q, limit=40)
    flagged = {h.key: shown.label_of(h.key) for h in shown.hits if shown.label_of(h.key)}
    assert flagged and all(labels.get(k) == v for k, v in flagged.items())
    assert all(shown.label_of(h.key) is None for h in shown.hits if h.key not in labels)
    hidden = rerank(concept_store, labels, q, limit=40, hide_labelled=True)
    assert len(hidden.hits) == 40 and not any(h.key in labels for h in hidden.hits)


def test_per_sensor_classifiers_when_both_sensors_are_labelled(
    concept_store: VectorStore, concepts: tuple[list[ChipRecord], np.ndarray]
) -> None:
    records, centres = concepts
    pick: dict[str, int] = {}
    for sensor in Sensor:
        of_sensor = [r for r in records if r.sensor is sensor]
        pick |= dict.fromkeys([r.key for r in of_sensor if "Water" in r.labels][:3], 1)
        pick |= dict.fromkeys([r.key for r in of_sensor if "Crops" in r.labels][:3], -1)
    result = rerank(concept_store, FeedbackLabels.of(pick), _query(centres), limit=20)
    assert result.method is RankMethod.LOGISTIC_PER_SENSOR
    assert {h.record.sensor for h in result.hits} == {Sensor.S1, Sensor.S2}
    assert _precision(list(result.hits)) >= 0.9


def test_filters_apply_and_no_query_needs_a_relevant_chip(
    concept_store: VectorStore, concepts: tuple[list[ChipRecord], np.ndarray]
) -> None:
    q = _query(concepts[1])
    labels = _simulated_labels(concept_store, q, 3)
    only_s1 = SearchFilters(sensor=Sensor.S1)
    result = rerank(concept_store, labels, q, filters=only_s1, limit=15, candidates=60)
    assert result.hits and all(h.record.sensor is Sensor.S1 for h in result.hits)
    assert result.candidates <= 60
    from_labels_only = rerank(concept_store, labels, None, limit=10, hide_labelled=True)
    assert _precision(list(from_labels_only.hits)) >= 0.9
    with pytest.raises(FeedbackError, match="type a query or label a chip as relevant"):
        rerank(concept_store, FeedbackLabels(), None)
    negatives_only = FeedbackLabels.of(dict.fromkeys(labels.negative, -1))
    with pytest.raises(FeedbackError, match="mark at least one chip as relevant"):
        rerank(concept_store, negatives_only, None)


def test_labels_of_chips_not_in_the_index_are_reported(
    concept_store: VectorStore, concepts: tuple[list[ChipRecord], np.ndarray]
) -> None:
    q = _query(concepts[1])
    labels = _simulated_labels(concept_store, q, 1).with_label("gone/chip", 1)
    result = rerank(concept_store, labels, q, limit=10)
    assert result.missing == ("gone/chip",)
    assert "gone/chip" not in result.labels and len(result.labels) == 2
    assert "1 labelled chips are no longer in the index" in result.note
    only_gone = FeedbackLabels.of({"gone/a": 1, "gone/b": -1})
    assert rerank(concept_store, only_gone, q, limit=5).method is RankMethod.QUERY


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"limit": 0}, "limit must be an integer between 1"),
        ({"limit": 20_000}, "limit must be an integer between 1"),
        ({"candidates": True}, "candidates must be an integer"),
        ({"min_per_class": 0}, "min_per_class must be an integer >= 1"),
    ],
)
def test_bad_arguments(
    concept_store: VectorStore,
    concepts: tuple[list[ChipRecord], np.ndarray],
    kwargs: dict,
    match: str,
) -> None:
    with pytest.raises(FeedbackError, match=match):
        rerank(concept_store, FeedbackLabels(), _query(concepts[1]), **kwargs)


def test_a_chip_marked_relevant_never_ranks_below_one_marked_not_relevant(
    concept_store: VectorStore, concepts: tuple[list[ChipRecord], np.ndarray]
) -> None:
    """Four 👍 water chips and one 👍 chip of a far concept, and 👎 on the query's best chip:
    by score the 👎 chip ranks above the far 👍 one (the case seen in the app: 👍 #23, 👎
    #14); it moves to just below it, and the other chips keep their order."""
    records, centres = concepts
    query = _query(centres)
    near = max(records, key=lambda r: float(np.dot(r.vector, query)))
    water = [r.key for r in records if "Water" in r.labels][:4]
    far = next(r.key for r in records if "Built" in r.labels)
    labels = FeedbackLabels.of({**dict.fromkeys([*water, far], 1), near.key: -1})
    result = rerank(concept_store, labels, query, limit=180)
    keys = [h.key for h in result.hits]
    assert keys.index(near.key) == keys.index(far) + 1
    by_score = [h.key for h in sorted(result.hits, key=lambda h: -h.score)]
    assert by_score.index(near.key) < by_score.index(far)  # the premise: scores disagree
    others = [k for k in by_score if k != near.key]
    assert [k for k in keys if k != near.key] == others  # nobody else moved


def test_keep_marks_in_order_moves_only_the_marked_down_chips() -> None:
    from closp_core.feedback.rerank import keep_marks_in_order

    records, _ = concept_records(3)
    hits = [Hit(r, 1.0 - i / 100) for i, r in enumerate(records[:6])]
    k = [h.key for h in hits]
    labels = FeedbackLabels.of({k[0]: -1, k[2]: -1, k[4]: 1, k[5]: -1})
    moved = [h.key for h in keep_marks_in_order(hits, labels)]
    assert moved == [k[1], k[3], k[4], k[0], k[2], k[5]]
    assert [h.key for h in keep_marks_in_order(hits, FeedbackLabels.of({k[0]: -1}))] == k
