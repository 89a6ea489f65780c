"""Lesson 01's temperature × batch-size sweep: one row per head, the frozen row on top, the summaries."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import lessonlib.sweep as sweep_module
from lessonlib.datasets import load_beir
from lessonlib.projection import evaluate_space, project, train_projection_head
from lessonlib.sweep import (
    COLUMNS,
    best_per_batch,
    format_table,
    rank_correlations,
    run_sweep,
    spread_across_batch_sizes,
    sweep_table,
)
from lessonlib.validation import InvalidParameterError

BATCH_SIZES = [2, 4]
TAUS = [0.05, 1.0]


@pytest.fixture
def tiny_sweep(tiny_beir):
    """Eight training pairs in 3 dimensions (one of them positive on d1, so test query q1 is seen, q2 not),
    and the tiny BEIR test split: q1 -> d1, q2 -> d2 over three documents."""
    rng = np.random.default_rng(0)
    test = load_beir(tiny_beir, split="test")
    pair_queries = rng.normal(size=(8, 3)).astype(np.float32)
    pair_docs = (pair_queries + 0.3 * rng.normal(size=(8, 3))).astype(np.float32)
    return {
        "pair_queries": pair_queries,
        "pair_docs": pair_docs,
        "query_ids": [f"t{i}" for i in range(8)],
        "doc_ids": ["d1"] + [f"p{i}" for i in range(1, 8)],
        "test": test,
        "test_query_embeddings": np.array([[1.0, 0.1, 0.0], [0.2, 1.0, 0.3]], dtype=np.float32),
        "test_doc_embeddings": np.eye(3, dtype=np.float32),
    }


def old_cell(data, batch_sizes, taus, epochs):
    """Lesson 01's cell 23 before the sweep moved into lessonlib.sweep, on the same data."""
    results = []
    for batch_size in batch_sizes:
        for tau in taus:
            trained = train_projection_head(
                data["pair_queries"],
                data["pair_docs"],
                temperature=tau,
                batch_size=batch_size,
                epochs=epochs,
                learning_rate=1e-3,
                seed=0,
                query_ids=data["query_ids"],
                doc_ids=data["doc_ids"],
            )
            report = evaluate_space(
                project(trained.head, data["test_query_embeddings"]),
                project(trained.head, data["test_doc_embeddings"]),
                data["test"],
                seen_doc_ids=data["doc_ids"],
            )
            results.append(
                {
                    "batch": batch_size,
                    "τ": tau,
                    "train loss": trained.epoch_losses[-1],
                    "alignment": report["alignment"],
                    "uniformity": report["uniformity"],
                    "nDCG@10": 100 * report["ndcg@10"],
                    "nDCG@10 unseen": 100 * report["ndcg@10 unseen"],
                }
            )
    return pd.DataFrame(results)


def test_one_row_per_head_in_grid_order_equal_to_the_old_cell(tiny_sweep):
    results = run_sweep(**tiny_sweep, batch_sizes=BATCH_SIZES, temperatures=TAUS, epochs=3, learning_rate=1e-3)
    assert tuple(results.columns) == COLUMNS
    assert list(zip(results["batch"], results["τ"], strict=True)) == [(2, 0.05), (2, 1.0), (4, 0.05), (4, 1.0)]
    pd.testing.assert_frame_equal(results, old_cell(tiny_sweep, BATCH_SIZES, TAUS, epochs=3), check_exact=True)
    assert results["nDCG@10"].between(0, 100).all() and results["nDCG@10 unseen"].between(0, 100).all()
    assert (results["train loss"] > 0).all()
    as_arrays = run_sweep(**tiny_sweep, batch_sizes=np.array([2]), temperatures=np.array([0.05]), epochs=3)
    pd.testing.assert_frame_equal(as_arrays, results.iloc[:1], check_exact=True)


def test_the_table_puts_the_frozen_row_on_top(tiny_sweep):
    results = run_sweep(**tiny_sweep, batch_sizes=[2], temperatures=[0.1], epochs=1)
    frozen = evaluate_space(
        tiny_sweep["test_query_embeddings"],
        tiny_sweep["test_doc_embeddings"],
        tiny_sweep["test"],
        seen_doc_ids=tiny_sweep["doc_ids"],
    )
    table = sweep_table(results, frozen)
    assert len(table) == 1 + len(results) and tuple(table.columns) == COLUMNS
    top = table.iloc[0]
    assert (top["batch"], top["τ"]) == ("—", "frozen") and np.isnan(top["train loss"])
    assert top["nDCG@10"] == 100 * frozen["ndcg@10"] and top["nDCG@10 unseen"] == 100 * frozen["ndcg@10 unseen"]
    assert (top["alignment"], top["uniformity"]) == (frozen["alignment"], frozen["uniformity"])
    pd.testing.assert_frame_equal(table.iloc[1:].reset_index(drop=True), results, check_dtype=False)
    with pytest.raises(ValueError, match="frozen lacks"):
        sweep_table(results, {"alignment": 0.9})


def test_format_table_prints_three_and_two_decimals():
    results = pd.DataFrame([[8, 0.05, 0.01234, 0.8211, -3.6381, 70.834, 60.601]], columns=COLUMNS)
    frozen = {"alignment": 0.875, "uniformity": -3.333, "ndcg@10": 0.64512, "ndcg@10 unseen": 0.67583}
    lines = format_table(sweep_table(results, frozen)).splitlines()
    assert lines[0] == "batch      τ train loss alignment uniformity nDCG@10 nDCG@10 unseen"
    assert lines[1].split() == ["—", "frozen", "NaN", "0.875", "-3.333", "64.51", "67.58"]
    assert lines[2].split() == ["8", "0.05", "0.012", "0.821", "-3.638", "70.83", "60.60"]


