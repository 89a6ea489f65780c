"""Retrieval: chunked exact search equals brute force; BM25 behaves as MTEB's bm25s baseline."""

import numpy as np
import pytest

from lessonlib.retrieval import EmptyVocabularyError, bm25_search, bm25_texts, dense_search, to_run


def brute_force(queries, docs, k):
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    d = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    scores = q @ d.T
    idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, idx, axis=1), idx


@pytest.mark.parametrize(("doc_chunk", "query_chunk"), [(7, 3), (1000, 1000), (1, 1)])
def test_chunked_search_equals_brute_force(doc_chunk, query_chunk):
    rng = np.random.default_rng(0)
    queries, docs = rng.normal(size=(11, 16)), rng.normal(size=(53, 16)) * rng.uniform(0.1, 5, (53, 1))
    scores, idx = dense_search(queries, docs, top_k=10, doc_chunk=doc_chunk, query_chunk=query_chunk)
    ref_scores, ref_idx = brute_force(queries, docs, 10)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)
    np.testing.assert_array_equal(idx, ref_idx)


def test_top_k_is_capped_at_the_corpus_size():
    scores, idx = dense_search(np.eye(2), np.eye(2), top_k=1000)
    assert scores.shape == idx.shape == (2, 2)
    assert idx[:, 0].tolist() == [0, 1]


def test_mismatched_shapes_are_explained():
    with pytest.raises(ValueError, match=r"queries \(2, 3\) and documents \(4, 5\)"):
        dense_search(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        dense_search(np.ones((2, 3)), np.ones((4, 3)), top_k=0)


def test_to_run_maps_indices_to_ids():
    run = to_run(["q1"], ["a", "b", "c"], np.array([[0.9, 0.5]]), np.array([[2, 0]]))
    assert run == {"q1": {"c": pytest.approx(0.9), "a": pytest.approx(0.5)}}


def test_to_run_skips_the_minus_one_padding_of_an_approximate_index():
    # FAISS pads with -1 when an IVF probe finds fewer than k documents: doc_ids[-1] would be "c", wrongly.
    run = to_run(["q1"], ["a", "b", "c"], np.array([[0.9, -np.inf]]), np.array([[1, -1]]))
    assert run == {"q1": {"b": pytest.approx(0.9)}}


def test_bm25_stems_drops_stop_words_and_ranks_the_matching_document_first():
    corpus = {
        "d1": {"title": "Cats", "text": "Cats purr when they are content."},
        "d2": {"title": "Dogs", "text": "Dogs bark at the postman."},
        "d3": {"title": "", "text": "The the the of and."},
    }
    texts = bm25_texts(corpus)
    assert texts[0] == "Cats\nCats purr when they are content."
    scores, idx = bm25_search(texts, ["barking dog", "the"], top_k=3)
    assert idx[0, 0] == 1 and scores[0, 0] > 0  # "barking" -> "bark", "dog" matches "Dogs"
    assert np.all(scores[1] == 0)  # "the" is a stop word: nothing matches


def test_bm25_over_a_corpus_of_stop_words_only_says_so():
    # Before: bm25s failed with "max() arg is an empty sequence".
    with pytest.raises(EmptyVocabularyError) as err:
        bm25_search(["the and of", "\nA an THE."], ["cats"], top_k=2)
    message = str(err.value)
    assert message.startswith("all 2 documents are empty once English stop words are removed (e.g. 'the and of')")
    assert "Check that the documents hold their text" in message


def test_embeddings_with_nan_are_refused_naming_the_rows():
    docs = np.ones((6, 4))
    docs[[2, 5], 1] = [np.nan, np.inf]
    with pytest.raises(ValueError, match=r"doc_embeddings has NaN or inf in row\(s\) 2, 5 \(2 in all\).*Re-encode"):
        dense_search(np.ones((1, 4)), docs)
    with pytest.raises(ValueError, match=r"query_embeddings has NaN or inf in row\(s\) 0 "):
        dense_search(np.full((1, 4), np.nan), np.ones((6, 4)))
