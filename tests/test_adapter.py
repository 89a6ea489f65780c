"""The query-side adapter: lesson 01's projection head on the query side, trained against a frozen corpus."""

import numpy as np
import pytest
import torch

from lessonlib.adapter import train_query_adapter
from lessonlib.projection import ProjectionHead, project
from lessonlib.retrieval import search


def test_adapter_starts_as_the_identity():
    x = np.array([[3.0, 4.0], [1.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(project(ProjectionHead(2), x), [[0.6, 0.8], [1.0, 0.0]], atol=1e-6)


def test_adapter_learns_a_rotation_of_the_query_space():
    rng = np.random.default_rng(0)
    docs = rng.standard_normal((200, 16)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    rotation, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    rows = np.arange(200)
    queries = (docs @ rotation.T + 0.05 * rng.standard_normal((200, 16))).astype(np.float32)
    train, held = rows[:150], rows[150:]

    def accuracy(adapter):
        run = search([str(i) for i in held], project(adapter, queries[held]), [str(i) for i in rows], docs, top_k=1)
        return np.mean([next(iter(run[str(i)])) == str(i) for i in held])

    before = accuracy(ProjectionHead(16))
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
