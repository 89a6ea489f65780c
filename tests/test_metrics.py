"""IR metrics: lessonlib's nDCG@k equals a by-hand computation with graded gains (as MTEB/pytrec_eval)."""

import math

import pytest

from lessonlib.metrics import evaluate_run, ndcg_at_k, per_query_metrics, ranked, truncate_run


def dcg(gains):
    """DCG by hand: sum of gain_i / log2(i + 1), ranks from 1."""
    return sum(g / math.log2(i + 1) for i, g in enumerate(gains, start=1))


QRELS = {"q": {"a": 2, "b": 1, "c": 0, "z": 1}}
RUN = {"q": {"b": 0.9, "c": 0.8, "a": 0.7, "d": 0.6}}


def test_ndcg_matches_a_by_hand_graded_computation():
    # Ranking b(1), c(0), a(2), d(unjudged=0); ideal order of the judged gains: 2, 1, 1.
    expected = dcg([1, 0, 2, 0]) / dcg([2, 1, 1])
    assert ndcg_at_k(QRELS, RUN, k=10) == pytest.approx(expected, abs=1e-6)
    # At k=2 only the first two ranks count, and the ideal is cut at 2 as well.
    assert ndcg_at_k(QRELS, RUN, k=2) == pytest.approx(dcg([1, 0]) / dcg([2, 1]), abs=1e-6)


def test_graded_gain_counts_a_two_more_than_a_one():
    top_is_grade_2 = {"q": {"a": 0.9, "b": 0.8}}
    top_is_grade_1 = {"q": {"b": 0.9, "a": 0.8}}
    high, low = ndcg_at_k(QRELS, top_is_grade_2, 10), ndcg_at_k(QRELS, top_is_grade_1, 10)
    assert high > low
    # Linear gains (trec_eval), not 2**grade - 1: the difference is exactly this.
    ideal = dcg([2, 1, 1])
    assert high - low == pytest.approx((dcg([2, 1]) - dcg([1, 2])) / ideal, abs=1e-6)


def test_recall_precision_and_mrr_by_hand():
    metrics = per_query_metrics(QRELS, RUN, k_values=[1, 3])["q"]
    assert metrics["recall@3"] == pytest.approx(2 / 3)  # a and b of the three relevant a, b, z
    assert metrics["precision@1"] == pytest.approx(1.0)
    assert metrics["mrr@1"] == pytest.approx(1.0)
    shifted = {"q": {"c": 0.9, "d": 0.8, "a": 0.7}}
    assert per_query_metrics(QRELS, shifted, [1, 3])["q"]["mrr@3"] == pytest.approx(1 / 3)
    assert per_query_metrics(QRELS, shifted, [1, 3])["q"]["mrr@1"] == 0.0


def test_unanswered_queries_count_as_zero():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": {"a": 1.0}}
    assert evaluate_run(qrels, run, [10])["ndcg@10"] == pytest.approx(0.5)


def test_ties_are_broken_by_descending_doc_id_like_trec_eval():
    assert [d for d, _ in ranked({"a": 1.0, "c": 1.0, "b": 2.0})] == ["b", "c", "a"]
    assert truncate_run({"q": {"a": 1.0, "c": 1.0, "b": 2.0}}, 2) == {"q": {"b": 2.0, "c": 1.0}}


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="qrels is empty"):
        evaluate_run({}, RUN)
    with pytest.raises(ValueError, match="k_values must be positive"):
        evaluate_run(QRELS, RUN, [0])
    with pytest.raises(ValueError, match="queries without qrels"):
        evaluate_run(QRELS, {"other": {"a": 1.0}})
