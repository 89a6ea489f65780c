"""Self-checks for lesson 02, choosing a model with MTEB.

Every expected answer is computed by ``lessonlib`` (pytrec_eval for nDCG, the leaderboard file for model
facts), never typed in, so a check and the notebook always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from lessonlib.exercises import Feedback, as_number
from lessonlib.leaderboard import load_leaderboard, model_table
from lessonlib.metrics import Qrels, Run, paired_difference, score
from lessonlib.picker import Constraints, pick_models, storage_bytes

# Exercise 1: nDCG@5 of this ranking, by hand, with trec_eval's graded gains.
EXERCISE1_QRELS: Qrels = {"q": {"d3": 2, "d7": 1, "d9": 1, "d4": 0}}
EXERCISE1_RANKING: tuple[str, ...] = ("d1", "d7", "d3", "d4", "d5")
EXERCISE1_K = 5

# Exercise 2: float32 vectors of this many documents, embedded with this model, in GB (10**9 bytes).
EXERCISE2_DOCUMENTS = 10_000_000
EXERCISE2_MODEL = "bge-base-en-v1.5"

# Exercise 3: a deployment's constraints; which models does the picker keep?
EXERCISE3_CONSTRAINTS = Constraints(
    licences=frozenset({"MIT"}), max_dimensions=1024, min_context=500, access=frozenset({"open-weights"})
)

_TOLERANCE = 5e-4


def ranking_to_run(ranking: Iterable[str], query_id: str = "q") -> Run:
    """A ranked list of document ids as a run with strictly decreasing scores (no ties to break)."""
    ranking = list(ranking)
    if len(set(ranking)) != len(ranking):
        raise ValueError("A ranking lists each document once.")
    return {query_id: {doc: float(len(ranking) - i) for i, doc in enumerate(ranking)}}


def _ndcg(qrels: Qrels, run: Run, k: int) -> float:
    return score(qrels, run, [k])[f"ndcg@{k}"]


def exercise1_answer() -> float:
    """nDCG@5 of exercise 1, from ``lessonlib.metrics.score`` (pytrec_eval)."""
    return _ndcg(EXERCISE1_QRELS, ranking_to_run(EXERCISE1_RANKING), EXERCISE1_K)


def check_ndcg_by_hand(answer: float) -> Feedback:
    """Exercise 1: the learner's nDCG@5 (a fraction in [0, 1]) for ``EXERCISE1_RANKING``."""
    value = as_number(answer)
    if value is None:
        return Feedback(False, f"Give a number between 0 and 1, e.g. 0.5; got {answer!r}.")
    expected = exercise1_answer()
    if abs(value - expected) < _TOLERANCE:
        return Feedback(
            True, f"nDCG@{EXERCISE1_K} = {expected:.4f}: graded gains, log2(rank + 1) discounts, ideal DCG."
        )
    if abs(value / 100 - expected) < _TOLERANCE:
        return Feedback(False, "That is the score × 100, as MTEB tables print it; give the fraction.")
    run = ranking_to_run(EXERCISE1_RANKING)
    binary = {q: {d: int(g > 0) for d, g in docs.items()} for q, docs in EXERCISE1_QRELS.items()}
    exponential = {q: {d: 2**g - 1 for d, g in docs.items()} for q, docs in EXERCISE1_QRELS.items()}
    if abs(value - _ndcg(binary, run, EXERCISE1_K)) < _TOLERANCE:
        return Feedback(
            False, "You treated every relevant document alike (binary gains); trec_eval's gain is the grade."
        )
    if abs(value - _ndcg(exponential, run, EXERCISE1_K)) < _TOLERANCE:
        return Feedback(False, "You used the gain 2**grade - 1; trec_eval (and MTEB) use the grade itself.")
    return Feedback(
        False,
        "Not the graded nDCG@5. DCG = sum of grade / log2(rank + 1) over ranks 1-5; divide by the DCG of the "
        "judged grades sorted best first (ideal order), also cut at 5.",
    )


def exercise2_answer() -> float:
    """GB of float32 vectors for exercise 2, from the leaderboard's dimensions and ``storage_bytes``."""
    dims = int(model_table(load_leaderboard()).loc[EXERCISE2_MODEL, "dimensions"])
    return storage_bytes(EXERCISE2_DOCUMENTS, dims, "float32") / 1e9


def check_storage_gb(answer: float) -> Feedback:
    """Exercise 2: storage, in GB, of float32 vectors for ``EXERCISE2_DOCUMENTS`` with ``EXERCISE2_MODEL``."""
    value = as_number(answer)
    if value is None or value <= 0:
        return Feedback(False, f"Give a positive number of gigabytes; got {answer!r}.")
    expected = exercise2_answer()
    if abs(value - expected) <= 0.01 * expected:
        return Feedback(True, f"{expected:.2f} GB: documents × dimensions × 4 bytes, before any index overhead.")
    if abs(value - expected * 1e9 / 2**30) <= 0.01 * expected:
        return Feedback(False, "That is in GiB (2**30 bytes); the exercise asks for GB (10**9 bytes).")
    if abs(value - expected / 4) <= 0.01 * expected:
        return Feedback(False, "A float32 component takes 4 bytes, not 1.")
    return Feedback(False, f"Multiply documents × {EXERCISE2_MODEL}'s dimensions × 4 bytes, then divide by 10**9.")


def exercise3_answer() -> set[str]:
    """Models the picker keeps under ``EXERCISE3_CONSTRAINTS`` (ranked by the retrieval average)."""
    return {d.model for d in pick_models(load_leaderboard(), EXERCISE3_CONSTRAINTS) if d.kept}


