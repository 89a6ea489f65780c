"""Checks for lesson 04 (domain fine-tuning from click logs)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from lessonlib.clicklogs import ClickModel, pair_precision
from lessonlib.exercises import Feedback
from lessonlib.heldout import normalise_query


def _call(fn: Callable, *args: object) -> tuple[object, Feedback | None]:
    try:
        return fn(*args), None
    except Exception as err:  # the learner's code may raise anything; report it instead of crashing
        return None, Feedback(False, f"your function raised {type(err).__name__}: {err}")


def check_examination(fn: Callable[[int, float], np.ndarray]) -> Feedback:
    """Exercise 1: ``fn(depth, theta)`` returns the position-based examination probabilities of ranks 1…depth."""
    for depth, theta in [(10, 1.0), (5, 0.5), (3, 0.0), (8, 2.0)]:
        got, error = _call(fn, depth, theta)
        if error:
            return error
        want = ClickModel(depth=depth, position_bias=theta).examination()
        got = np.asarray(got, dtype=float)
        if got.shape != want.shape:
            return Feedback(False, f"for depth={depth} expected {depth} probabilities, got shape {got.shape}.")
        if not np.allclose(got, want, atol=1e-9):
            return Feedback(
                False,
                f"for theta={theta} expected {np.round(want, 3).tolist()}, got {np.round(got, 3).tolist()}. "
                "Ranks start at 1, and eta_r = (1/r) ** theta.",
            )
    return Feedback(True, "rank r is examined with probability (1/r)^θ; θ = 0 means users read the whole page.")


def check_rule_tradeoff(precision: str, recall: str) -> Feedback:
    """Exercise 2: requiring 3 long clicks instead of 2, do precision and recall go "up", "down" or "same"?"""
    answers = {str(precision).strip().lower(), str(recall).strip().lower()}
    if not answers <= {"up", "down", "same"}:
        return Feedback(False, 'answer each with "up", "down" or "same".')
    if str(recall).strip().lower() != "down":
        return Feedback(
            False,
            "a stricter rule keeps a subset of the pairs (see test_stricter_rules_only_remove_pairs): recall "
            "cannot rise, and here some relevant pairs had exactly two long clicks.",
        )
    if str(precision).strip().lower() != "up":
        return Feedback(
            False, "noise clicks rarely repeat with long dwell: the pairs that survive are mostly relevant."
        )
    return Feedback(True, "fewer, cleaner pairs: precision up, recall down. Which matters more is an experiment.")


def check_pair_precision(fn: Callable[[pd.DataFrame, dict], float]) -> Feedback:
    """Exercise 3: ``fn(pairs, qrels)`` returns the fraction of mined pairs judged relevant."""
    pairs = pd.DataFrame({"query_id": ["a", "a", "b", "c", "d"], "doc_id": ["x", "y", "x", "z", "w"]})
    qrels = {"a": {"x": 1, "y": 0}, "b": {"x": 2}, "c": {"q": 1}}
    got, error = _call(fn, pairs, qrels)
    if error:
        return error
    want = pair_precision(pairs, qrels)
    if got is None or not np.isclose(float(got), want):  # type: ignore[arg-type]
        return Feedback(
            False,
            f"expected {want:.2f}, got {got}. A pair counts when its qrel score is > 0; a score of 0 and a "
            "query missing from qrels both count as wrong.",
        )
    return Feedback(True, f"{want:.2f} of these pairs are relevant; the rest is label noise the model will learn.")


def check_infonce(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> Feedback:
    """Exercise 4: ``fn(q, p, scale)`` returns MultipleNegativesRankingLoss for a batch of (B, d) embeddings."""
    generator = torch.Generator().manual_seed(0)
    q, p = torch.randn(6, 8, generator=generator), torch.randn(6, 8, generator=generator)
    scale = 20.0
    sims = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(p, dim=1).T
    want = float(torch.nn.functional.cross_entropy(scale * sims, torch.arange(6)))
    got, error = _call(fn, q, p, scale)
    if error:
        return error
    got_value = float(got) if got is not None else float("nan")  # type: ignore[arg-type]
    if not np.isclose(got_value, want, atol=1e-4):
        return Feedback(
            False,
            f"expected {want:.4f}, got {got_value:.4f}. Use cosine similarity (normalise both sides), multiply "
            "by scale, and take the cross-entropy whose target for row i is column i.",
        )
    return Feedback(True, "the other passages of the batch are the negatives: that is InfoNCE.")


def check_leak_filter(fn: Callable[[dict, dict], dict]) -> Feedback:
    """Exercise 5: ``fn(train_queries, test_queries)`` drops train queries sharing an id or a text with test."""
    train = {"1": "Aspirin lowers fever.", "2": "ASPIRIN  lowers fever.", "3": "Zinc helps colds.", "9": "x"}
    test = {"7": "aspirin lowers fever.", "9": "something else"}
    got, error = _call(fn, dict(train), dict(test))
    if error:
        return error
    want = {q: t for q, t in train.items() if q not in test and normalise_query(t) not in {"aspirin lowers fever."}}
    if not isinstance(got, dict) or got != want:
        return Feedback(
            False,
            f"expected the ids {sorted(want)}, got {sorted(got) if isinstance(got, dict) else got}. Compare ids, "
            "and texts after lower-casing and collapsing whitespace.",
        )
    return Feedback(True, "only query 3 is safe: the same claim under another id is still a test query.")
