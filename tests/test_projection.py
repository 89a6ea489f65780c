"""The projection-head experiment: batches without duplicates, training that lowers InfoNCE, evaluation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lessonlib.contrastive import info_nce
from lessonlib.datasets import load_beir
from lessonlib.projection import (
    ProjectionHead,
    evaluate_space,
    positive_pairs,
    project,
    train_projection_head,
    unique_batches,
    unseen_queries,
)


@settings(max_examples=50, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), min_size=1, max_size=60, unique=True),
    batch_size=st.integers(2, 9),
    seed=st.integers(0, 1000),
)
def test_unique_batches_use_every_pair_once_and_never_repeat_an_id(pairs, batch_size, seed):
    qids = [f"q{q}" for q, _ in pairs]
    dids = [f"d{d}" for _, d in pairs]
    batches = unique_batches(qids, dids, batch_size, np.random.default_rng(seed))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(pairs)))
    for b in batches:
        assert 1 <= len(b) <= batch_size
        assert len({qids[i] for i in b}) == len(b) == len({dids[i] for i in b})


def test_identity_head_changes_nothing_but_the_length():
    x = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    out = project(ProjectionHead(6), x)
    np.testing.assert_allclose(out, x / np.linalg.norm(x, axis=1, keepdims=True), atol=1e-6)


def toy_pairs(n=64, d=8, seed=0):
    """Queries whose positives are a fixed rotation of them plus noise: a linear head can learn it."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, d)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    p = (q @ rotation.T + 0.1 * rng.normal(size=(n, d))).astype(np.float32)
    return q, p


def test_training_lowers_the_loss_and_is_deterministic():
    q, p = toy_pairs()
    before = float(info_nce(q, p, temperature=0.1))
    first = train_projection_head(q, p, temperature=0.1, batch_size=16, epochs=30, learning_rate=1e-2, seed=3)
    second = train_projection_head(q, p, temperature=0.1, batch_size=16, epochs=30, learning_rate=1e-2, seed=3)
    after = float(info_nce(project(first.head, q), project(first.head, p), temperature=0.1))
    assert after < before - 0.5
    assert first.epoch_losses[-1] < first.epoch_losses[0]
    assert len(first.epoch_losses) == 30 and first.temperature == 0.1 and first.batch_size == 16
    np.testing.assert_array_equal(first.head.linear.weight.detach().numpy(), second.head.linear.weight.detach().numpy())


def test_training_validates_its_inputs():
    q, p = toy_pairs(n=8)
    with pytest.raises(ValueError, match="same shape"):
        train_projection_head(q, p[:5], temperature=0.1)
    with pytest.raises(ValueError, match="temperature"):
        train_projection_head(q, p, temperature=0)
    with pytest.raises(ValueError, match="batch_size must be an int >= 2"):
        train_projection_head(q, p, temperature=0.1, batch_size=1)
    with pytest.raises(ValueError, match="epochs"):
        train_projection_head(q, p, temperature=0.1, epochs=0)
    with pytest.raises(ValueError, match="both query_ids and doc_ids"):
        train_projection_head(q, p, temperature=0.1, query_ids=["a"] * 8)


def test_the_embeddings_are_checked_once_before_training_and_no_step_checks_again(monkeypatch):
    import lessonlib.contrastive as contrastive

    q, p = toy_pairs(n=8)
    bad = q.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="query_embeddings contains NaN"):
        train_projection_head(bad, p, temperature=0.1)
    bad = p.copy()
    bad[5] = 0.0
    with pytest.raises(ValueError, match="doc_embeddings contains an all-zero vector"):
        train_projection_head(q, bad, temperature=0.1)
    checks = []
    monkeypatch.setattr(contrastive, "_check_batch", lambda *a: checks.append(1) or a)
    train_projection_head(q, p, temperature=0.1, batch_size=4, epochs=3)
    assert checks == []  # 6 steps, none re-checked what the boundary checked


def test_a_diverging_head_stops_with_what_to_change():
    q, p = toy_pairs(n=16)
    with pytest.raises(
        FloatingPointError, match=r"the head diverged\. Lower the learning rate or raise the temperature"
    ):
        train_projection_head(q, p, temperature=1e-30, batch_size=8, epochs=2, learning_rate=1e30)


def test_evaluate_space_on_a_tiny_dataset(tiny_beir):
    dataset = load_beir(tiny_beir, split="test")  # q1 -> d1 (grade 1), q2 -> d2 (grade 2)
    assert positive_pairs(dataset) == (["q1", "q2"], ["d1", "d2"])
    docs = np.eye(3, dtype=np.float32)
    perfect = evaluate_space(np.eye(3, dtype=np.float32)[:2], docs, dataset)
    assert perfect["ndcg@10"] == pytest.approx(1.0)
    assert perfect["alignment"] == pytest.approx(0.0, abs=1e-9)
    assert perfect["uniformity"] == pytest.approx(-4.0)  # orthogonal documents: squared distance 2, t = 2
    swapped = evaluate_space(np.eye(3, dtype=np.float32)[[1, 0]], docs, dataset)
    assert swapped["alignment"] == pytest.approx(2.0)  # each query orthogonal to its document
    assert swapped["ndcg@10"] < 1.0
    with pytest.raises(ValueError, match="dataset's order"):
        evaluate_space(docs, docs, dataset)


def test_unseen_queries_and_their_ndcg(tiny_beir):
    dataset = load_beir(tiny_beir, split="test")
    assert unseen_queries(dataset, ["d1"]) == ["q2"]
    assert unseen_queries(dataset, []) == ["q1", "q2"]
    docs = np.eye(3, dtype=np.float32)
    queries = np.eye(3, dtype=np.float32)[[0, 0]]  # q1 finds d1; q2 also points at d1, missing d2
    report = evaluate_space(queries, docs, dataset, seen_doc_ids={"d1"})
    assert report["ndcg@10 unseen"] < report["ndcg@10"] < 1.0
    assert evaluate_space(queries, docs, dataset, seen_doc_ids={"d2"})["ndcg@10 unseen"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no unseen queries"):
        evaluate_space(queries, docs, dataset, seen_doc_ids={"d1", "d2"})
