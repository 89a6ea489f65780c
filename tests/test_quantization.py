"""Quantization: int8 and binary codes as sentence-transformers makes them, Hamming search, rescoring, bytes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sentence_transformers.util.quantization import quantize_embeddings

from lessonlib.indexing import recall_at_k
from lessonlib.metrics import score
from lessonlib.picker import storage_bytes
from lessonlib.quantization import (
    PRECISIONS,
    Int8Embeddings,
    binary_search,
    bytes_per_vector,
    calibration_ranges,
    dequantize_int8,
    hamming_search,
    index_bytes,
    int8_search,
    quantize_binary,
    quantize_int8,
    unpack_binary,
)
from lessonlib.retrieval import dense_search, to_run
from lessonlib.validation import InvalidParameterError


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _random_unit(rng, n, d):
    return _unit(rng.standard_normal((n, d)))


@pytest.fixture(scope="module")
def clustered():
    """Easy data: 100 well-separated clusters of 10 documents; each query sits at a cluster's centre."""
    rng = np.random.default_rng(0)
    centres = _random_unit(rng, 100, 128)
    docs = _unit(np.repeat(centres, 10, axis=0) + 0.15 * rng.standard_normal((1000, 128)) / np.sqrt(128))
    queries = _unit(centres + 0.05 * rng.standard_normal((100, 128)) / np.sqrt(128))
    return queries, docs


@pytest.fixture(scope="module")
def uniform():
    """Harder data: random unit vectors, where neighbours are close calls."""
    rng = np.random.default_rng(1)
    return _random_unit(rng, 50, 64), _random_unit(rng, 2000, 64)


# ----------------------------------------------------------------------------- int8


def test_int8_codes_are_sentence_transformers_codes_with_the_ranges_kept():
    docs = _random_unit(np.random.default_rng(2), 300, 32)
    quantized = quantize_int8(docs)
    expected = quantize_embeddings(docs, precision="int8", calibration_embeddings=docs)
    np.testing.assert_array_equal(quantized.codes, expected)
    np.testing.assert_array_equal(quantized.ranges, np.vstack([docs.min(0), docs.max(0)]))
    assert quantized.codes.dtype == np.int8 and len(quantized) == 300 and quantized.dimensions == 32
    assert quantized.nbytes == 300 * 32 + 2 * 32 * 4


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(2, 40), st.integers(1, 16)), elements=st.floats(-1, 1, width=32)))
def test_dequantized_values_sit_at_most_one_step_below_the_original(x):
    quantized = quantize_int8(x)
    step = (quantized.ranges[1] - quantized.ranges[0]) / 255
    step = np.where(step == 0, 1, step)
    error = x - quantized.dequantize()
    assert np.all(error >= -1e-6 * np.maximum(1, np.abs(x)))
    assert np.all(error <= step * (1 + 1e-4) + 1e-6)


def test_new_embeddings_are_quantized_into_the_corpus_buckets_and_clipped_outside_them():
    docs = np.array([[0.0, -1.0], [1.0, 1.0]], dtype=np.float32)
    corpus = quantize_int8(docs)
    outside = quantize_int8(np.array([[2.0, -3.0]], dtype=np.float32), ranges=corpus.ranges)
    np.testing.assert_array_equal(outside.codes, [[127, -128]])
    assert np.array_equal(quantize_int8(docs, calibration_embeddings=docs).codes, corpus.codes)
    np.testing.assert_allclose(calibration_ranges(docs), [[0, -1], [1, 1]])
    np.testing.assert_allclose(dequantize_int8(corpus.codes, corpus.ranges), corpus.dequantize())
    np.testing.assert_allclose(corpus.dequantize([1]), corpus.dequantize()[1:])


