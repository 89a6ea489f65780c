"""FAISS indexes: exact equals dense_search, recall rises with efSearch and nprobe, memory by hand and measured."""

import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lessonlib.indexing import (
    build_flat,
    build_hnsw,
    build_ivf,
    build_ivfpq,
    faiss_threads,
    index_memory_bytes,
    recall_at_k,
    sample_like,
    search_sweep,
)
from lessonlib.metrics import score
from lessonlib.retrieval import dense_search, search
from lessonlib.validation import InvalidParameterError


@pytest.fixture(scope="module")
def corpus():
    """2,000 synthetic documents and 100 queries in 32 dimensions, with a little structure (not isotropic)."""
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((500, 32)) * np.linspace(2.0, 0.2, 32) + 0.3
    docs = sample_like(reference, 2000, seed=1)
    queries = sample_like(reference, 100, seed=2)
    _, exact = dense_search(queries, docs, top_k=10)
    return queries, docs, exact


# ----------------------------------------------------------------------------- exact


def test_flat_index_is_dense_search(corpus):
    queries, docs, _ = corpus
    built = build_flat(docs * 3.0)  # rows are normalised on the way in, as dense_search does
    scores, indices = built.search(queries * 0.5, k=10)
    expected_scores, expected_indices = dense_search(queries, docs, top_k=10)
    assert recall_at_k(indices, expected_indices, 10) == 1.0
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    assert built.kind == "flat" and built.n_documents == 2000 and built.dimensions == 32
    assert built.memory_bytes == index_memory_bytes(built.index) >= 2000 * 32 * 4


def test_run_from_an_index_scores_like_the_exact_run(corpus):
    queries, docs, _ = corpus
    query_ids, doc_ids = [f"q{i}" for i in range(len(queries))], [f"d{i}" for i in range(len(docs))]
    _, exact = dense_search(queries, docs, top_k=1)
    qrels = {q: {doc_ids[j]: 1} for q, j in zip(query_ids, exact[:, 0], strict=True)}
    exact_run = search(query_ids, queries, doc_ids, docs, top_k=10)
    run = build_flat(docs).run(query_ids, queries, doc_ids, k=10)
    assert score(qrels, run, [10])["ndcg@10"] == pytest.approx(score(qrels, exact_run, [10])["ndcg@10"]) == 1.0
    ivf_run = build_ivf(docs, nlist=16).run(query_ids, queries, doc_ids, k=10, nprobe=16)
    assert score(qrels, ivf_run, [10])["ndcg@10"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- HNSW


def test_hnsw_recall_is_high_and_rises_with_ef_search(corpus):
    queries, docs, exact = corpus
    built = build_hnsw(docs, M=16, ef_construction=40, ef_search=16)
    sweep = search_sweep(built, queries, exact, k=10, values=[8, 16, 32, 64, 128])
    recalls = sweep["recall@10"].tolist()
    assert list(sweep.columns) == ["ef_search", "recall@10", "ms_per_query"]
    assert recalls == sorted(recalls) and recalls[0] < recalls[-1]
    assert recalls[-1] >= 0.95
    assert recall_at_k(built.search(queries, 10)[1], exact, 10) == sweep["recall@10"][1]  # the default, 16


def test_hnsw_built_with_one_thread_is_the_same_graph_every_time(corpus):
    queries, docs, _ = corpus
    first, second = build_hnsw(docs[:500], M=8), build_hnsw(docs[:500], M=8)
    np.testing.assert_array_equal(first.search(queries, 10)[1], second.search(queries, 10)[1])
    np.testing.assert_array_equal(faiss.serialize_index(first.index), faiss.serialize_index(second.index))


def test_faiss_threads_restores_the_setting():
    before = faiss.omp_get_max_threads()
    with faiss_threads(1):
        assert faiss.omp_get_max_threads() == 1
    assert faiss.omp_get_max_threads() == before


# ----------------------------------------------------------------------------- IVF, IVF-PQ


def test_ivf_scanning_every_cell_is_exact_and_fewer_cells_lose_recall(corpus):
    queries, docs, exact = corpus
    built = build_ivf(docs, nlist=32, nprobe=1, seed=0)
    sweep = search_sweep(built, queries, exact, k=10, values=[1, 4, 32])
    assert sweep["recall@10"].iloc[-1] == 1.0
    assert sweep["recall@10"].tolist() == sorted(sweep["recall@10"]) and sweep["recall@10"].iloc[0] < 0.9
    scores, _ = built.search(queries, 10, nprobe=32)
    np.testing.assert_allclose(scores, dense_search(queries, docs, top_k=10)[0], atol=1e-5)


def test_ivf_with_the_same_seed_builds_the_same_index(corpus):
    _, docs, _ = corpus
    a, b = build_ivf(docs, nlist=16, seed=3), build_ivf(docs, nlist=16, seed=3)
    np.testing.assert_array_equal(faiss.serialize_index(a.index), faiss.serialize_index(b.index))


def test_ivf_pads_with_minus_one_when_its_cells_hold_fewer_than_k():
    docs = np.eye(8, dtype=np.float32)  # eight documents in eight cells: one probe finds one document
    built = build_ivf(docs, nlist=8, nprobe=1)
    scores, indices = built.search(docs[:1], k=3)
    assert indices[0, 0] == 0 and list(indices[0, 1:]) == [-1, -1] and np.isneginf(scores[0, 1:]).all()
    assert built.run(["q"], docs[:1], [f"d{i}" for i in range(8)], k=3) == {"q": {"d0": pytest.approx(1.0)}}


def test_ivfpq_compresses_vectors_and_keeps_a_useful_recall(corpus):
    queries, docs, exact = corpus
    built = build_ivfpq(docs, nlist=16, m=8, nbits=6, nprobe=16, seed=0)
    assert built.index.code_size == 8 * 6 // 8
    recall = recall_at_k(built.search(queries, 10)[1], exact, 10)
    assert 0.3 < recall < 1.0
    assert built.memory_bytes < build_ivf(docs, nlist=16).memory_bytes / 4


# ----------------------------------------------------------------------------- memory


# ----------------------------------------------------------------------------- recall, synthetic data


def test_recall_at_k_by_hand():
    assert recall_at_k([[3, 1, 7], [2, -1, -1]], [[1, 3, 5], [2, 4, 6]], k=3) == 0.5
    assert recall_at_k([[1, 2]], [[2, 1, 9]], k=2) == 1.0
    assert recall_at_k([[5]], [[1, 5]], k=2) == 0.5  # fewer results than k count as misses


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 20), st.integers(1, 10), st.randoms(use_true_random=False))
def test_recall_of_an_exact_search_against_itself_is_one_and_of_a_disjoint_one_zero(n_queries, k, random):
    exact = np.array([random.sample(range(100), k) for _ in range(n_queries)])
    assert recall_at_k(exact[:, ::-1], exact, k) == 1.0
    assert recall_at_k(exact + 100, exact, k) == 0.0


