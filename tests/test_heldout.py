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
    split_dev_grouped,
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


@given(
    st.dictionaries(
        st.sampled_from([f"q{i}" for i in range(30)]),
        st.dictionaries(st.sampled_from([f"d{i}" for i in range(25)]), st.integers(0, 2), min_size=1, max_size=3),
        min_size=2,
        max_size=30,
    ),
    st.floats(0.05, 0.6),
    st.integers(0, 99),
)
def test_a_grouped_dev_split_shares_no_relevant_document_with_train(qrels, fraction, seed):
    try:
        train, dev = split_dev_grouped(qrels, list(qrels), dev_fraction=fraction, seed=seed)
    except ValueError as err:  # one group larger than the dev split can hold
        assert "No group of queries fits" in str(err)
        return
    assert sorted(train + dev) == sorted(qrels) and dev and not set(train) & set(dev)
    assert len(dev) <= max(1, round(fraction * len(qrels)))

    def relevant(ids):
        return {d for q in ids for d, g in qrels[q].items() if g > 0}

    assert not relevant(train) & relevant(dev)
    assert split_dev_grouped(qrels, list(reversed(list(qrels))), fraction, seed) == (train, dev)


def test_a_grouped_split_keeps_a_chain_of_shared_abstracts_together():
    # a-b share d1, b-c share d2: one group of three; e judged d9 not relevant (grade 0), so it is alone.
    qrels = {"a": {"d1": 1}, "b": {"d1": 1, "d2": 1}, "c": {"d2": 2}, "d": {"d3": 1}, "e": {"d9": 0}, "f": {"d4": 1}}
    for seed in range(20):
        train, dev = split_dev_grouped(qrels, list(qrels), dev_fraction=0.5, seed=seed)
        assert {"a", "b", "c"} <= set(train) or {"a", "b", "c"} <= set(dev)
    with pytest.raises(ValueError, match="have no qrels"):
        split_dev_grouped(qrels, ["a", "zz"])
    with pytest.raises(ValueError, match="No group of queries fits"):
        split_dev_grouped({"a": {"d": 1}, "b": {"d": 1}, "c": {"d": 1}}, ["a", "b", "c"], dev_fraction=0.3)


@pytest.mark.slow
def test_scifacts_grouped_dev_split_shares_no_abstract_where_a_random_one_shares_many(scifact_dir):
    from lessonlib.leakage import relevant_docs, seen_split

    train = load_beir(scifact_dir, split="train")
    ids = list(training_queries(train))
    counts = {}
    for name, (mining, dev) in {
        "random": split_dev(ids, 0.2, 0),
        "grouped": split_dev_grouped(train.qrels, ids, 0.2, 0),
    }.items():
        assert len(dev) == 161 and len(mining) == 646
        counts[name] = len(seen_split({q: train.qrels[q] for q in dev}, relevant_docs(train.qrels, mining)).seen)
    assert counts == {"random": 85, "grouped": 0}
