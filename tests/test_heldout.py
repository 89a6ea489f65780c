"""Splits and held-out guards: the dev split, subsets and re-ranking pools, and the guarantee that no
test-split query (by id or by text) reaches mining or training."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import write_beir
from lessonlib.datasets import load_beir
from lessonlib.heldout import (
    TestQueryLeakError,
    ensure_no_test_queries,
    held_out_queries,
    normalise_query,
    rerank_pool,
    split_dev,
    subset_dataset,
    training_queries,
)


@given(st.lists(st.text(min_size=1, max_size=5), min_size=2, max_size=40, unique=True), st.integers(0, 99))
def test_split_dev_is_a_deterministic_partition(ids, seed):
    train, dev = split_dev(ids, 0.25, seed)
    assert set(train) | set(dev) == set(ids) and not set(train) & set(dev)
    assert train == sorted(train) and dev == sorted(dev) and len(dev) >= 1
    assert split_dev(list(reversed(ids)), 0.25, seed) == (train, dev)


def test_split_dev_rejects_bad_fraction():
    with pytest.raises(ValueError, match="dev_fraction"):
        split_dev(["a", "b"], 1.0)


def test_subset_keeps_judgements_of_documents_outside_the_pool(small_set):
    sub = subset_dataset(small_set, ["q1", "q0"], ["d0", "d3"])
    assert sub.query_ids == ["q0", "q1"] and sub.doc_ids == ["d0", "d3"]
    assert sub.qrels["q1"] == {"d1": 1}  # d1 is not in the pool: it will count as a miss
    assert rerank_pool({"a": {"x": 0.9, "y": 0.8, "z": 0.1}, "b": {"w": 0.5, "x": 0.4}}, 1) == ["w", "x"]


def test_test_queries_are_refused_by_id_and_by_text(train_set):
    with pytest.raises(TestQueryLeakError, match="x1"):
        ensure_no_test_queries({"x1": "anything"}, train_set)
    with pytest.raises(TestQueryLeakError, match="t3"):
        ensure_no_test_queries({"t3": train_set.queries["t3"]}, train_set)
    ensure_no_test_queries({"t1": "first training query"}, train_set)  # no error


def test_training_queries_drop_the_train_query_that_copies_a_test_query(train_set):
    assert sorted(training_queries(train_set)) == ["t1", "t2"]
    with pytest.raises(TestQueryLeakError, match="t3"):
        ensure_no_test_queries({"t3": train_set.queries["t3"]}, train_set)


def test_the_test_split_itself_is_refused(train_set):
    test = load_beir(train_set.path, split="test")
    with pytest.raises(TestQueryLeakError, match="train"):
        training_queries(test)
    with pytest.raises(TestQueryLeakError):
        ensure_no_test_queries({"x1": "anything"}, test)


def test_scifact_training_queries_share_nothing_with_test(scifact_dir):
    train = load_beir(scifact_dir, split="train")
    test = load_beir(scifact_dir, split="test")
    kept = training_queries(train)
    test_texts = {" ".join(t.lower().split()) for t in test.queries.values()}
    assert not set(kept) & set(test.queries)
    assert not {" ".join(t.lower().split()) for t in kept.values()} & test_texts
    # SciFact's train split holds claims whose text is also a test claim; they are dropped.
    assert 0 < len(train.queries) - len(kept) <= 5


def test_normalise_query_ignores_case_and_spacing():
    assert normalise_query("  The held-out\tTEST claim ") == "the held-out test claim"


def test_held_out_queries_are_read_once_and_again_when_the_file_changes(train_set):
    first = held_out_queries(train_set)
    assert first.ids == {"x1"} and first.texts == {"the held-out test claim"}
    assert held_out_queries(train_set.path) is first  # the same object: read once
    qrels = train_set.path / "qrels" / "test.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nt1\td0\t1\n")
    stat = qrels.stat()
    os.utime(qrels, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = held_out_queries(train_set)
    assert again is not first and again.ids == {"t1"}


def test_a_folder_without_the_held_out_split_holds_no_held_out_queries(tmp_path):
    folder = write_beir(tmp_path / "only-train", qrels={"train": [("q3", "d3", 1)]})
    assert held_out_queries(folder).ids == frozenset()


def test_a_malformed_held_out_split_is_reported_with_file_and_line(train_set):
    (train_set.path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nx1\tnope\t1\n")
    with pytest.raises(ValueError, match=r"test.tsv:2"):
        ensure_no_test_queries({"t1": "first training query"}, train_set)


def test_rerank_pool_breaks_ties_as_the_metrics_do():
    # Equal scores: the tie rule of lessonlib.metrics.ranked (trec_eval's, document id descending).
    assert rerank_pool({"q": {"a": 0.5, "b": 0.5, "c": 0.1}}, depth=1) == ["b"]
    with pytest.raises(ValueError, match="depth"):
        rerank_pool({"q": {"a": 0.5}}, depth=0)
