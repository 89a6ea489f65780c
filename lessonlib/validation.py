"""Validation of arguments in one place, in the style of scikit-learn's ``check_scalar`` and ``check_array``.

Each check returns the value (converted where that is safe) or raises ``InvalidParameterError`` with the
argument's name, what it got and what it needs. As scikit-learn's error of the same name, it is both a
``ValueError`` and a ``TypeError``, so callers may catch either. ``bool`` is refused where a number is expected,
although Python treats ``True`` as the integer 1: ``epochs=True`` is a mistake, not one epoch.

``check_embeddings`` is the one check of an embedding matrix at a public function's boundary (lesson 05's
truncation, quantization, indexes and vector store).
"""

from __future__ import annotations

import math
import numbers

import numpy as np


class InvalidParameterError(ValueError, TypeError):
    """An argument of the wrong type or out of range (a ``ValueError`` and a ``TypeError``)."""


def check_int(
    value: object, name: str, *, minimum: int | None = None, maximum: int | None = None, hint: str = ""
) -> int:
    """Return ``value`` as an ``int`` if it is an integer (NumPy integers included) within the bounds.

    Parameters
    ----------
    value : object
    name : str
        The argument's name, as the caller wrote it.
    minimum, maximum : int, optional
        Inclusive bounds.
    hint : str
        Why the bound is there, added to the message ("in-batch negatives need other pairs").

    Raises
    ------
    InvalidParameterError
        ``value`` is not an integer (a ``bool``, a float such as ``3.0``, a string, ``None``), or is below
        ``minimum`` or above ``maximum``.

    Examples
    --------
    >>> check_int(3, "epochs", minimum=1)
    3
    >>> check_int(True, "epochs", minimum=1)
    Traceback (most recent call last):
    ...
    lessonlib.validation.InvalidParameterError: epochs must be a positive integer, got True (bool).
    """
    valid = not isinstance(value, bool) and isinstance(value, numbers.Integral)
    if valid:
        number = int(value)
        valid = (minimum is None or number >= minimum) and (maximum is None or number <= maximum)
    if not valid:
        if minimum == 1 and maximum is None:
            needs = "a positive integer"
        elif minimum == 0 and maximum is None:
            needs = "a non-negative integer"
        elif maximum is None:
            needs = "an int" if minimum is None else f"an int >= {minimum}"
        else:
            needs = f"an int <= {maximum}" if minimum is None else f"an int between {minimum} and {maximum}"
        kind = (
            "" if isinstance(value, numbers.Integral) and not isinstance(value, bool) else f" ({type(value).__name__})"
        )
        raise InvalidParameterError(f"{name} must be {needs}{f' ({hint})' if hint else ''}, got {value!r}{kind}.")
    return number


def check_float(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    include_minimum: bool = True,
    include_maximum: bool = True,
) -> float:
    """Return ``value`` as a finite ``float`` within the bounds (ints are accepted, ``bool`` is not).

    Examples
    --------
    >>> check_float(0.05, "temperature", minimum=0, include_minimum=False)
    0.05
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{name} must be a number, got {value!r} ({type(value).__name__}).")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidParameterError(f"{name} must be finite, got {value!r}.")
    _check_bounds(value, name, minimum, maximum, include_minimum, include_maximum)
    return value


def check_fraction(value: object, name: str) -> float:
    """A number strictly between 0 and 1 (e.g. a dev fraction)."""
    return check_float(value, name, minimum=0.0, maximum=1.0, include_minimum=False, include_maximum=False)


def _check_bounds(
    value: float,
    name: str,
    minimum: float | None,
    maximum: float | None,
    include_minimum: bool = True,
    include_maximum: bool = True,
) -> None:
    low_ok = minimum is None or (value >= minimum if include_minimum else value > minimum)
    high_ok = maximum is None or (value <= maximum if include_maximum else value < maximum)
    if low_ok and high_ok:
        return
    low = "" if minimum is None else f"{'>=' if include_minimum else '>'} {minimum}"
    high = "" if maximum is None else f"{'<=' if include_maximum else '<'} {maximum}"
    needs = " and ".join(part for part in (low, high) if part)
    raise InvalidParameterError(f"{name} must be {needs}, got {value!r}.")


def check_embeddings(
    value: object,
    name: str,
    *,
    width: int | None = None,
    width_of: str = "",
    dtype: type | None = np.float32,
) -> np.ndarray:
    """Return ``value`` as a finite 2-D floating array ``(n, d)`` with ``n, d >= 1``, or say what is wrong.

    Integer and bool arrays are refused rather than converted: an ``int8`` or ``uint8`` matrix where float
    embeddings are expected is usually a set of quantized codes passed by mistake.

    Parameters
    ----------
    value : array_like of shape (n, d)
    name : str
        The argument's name, as the caller wrote it.
    width : int, optional
        The width ``d`` the rows must have (that of an index, or of the other side of a search).
    width_of : str
        What ``width`` belongs to, for the message ("the index", "doc_embeddings").
    dtype : numpy dtype or None
        The floating dtype to return (C-contiguous, as FAISS needs); ``None`` keeps the input's.

    Raises
    ------
    InvalidParameterError
        Not a numeric array, an integer, bool or complex dtype, not 2-D, no rows or no columns, a NaN or inf
        (the message names the rows), or a width other than ``width``.

    Examples
    --------
    >>> check_embeddings([[1.0, 0.0], [0.6, 0.8]], "doc_embeddings").shape
    (2, 2)
    >>> check_embeddings(np.zeros((3, 4), dtype=np.int8), "doc_embeddings")
    Traceback (most recent call last):
    ...
    lessonlib.validation.InvalidParameterError: doc_embeddings must be float embeddings, got dtype int8: ...
    """
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged nested lists
        raise InvalidParameterError(f"{name} must be a 2-D array of floats (n, d); {err}") from None
    if not np.issubdtype(array.dtype, np.floating):
        hint = (
            " quantized codes? Pass the float32 embeddings (dequantize int8 codes first)."
            if np.issubdtype(array.dtype, np.integer) or array.dtype == bool
            else " pass a numeric array of embeddings."
        )
        raise InvalidParameterError(f"{name} must be float embeddings, got dtype {array.dtype}:{hint}")
    if array.ndim != 2:
        hint = " (one vector? use x[None, :])" if array.ndim == 1 else ""
        raise InvalidParameterError(f"{name} must be a 2-D array (n, d), got shape {array.shape}{hint}.")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidParameterError(f"{name} is empty (shape {array.shape}): pass at least one row of width >= 1.")
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        shown = ", ".join(str(int(r)) for r in bad[:5]) + (f", … ({bad.size} rows in all)" if bad.size > 5 else "")
        raise InvalidParameterError(
            f"{name} has NaN or inf in row(s) {shown}: re-encode those texts (in float32) or drop them."
        )
    if width is not None and array.shape[1] != width:
        raise InvalidParameterError(
            f"{name} has width {array.shape[1]} but {width_of or 'the other side'} has width {width}: both sides of a "
            "search must come from one model, truncated to the same dimensions."
        )
    return np.ascontiguousarray(array, dtype=dtype) if dtype is not None else array
