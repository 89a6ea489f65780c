"""The end-to-end evaluation on a tiny BEIR folder, and the TREC run writer."""

import pytest

from lessonlib.datasets import load_beir
from lessonlib.evaluation import evaluate, write_trec_run


def test_bm25_evaluation_ranks_the_judged_document_first(tiny_beir):
    result = evaluate("bm25", load_beir(tiny_beir), progress=False)
    assert result.dataset == "tiny" and result.split == "test"
    assert set(result.per_query) == {"q1", "q2"}
    assert result.metrics["ndcg@10"] == pytest.approx(1.0)
    assert "ndcg@10" in result.table()


@pytest.mark.model
def test_dense_evaluation_of_a_loaded_model_and_of_its_name_agree(tiny_beir, minilm, isolated_cache):
    dataset = load_beir(tiny_beir)
    by_model = evaluate(minilm, dataset, progress=False)
    by_name = evaluate("all-MiniLM-L6-v2", dataset, progress=False)
    assert by_model.metrics == pytest.approx(by_name.metrics)
    assert by_model.metrics["ndcg@10"] == pytest.approx(1.0)


def test_trec_run_is_written_best_first_with_ranks(tmp_path):
    run = {"q2": {"a": 0.1, "b": 0.9}, "q1": {"c": 0.5}}
    path = write_trec_run(run, tmp_path / "run.trec", tag="my run")
    assert path.read_text().splitlines() == [
        "q1 Q0 c 1 0.500000 my_run",
        "q2 Q0 b 1 0.900000 my_run",
        "q2 Q0 a 2 0.100000 my_run",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.trec"]  # nothing temporary left


def test_trec_run_refuses_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match="give a file name"):
        write_trec_run({"q": {"d": 1.0}}, tmp_path)


def test_a_loaded_model_is_evaluated_with_its_own_prompts(tiny_beir, monkeypatch):
    import lessonlib.evaluation as evaluation

    class Model:
        def __init__(self):
            self.prompts = {"query": "query: ", "document": "passage: "}

    seen = {}

    def fake_dense_run(model, dataset, **kwargs):
        seen.update(kwargs)
        return {q: {"d1": 1.0} for q in dataset.queries}

    monkeypatch.setattr(evaluation, "dense_run", fake_dense_run)
    evaluate(Model(), load_beir(tiny_beir), progress=False)
    assert seen["query_prompt"] == "query: " and seen["document_prompt"] == "passage: "