def test_the_grid_is_checked_before_any_head_trains(tiny_sweep, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("trained a head before checking the grid")

    monkeypatch.setattr(sweep_module, "train_projection_head", refuse)
    cases = [
        ({"temperatures": [0.05, 0]}, InvalidParameterError, r"temperatures\[1\] must be > 0"),
        ({"temperatures": [0.05, True]}, InvalidParameterError, r"temperatures\[1\] must be a number"),
        ({"batch_sizes": [8, 1]}, InvalidParameterError, r"batch_sizes\[1\] must be an int >= 2"),
        ({"batch_sizes": [8, 8]}, ValueError, "batch_sizes repeats"),
        ({"temperatures": []}, ValueError, "non-empty list"),
        ({"epochs": 0}, InvalidParameterError, "epochs must be a positive integer"),
        ({"learning_rate": -1.0}, InvalidParameterError, "learning_rate must be > 0"),
        ({"doc_ids": ["d1", "d2"] + [f"p{i}" for i in range(2, 8)]}, ValueError, "no unseen queries"),
        ({"query_ids": ["t0"]}, ValueError, "same length"),
        ({"test_doc_embeddings": np.eye(3, dtype=np.float32)[:2]}, ValueError, r"shape \(3, 3\)"),
        ({"pair_docs": np.ones((8, 4), dtype=np.float32)}, ValueError, r"pair_docs must have shape \(8, 3\)"),
    ]
    for change, error, message in cases:
        arguments = {**tiny_sweep, "batch_sizes": [2], "temperatures": [0.1], **change}
        with pytest.raises(error, match=message):
            run_sweep(**arguments)


@pytest.fixture
def handmade():
    """Nine heads: best nDCG@10 at τ = 0.1 for batch 8 and 32, a tie at 128 (first row wins)."""
    rows = [
        (8, 0.01, 0.60, -2.6, 64.0, 58.0),
        (8, 0.1, 0.78, -3.8, 77.0, 62.0),
        (8, 1.0, 0.49, -3.3, 61.0, 63.0),
        (32, 0.01, 0.69, -2.7, 70.0, 64.0),
        (32, 0.1, 0.79, -3.9, 78.8, 63.0),
        (32, 1.0, 0.52, -3.4, 64.0, 46.0),
        (128, 0.01, 0.69, -2.7, 71.0, 65.0),
        (128, 0.1, 0.81, -3.9, 78.0, 65.0),
        (128, 1.0, 0.56, -3.3, 78.0, 52.0),
    ]
    return pd.DataFrame(rows, columns=["batch", "τ", "alignment", "uniformity", "nDCG@10", "nDCG@10 unseen"])


def test_best_per_batch_is_the_argmax_row_of_each_batch(handmade):
    best = best_per_batch(handmade)
    assert best["batch"].tolist() == [8, 32, 128] and best["τ"].tolist() == [0.1, 0.1, 0.1]
    assert best.index.tolist() == [1, 4, 7]  # rows of the results; a tie goes to the first
    unseen = best_per_batch(handmade, "nDCG@10 unseen")
    assert unseen["τ"].tolist() == [1.0, 0.01, 0.01]
    # What lesson 01's cell computed before the summaries moved into lessonlib.sweep:
    old = handmade.loc[handmade.groupby("batch")["nDCG@10"].idxmax(), ["batch", "τ", "nDCG@10", "nDCG@10 unseen"]]
    pd.testing.assert_frame_equal(best[["batch", "τ", "nDCG@10", "nDCG@10 unseen"]], old)
    with pytest.raises(ValueError, match="lacks the columns"):
        best_per_batch(handmade, "recall@10")


def test_spread_is_max_minus_min_over_batch_sizes(handmade):
    spread = spread_across_batch_sizes(handmade)
    assert spread.index.tolist() == [0.01, 0.1, 1.0]
    np.testing.assert_allclose(spread.to_numpy(), [7.0, 1.8, 17.0])
    old = handmade.groupby("τ")["nDCG@10"].agg(lambda v: v.max() - v.min())
    pd.testing.assert_series_equal(spread, old, check_exact=True)


def test_rank_correlations_are_spearmans(handmade):
    rho = rank_correlations(handmade)
    assert rho.index.tolist() == ["uniformity", "alignment"]
    for column in ("uniformity", "alignment"):
        expected = spearmanr(handmade["nDCG@10"], handmade[column]).statistic
        assert rho[column] == pytest.approx(expected, abs=1e-12)
    assert rho["uniformity"] < 0 < rho["alignment"]
    old = handmade[["nDCG@10", "alignment", "uniformity"]].corr(method="spearman")["nDCG@10"]
    assert (rho["uniformity"], rho["alignment"]) == (old["uniformity"], old["alignment"])
    assert rank_correlations(handmade, against="alignment").index.tolist() == ["alignment"]
    with pytest.raises(ValueError, match="at least 2 heads"):
        rank_correlations(handmade.iloc[:1])
    with pytest.raises(TypeError, match="DataFrame"):
        rank_correlations(handmade.to_dict())
