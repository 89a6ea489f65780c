"""Alignment and uniformity (Wang & Isola 2020): against the paper's torch code, and at known extremes."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lessonlib.geometry import alignment, uniformity


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def paper_align(x, y, alpha=2):  # Wang & Isola's reference code
    return (x - y).norm(p=2, dim=1).pow(alpha).mean()


def paper_uniform(x, t=2):
    return torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log()


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), d=st.integers(2, 12), seed=st.integers(0, 2**16), t=st.floats(0.5, 4.0))
def test_matches_the_papers_reference_code(n, d, seed, t):
    rng = np.random.default_rng(seed)
    x, y = unit(rng.normal(size=(n, d))), unit(rng.normal(size=(n, d)))
    assert alignment(x, y) == pytest.approx(float(paper_align(torch.from_numpy(x), torch.from_numpy(y))), abs=1e-9)
    assert alignment(x, y, alpha=1) == pytest.approx(
        float(paper_align(torch.from_numpy(x), torch.from_numpy(y), alpha=1)), abs=1e-9
    )
    expected = float(paper_uniform(torch.from_numpy(x), t=t))
    assert uniformity(x, t=t) == pytest.approx(expected, abs=1e-9)
    assert uniformity(x, t=t, chunk=3) == pytest.approx(expected, abs=1e-9)  # chunking changes nothing


def test_extremes():
    x = unit(np.random.default_rng(0).normal(size=(5, 3)))
    assert alignment(x, x) == pytest.approx(0.0, abs=1e-12)
    assert alignment(x, -x) == pytest.approx(4.0)
    collapsed = np.tile([[0.6, 0.8]], (7, 1))
    assert uniformity(collapsed) == pytest.approx(0.0, abs=1e-12)
    # Two antipodal points: every pair at squared distance 4, so the value is -4t.
    assert uniformity(np.array([[1.0, 0.0], [-1.0, 0.0]]), t=2) == pytest.approx(-8.0)


def test_spread_points_are_more_uniform_than_clustered_ones():
    rng = np.random.default_rng(1)
    spread = rng.normal(size=(200, 8))
    clustered = np.ones((200, 8)) + 0.1 * rng.normal(size=(200, 8))
    assert uniformity(spread) < uniformity(clustered) < 0


def test_inputs_are_normalised_first():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
    assert alignment(3 * x, 0.5 * y) == pytest.approx(alignment(unit(x), unit(y)))
    assert alignment(x, y) == pytest.approx(2 - 2 * np.mean(np.sum(unit(x) * unit(y), axis=1)))
    assert uniformity(5 * x) == pytest.approx(uniformity(unit(x)))
    assert uniformity(x) >= -2 * 2 * 10 / 9  # the Jensen bound in the docstring


def test_errors_say_what_is_wrong():
    x = np.ones((3, 2))
    with pytest.raises(ValueError, match="same shape"):
        alignment(x, x[:2])
    with pytest.raises(ValueError, match="alpha must be > 0"):
        alignment(x, x, alpha=0)
    with pytest.raises(ValueError, match="at least two"):
        uniformity(x[:1])
    with pytest.raises(ValueError, match="t must be > 0"):
        uniformity(x, t=-1)
    with pytest.raises(ValueError, match="zero vector"):
        uniformity(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="2-D"):
        uniformity(np.ones(3))
    assert math.isfinite(uniformity(x))
