"""Comparing two similarity functions (lesson 03): top-k overlap and "is a closer to q than b?" on triples."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lessonlib.rankings import Triples, closer, overlap_at_k, random_triples
from lessonlib.similarity import normalise, top_k
from lessonlib.validation import InvalidParameterError


def test_identical_rankings_overlap_fully_and_disjoint_ones_not_at_all():
    ranking = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    assert overlap_at_k(ranking, ranking, 4) == 1.0
    assert overlap_at_k(ranking, ranking + 10, 4) == 0.0
    assert overlap_at_k(ranking, ranking[:, ::-1], 4) == 1.0  # order inside the top k does not matter
    assert overlap_at_k(ranking, ranking[:, ::-1], 2) == 0.0  # [0, 1] vs [3, 2]
    assert overlap_at_k([[0, 1, 9]], [[1, 5, 0]], 2) == 0.5  # only the first k count: 0 is third in b
    assert overlap_at_k([[0, 1], [2, 3]], [[0, 1], [7, 8]], 2) == 0.5  # the mean over queries


def old_overlap_at(a, b, k):
    """Lesson 03's cell before overlap_at_k moved into lessonlib.rankings."""
    return np.mean([len(set(x[:k]) & set(y[:k])) / k for x, y in zip(a, b, strict=True)])


def test_overlap_equals_the_old_cell_on_real_looking_rankings():
    rng = np.random.default_rng(0)
    queries, docs = rng.normal(size=(30, 16)), rng.normal(size=(200, 16)) * rng.uniform(0.5, 2, (200, 1))
    _, by_dot = top_k(queries, docs, k=50, metric="dot")
    _, by_cosine = top_k(queries, docs, k=50, metric="cosine")
    for k in (1, 10, 50):
        value = overlap_at_k(by_dot, by_cosine, k)
        assert value == old_overlap_at(by_dot, by_cosine, k) and isinstance(value, float)
        assert 0 < value < 1


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 8))
def test_overlap_is_symmetric_and_in_the_unit_interval(seed, k):
    rng = np.random.default_rng(seed)
    a = np.stack([rng.permutation(12)[:8] for _ in range(5)])
    b = np.stack([rng.permutation(12)[:8] for _ in range(5)])
    value = overlap_at_k(a, b, k)
    assert value == overlap_at_k(b, a, k) and 0.0 <= value <= 1.0
    assert value * k * 5 == pytest.approx(round(value * k * 5))  # a whole number of shared documents


def test_overlap_refuses_what_it_cannot_measure():
    ranking = np.array([[0, 1, 2]])
    with pytest.raises(InvalidParameterError, match="k must be an int between 1 and 3"):
        overlap_at_k(ranking, ranking, 4)
    with pytest.raises(InvalidParameterError, match="k must be"):
        overlap_at_k(ranking, ranking, 0)
    with pytest.raises(ValueError, match="same queries"):
        overlap_at_k(ranking, np.array([[0, 1, 2], [3, 4, 5]]), 2)
    with pytest.raises(ValueError, match=r"repeats a document within its top 2 in row\(s\) \[0\]"):
        overlap_at_k(ranking, np.array([[1, 1, 2]]), 2)
    with pytest.raises(ValueError, match="document indices"):
        overlap_at_k(ranking.astype(float), ranking, 2)


def test_random_triples_draw_as_the_old_cell_did():
    triples = random_triples(300, 5183, 1000, seed=0)
    rng = np.random.default_rng(0)
    q_i = rng.integers(0, 300, 1000)
    a_i, b_i = rng.integers(0, 5183, (2, 1000))
    for got, expected in zip((triples.query, triples.a, triples.b), (q_i, a_i, b_i), strict=True):
        np.testing.assert_array_equal(got, expected)
    assert triples.query.max() < 300 and triples.a.max() < 5183 and triples.b.min() >= 0
    assert not np.array_equal(random_triples(300, 5183, 1000, seed=1).a, triples.a)
    with pytest.raises(InvalidParameterError, match="n must be a positive integer"):
        random_triples(3, 3, 0)


def old_closer_by_l2(queries, docs, q_i, a_i, b_i):
    return np.sum((queries[q_i] - docs[a_i]) ** 2, axis=1) < np.sum((queries[q_i] - docs[b_i]) ** 2, axis=1)


