"""The end-to-end evaluation on a tiny BEIR folder; a TREC run file is written atomically, and a path it
cannot be written to is refused by name before any work."""

import os

import pytest

from lessonlib.datasets import load_beir
from lessonlib.evaluation import check_run_path, evaluate, write_trec_run
from lessonlib.retrievers import BM25Retriever, DenseRetriever, retriever_for

RUN = {"q2": {"d1": 0.1, "d2": 0.7}, "q1": {"d3": 0.9}}


def test_a_run_is_written_in_trec_format_best_first(tmp_path):
    path = write_trec_run(RUN, tmp_path / "run.trec", tag="my model")
    assert path.read_text().splitlines() == [
        "q1 Q0 d3 1 0.900000 my_model",
        "q2 Q0 d2 1 0.700000 my_model",
        "q2 Q0 d1 2 0.100000 my_model",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.trec"]


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("newdir/", IsADirectoryError, "names a folder; give a file name such as {tmp}/newdir/run.trec"),
        ("existing", IsADirectoryError, "names a folder; give a file name such as {tmp}/existing/run.trec"),
        ("missing/run.trec", FileNotFoundError, "its folder {tmp}/missing does not exist. Create it first"),
    ],
)
def test_a_path_that_cannot_be_written_is_refused_by_name(tmp_path, name, error, message):
    (tmp_path / "existing").mkdir()
    user_path = f"{tmp_path}/{name}"
    for call in (lambda: check_run_path(user_path), lambda: write_trec_run(RUN, user_path)):
        with pytest.raises(error) as err:
            call()
        assert str(err.value).startswith(f"The run file {user_path} ")
        assert message.format(tmp=tmp_path) in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]  # no file named newdir, nothing hidden
    assert list((tmp_path / "existing").iterdir()) == []


def test_an_unwritable_folder_names_the_run_file_not_a_temporary_one(tmp_path, monkeypatch):
    real_open = os.open

    def denied(path, flags, mode=0o777, **kwargs):
        if os.path.dirname(path) == str(tmp_path):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", denied)  # as a read-only folder does for a non-root user
    with pytest.raises(PermissionError) as err:
        check_run_path(tmp_path / "run.trec")
    assert str(err.value) == (
        f"[Errno 13] The run file {tmp_path / 'run.trec'} cannot be written (Permission denied); "
        "choose a folder you can write to"
    )
    assert ".tmp" not in str(err.value)


def test_bm25_evaluation_ranks_the_judged_document_first(tiny_beir):
    result = evaluate(BM25Retriever(), load_beir(tiny_beir))
    assert result.dataset == "tiny" and result.split == "test" and result.model == "bm25"
    assert set(result.per_query) == {"q1", "q2"}
    assert result.metrics["ndcg@10"] == pytest.approx(1.0)
    assert "ndcg@10" in result.table()


@pytest.mark.model
def test_dense_evaluation_of_a_loaded_model_and_of_its_name_agree(tiny_beir, minilm, isolated_cache):
    dataset = load_beir(tiny_beir)
    by_model = evaluate(DenseRetriever(minilm, progress=False), dataset)
    by_name = evaluate(retriever_for("all-MiniLM-L6-v2", progress=False), dataset)
    assert by_model.metrics == pytest.approx(by_name.metrics)
    assert by_model.metrics["ndcg@10"] == pytest.approx(1.0)
    assert by_name.model == "all-MiniLM-L6-v2"


def test_evaluate_scores_whatever_run_the_retriever_returns(tiny_beir):
    class Fixed:
        name = "fixed"

        def retrieve(self, dataset, top_k=1000):
            return {"q1": {"d2": 0.9, "d1": 0.1}, "q2": {"d2": 0.5}}

    result = evaluate(Fixed(), load_beir(tiny_beir), k_values=(1, 10))
    assert result.model == "fixed" and set(result.metrics) >= {"ndcg@1", "ndcg@10", "mrr@10"}
    assert result.per_query["q1"]["mrr@10"] == pytest.approx(0.5)  # d1, the judged document, at rank 2


@pytest.mark.parametrize("what", ["bm25", "all-MiniLM-L6-v2", None])
def test_evaluate_refuses_what_is_not_a_retriever_and_says_what_to_pass(tiny_beir, what):
    message = r"evaluate takes a retriever, got (str|NoneType): wrap a model in .*DenseRetriever"
    with pytest.raises(TypeError, match=message):
        evaluate(what, load_beir(tiny_beir))
