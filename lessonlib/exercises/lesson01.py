"""Checks for lesson 01's exercises (contrastive loss and temperature).

Every check recomputes the right answer with ``lessonlib.contrastive`` / ``lessonlib.geometry`` rather
than storing it, and explains the usual mistakes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from lessonlib.contrastive import candidate_probabilities, info_nce, scale_to_temperature
from lessonlib.exercises import Feedback, as_number

#: Exercise 2: one query's cosine similarities to its candidates; the positive is candidate 0.
EXERCISE_SIMILARITIES = (0.62, 0.55, 0.31, 0.10)
EXERCISE_TEMPERATURE = 0.05
#: Exercise 1: a scale as it appears in a sentence-transformers training script.
EXERCISE_SCALE = 50.0
#: Exercise 3: batch size and hard negatives per query.
EXERCISE_BATCH_SIZE = 32
EXERCISE_HARD_NEGATIVES = 1


def check_temperature_for_scale(answer: float) -> Feedback:
    """Exercise 1: the temperature behind ``MultipleNegativesRankingLoss(model, scale=50)``."""
    value = as_number(answer)
    expected = scale_to_temperature(EXERCISE_SCALE)
    if value is None:
        return Feedback(False, f"Give a number, e.g. 0.1; got {answer!r}.")
    if math.isclose(value, expected, rel_tol=1e-6):
        return Feedback(
            True, f"τ = 1/scale = 1/{EXERCISE_SCALE:g} = {expected:g}: a sharper softmax than the default 0.05."
        )
    if math.isclose(value, EXERCISE_SCALE, rel_tol=1e-6):
        return Feedback(False, "That is the scale itself; the temperature is its inverse.")
    return Feedback(False, "sentence-transformers multiplies cosine similarities by scale; InfoNCE divides them by τ.")


def check_loss_by_hand(answer: float) -> Feedback:
    """Exercise 2: ``-log softmax(s/τ)[0]`` for ``EXERCISE_SIMILARITIES`` at ``EXERCISE_TEMPERATURE``."""
    value = as_number(answer)
    s = np.array(EXERCISE_SIMILARITIES)
    expected = float(-np.log(candidate_probabilities(s, EXERCISE_TEMPERATURE)[0]))
    if value is None:
        return Feedback(False, f"Give the loss as a number; got {answer!r}.")
    if math.isclose(value, expected, rel_tol=1e-3, abs_tol=1e-4):
        return Feedback(
            True, f"The loss is {expected:.4f}: the positive gets only {math.exp(-expected):.1%} of the mass."
        )
    if math.isclose(value, float(-np.log(candidate_probabilities(s, 1.0)[0])), rel_tol=1e-3):
        return Feedback(False, "That is the loss at τ = 1: divide every similarity by τ = 0.05 before the softmax.")
    if math.isclose(value, -expected, rel_tol=1e-3):
        return Feedback(False, "Check the sign: the loss is minus the log-probability, so it is never negative.")
    if math.isclose(value, expected / math.log(2), rel_tol=1e-3):
        return Feedback(False, "Use the natural logarithm (np.log), not log2.")
    return Feedback(False, "Compute p = exp(s/τ) / Σ exp(s/τ) over all four candidates, then -log p[0].")


def check_chance_loss(answer: float) -> Feedback:
    """Exercise 3: the loss when every similarity is equal, for ``EXERCISE_BATCH_SIZE`` pairs with
    ``EXERCISE_HARD_NEGATIVES`` hard negative each."""
    value = as_number(answer)
    candidates = EXERCISE_BATCH_SIZE * (1 + EXERCISE_HARD_NEGATIVES)
    # Equal similarities: every row of the batch is the same vector.
    same = np.ones((EXERCISE_BATCH_SIZE, 4))
    negatives = np.ones((EXERCISE_BATCH_SIZE, EXERCISE_HARD_NEGATIVES, 4))
    expected = float(info_nce(same, same, negatives, temperature=0.05))
    if value is None:
        return Feedback(False, f"Give the loss as a number; got {answer!r}.")
    if math.isclose(value, expected, rel_tol=1e-3):
        return Feedback(
            True,
            f"log({candidates}) = {expected:.4f}, whatever τ is: a softmax over {candidates} equal scores is uniform.",
        )
    if math.isclose(value, math.log(EXERCISE_BATCH_SIZE), rel_tol=1e-3):
        return Feedback(False, "Each query also sees every hard negative in the batch: count B(1 + K) candidates.")
    if math.isclose(value, math.log(1 + EXERCISE_HARD_NEGATIVES), rel_tol=1e-3):
        return Feedback(False, "The other queries' positives and negatives are candidates too (in-batch negatives).")
    return Feedback(
        False, "With equal scores the softmax is uniform over the candidates: the loss is log(#candidates)."
    )


def check_collapsed_space(alignment_value: float, uniformity_value: float) -> Feedback:
    """Exercise 4: alignment and uniformity of a space where every text gets the same embedding."""
    a, u = as_number(alignment_value), as_number(uniformity_value)
    if a is None or u is None:
        return Feedback(False, "Give two numbers: the alignment and the uniformity.")
    a_ok, u_ok = math.isclose(a, 0.0, abs_tol=1e-6), math.isclose(u, 0.0, abs_tol=1e-6)
    if a_ok and u_ok:
        return Feedback(
            True,
            "Alignment 0 (perfect: positives coincide) and uniformity 0 (the worst: log of exp(0)). Pulling "
            "positives together alone collapses the space; the negatives in the denominator prevent it.",
        )
    if a_ok:
        return Feedback(
            False, "Alignment is right. For uniformity, every pairwise distance is 0: what is log E exp(0)?"
        )
    if u_ok:
        return Feedback(
            False, "Uniformity is right. For alignment: how far is a query from its positive if they coincide?"
        )
    return Feedback(False, "Every distance ‖f(x) − f(y)‖ is 0 in a collapsed space; plug 0 into both formulas.")


def check_info_nce_implementation(fn: Callable[[np.ndarray, np.ndarray, float], float]) -> Feedback:
    """Exercise 5: ``fn(queries, positives, temperature)`` must equal ``lessonlib.contrastive.info_nce``
    (cosine similarity, in-batch negatives, mean over the batch) on a few random batches."""
    if not callable(fn):
        return Feedback(False, "Pass your function itself (without calling it).")
    rng = np.random.default_rng(1)
    for batch_size, dims, temperature in ((4, 8, 0.05), (16, 32, 0.1), (3, 5, 1.0)):
        q = rng.normal(size=(batch_size, dims)) * rng.uniform(0.5, 3.0, size=(batch_size, 1))
        p = q + rng.normal(size=(batch_size, dims))
        expected = float(info_nce(q, p, temperature=temperature))
        try:
            got = as_number(fn(q.copy(), p.copy(), temperature))
        except Exception as err:  # the learner's code may raise anything
            return Feedback(False, f"Your function raised {type(err).__name__}: {err}")
        if got is None:
            return Feedback(False, "Return the loss as one number (the mean over the batch).")
        if math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-8):
            continue
        logits = (q @ p.T) / temperature
        dot = float(
            np.mean(np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1) - np.diag(logits))
        )
        if math.isclose(got, dot, rel_tol=1e-6):
            return Feedback(
                False, "Normalise the rows to unit length first: the similarity is cosine, not the raw dot product."
            )
        if math.isclose(got, expected * batch_size, rel_tol=1e-6):
            return Feedback(False, "Average the per-query losses over the batch instead of summing them.")
        if math.isclose(got, float(info_nce(q, p, temperature=1.0)), rel_tol=1e-6):
            return Feedback(False, "Divide the similarities by the temperature.")
        return Feedback(
            False, f"For a batch of {batch_size} at τ = {temperature} you returned {got:.6f}; expected {expected:.6f}."
        )
    return Feedback(True, "Your InfoNCE matches lessonlib's (and so sentence-transformers' MNRL) on three batches.")