def test_int8_search_is_dense_search_over_the_dequantized_corpus_and_keeps_most_of_the_top_10(uniform):
    queries, docs = uniform
    quantized = quantize_int8(docs)
    scores, indices = int8_search(queries, quantized, k=10)
    expected_scores, expected_indices = dense_search(queries, quantized.dequantize(), top_k=10)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(scores, expected_scores)
    assert recall_at_k(indices, dense_search(queries, docs, top_k=10)[1], 10) >= 0.9


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: quantize_int8(np.ones((3, 4), dtype=np.int8)), r"embeddings must be float embeddings, got dtype int8"),
        (lambda: quantize_int8(np.ones((1, 4))), r"calibration_embeddings has 1 row"),
        (lambda: quantize_int8(np.ones((3, 4)), np.ones((3, 4)), ranges=np.ones((2, 4))), r"not both"),
        (lambda: quantize_int8(np.ones((3, 4)), ranges=np.ones((2, 5))), r"ranges must have shape \(2, 4\)"),
        (lambda: quantize_int8(np.ones((3, 4)), np.ones((3, 5))), r"ranges must have shape \(2, 4\)"),
        (lambda: dequantize_int8(np.ones((3, 4), dtype=np.uint8), np.ones((2, 4))), r"codes must be int8"),
        (lambda: int8_search(np.ones((2, 4)), np.ones((3, 4))), r"int8_docs must be an Int8Embeddings"),
        (
            lambda: int8_search(np.ones((2, 5)), quantize_int8(np.eye(4))),
            r"query_embeddings has width 5 but int8_docs has width 4",
        ),
        (lambda: int8_search(np.ones((2, 4)), quantize_int8(np.eye(4)), k=0), r"k must be a positive integer"),
        (lambda: Int8Embeddings(np.ones((2, 3), dtype=np.float32), np.ones((2, 3))), r"codes must be a 2-D int8"),
    ],
)
def test_int8_refuses_bad_input_by_name(call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call()


# ----------------------------------------------------------------------------- binary


@pytest.mark.parametrize(("d", "nbytes"), [(384, 48), (768, 96), (100, 13), (1, 1)])
def test_binary_codes_take_d_over_8_bytes_rounded_up(d, nbytes):
    codes = quantize_binary(np.random.default_rng(d).standard_normal((5, d)))
    assert codes.shape == (5, nbytes) and codes.dtype == np.uint8
    assert bytes_per_vector(d, "binary") == nbytes == codes[0].nbytes


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 8), st.integers(1, 40)), elements=st.floats(-1, 1, width=32)))
def test_bits_are_the_signs_and_unpack_back(x):
    np.testing.assert_array_equal(unpack_binary(quantize_binary(x), x.shape[1]), (x > 0).astype(np.float32))
    np.testing.assert_array_equal(quantize_binary(x), quantize_embeddings(x, precision="ubinary"))


def test_hamming_search_ranks_by_the_number_of_differing_bits(uniform):
    queries, docs = uniform
    codes = quantize_binary(docs)
    distances, indices = hamming_search(queries, codes, k=20)
    bits_q, bits_d = unpack_binary(quantize_binary(queries), 64), unpack_binary(codes, 64)
    all_distances = (bits_q[:, None, :] != bits_d[None, :, :]).sum(-1)
    np.testing.assert_array_equal(distances, np.take_along_axis(all_distances, indices, axis=1))
    np.testing.assert_array_equal(distances, np.sort(all_distances, axis=1)[:, :20])
    assert np.all(np.diff(distances, axis=1) >= 0)


def test_binary_rescoring_recovers_the_exact_top_10_on_easy_data(clustered):
    queries, docs = clustered
    exact_scores, exact = dense_search(queries, docs, top_k=10)
    codes = quantize_binary(docs)
    _, with_int8 = binary_search(queries, codes, k=10, rescore_multiplier=4, rescore_docs=quantize_int8(docs))
    scores, with_float32 = binary_search(queries, codes, k=10, rescore_multiplier=4, rescore_docs=docs)
    assert recall_at_k(with_int8, exact, 10) == 1.0
    # Float32 rescoring scores the candidates exactly: the same documents and scores (order up to float ties).
    assert recall_at_k(with_float32, exact, 10) == 1.0
    np.testing.assert_allclose(scores, exact_scores, atol=1e-5)