def check_scenario(answer: Iterable[str]) -> Feedback:
    """Exercise 3: the set of model names that meet ``EXERCISE3_CONSTRAINTS``."""
    if isinstance(answer, str) or not isinstance(answer, Iterable):
        return Feedback(False, "Give a list or set of model names, e.g. ['bge-small-en-v1.5'].")
    given = {str(name) for name in answer}
    expected = exercise3_answer()
    if given == expected:
        return Feedback(True, f"These {len(expected)} models meet every constraint: {', '.join(sorted(expected))}.")
    reasons = {d.model: "; ".join(d.reasons) for d in pick_models(load_leaderboard(), EXERCISE3_CONSTRAINTS)}
    parts = []
    for name in sorted(given - expected):
        parts.append(f"{name} fails: {reasons[name]}" if name in reasons else f"{name} is not in the leaderboard file")
    if expected - given:
        parts.append(f"{len(expected - given)} model(s) that meet every constraint are missing")
    return Feedback(False, ". ".join(parts) + ".")


def check_ndcg_function(fn: Callable[[list[str], dict[str, int], int], float]) -> Feedback:
    """Exercise 4: the learner's ``fn(ranking, grades, k) -> nDCG@k`` against pytrec_eval on several cases."""
    if not callable(fn):
        return Feedback(False, "Pass your function itself, e.g. check_ndcg_function(my_ndcg).")
    cases = [
        (["a", "b", "c"], {"a": 1}, 10, "one relevant document at rank 1"),
        (["x", "b", "a"], {"a": 2, "b": 1}, 10, "grades 2 and 1, both below an irrelevant document"),
        (["a", "b", "c", "d"], {"c": 1, "d": 1, "e": 1}, 2, "k = 2 with no hit in the top 2"),
        (["b", "a", "z", "c"], {"a": 2, "b": 1, "c": 1}, 3, "ideal order must be cut at k as well"),
        (["u", "v"], {"a": 1}, 10, "a relevant document that was never retrieved"),
        (["n", "a"], {"n": 0, "a": 3}, 5, "a judged but non-relevant document (grade 0)"),
    ]
    for ranking, grades, k, what in cases:
        expected = _ndcg({"q": grades}, ranking_to_run(ranking), k)
        try:
            got = float(fn(list(ranking), dict(grades), k))
        except Exception as err:  # the learner's code may raise anything
            return Feedback(False, f"Your function raised {type(err).__name__}: {err} on case '{what}'.")
        if not abs(got - expected) < 1e-6:
            return Feedback(
                False,
                f"Case '{what}': ranking {ranking}, grades {grades}, k={k}: expected {expected:.4f}, got {got:.4f}.",
            )
    return Feedback(True, f"Your nDCG@k equals pytrec_eval's on all {len(cases)} cases.")


def _interval_cases() -> list[tuple[str, np.ndarray]]:
    """Per-query differences for exercise 6: near-normal, skewed like nDCG differences, and constant."""
    rng = np.random.default_rng(6)
    mostly_ties = np.where(rng.uniform(size=300) < 0.6, 0.0, rng.uniform(-1, 1, 300) + 0.15)
    return [
        ("400 near-normal differences", rng.normal(0.03, 0.2, 400)),
        ("300 differences, most of them ties (0), as between two retrieval systems", mostly_ties),
        ("every query 0.1 better", np.full(50, 0.1)),
    ]


def check_bootstrap_interval(fn: Callable[[np.ndarray, int], tuple[float, float]]) -> Feedback:
    """Exercise 6: the learner's ``fn(diffs, seed) -> (low, high)``, a 95 % bootstrap interval of the mean.

    Compared with ``lessonlib.metrics.paired_difference`` (scipy's BCa interval): each end within 15 % of
    that interval's width, since percentile and BCa intervals differ a little and every seed differs.
    """
    if not callable(fn):
        return Feedback(False, "Pass your function itself, e.g. check_bootstrap_interval(my_interval).")
    for what, diffs in _interval_cases():
        try:
            result = fn(diffs.copy(), 0)
        except Exception as err:  # the learner's code may raise anything
            return Feedback(False, f"Your function raised {type(err).__name__}: {err} on '{what}'.")
        try:
            low, high = (float(end) for end in result)
        except (TypeError, ValueError):
            return Feedback(False, f"Return two numbers, (low, high); got {result!r}.")
        a = {f"q{i}": {"d": 0.0} for i in range(len(diffs))}
        b = {f"q{i}": {"d": float(d)} for i, d in enumerate(diffs)}
        expected = paired_difference(a, b, metric="d")
        width = expected.high - expected.low
        tolerance = 0.15 * width if width > 0 else 1e-9
        if abs(low - expected.low) <= tolerance and abs(high - expected.high) <= tolerance:
            continue
        spread = np.percentile(diffs, [2.5, 97.5])
        if width > 0 and abs(low - spread[0]) < tolerance and abs(high - spread[1]) < tolerance:
            return Feedback(
                False,
                "Those are percentiles of the differences themselves; resample the queries, take each "
                "resample's mean, and read the percentiles of those means.",
            )
        return Feedback(
            False,
            f"On '{what}' (mean {diffs.mean():+.4f}) expected about ({expected.low:+.4f}, {expected.high:+.4f}), "
            f"got ({low:+.4f}, {high:+.4f}). Draw len(diffs) indices with replacement, many times; the interval is "
            "the 2.5th and 97.5th percentiles of the resampled means.",
        )
    return Feedback(True, "Your interval agrees with lessonlib's paired bootstrap on all three cases.")
