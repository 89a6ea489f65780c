"""Lesson 04's pipeline: the search log is the click model run on the base model's rankings; the dev protocol
scores a model on the base model's re-ranking pool and compares it with the base model query by query."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import lessonlib.devprotocol as devprotocol
import lessonlib.retrievers as retrievers
from lessonlib.clicklogs import LOG_COLUMNS, ClickModel, rankings_from_embeddings, simulate_click_log
from lessonlib.devprotocol import DevProtocol, simulate_search_log
from lessonlib.evaluation import EvaluationResult
from lessonlib.heldout import TestQueryLeakError
from lessonlib.training import evaluate_at_length


def fake_encode(model, texts, prompt="", **kwargs):
    """Each text a fixed unit vector (seeded by the text), as a stand-in for the model."""
    rows = [np.random.default_rng(sum(map(ord, prompt + t))).standard_normal(8) for t in texts]
    rows = np.array(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


NO_PROMPTS = SimpleNamespace(prompts={})


def test_the_search_log_is_the_click_model_on_the_models_rankings(train_set, monkeypatch):
    monkeypatch.setattr(retrievers, "encode", fake_encode)
    search_log = simulate_search_log(NO_PROMPTS, train_set, ["t1", "t2"], ClickModel(depth=5), sessions_per_query=7)
    expected_rankings = rankings_from_embeddings(
        ["t1", "t2"],
        fake_encode(None, [train_set.queries["t1"], train_set.queries["t2"]]),
        train_set.doc_ids,
        fake_encode(None, train_set.document_texts()),
        depth=5,
    )
    assert search_log.rankings == expected_rankings
    expected_log = simulate_click_log(expected_rankings, train_set, ClickModel(depth=5), sessions_per_query=7, seed=0)
    pd.testing.assert_frame_equal(search_log.log, expected_log)
    assert tuple(search_log.log.columns) == LOG_COLUMNS and search_log.log["session"].nunique() == 14


def test_the_search_log_ranks_with_the_models_prompts(train_set, monkeypatch):
    seen = []
    monkeypatch.setattr(
        retrievers, "encode", lambda m, texts, prompt="", **kw: seen.append(prompt) or fake_encode(m, texts, prompt)
    )
    prompted = SimpleNamespace(prompts={"query": "query: ", "document": "passage: "})
    simulate_search_log(prompted, train_set, ["t1", "t2"], sessions_per_query=1)
    assert sorted(seen) == ["passage: ", "query: "]


def test_the_search_log_refuses_a_test_query(train_set, monkeypatch):
    monkeypatch.setattr(retrievers, "encode", fake_encode)
    with pytest.raises(TestQueryLeakError):
        simulate_search_log(NO_PROMPTS, train_set, ["t1", "t3"])  # t3 copies the test claim x1's text


def _result(per_query: dict[str, float]) -> EvaluationResult:
    rows = {q: {"ndcg@10": v} for q, v in per_query.items()}
    return EvaluationResult("m", "d", "dev", {"ndcg@10": float(np.mean(list(per_query.values())))}, rows, {})


def test_gain_and_row_compare_with_the_base_model_query_by_query():
    base = _result({"a": 0.5, "b": 0.2, "c": 1.0, "d": 0.0})
    protocol = DevProtocol(pool=None, pool_ids=[], encode_length=128, baseline=base)
    better = _result({"a": 0.7, "b": 0.4, "c": 1.0, "d": 0.1})
    gain = protocol.gain(better)
    assert gain.mean == pytest.approx(0.125) and (gain.wins, gain.losses) == (3, 0)
    row = protocol.row(better)
    assert row["dev_ndcg@10"] == pytest.approx(55.0) and row["gain_vs_base"] == pytest.approx(12.5)
    assert row["claims better/worse"] == "3/0" and row["95% CI"] == f"{100 * gain.low:+.2f} to {100 * gain.high:+.2f}"
    assert protocol.row(base)["95% CI"] == "+0.00 to +0.00"


def test_train_and_score_scores_in_the_precision_the_model_was_trained_in(monkeypatch):
    seen = {}
    tuned = SimpleNamespace(model="the model", precision="bfloat16")
    monkeypatch.setattr(devprotocol, "fine_tune", lambda data, settings, **kw: seen.update(kw) or tuned)
    protocol = DevProtocol(pool="the pool", pool_ids=[], encode_length=96, baseline=None)
    monkeypatch.setattr(
        devprotocol, "evaluate_at_length", lambda model, pool, length, precision: (model, pool, length, precision)
    )
    got = protocol.train_and_score("data", "settings", name="run", data_description="pairs")
    assert got == (tuned, ("the model", "the pool", 96, "bfloat16"))
    assert seen == {"name": "run", "data_description": "pairs"}


@pytest.mark.parametrize(("kwargs", "message"), [({"depth": 0}, "depth must be"), ({"encode_length": 1.5}, "encode")])
def test_build_refuses_bad_settings(train_set, kwargs, message):
    with pytest.raises(ValueError, match=message):
        DevProtocol.build(object(), train_set, ["t1"], {"t1": {"d0": 1.0}}, **kwargs)


def test_build_pools_the_base_models_top_documents_and_scores_the_base_model_there(train_set, minilm, isolated_cache):
    base_run = {"t1": {"d0": 0.9, "d4": 0.8, "d7": 0.1}, "t2": {"d7": 0.9, "d5": 0.5}}
    protocol = DevProtocol.build(minilm, train_set, ["t1", "t2"], base_run, depth=2, encode_length=32)
    assert protocol.pool_ids == ["d0", "d4", "d5", "d7"] and sorted(protocol.pool.corpus) == protocol.pool_ids
    assert sorted(protocol.pool.queries) == ["t1", "t2"]
    again = evaluate_at_length(minilm, protocol.pool, 32)
    assert protocol.baseline.metrics == pytest.approx(again.metrics)
    rescored = protocol.score(minilm)
    for qid, row in protocol.baseline.per_query.items():
        assert rescored.per_query[qid] == pytest.approx(row)
    assert protocol.gain(protocol.score(minilm)).mean == pytest.approx(0.0, abs=1e-12)
    assert minilm.max_seq_length == 256  # the length is restored after scoring
