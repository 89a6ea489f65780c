"""Scalar checks in one place: the value back when it is right, a named TypeError or ValueError when not."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lessonlib.validation import InvalidParameterError, check_float, check_fraction, check_int


@given(st.integers(min_value=1, max_value=10**6))
def test_check_int_returns_ints_within_bounds(value):
    assert check_int(value, "k", minimum=1) == value
    assert check_int(np.int64(value), "k", minimum=1) == value


@pytest.mark.parametrize("bad", [True, False, 3.0, "3", None])
def test_check_int_refuses_non_integers_and_bools_by_name(bad):
    assert issubclass(InvalidParameterError, ValueError) and issubclass(InvalidParameterError, TypeError)
    with pytest.raises(TypeError, match=r"epochs must be a positive integer, got .* \(\w+\)\."):
        check_int(bad, "epochs", minimum=1)


def test_check_int_names_the_bound_it_missed():
    with pytest.raises(ValueError, match=r"depth must be a positive integer, got 0"):
        check_int(0, "depth", minimum=1)
    with pytest.raises(ValueError, match=r"n must be an int between 1 and 5, got 6"):
        check_int(6, "n", minimum=1, maximum=5)


def test_check_float_bounds_can_be_open_or_closed():
    assert check_float(1, "x", minimum=1) == 1.0
    with pytest.raises(ValueError, match=r"x must be > 1"):
        check_float(1, "x", minimum=1, include_minimum=False)
    with pytest.raises(ValueError, match=r"finite"):
        check_float(math.nan, "x")
    with pytest.raises(TypeError, match=r"x must be a number"):
        check_float(True, "x")


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 2])
def test_check_fraction_is_strictly_between_zero_and_one(bad):
    assert check_fraction(0.2, "dev_fraction") == 0.2
    with pytest.raises(ValueError, match=r"dev_fraction must be > 0.0 and < 1.0"):
        check_fraction(bad, "dev_fraction")


def test_check_int_says_why_the_bound_is_there():
    with pytest.raises(
        ValueError, match=r"batch_size must be an int >= 2 \(in-batch negatives need other pairs\), got 1\."
    ):
        check_int(1, "batch_size", minimum=2, hint="in-batch negatives need other pairs")
