"""Training pairs and hard negatives: the checked TrainingSet the trainer accepts."""

import pandas as pd
import pytest
from datasets import Dataset

from conftest import toy_pairs
from lessonlib.clicklogs import mine_pairs, simulate_click_log
from lessonlib.datasets import load_beir
from lessonlib.heldout import TestQueryLeakError, training_queries
from lessonlib.pairs import TrainingSet, add_hard_negatives, pairs_to_dataset, subsample_pairs


def test_pairs_to_dataset_builds_anchor_positive_texts(small_set):
    data = pairs_to_dataset(toy_pairs(["q0", "q2"]), small_set)
    assert data.column_names == ["anchor", "positive"]
    assert data["anchor"] == ["question on cats purr", "question on stock markets"]
    assert data["positive"][1] == "Stock Markets A passage about stock markets."


def test_pairs_from_a_train_query_that_copies_a_test_query_are_refused(small_set):
    with pytest.raises(TestQueryLeakError, match="q9"):
        pairs_to_dataset(pd.DataFrame({"query_id": ["q0", "q9"], "doc_id": ["d0", "d0"]}), small_set)


def test_the_whole_mining_pipeline_on_scifact_never_sees_a_test_query(scifact_dir):
    """From the train split to the trainer's dataset: no test id and no test text survives, by construction."""
    train = load_beir(scifact_dir, split="train")
    test = load_beir(scifact_dir, split="test")
    queries = training_queries(train)
    # Show every query its judged documents plus filler (the ranking model does not matter for leakage).
    filler = train.doc_ids[:10]
    rankings = {q: (list(train.qrels[q]) + filler)[:10] for q in queries}
    pairs = mine_pairs(simulate_click_log(rankings, train, sessions_per_query=3, seed=0))
    data = pairs_to_dataset(pairs, train)
    test_texts = {" ".join(t.lower().split()) for t in test.queries.values()}
    assert len(data) > 300
    assert not set(pairs["query_id"]) & set(test.queries)
    assert not {" ".join(a.lower().split()) for a in data["anchor"]} & test_texts
    # And the guard is what stops it: feeding every train query, the copies of test claims are refused.
    everything = pd.DataFrame(
        {"query_id": train.query_ids, "doc_id": [next(iter(train.qrels[q])) for q in train.query_ids]}
    )
    with pytest.raises(TestQueryLeakError):
        pairs_to_dataset(everything, train)


def test_hard_negatives_are_other_documents(small_set, isolated_cache, minilm):
    data = pairs_to_dataset(toy_pairs(["q0", "q1", "q2", "q3"]), small_set)
    mined = add_hard_negatives(data, minilm, small_set, num_negatives=1, relative_margin=0.0)
    assert mined.column_names == ["anchor", "positive", "negative"]
    assert len(mined) >= 1
    for row in mined:
        assert row["negative"] != row["positive"] and row["negative"] in small_set.document_texts()


def test_a_training_set_is_checked_where_it_is_made(small_set):
    checked = TrainingSet.check(Dataset.from_dict({"anchor": ["question on cats purr"], "positive": ["p"]}), small_set)
    assert len(checked) == 1 and checked.column_names == ["anchor", "positive"] and checked[0]["positive"] == "p"
    with pytest.raises(TestQueryLeakError):
        TrainingSet.check(Dataset.from_dict({"anchor": ["A TEST question"], "positive": ["p"]}), small_set)
    with pytest.raises(ValueError, match="'anchor' and 'positive'"):
        TrainingSet.check(Dataset.from_dict({"query": ["q"], "positive": ["p"]}), small_set)


def test_subsample_pairs_nests_and_validates():
    pairs = pd.DataFrame({"query_id": [f"q{i}" for i in range(10)], "doc_id": [f"d{i}" for i in range(10)]})
    small, large = subsample_pairs(pairs, 3, seed=1), subsample_pairs(pairs, 6, seed=1)
    assert set(small["query_id"]) <= set(large["query_id"])
    for bad in (0, 11):
        with pytest.raises(ValueError, match="n must be an int between 1 and 10"):
            subsample_pairs(pairs, bad)
    with pytest.raises(TypeError, match="n must be"):
        subsample_pairs(pairs, True)
