"""Scalar checks in one place: the value back when it is right, a named TypeError or ValueError when not."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lessonlib.validation import InvalidParameterError, check_embeddings, check_float, check_fraction, check_int


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


def test_check_embeddings_returns_contiguous_float32_and_keeps_the_dtype_when_asked():
    x = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]
    out = check_embeddings(x, "doc_embeddings")
    assert out.dtype == np.float32 and out.flags.c_contiguous and out.shape == (3, 2)
    assert check_embeddings(x, "doc_embeddings", dtype=None).dtype == np.float64


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((2, 3), dtype=np.int8), r"doc_embeddings must be float embeddings, got dtype int8: quantized codes"),
        (np.zeros((2, 3), dtype=bool), r"got dtype bool"),
        (np.array([["a", "b"]]), r"got dtype <U1: pass a numeric array"),
        (np.zeros(3), r"must be a 2-D array \(n, d\), got shape \(3,\) \(one vector\? use x\[None, :\]\)"),
        (np.zeros((0, 3)), r"doc_embeddings is empty \(shape \(0, 3\)\)"),
        (np.zeros((3, 0)), r"is empty"),
        (np.array([[1.0, np.nan], [0.0, 1.0], [np.inf, 0.0]]), r"NaN or inf in row\(s\) 0, 2"),
    ],
)
def test_check_embeddings_names_the_argument_and_what_is_wrong(bad, message):
    with pytest.raises(InvalidParameterError, match=message):
        check_embeddings(bad, "doc_embeddings")


def test_check_embeddings_checks_the_width_against_the_other_side():
    with pytest.raises(ValueError, match=r"queries has width 3 but the index has width 4"):
        check_embeddings(np.ones((2, 3)), "queries", width=4, width_of="the index")