def old_closer_by_cosine(queries, docs, q_i, a_i, b_i):
    unit_q, unit_d = normalise(queries), normalise(docs)
    return np.sum(unit_q[q_i] * unit_d[a_i], axis=1) > np.sum(unit_q[q_i] * unit_d[b_i], axis=1)


@pytest.fixture
def raw_space():
    """Float32 queries and documents whose norms vary by a factor of 4, and 5,000 triples over them."""
    rng = np.random.default_rng(0)
    queries = (rng.normal(size=(40, 24)) * rng.uniform(0.5, 2, (40, 1))).astype(np.float32)
    docs = (rng.normal(size=(300, 24)) * rng.uniform(0.5, 2, (300, 1))).astype(np.float32)
    return queries, docs, random_triples(len(queries), len(docs), 5000, seed=0)


def test_closer_equals_the_old_cell_functions(raw_space):
    queries, docs, triples = raw_space
    unit_q, unit_d = normalise(queries), normalise(docs)
    np.testing.assert_array_equal(
        closer(queries, docs, triples, "l2"), old_closer_by_l2(queries, docs, triples.query, triples.a, triples.b)
    )
    np.testing.assert_array_equal(
        closer(unit_q, unit_d, triples, "l2"), old_closer_by_l2(unit_q, unit_d, triples.query, triples.a, triples.b)
    )
    np.testing.assert_array_equal(
        closer(queries, docs, triples, "cosine"),
        old_closer_by_cosine(queries, docs, triples.query, triples.a, triples.b),
    )


def test_l2_and_cosine_agree_on_unit_vectors_and_not_on_raw_ones(raw_space):
    queries, docs, triples = raw_space
    distinct = triples.a != triples.b
    by_cosine = closer(queries, docs, triples, "cosine")
    on_unit = closer(normalise(queries), normalise(docs), triples, "l2") == by_cosine
    on_raw = closer(queries, docs, triples, "l2") == by_cosine
    assert on_unit[distinct].all()
    assert 0.6 < on_raw[distinct].mean() < 0.95
    # cosine ignores length, the dot product does not; on unit vectors they are the same function
    dot_on_unit = closer(normalise(queries), normalise(docs), triples, "dot")
    assert dot_on_unit[distinct].tolist() == by_cosine[distinct].tolist()
    assert not np.array_equal(closer(queries, docs, triples, "dot"), by_cosine)
    assert not closer(queries, docs, triples, "cosine")[~distinct].any()  # never closer than itself


def test_a_long_document_off_direction_wins_the_dot_product_only():
    query, docs = np.array([[1.0, 0.2]]), np.array([[0.9, 0.3], [2.0, 2.4]])  # lesson 03's toy A and B
    a_before_b = Triples(np.array([0]), np.array([0]), np.array([1]))
    assert closer(query, docs, a_before_b, "cosine").tolist() == [True]
    assert closer(query, docs, a_before_b, "l2").tolist() == [True]
    assert closer(query, docs, a_before_b, "dot").tolist() == [False]
    assert closer(query.astype(int), docs, a_before_b, "cosine").dtype == bool  # integer vectors are accepted


def test_closer_refuses_what_it_cannot_compare():
    queries, docs = np.eye(2), np.eye(2)
    triple = Triples(np.array([0]), np.array([0]), np.array([1]))
    with pytest.raises(ValueError, match="metric must be one of cosine, dot, l2"):
        closer(queries, docs, triple, "manhattan")
    with pytest.raises(ValueError, match="width"):
        closer(queries, np.eye(3), triple, "l2")
    with pytest.raises(ValueError, match=r"triples.b must hold integer indices in \[0, 2\)"):
        closer(queries, docs, Triples(np.array([0]), np.array([0]), np.array([2])), "l2")
    with pytest.raises(ValueError, match="one length"):
        closer(queries, docs, Triples(np.array([0]), np.array([0, 1]), np.array([1])), "l2")
    with pytest.raises(ValueError, match="NaN or inf"):
        closer(np.array([[np.nan, 0.0]]), docs, triple, "dot")
    with pytest.raises(ValueError, match="zero vector"):
        closer(queries, np.array([[1.0, 0.0], [0.0, 0.0]]), triple, "cosine")
