"""Fine-tuning: dev split, datasets, hard negatives, the cached trainer run with its model card, the query
adapter, and the guarantee that no test-split query reaches mining or training."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from transformers.utils import logging as hf_logging

from conftest import write_beir
from lessonlib.clicklogs import TestQueryLeakError, mine_pairs, simulate_click_log, training_queries
from lessonlib.datasets import load_beir
from lessonlib.embeddings import model_fingerprint
from lessonlib.environment import pick_device, pick_mixed_precision
from lessonlib.finetuning import (
    SETTINGS_FILE,
    QueryAdapter,
    TrainingSettings,
    adapter_run,
    add_hard_negatives,
    fine_tune,
    pairs_to_dataset,
    rerank_pool,
    seq_length,
    split_dev,
    subset_dataset,
    train_query_adapter,
)

TOPICS = ["cats purr", "dogs bark", "stock markets", "rain forecast", "protein folding", "vaccine trials"]


@pytest.fixture
def small_set(tmp_path):
    """Six training queries (one relevant document each), one test query whose text a train query copies."""
    docs = [{"_id": f"d{i}", "title": t.title(), "text": f"A passage about {t}."} for i, t in enumerate(TOPICS)]
    queries = [{"_id": f"q{i}", "text": f"question on {t}"} for i, t in enumerate(TOPICS)]
    queries += [{"_id": "x0", "text": "A test question"}, {"_id": "q9", "text": "a test  question"}]
    qrels = {
        "train": [(f"q{i}", f"d{i}", 1) for i in range(len(TOPICS))] + [("q9", "d0", 1)],
        "test": [("x0", "d1", 1)],
    }
    return load_beir(write_beir(tmp_path / "beir", docs, queries, qrels), split="train")


def _pairs(ids):
    return pd.DataFrame({"query_id": ids, "doc_id": [f"d{q[1:]}" for q in ids]})


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


def test_pairs_to_dataset_builds_anchor_positive_texts(small_set):
    data = pairs_to_dataset(_pairs(["q0", "q2"]), small_set)
    assert data.column_names == ["anchor", "positive"]
    assert data["anchor"] == ["question on cats purr", "question on stock markets"]
    assert data["positive"][1] == "Stock Markets A passage about stock markets."


# ----------------------------------------------------------------------------- no test query reaches training


def test_pairs_from_a_train_query_that_copies_a_test_query_are_refused(small_set):
    with pytest.raises(TestQueryLeakError, match="q9"):
        pairs_to_dataset(pd.DataFrame({"query_id": ["q0", "q9"], "doc_id": ["d0", "d0"]}), small_set)


def test_fine_tune_refuses_a_test_query_before_training(small_set, isolated_cache):
    from datasets import Dataset

    leaked = Dataset.from_dict({"anchor": ["A TEST question", "question on cats purr"], "positive": ["p", "q"]})
    with pytest.raises(TestQueryLeakError):
        fine_tune(leaked, TrainingSettings(batch_size=2), small_set)
    assert not (isolated_cache / "finetuned").exists()  # nothing was trained or saved


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


# ----------------------------------------------------------------------------- training


def test_settings_are_validated():
    with pytest.raises(ValueError, match="batch_size"):
        TrainingSettings(batch_size=1)
    with pytest.raises(ValueError, match="warmup_ratio"):
        TrainingSettings(warmup_ratio=1.0)
    with pytest.raises(ValueError, match="encode_length"):
        TrainingSettings(encode_length=4)


def test_fine_tune_trains_saves_a_card_and_reuses_the_run(small_set, isolated_cache, minilm, capfd):
    data = pairs_to_dataset(_pairs(["q0", "q1", "q2", "q3", "q4", "q5"]), small_set)
    settings = TrainingSettings(learning_rate=5e-4, epochs=1, batch_size=3, max_seq_length=32)
    capfd.readouterr()
    first = fine_tune(data, settings, small_set, name="tiny", data_description="six toy pairs")
    assert not first.from_cache
    # progress=False hides transformers' bars (loading and writing weights) and leaves the library's
    # progress-bar setting as it found it.
    quiet = capfd.readouterr()
    for bar in ("Loading weights", "Writing model shards"):
        assert bar not in quiet.err + quiet.out, bar
    assert hf_logging.is_progress_bar_enabled()
    assert model_fingerprint(first.model) != model_fingerprint(minilm)  # the weights moved
    assert first.model.max_seq_length == minilm.max_seq_length  # encoding length restored
    record = json.loads((first.path / SETTINGS_FILE).read_text())
    assert record["pairs"] == 6 and record["settings"]["learning_rate"] == 5e-4
    # bf16=None is resolved for this machine's device, recorded, and part of the run's identity.
    assert first.settings.bf16 is pick_mixed_precision(pick_device()) is record["settings"]["bf16"]
    assert first.precision == ("bfloat16" if first.settings.bf16 else "float32")
    assert record["batch_sampler"] == "NO_DUPLICATES" and record["data"] == "six toy pairs"
    card = (first.path / "README.md").read_text()
    assert "six toy pairs" in card and "learning_rate: 0.0005" in card
    second = fine_tune(data, settings, small_set, name="tiny", data_description="six toy pairs")
    assert second.from_cache and second.path == first.path
    texts = ["question on cats purr", "Cats Purr A passage about cats purr."]
    np.testing.assert_allclose(second.model.encode(texts), first.model.encode(texts), atol=1e-5)
    other = fine_tune(
        data, TrainingSettings(learning_rate=1e-4, batch_size=3, max_seq_length=32), small_set, name="tiny"
    )
    assert other.path != first.path and not other.from_cache
    other_precision = fine_tune(data, replace(settings, bf16=not first.settings.bf16), small_set, name="tiny")
    assert other_precision.path != first.path and not other_precision.from_cache
    assert other_precision.precision != first.precision
    shorter = fine_tune(data, replace(settings, encode_length=48), small_set, name="tiny")
    assert shorter.path != first.path and shorter.model.max_seq_length == 48  # saved with its encoding length
    assert json.loads((shorter.path / SETTINGS_FILE).read_text())["settings"]["encode_length"] == 48


def test_fine_tune_needs_a_full_batch(small_set, isolated_cache):
    data = pairs_to_dataset(_pairs(["q0", "q1"]), small_set)
    with pytest.raises(ValueError, match="fewer than one batch"):
        fine_tune(data, TrainingSettings(batch_size=4), small_set)


def test_hard_negatives_are_other_documents(small_set, isolated_cache, minilm):
    data = pairs_to_dataset(_pairs(["q0", "q1", "q2", "q3"]), small_set)
    mined = add_hard_negatives(data, minilm, small_set, num_negatives=1, relative_margin=0.0)
    assert mined.column_names == ["anchor", "positive", "negative"]
    assert len(mined) >= 1
    for row in mined:
        assert row["negative"] != row["positive"] and row["negative"] in small_set.document_texts()


def test_seq_length_is_restored(minilm):
    before = minilm.max_seq_length
    with seq_length(minilm, 16):
        assert minilm.max_seq_length == 16
    assert minilm.max_seq_length == before


# ----------------------------------------------------------------------------- query adapter


def test_adapter_starts_as_the_identity():
    x = np.array([[3.0, 4.0], [1.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(QueryAdapter(2).transform(x), [[0.6, 0.8], [1.0, 0.0]], atol=1e-6)


def test_adapter_learns_a_rotation_of_the_query_space():
    rng = np.random.default_rng(0)
    docs = rng.standard_normal((200, 16)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    rotation, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    rows = np.arange(200)
    queries = (docs @ rotation.T + 0.05 * rng.standard_normal((200, 16))).astype(np.float32)
    train, held = rows[:150], rows[150:]

    def accuracy(adapter):
        run = adapter_run(adapter, [str(i) for i in held], queries[held], [str(i) for i in rows], docs, top_k=1)
        return np.mean([next(iter(run[str(i)])) == str(i) for i in held])

    before = accuracy(QueryAdapter(16))
    adapter = train_query_adapter(queries[train], train, docs, epochs=60, learning_rate=1e-2, identity_weight=0.0)
    assert before < 0.5 and accuracy(adapter) > 0.9


def test_adapter_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="positive rows"):
        train_query_adapter(np.zeros((3, 4)), [0, 1], np.eye(4))
    with pytest.raises(ValueError, match="index rows"):
        train_query_adapter(np.zeros((2, 4)), [0, 9], np.eye(4))
    with pytest.raises(ValueError, match="Shapes"):
        train_query_adapter(np.zeros((2, 3)), [0, 1], np.eye(4))


def test_adapter_training_is_deterministic():
    rng = np.random.default_rng(1)
    docs = rng.standard_normal((20, 8)).astype(np.float32)
    a = train_query_adapter(docs[:10], range(10), docs, epochs=3, seed=5)
    b = train_query_adapter(docs[:10], range(10), docs, epochs=3, seed=5)
    assert torch.equal(a.linear.weight, b.linear.weight)


def test_check_infonce_matches_the_library_loss(minilm):
    """The exercise's reference is MultipleNegativesRankingLoss itself, computed on fixed embeddings."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from lessonlib.exercises.lesson04 import check_infonce

    def ours(q, p, scale):
        sims = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(p, dim=1).T
        return torch.nn.functional.cross_entropy(scale * sims, torch.arange(len(q)))

    generator = torch.Generator().manual_seed(1)
    q, p = torch.randn(4, 8, generator=generator), torch.randn(4, 8, generator=generator)
    library = MultipleNegativesRankingLoss(minilm, scale=20.0).compute_loss_from_embeddings([q, p], None)
    assert float(library) == pytest.approx(float(ours(q, p, 20.0)), abs=1e-5)
    assert check_infonce(ours)
    assert not check_infonce(
        lambda q, p, scale: torch.nn.functional.cross_entropy(scale * q @ p.T, torch.arange(len(q)))
    )
