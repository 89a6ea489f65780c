"""Leakage between splits: seen/unseen queries, near-duplicate claims, differences reported per group."""

import pytest

from lessonlib.leakage import jaccard, near_duplicates, relevant_docs, seen_split, split_difference, tokens
from lessonlib.metrics import paired_difference


def test_tokens_and_jaccard_by_hand():
    assert tokens("A b, B!  c") == {"a", "b", "c"}
    assert jaccard("a b c", "b c d") == pytest.approx(2 / 4)
    assert jaccard("same words", "Words same") == 1.0
    assert jaccard("", "") == 0.0 and jaccard("a", "") == 0.0


def test_seen_split_ignores_grade_zero_and_covers_every_query():
    held_out = {"t1": {"a": 1}, "t2": {"b": 2}, "t3": {"a": 0, "c": 1}, "t4": {"x": 1, "b": 1}}
    split = seen_split(held_out, relevant_docs({"r1": {"a": 1, "b": 0}, "r2": {"x": 3}}))
    assert split.seen == ["t1", "t4"] and split.unseen == ["t2", "t3"]
    assert relevant_docs({"r1": {"a": 1, "b": 0}, "r2": {"x": 3}}, ["r1"]) == {"a"}


def test_near_duplicates_need_the_same_abstract_and_the_threshold():
    held = {"t1": "aspirin lowers fever", "t2": "statins cut risk"}
    held_qrels = {"t1": {"a": 1}, "t2": {"s": 1}}
    train = {"x": "aspirin lowers fever fast", "y": "aspirin lowers fever", "z": "statins raise risk", "w": "other"}
    train_qrels = {"x": {"a": 1}, "y": {"b": 1}, "z": {"s": 1}, "w": {"a": 0}}
    assert near_duplicates(held, held_qrels, train, train_qrels, 0.5) == {"t1": ["x"], "t2": ["z"]}
    assert near_duplicates(held, held_qrels, train, train_qrels, 0.75) == {"t1": ["x"]}  # 3/4 vs 2/4
    with pytest.raises(ValueError, match=r"threshold must be > 0\.0 and <= 1\.0"):
        near_duplicates(held, held_qrels, train, train_qrels, 0)


def test_split_difference_reports_all_and_each_group():
    a = {f"q{i}": {"ndcg@10": 0.5} for i in range(6)}
    b = {f"q{i}": {"ndcg@10": 0.5 + (0.3 if i < 3 else -0.1 * (i - 2))} for i in range(6)}
    groups = {"seen": ["q0", "q1", "q2"], "unseen": ["q3", "q4", "q5"]}
    result = split_difference(a, b, groups, seed=1)
    assert list(result) == ["all", "seen", "unseen"]
    assert result["all"] == paired_difference(a, b, seed=1)
    assert result["seen"].mean == pytest.approx(0.3) and result["seen"].queries == 3
    assert result["unseen"].mean == pytest.approx(-0.2) and result["unseen"].losses == 3
    with pytest.raises(ValueError, match="group 'other' names 1 queries the systems were not scored on"):
        split_difference(a, b, {"other": ["q9"]})


@pytest.mark.slow
def test_scifacts_test_claims_seen_in_training_and_near_duplicates(scifact_dir):
    from lessonlib.datasets import load_beir

    train, test = load_beir(scifact_dir, split="train"), load_beir(scifact_dir, split="test")
    split = seen_split(test.qrels, relevant_docs(train.qrels))
    assert (len(split.seen), len(split.unseen)) == (196, 104)
    assert len(near_duplicates(test.queries, test.qrels, train.queries, train.qrels, 0.5)) == 130
