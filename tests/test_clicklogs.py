"""Click-log simulation and mining: the click model behaves as specified, mining follows its rules, and no
test-split query (by id or by text) can reach the log."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lessonlib.clicklogs import (
    LOG_COLUMNS,
    ClickModel,
    click_through_by_rank,
    mine_pairs,
    pair_precision,
    pair_recall,
    rankings_from_embeddings,
    simulate_click_log,
)
from lessonlib.datasets import load_beir
from lessonlib.heldout import TestQueryLeakError


def _rankings():
    return {"t1": [f"d{i}" for i in range(10)], "t2": [f"d{i}" for i in range(10)]}


def test_examination_is_position_based():
    eta = ClickModel(depth=4, position_bias=1.0).examination()
    np.testing.assert_allclose(eta, [1, 1 / 2, 1 / 3, 1 / 4])
    np.testing.assert_allclose(ClickModel(depth=3, position_bias=0.0).examination(), [1, 1, 1])


@pytest.mark.parametrize(
    "kwargs, message",
    [({"depth": 0}, "depth"), ({"click_relevant": 1.5}, "probability"), ({"position_bias": -1}, "position_bias")],
)
def test_click_model_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClickModel(**kwargs)


def test_log_is_deterministic_and_consistent(train_set):
    log = simulate_click_log(_rankings(), train_set, sessions_per_query=50, seed=3)
    again = simulate_click_log(_rankings(), train_set, sessions_per_query=50, seed=3)
    pd.testing.assert_frame_equal(log, again)
    assert tuple(log.columns) == LOG_COLUMNS
    assert len(log) == 2 * 50 * 10
    assert not (log["clicked"] & ~log["examined"]).any()
    assert ((log["dwell"] > 0) == log["clicked"]).all()
    assert not (log["satisfied"] & ~log["clicked"]).any()
    assert log.loc[log["relevant"], "doc_id"].isin(["d0", "d5"]).all()


def test_position_bias_shows_in_click_through(train_set):
    model = ClickModel(click_nonrelevant=0.5, stop_after_satisfied=0.0)
    ctr = click_through_by_rank(simulate_click_log(_rankings(), train_set, model, sessions_per_query=400))
    nonrel = ctr["ctr_nonrelevant"].dropna()
    assert nonrel.iloc[0] > 2 * nonrel.iloc[-1]  # rank 2 vs rank 10: 1/2 vs 1/10 examination


def test_noise_free_users_give_clean_pairs(train_set):
    model = ClickModel(click_nonrelevant=0.0)
    pairs = mine_pairs(simulate_click_log(_rankings(), train_set, model, sessions_per_query=30))
    assert pair_precision(pairs, train_set.qrels) == 1.0
    assert pair_recall(pairs, train_set.qrels, ["t1", "t2"]) == 1.0


def test_noisy_users_give_noisy_pairs(train_set):
    model = ClickModel(click_nonrelevant=0.6, satisfied_nonrelevant=0.6, position_bias=0.0)
    pairs = mine_pairs(simulate_click_log(_rankings(), train_set, model, sessions_per_query=30))
    assert pair_precision(pairs, train_set.qrels) < 0.5


def test_mining_rule_threshold_and_deduplication():
    rows = [
        # session, query, rank, doc, relevant, examined, clicked, dwell, satisfied
        (0, "q", 1, "a", True, True, True, 45.0, True),
        (1, "q", 1, "a", True, True, True, 50.0, True),  # same pair again: one row, two long clicks
        (2, "q", 2, "b", False, True, True, 5.0, False),  # short click: not kept
        (3, "q", 3, "c", False, True, False, 0.0, False),  # no click
        (4, "r", 1, "c", True, True, True, 31.0, True),
    ]
    log = pd.DataFrame(rows, columns=list(LOG_COLUMNS))
    pairs = mine_pairs(log, min_dwell=30, min_clicks=1)
    assert list(zip(pairs["query_id"], pairs["doc_id"], pairs["long_clicks"], strict=True)) == [
        ("q", "a", 2),
        ("r", "c", 1),
    ]
    assert list(mine_pairs(log, min_dwell=30, min_clicks=2)["doc_id"]) == ["a"]
    assert len(mine_pairs(log, min_dwell=0)) == 3  # every click counts
    qrels = {"q": {"a": 1}, "r": {"d": 1}}
    assert pair_precision(pairs, qrels) == 0.5
    assert pair_recall(pairs, qrels, ["q", "r"]) == 0.5


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    noise=st.floats(0.0, 1.0),
    dwell=st.floats(0.0, 120.0),
    clicks=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_stricter_rules_only_remove_pairs(train_set, noise, dwell, clicks, seed):
    log = simulate_click_log(_rankings(), train_set, ClickModel(click_nonrelevant=noise), 8, seed)
    loose = _pair_set(mine_pairs(log, min_dwell=dwell, min_clicks=clicks))
    stricter = _pair_set(mine_pairs(log, min_dwell=dwell + 10, min_clicks=clicks + 1))
    assert stricter <= loose


def _pair_set(pairs):
    return set(zip(pairs["query_id"], pairs["doc_id"], strict=True))


def test_rankings_from_embeddings_orders_by_cosine():
    docs = np.eye(3, dtype=np.float32)
    queries = np.array([[0.1, 0.9, 0.0], [1.0, 0.0, 0.2]], dtype=np.float32)
    ranked = rankings_from_embeddings(["a", "b"], queries, ["x", "y", "z"], docs, depth=2)
    assert ranked == {"a": ["y", "x"], "b": ["x", "z"]}
    with pytest.raises(ValueError, match="disagree"):
        rankings_from_embeddings(["a"], queries, ["x", "y", "z"], docs)


# ----------------------------------------------------------------------------- no test query reaches the log


# ----------------------------------------------------------------------------- lesson 04 exercise checks


def test_check_examination_accepts_the_formula_and_rejects_off_by_one():
    from lessonlib.exercises.lesson04 import check_examination

    assert check_examination(lambda depth, theta: (1 / np.arange(1, depth + 1)) ** theta)
    wrong = check_examination(lambda depth, theta: (1 / np.arange(2, depth + 2)) ** theta)
    assert not wrong and "Ranks start at 1" in wrong.message
    assert not check_examination(lambda depth, theta: 1 / 0)


def test_check_rule_tradeoff():
    from lessonlib.exercises.lesson04 import check_rule_tradeoff

    assert check_rule_tradeoff("up", "down")
    assert not check_rule_tradeoff("up", "up")
    assert not check_rule_tradeoff("down", "down")
    assert not check_rule_tradeoff("higher", "down")


def test_check_pair_precision():
    from lessonlib.exercises.lesson04 import check_pair_precision

    assert check_pair_precision(pair_precision)

    # Counting a zero score as relevant is the classic mistake.
    def counts_zero_scores(pairs, qrels):
        return np.mean([d in qrels.get(a, {}) for a, d in zip(pairs.query_id, pairs.doc_id, strict=True)])

    assert not check_pair_precision(counts_zero_scores)


def test_check_leak_filter():
    from lessonlib.exercises.lesson04 import check_leak_filter

    def good(train, test):
        texts = {" ".join(t.lower().split()) for t in test.values()}
        return {q: t for q, t in train.items() if q not in test and " ".join(t.lower().split()) not in texts}

    assert check_leak_filter(good)
    assert not check_leak_filter(lambda train, test: {q: t for q, t in train.items() if q not in test})


def test_the_log_refuses_test_queries_by_id_and_by_text(train_set):
    with pytest.raises(TestQueryLeakError, match="t3"):
        simulate_click_log({"t3": ["d3", "d4"]}, train_set)
    test = load_beir(train_set.path, split="test")
    with pytest.raises(TestQueryLeakError):
        simulate_click_log({"x1": ["d3"]}, test)
