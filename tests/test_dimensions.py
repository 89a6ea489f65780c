"""Matryoshka truncation: unit rows again, identity at full width, truncations compose, bad input named."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lessonlib.dimensions import truncate
from lessonlib.metrics import score
from lessonlib.retrieval import dense_search, to_run
from lessonlib.validation import InvalidParameterError


def _unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# Rows whose every prefix has a direction: entries bounded away from zero.
rows_strategy = st.integers(2, 24).flatmap(
    lambda d: arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.just(d)),
        elements=st.floats(0.1, 10) | st.floats(-10, -0.1),
    )
)


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.data())
def test_rows_are_unit_after_truncation_and_truncations_compose(x, data):
    d = x.shape[1]
    m1 = data.draw(st.integers(1, d))
    m2 = data.draw(st.integers(1, m1))
    once = truncate(x, m1)
    assert once.shape == (len(x), m1) and once.dtype == x.dtype
    np.testing.assert_allclose(np.linalg.norm(once, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(truncate(once, m2), truncate(x, m2), rtol=1e-12, atol=1e-15)
    # the direction of the prefix is kept: a positive multiple of x[:, :m1]
    np.testing.assert_allclose(once * np.linalg.norm(x[:, :m1], axis=1, keepdims=True), x[:, :m1], rtol=1e-12)


def test_truncating_to_the_full_width_is_the_identity_on_unit_rows():
    x = _unit(np.random.default_rng(0), 50, 32)
    np.testing.assert_allclose(truncate(x, 32), x, rtol=1e-6)
    assert truncate(x, 32).dtype == np.float32


def test_without_re_normalising_dot_products_of_prefixes_are_not_cosines():
    # Why truncate re-normalises: the raw prefixes of unit vectors have different lengths, so their dot products
    # rank by length as well as by angle; after truncate, inner product and cosine (dense_search) agree.
    rng = np.random.default_rng(1)
    docs, queries = _unit(rng, 300, 64), _unit(rng, 20, 64)
    short_docs, short_queries = truncate(docs, 16), truncate(queries, 16)
    _, by_cosine = dense_search(queries[:, :16], docs[:, :16], top_k=10)
    by_dot_of_unit_prefixes = np.argsort(-(short_queries @ short_docs.T), axis=1, kind="stable")[:, :10]
    by_dot_of_raw_prefixes = np.argsort(-(queries[:, :16] @ docs[:, :16].T), axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(by_dot_of_unit_prefixes, by_cosine)
    assert not np.array_equal(by_dot_of_raw_prefixes, by_cosine)


@pytest.mark.parametrize("bad", [0, 5, -1, 2.0, True, None])
def test_truncate_dim_must_be_an_int_between_1_and_d(bad):
    with pytest.raises(InvalidParameterError, match=r"truncate_dim must be an int between 1 and 4 \(the embeddings"):
        truncate(np.ones((2, 4)), bad)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.ones((2, 4), dtype=np.int8), r"embeddings must be float embeddings, got dtype int8"),
        (np.ones(4), r"embeddings must be a 2-D array \(n, d\), got shape \(4,\)"),
        (np.ones((0, 4)), r"embeddings is empty"),
    ],
)
def test_truncate_refuses_what_is_not_a_float_matrix(bad, message):
    with pytest.raises(InvalidParameterError, match=message):
        truncate(bad, 2)


def test_a_prefix_of_zeros_has_no_direction_and_is_named():
    with pytest.raises(ValueError, match=r"embeddings truncated to 2 dimensions has zero vector\(s\) in row\(s\) 1"):
        truncate(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), 2)


def test_on_scifact_a_model_trained_without_matryoshka_loses_ndcg_as_it_is_truncated(scifact_minilm):
    # all-MiniLM-L6-v2 was not trained with MatryoshkaLoss. Measured here: 64.51 at 384 dimensions, 63.49 at 256,
    # 60.16 at 128, 48.41 at 64.
    dataset, queries, docs = scifact_minilm
    ndcg = []
    for m in (384, 256, 128, 64):
        scores, indices = dense_search(truncate(queries, m), truncate(docs, m), top_k=10)
        ndcg.append(
            100 * score(dataset.qrels, to_run(dataset.query_ids, dataset.doc_ids, scores, indices), [10])["ndcg@10"]
        )
    assert ndcg == sorted(ndcg, reverse=True)
    assert ndcg[0] == pytest.approx(64.51, abs=0.05) and ndcg[0] - ndcg[2] > 2 and ndcg[0] - ndcg[3] > 10
