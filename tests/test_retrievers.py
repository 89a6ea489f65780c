"""Retrievers: a dense model keeps its prompts, the adapter changes only queries, BM25 names its corpus file,
reciprocal rank fusion sums 1 / (k + rank) with trec_eval's tie rule."""

import numpy as np
import pytest
import torch

import lessonlib.retrievers as retrievers
from conftest import write_beir
from lessonlib.datasets import load_beir
from lessonlib.projection import ProjectionHead
from lessonlib.retrieval import EmptyVocabularyError, search
from lessonlib.retrievers import (
    AdapterRetriever,
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    Retriever,
    reciprocal_rank_fusion,
    retriever_for,
)


class FakeModel:
    """What DenseRetriever reads from a model: its prompts (the encoding itself is faked below)."""

    def __init__(self, prompts=None):
        self.prompts = dict(prompts or {})


@pytest.fixture
def fake_encode(monkeypatch):
    """Replace the encoder: each text becomes a fixed unit vector; every call's prompt is recorded."""
    calls = []

    def encode(model, texts, *, prompt="", **kwargs):
        calls.append((prompt, list(texts)))
        rows = [np.random.default_rng(sum(map(ord, prompt + t))).standard_normal(4) for t in texts]
        rows = np.array(rows, dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    monkeypatch.setattr(retrievers, "encode", encode)
    return calls


def test_every_retriever_is_a_retriever():
    for retriever in (DenseRetriever(FakeModel()), BM25Retriever(), AdapterRetriever(FakeModel(), ProjectionHead(4))):
        assert isinstance(retriever, Retriever)


def test_a_loaded_model_is_searched_with_its_own_prompts(tiny_beir, fake_encode):
    dataset = load_beir(tiny_beir)
    DenseRetriever(FakeModel({"query": "query: ", "document": "passage: "})).retrieve(dataset)
    assert {prompt for prompt, _ in fake_encode} == {"query: ", "passage: "}
    assert ("query: ", dataset.query_texts()) in fake_encode
    fake_encode.clear()
    DenseRetriever(FakeModel({"query": "query: "}), query_prompt="", document_prompt="doc: ").retrieve(dataset)
    assert [prompt for prompt, _ in fake_encode] == ["doc: ", ""]  # overrides win; "" means none


def test_dense_run_is_exact_cosine_search_of_its_embeddings(tiny_beir, fake_encode):
    dataset = load_beir(tiny_beir)
    retriever = DenseRetriever(FakeModel())
    run = retriever.retrieve(dataset, top_k=2)
    expected = search(
        dataset.query_ids, retriever.embed_queries(dataset), dataset.doc_ids, retriever.embed_documents(dataset), 2
    )
    assert run == expected and all(len(docs) == 2 for docs in run.values())


def test_an_identity_adapter_ranks_as_the_frozen_model_and_a_trained_one_moves_only_queries(tiny_beir, fake_encode):
    dataset = load_beir(tiny_beir)
    model = FakeModel()
    identity, dense = (
        AdapterRetriever(model, ProjectionHead(4)).retrieve(dataset),
        DenseRetriever(model).retrieve(dataset),
    )
    assert set(identity) == set(dense)
    for qid in dense:
        assert identity[qid] == pytest.approx(dense[qid])
    head = ProjectionHead(4)
    with torch.no_grad():
        head.linear.weight.copy_(-torch.eye(4))  # W = -I: every query points the other way
    run = AdapterRetriever(model, head).retrieve(dataset)
    for qid in dense:
        assert run[qid] == pytest.approx({doc: -s for doc, s in dense[qid].items()})


def test_bm25_on_a_corpus_of_stop_words_names_the_corpus_file(tmp_path):
    folder = write_beir(tmp_path / "stop", corpus=[{"_id": "d1", "title": "", "text": "the and of"}])
    folder.joinpath("qrels", "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    with pytest.raises(EmptyVocabularyError, match=f"{folder / 'corpus.jsonl'}: "):
        BM25Retriever().retrieve(load_beir(folder))


def test_rrf_is_the_sum_of_reciprocal_ranks_by_hand():
    a = {"q": {"x": 3.0, "y": 2.0, "z": 1.0}}
    b = {"q": {"z": 0.9, "x": 0.5}}
    fused = reciprocal_rank_fusion([a, b], k=60)["q"]
    assert fused == pytest.approx({"x": 1 / 61 + 1 / 62, "y": 1 / 62, "z": 1 / 63 + 1 / 61})
    assert list(fused) == ["x", "z", "y"]  # best first
    assert reciprocal_rank_fusion([a, b], k=0, top_k=1) == {"q": pytest.approx({"x": 1 + 1 / 2})}


def test_rrf_ranks_tied_scores_as_trec_eval_does():
    # Three documents tied in one run: trec_eval (lessonlib.metrics.ranked) puts the larger id first.
    fused = reciprocal_rank_fusion([{"q": {"a": 1.0, "b": 1.0, "c": 1.0}}, {"q": {"z": 1.0}}], k=60)["q"]
    assert fused == pytest.approx({"c": 1 / 61, "z": 1 / 61, "b": 1 / 62, "a": 1 / 63})


def test_a_hybrid_fuses_its_retrievers_and_keeps_their_runs(tiny_beir):
    class Fixed:
        def __init__(self, name, run):
            self.name, self.run = name, run

        def retrieve(self, dataset, top_k=1000):
            return self.run

    first = Fixed("one", {"q1": {"d1": 0.2, "d2": 0.1}, "q2": {"d3": 5.0}})
    second = Fixed("two", {"q1": {"d2": 9.0, "d1": 1.0}, "q2": {"d2": 1.0}})
    hybrid = HybridRetriever([first, second])
    run = hybrid.retrieve(load_beir(tiny_beir))
    assert hybrid.name == "one + two" and hybrid.runs == {"one": first.run, "two": second.run}
    assert run == reciprocal_rank_fusion([first.run, second.run])
    with pytest.raises(ValueError, match="at least two retrievers, got 1"):
        HybridRetriever([first])
    with pytest.raises(ValueError, match="k must be"):
        HybridRetriever([first, second], k=-1)


def test_retriever_for_a_name():
    assert retriever_for("BM25", progress=False) == BM25Retriever()
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DenseRetriever(FakeModel(), batch_size=0)


@pytest.mark.model
def test_retriever_for_a_model_name_loads_it_with_its_name():
    retriever = retriever_for("all-MiniLM-L6-v2", progress=False)
    assert isinstance(retriever, DenseRetriever) and retriever.name == "all-MiniLM-L6-v2"
    assert retriever.model.get_embedding_dimension() == 384