def test_a_larger_shortlist_recovers_more_and_the_whole_corpus_gives_exact_search(uniform):
    queries, docs = uniform
    codes, exact = quantize_binary(docs), dense_search(queries, docs, top_k=10)
    recalls = [
        recall_at_k(binary_search(queries, codes, 10, rescore_multiplier=m, rescore_docs=docs)[1], exact[1], 10)
        for m in (1, 4, 16)
    ]
    assert recalls == sorted(recalls) and recalls[0] < recalls[-1]
    _, hamming_only = hamming_search(queries, codes, k=10)
    assert recall_at_k(hamming_only, exact[1], 10) < recalls[1]
    scores, indices = binary_search(queries, codes, 10, rescore_multiplier=len(docs) // 10, rescore_docs=docs)
    assert recall_at_k(indices, exact[1], 10) == 1.0
    np.testing.assert_allclose(scores, exact[0], atol=1e-5)


def test_without_rescore_docs_candidates_are_scored_by_the_float_query_against_their_bits(uniform):
    queries, docs = uniform
    codes = quantize_binary(docs)
    scores, indices = binary_search(queries[:3], codes, k=5, rescore_multiplier=2)
    expected = np.einsum("qd,qkd->qk", queries[:3], unpack_binary(codes, 64)[indices])
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_k_is_capped_at_the_corpus_size():
    docs = _random_unit(np.random.default_rng(3), 4, 16)
    _, indices = binary_search(docs[:2], quantize_binary(docs), k=10, rescore_docs=docs)
    assert indices.shape == (2, 4) and sorted(indices[0]) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda c, q: hamming_search(q, c.astype(np.float32)),
            r"binary_docs must be packed bits, dtype uint8, got float32",
        ),
        (lambda c, q: hamming_search(q[:, :32], c), r"query_embeddings has width 32 \(4 bytes once binarised\) but"),
        (lambda c, q: hamming_search(q, c[:0]), r"binary_docs holds no documents"),
        (lambda c, q: hamming_search(q, c, k=0), r"k must be a positive integer"),
        (lambda c, q: binary_search(q.astype(np.int8), c), r"query_embeddings must be float embeddings"),
        (lambda c, q: binary_search(q, c, rescore_multiplier=0), r"rescore_multiplier must be a positive integer"),
        (lambda c, q: binary_search(q, c, rescore_docs=np.ones((3, 64))), r"rescore_docs holds 3 documents"),
        (lambda c, q: binary_search(q, c, rescore_docs=np.ones((10, 8))), r"rescore_docs has width 8 but"),
        (lambda c, q: unpack_binary(c, 65), r"dimensions must be an int between 1 and 64"),
    ],
)
def test_binary_refuses_bad_input_by_name(uniform, call, message):
    queries, docs = uniform
    with pytest.raises(InvalidParameterError, match=message):
        call(quantize_binary(docs[:10]), queries[:2])


# ----------------------------------------------------------------------------- bytes


def test_bytes_per_vector_and_index_bytes_by_hand():
    assert [bytes_per_vector(384, p) for p in PRECISIONS] == [1536, 384, 48]
    assert index_bytes(10**6, 384, "float32") == 1_536_000_000 == storage_bytes(10**6, 384, "float32")
    assert index_bytes(10**6, 384, "int8") == 384_000_000 + 2 * 384 * 4
    assert index_bytes(10**6, 384, "binary") == 48_000_000 == storage_bytes(10**6, 384, "binary")
    with pytest.raises(InvalidParameterError, match=r"precision must be one of float32, int8, binary, got 'ubinary'"):
        bytes_per_vector(384, "ubinary")
    with pytest.raises(InvalidParameterError, match=r"dimensions must be a positive integer"):
        bytes_per_vector(0)


# ----------------------------------------------------------------------------- real SciFact (slow, model)


def test_on_scifact_int8_keeps_ndcg_and_rescoring_wins_back_most_of_what_binary_loses(scifact_minilm):
    # Measured here: float32 64.51, int8 64.52, Hamming only 58.64, binary + int8 rescoring (×4) 63.90.
    dataset, queries, docs = scifact_minilm

    def ndcg(scores, indices):
        return 100 * score(dataset.qrels, to_run(dataset.query_ids, dataset.doc_ids, scores, indices), [10])["ndcg@10"]

    int8_docs, binary_docs = quantize_int8(docs), quantize_binary(docs)
    full = ndcg(*dense_search(queries, docs, top_k=10))
    int8 = ndcg(*int8_search(queries, int8_docs, k=10))
    distances, indices = hamming_search(queries, binary_docs, k=10)
    hamming = ndcg(-distances.astype(np.float32), indices)
    rescored = [
        ndcg(*binary_search(queries, binary_docs, 10, rescore_multiplier=m, rescore_docs=int8_docs)) for m in (1, 4)
    ]
    assert full == pytest.approx(64.51, abs=0.05)
    assert abs(int8 - full) < 0.3
    assert hamming < full - 3
    assert hamming < rescored[0] < rescored[1] and full - rescored[1] < 1.5
    assert bytes_per_vector(docs.shape[1], "binary") * 32 == docs[0].nbytes
