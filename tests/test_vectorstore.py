"""The vector store: persisted, reopened by a fresh client, it answers as exact search does; filters; bad input."""

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from lessonlib.metrics import score
from lessonlib.retrieval import dense_search, search, to_run
from lessonlib.validation import InvalidParameterError
from lessonlib.vectorstore import VectorStore, folder_bytes, recall_against_exact

N_DOCS, DIM = 120, 24  # local mode writes a point per SQLite transaction: keep the collection small


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    docs = rng.standard_normal((N_DOCS, DIM)).astype(np.float32)
    queries = rng.standard_normal((15, DIM)).astype(np.float32)
    doc_ids = [f"doc{i:03d}" for i in range(N_DOCS)]
    titles = [f"Title {i}" for i in range(N_DOCS)]
    years = [2015 + i % 6 for i in range(N_DOCS)]
    return docs, queries, doc_ids, titles, years


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data):
    """A store written once and closed: every test reopens it with a fresh client."""
    docs, _, doc_ids, titles, years = data
    path = tmp_path_factory.mktemp("store") / "scifact"
    store = VectorStore.create(path, doc_ids, titles, docs * 5.0, payloads=[{"year": y} for y in years])
    store.close()
    return path


def test_a_reopened_store_answers_as_dense_search(folder, data):
    docs, queries, doc_ids, _, _ = data
    with VectorStore.open(folder) as store:
        assert len(store) == N_DOCS and store.dimensions == DIM
        assert repr(store) == f"VectorStore(collection='documents', documents={N_DOCS}, dimensions={DIM})"
        scores, indices = store.query(queries, top_k=10)
        run = store.search([f"q{i}" for i in range(len(queries))], queries, top_k=10)
        assert recall_against_exact(store, queries, docs, top_k=10) == 1.0
    exact_scores, exact_indices = dense_search(queries, docs, top_k=10)
    np.testing.assert_array_equal(indices, exact_indices)
    np.testing.assert_allclose(scores, exact_scores, atol=1e-5)
    exact_run = search([f"q{i}" for i in range(len(queries))], queries, doc_ids, docs, top_k=10)
    assert {q: list(hits) for q, hits in run.items()} == {q: list(hits) for q, hits in exact_run.items()}
    qrels = {q: {next(iter(hits)): 1} for q, hits in exact_run.items()}
    assert score(qrels, run, [10])["ndcg@10"] == score(qrels, exact_run, [10])["ndcg@10"] == 1.0


def test_closing_releases_the_folder_for_the_next_client(folder):
    for _ in range(2):
        store = VectorStore.open(folder)
        store.close()


def test_a_filter_restricts_the_answers_to_matching_documents(folder, data):
    docs, queries, doc_ids, _, years = data
    subset = np.flatnonzero(np.isin(years, [2016, 2019]))
    with VectorStore.open(folder) as store:
        scores, indices = store.query(queries, top_k=5, where={"year": [2016, 2019]})
        one_year = store.search(["q0"], queries[:1], top_k=50, where={"year": 2017})
        as_filter = store.query(
            queries,
            5,
            where=models.Filter(must=[models.FieldCondition(key="year", match=models.MatchAny(any=[2016, 2019]))]),
        )
        title = store.search(["q0"], queries[:1], top_k=3, where={"title": "Title 7"})
    exact_scores, exact_rows = dense_search(queries, docs[subset], top_k=5)
    np.testing.assert_array_equal(indices, subset[exact_rows])
    np.testing.assert_allclose(scores, exact_scores, atol=1e-5)
    np.testing.assert_array_equal(as_filter[1], indices)
    assert len(one_year["q0"]) == N_DOCS // 6 and all(years[doc_ids.index(d)] == 2017 for d in one_year["q0"])
    assert list(title["q0"]) == ["doc007"]


def test_fewer_matches_than_top_k_are_padded_as_faiss_pads(folder, data):
    _, queries, doc_ids, _, _ = data
    with VectorStore.open(folder) as store:
        scores, indices = store.query(queries[:2], top_k=4, where={"title": ["Title 3", "Title 4"]})
    assert indices.shape == (2, 4) and (indices[:, 2:] == -1).all() and np.isneginf(scores[:, 2:]).all()
    assert sorted(indices[0, :2]) == [3, 4]
    assert set(to_run(["a", "b"], doc_ids, scores, indices)["a"]) == {"doc003", "doc004"}


