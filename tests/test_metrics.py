"""IR metrics: lessonlib's nDCG@k equals a by-hand computation with graded gains (as MTEB/pytrec_eval);
the paired bootstrap interval of a difference between two systems has the right centre, width and sign."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lessonlib.metrics import Scores, first_relevant_rank, paired_difference, ranked, score, truncate_run


def dcg(gains):
    """DCG by hand: sum of gain_i / log2(i + 1), ranks from 1."""
    return sum(g / math.log2(i + 1) for i, g in enumerate(gains, start=1))


def ndcg_at_k(qrels, run, k):
    return score(qrels, run, [k])[f"ndcg@{k}"]


QRELS = {"q": {"a": 2, "b": 1, "c": 0, "z": 1}}
RUN = {"q": {"b": 0.9, "c": 0.8, "a": 0.7, "d": 0.6}}


def test_ndcg_matches_a_by_hand_graded_computation():
    # Ranking b(1), c(0), a(2), d(unjudged=0); ideal order of the judged gains: 2, 1, 1.
    expected = dcg([1, 0, 2, 0]) / dcg([2, 1, 1])
    assert ndcg_at_k(QRELS, RUN, 10) == pytest.approx(expected, abs=1e-6)
    # At k=2 only the first two ranks count, and the ideal is cut at 2 as well.
    assert ndcg_at_k(QRELS, RUN, 2) == pytest.approx(dcg([1, 0]) / dcg([2, 1]), abs=1e-6)


def test_graded_gain_counts_a_two_more_than_a_one():
    top_is_grade_2 = {"q": {"a": 0.9, "b": 0.8}}
    top_is_grade_1 = {"q": {"b": 0.9, "a": 0.8}}
    high, low = ndcg_at_k(QRELS, top_is_grade_2, 10), ndcg_at_k(QRELS, top_is_grade_1, 10)
    assert high > low
    # Linear gains (trec_eval), not 2**grade - 1: the difference is exactly this.
    ideal = dcg([2, 1, 1])
    assert high - low == pytest.approx((dcg([2, 1]) - dcg([1, 2])) / ideal, abs=1e-6)


def test_recall_precision_and_mrr_by_hand():
    metrics = score(QRELS, RUN, k_values=[1, 3]).per_query["q"]
    assert metrics["recall@3"] == pytest.approx(2 / 3)  # a and b of the three relevant a, b, z
    assert metrics["precision@1"] == pytest.approx(1.0)
    assert metrics["mrr@1"] == pytest.approx(1.0)
    shifted = {"q": {"c": 0.9, "d": 0.8, "a": 0.7}}
    assert score(QRELS, shifted, [1, 3]).per_query["q"]["mrr@3"] == pytest.approx(1 / 3)
    assert score(QRELS, shifted, [1, 3]).per_query["q"]["mrr@1"] == 0.0


def test_unanswered_queries_count_as_zero():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": {"a": 1.0}}
    assert score(qrels, run, [10])["ndcg@10"] == pytest.approx(0.5)


def test_scores_hold_every_query_and_their_means():
    qrels = {"q1": {"a": 1}, "q2": {"b": 2, "a": 1}}
    run = {"q1": {"b": 0.9, "a": 0.5}, "q2": {"a": 0.9, "b": 0.1}}
    scores = score(qrels, run, [1, 10])
    assert isinstance(scores, Scores) and set(scores.per_query) == {"q1", "q2"}
    for name, mean in scores.mean.items():
        assert mean == pytest.approx(np.mean([row[name] for row in scores.per_query.values()]))
    assert scores["recall@10"] == 1.0 and scores["precision@1"] == 0.5  # q1 starts with b (not relevant), q2 with a
    with pytest.raises(KeyError, match=r"No metric 'ndcg@5' was computed; computed: .*'ndcg@10'"):
        scores["ndcg@5"]


def test_ties_are_broken_by_descending_doc_id_like_trec_eval():
    assert [d for d, _ in ranked({"a": 1.0, "c": 1.0, "b": 2.0})] == ["b", "c", "a"]
    assert truncate_run({"q": {"a": 1.0, "c": 1.0, "b": 2.0}}, 2) == {"q": {"b": 2.0, "c": 1.0}}


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="qrels is empty"):
        score({}, RUN)
    with pytest.raises(ValueError, match="k_values must be positive"):
        score(QRELS, RUN, [0])
    with pytest.raises(ValueError, match="queries without qrels"):
        score(QRELS, {"other": {"a": 1.0}})


def as_per_query(values, metric="ndcg@10"):
    return {f"q{i:04d}": {metric: float(v)} for i, v in enumerate(values)}


def test_paired_interval_matches_the_normal_approximation_on_a_large_sample():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, 2000)
    diffs = rng.normal(0.05, 0.1, 2000)
    result = paired_difference(as_per_query(a), as_per_query(a + diffs))
    assert result.mean == pytest.approx(diffs.mean())
    half_width = 1.96 * diffs.std(ddof=1) / math.sqrt(len(diffs))
    assert result.low == pytest.approx(diffs.mean() - half_width, abs=0.15 * half_width)
    assert result.high == pytest.approx(diffs.mean() + half_width, abs=0.15 * half_width)
    assert (result.wins, result.losses, result.queries) == ((diffs > 0).sum(), (diffs < 0).sum(), 2000)


def test_pairing_sees_a_small_consistent_gain_that_query_spread_would_hide():
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 0.9, 100)  # easy and hard queries: a spread of about 0.26
    result = paired_difference(as_per_query(a), as_per_query(a + 0.02 + rng.normal(0, 0.005, 100)))
    assert 0 < result.low < result.mean < result.high
    assert result.high - result.low < 0.01  # unpaired, the spread would make it about 0.14 wide
    assert "better on 100 of 100 queries" in str(result)


def test_identical_systems_differ_by_exactly_zero():
    a = as_per_query([0.1, 0.5, 0.9])
    result = paired_difference(a, a)
    assert (result.mean, result.low, result.high, result.wins, result.losses) == (0.0, 0.0, 0.0, 0, 0)


def test_interval_is_reproducible_and_its_level_widens_it():
    rng = np.random.default_rng(3)
    a, b = as_per_query(rng.uniform(0, 1, 80)), as_per_query(rng.uniform(0, 1, 80))
    assert paired_difference(a, b, seed=7) == paired_difference(a, b, seed=7)
    narrow, wide = paired_difference(a, b, confidence=0.8), paired_difference(a, b, confidence=0.99)
    assert wide.low < narrow.low < narrow.high < wide.high


def test_a_degenerate_resampling_falls_back_to_a_finite_interval_without_warnings():
    # One difference so small that BCa's acceleration underflows: scipy gives NaN ends and two warnings.
    zero, tiny = as_per_query([0.0, 0.0, 0.0]), as_per_query([1e-300, 0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = paired_difference(zero, tiny)
    assert math.isfinite(result.low) and math.isfinite(result.high)
    assert result.low <= result.mean <= result.high


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=3, max_size=40), st.lists(st.floats(0, 1), min_size=3, max_size=40))
def test_swapping_the_systems_negates_the_difference(xs, ys):
    n = min(len(xs), len(ys))
    a, b = as_per_query(xs[:n]), as_per_query(ys[:n])
    forward, backward = paired_difference(a, b, n_resamples=200), paired_difference(b, a, n_resamples=200)
    assert backward.mean == pytest.approx(-forward.mean, abs=1e-12)
    assert (backward.wins, backward.losses) == (forward.losses, forward.wins)
    assert forward.low <= forward.mean + 1e-12 and forward.mean <= forward.high + 1e-12


def test_paired_difference_bad_inputs_are_explained():
    a = as_per_query([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="different queries"):
        paired_difference(a, as_per_query([0.1, 0.2]))
    with pytest.raises(ValueError, match="at least 2 queries"):
        paired_difference(as_per_query([0.1]), as_per_query([0.2]))
    with pytest.raises(ValueError, match="metric 'recall@10' is missing"):
        paired_difference(a, a, metric="recall@10")
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        paired_difference(a, a, confidence=95)
    with pytest.raises(ValueError, match="n_resamples must be at least 100"):
        paired_difference(a, a, n_resamples=10)


def test_first_relevant_rank_follows_the_ranking_and_its_tie_rule():
    docs = {"a": 0.5, "b": 0.5, "c": 0.9}
    assert first_relevant_rank(docs, {"a": 1}) == 3  # c first, then the tie: b before a
    assert first_relevant_rank(docs, {"b": 2, "a": 1}) == 2
    assert first_relevant_rank(docs, {"c": 0}) is None  # judged, not relevant
    assert first_relevant_rank({}, {"a": 1}) is None