def test_synthetic_corpus_is_seeded_unit_and_matches_the_reference_directions():
    rng = np.random.default_rng(0)
    reference = sample_like(rng.standard_normal((400, 16)) * np.linspace(3, 0.1, 16) + 1.0, 300, seed=9)
    a, b = sample_like(reference, 5000, seed=4), sample_like(reference, 5000, seed=4, chunk=999)
    np.testing.assert_array_equal(a, b)  # same seed, same corpus, whatever the chunk size
    assert a.dtype == np.float32 and a.shape == (5000, 16)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    mean_direction = reference.mean(0) / np.linalg.norm(reference.mean(0))
    assert a.mean(0) @ mean_direction / np.linalg.norm(a.mean(0)) > 0.99
    assert not np.array_equal(a, sample_like(reference, 5000, seed=5))


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d, q: build_flat(d.astype(np.int8)), r"doc_embeddings must be float embeddings, got dtype int8"),
        (lambda d, q: build_flat(d[:0]), r"doc_embeddings is empty"),
        (lambda d, q: build_flat(d).search(q[:, :16], 10), r"query_embeddings has width 16 but the index has width 32"),
        (lambda d, q: build_flat(d).search(q, 0), r"k must be a positive integer"),
        (lambda d, q: build_flat(d).search(q, 10, nprobe=2), r"nprobe applies to an IVF or IVF-PQ index"),
        (lambda d, q: build_ivf(d, 16).search(q, 10, ef_search=2), r"ef_search applies to an HNSW index"),
        (lambda d, q: build_ivf(d, 16).search(q, 10, nprobe=17), r"nprobe must be an int between 1 and 16"),
        (lambda d, q: build_ivf(d[:10], nlist=11), r"nlist must be an int between 1 and 10 \(k-means needs"),
        (lambda d, q: build_ivfpq(d, 16, m=5), r"m must divide the 32 dimensions"),
        (lambda d, q: build_ivfpq(d[:100], 4, m=8, nbits=8), r"nbits=8 means 256 sub-centroids to train, more than"),
        (lambda d, q: build_hnsw(d, M=1), r"M must be an int >= 2"),
        (lambda d, q: build_hnsw(d).run(["q"], q, ["d0"]), r"1 doc_ids for an index of 200 documents"),
        (lambda d, q: search_sweep(build_flat(d), q, np.zeros((5, 10), int), values=[1]), r"has neither"),
        (lambda d, q: recall_at_k(np.zeros((2, 3)), np.zeros((2, 3), int), 3), r"approx_indices must be a 2-D integer"),
        (lambda d, q: recall_at_k(np.zeros((2, 3), int), np.zeros((3, 3), int), 3), r"approx_indices has 2 queries"),
        (
            lambda d, q: recall_at_k(np.zeros((2, 3), int), np.zeros((2, 3), int), 4),
            r"k must be an int between 1 and 3",
        ),
        (lambda d, q: sample_like(d[:1], 10), r"reference_embeddings has 1 row"),
    ],
)
def test_bad_input_is_named(call, message):
    rng = np.random.default_rng(5)
    docs = rng.standard_normal((200, 32)).astype(np.float32)
    with pytest.raises(InvalidParameterError, match=message):
        call(docs, docs[:5])


def test_on_scifact_the_synthetic_corpus_is_harder_to_index_than_the_real_one(scifact_minilm):
    # A Gaussian has one mode; real embeddings cluster by topic. Measured here with M=16, efSearch=16:
    # recall@10 0.91 on SciFact's 5,183 abstracts, 0.69 on as many synthetic vectors sampled like them.
    _, queries, docs = scifact_minilm
    synthetic_docs, synthetic_queries = sample_like(docs, len(docs), seed=0), sample_like(docs, len(queries), seed=1)
    recalls = []
    for d, q in ((docs, queries), (synthetic_docs, synthetic_queries)):
        built = build_hnsw(d, M=16, ef_construction=40, ef_search=16)
        recalls.append(recall_at_k(built.search(q, 10)[1], dense_search(q, d, top_k=10)[1], 10))
    assert recalls[0] > 0.85 and recalls[1] < recalls[0] - 0.1