def test_the_same_calls_work_on_a_client_the_caller_owns(data):
    # A server's client (QdrantClient(url=...)) goes through this path; an in-memory client stands in for it.
    docs, queries, doc_ids, titles, _ = data
    client = QdrantClient(":memory:")
    with VectorStore.create(client, doc_ids[:30], titles[:30], docs[:30], collection="small") as store:
        _, indices = store.query(queries, top_k=3)
    np.testing.assert_array_equal(indices, dense_search(queries, docs[:30], top_k=3)[1])
    assert client.count("small").count == 30  # the store did not close a client it did not open
    assert len(VectorStore.open(client, "small")) == 30


def test_create_refuses_to_replace_a_collection_unless_told(tmp_path, data):
    docs, _, doc_ids, titles, _ = data
    VectorStore.create(tmp_path / "s", doc_ids[:3], titles[:3], docs[:3]).close()
    with pytest.raises(FileExistsError, match=r"collection 'documents' already exists .* overwrite=True"):
        VectorStore.create(tmp_path / "s", doc_ids[:3], titles[:3], docs[:3])
    with VectorStore.create(tmp_path / "s", doc_ids[:4], titles[:4], docs[:4], overwrite=True) as store:
        assert len(store) == 4
    assert folder_bytes(tmp_path / "s") > 4 * DIM * 4


def test_opening_what_is_not_there_says_so(tmp_path, folder):
    with pytest.raises(FileNotFoundError, match=r"No vector store at .*missing: create one"):
        VectorStore.open(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"No collection 'other' here \(collections: \['documents'\]\)"):
        VectorStore.open(folder, collection="other")
    VectorStore.open(folder).close()  # the failed open released the folder
    with pytest.raises(FileNotFoundError, match=r"No folder"):
        folder_bytes(tmp_path / "missing")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"embeddings": np.ones((3, 4), dtype=np.int8)}, r"embeddings must be float embeddings, got dtype int8"),
        ({"embeddings": np.ones((0, 4))}, r"embeddings is empty"),
        ({"doc_ids": ["a", "b"]}, r"2 doc_ids, 3 titles for 3 embedding rows"),
        ({"doc_ids": ["a", "b", "a"]}, r"doc_ids must be unique; repeated: \['a'\]"),
        ({"payloads": [{"title": "x"}, {}, {}]}, r"payloads\[0\] uses the reserved field\(s\) \['title'\]"),
        ({"batch_size": 0}, r"batch_size must be a positive integer"),
    ],
)
def test_create_refuses_bad_input_by_name(tmp_path, arguments, message):
    rng = np.random.default_rng(1)
    kwargs = {"doc_ids": ["a", "b", "c"], "titles": ["A", "B", "C"], "embeddings": rng.standard_normal((3, 4))}
    kwargs.update(arguments)
    with pytest.raises(InvalidParameterError, match=message):
        VectorStore.create(tmp_path / "bad", **kwargs)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, q: s.query(q[:, :8]), r"query_embeddings has width 8 but collection 'documents' has width 24"),
        (lambda s, q: s.query(q.astype(np.uint8)), r"query_embeddings must be float embeddings, got dtype uint8"),
        (lambda s, q: s.query(q, top_k=0), r"top_k must be a positive integer"),
        (lambda s, q: s.query(q, where={}), r"where must be a non-empty mapping"),
        (lambda s, q: s.search(["q0"], q), r"1 query_ids for 15 query rows"),
        (
            lambda s, q: recall_against_exact(s, q, np.ones((5, 24))),
            r"doc_embeddings has 5 rows but the store holds 120",
        ),
    ],
)
def test_queries_refuse_bad_input_by_name(folder, data, call, message):
    with VectorStore.open(folder) as store, pytest.raises(InvalidParameterError, match=message):
        call(store, data[1])
