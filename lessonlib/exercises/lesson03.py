"""Checks for lesson 03's exercises (normalisation, cosine and dot product).

Each ``check_…`` takes the learner's answer and returns a ``Feedback``; printing it says right or wrong and why.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from lessonlib.exercises import Feedback, as_number

#: Exercise 1: the two vectors whose cosine the learner computes by hand.
EXERCISE1_U = (3.0, 4.0)
EXERCISE1_V = (4.0, 3.0)

#: Exercise 3: the cosine similarity of two unit vectors whose squared L2 distance the learner derives.
EXERCISE3_COSINE = 0.8

#: Numeric answers are accepted within this absolute tolerance (three decimals are enough).
TOLERANCE = 1e-3


def _check_number(answer: object, expected: float, why: str, hint: str) -> Feedback:
    value = as_number(answer)
    if value is None:
        return Feedback(False, f"answer with a finite number (got {answer!r}). Hint: {hint}")
    if abs(value - expected) <= TOLERANCE:
        return Feedback(True, f"{value:.4f}. {why}")
    return Feedback(False, f"{value:.4f} is not it. Hint: {hint}")


def check_cosine_by_hand(answer: object) -> Feedback:
    """Exercise 1: cos(u, v) for u = (3, 4), v = (4, 3), computed by hand."""
    u, v = np.array(EXERCISE1_U), np.array(EXERCISE1_V)
    expected = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
    return _check_number(
        answer,
        expected,
        "u·v = 24 and ‖u‖ = ‖v‖ = 5, so cos = 24 / 25.",
        "cos(u, v) = u·v / (‖u‖‖v‖); both vectors have length 5 (a 3-4-5 triangle).",
    )


def check_scaling_prediction(answer: object) -> Feedback:
    """Exercise 2: multiply one document's embedding by 10; can its rank change under cosine? Under dot?

    The answer is a dict ``{"cosine": bool, "dot": bool}`` (True = the rank can change).
    """
    if not isinstance(answer, dict) or set(answer) != {"cosine", "dot"}:
        return Feedback(False, 'answer with a dict {"cosine": True/False, "dot": True/False}.')
    if not all(isinstance(value, bool) for value in answer.values()):
        return Feedback(False, "each value must be True (the rank can change) or False (it cannot).")
    if answer["cosine"]:
        return Feedback(False, "cosine divides by the norm: cos(10·d, q) = cos(d, q), so no rank can move.")
    if not answer["dot"]:
        return Feedback(False, "the dot product grows with the norm: (10·d)·q = 10 (d·q), which can overtake others.")
    return Feedback(True, "cosine ignores length; the dot product multiplies that document's scores by 10.")


def check_l2_from_cosine(answer: object) -> Feedback:
    """Exercise 3: the squared L2 distance of two unit vectors whose cosine is ``EXERCISE3_COSINE``."""
    return _check_number(
        answer,
        2 - 2 * EXERCISE3_COSINE,
        "‖û − v̂‖² = ‖û‖² + ‖v̂‖² − 2 û·v̂ = 2 − 2 cos.",
        "expand ‖û − v̂‖² = (û − v̂)·(û − v̂) and use ‖û‖ = ‖v̂‖ = 1.",
    )


def check_mean_norm(answer: object) -> Feedback:
    """Exercise 5: the norm of the mean of two orthogonal unit vectors."""
    return _check_number(
        answer,
        math.sqrt(0.5),
        "‖(û + v̂)/2‖² = (1 + 1 + 2·0) / 4 = 1/2, so the norm is 1/√2: an average of unit vectors is shorter "
        "than 1 (renormalise it before comparing it by dot product).",
        "square it: ‖(û + v̂)/2‖² = (‖û‖² + ‖v̂‖² + 2 û·v̂) / 4, with û·v̂ = 0 for orthogonal vectors.",
    )


def _cases() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [
        rng.normal(size=(5, 8)).astype(np.float32),
        rng.normal(size=(3, 4)) * np.array([[1e-3], [1.0], [1e3]]),
        np.array([[3.0, 4.0]]),
    ]


def check_normalise(fn: object) -> Feedback:
    """Exercise 4: the learner's ``fn(x)`` scales each row of an ``(n, d)`` array to unit length.

    It must keep the shape and the floating dtype, give rows of norm 1 pointing the same way, and raise
    ``ValueError`` for an all-zero row rather than return NaN.
    """
    if not callable(fn):
        return Feedback(False, f"pass your function itself (e.g. check_normalise(my_normalise)), got {fn!r}.")
    fn_: Callable[[np.ndarray], object] = fn
    for x in _cases():
        try:
            got = np.asarray(fn_(x.copy()))
        except Exception as err:  # the learner's code may raise anything; report it rather than crash
            return Feedback(False, f"your function raised {type(err).__name__}: {err} on an input of shape {x.shape}.")
        if got.shape != x.shape:
            return Feedback(False, f"shape {got.shape} for an input of shape {x.shape}: keep one row per vector.")
        if got.dtype != x.dtype:
            return Feedback(False, f"dtype {got.dtype} for a {x.dtype} input: keep the input's dtype.")
        expected = x / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
        if not np.allclose(got, expected, atol=1e-5):
            lengths = np.round(np.linalg.norm(got.astype(np.float64), axis=1), 4).tolist()
            return Feedback(
                False,
                f"row lengths {lengths} (want all 1.0, same direction): divide each row by its own L2 norm "
                "(axis=1, keepdims=True), not by a sum or the whole array's norm.",
            )
    try:
        zero = np.asarray(fn_(np.array([[1.0, 0.0], [0.0, 0.0]])))
    except ValueError:
        return Feedback(True, "unit rows, same direction, dtype kept, and a zero row is refused.")
    except Exception as err:  # any other exception type is the wrong signal for bad input
        return Feedback(False, f"a zero row should raise ValueError, not {type(err).__name__}.")
    has_nan = bool(np.isnan(zero).any()) if np.issubdtype(zero.dtype, np.floating) else False
    return Feedback(
        False,
        "a zero row must raise ValueError (it has no direction); yours returned "
        + ("NaN, which would silently poison every similarity." if has_nan else f"{zero.tolist()}."),
    )
