"""Validation of scalar arguments in one place, in the style of scikit-learn's ``check_scalar``.

Each check returns the value (converted where that is safe) or raises ``InvalidParameterError`` with the
argument's name, what it got and what it needs. As scikit-learn's error of the same name, it is both a
``ValueError`` and a ``TypeError``, so callers may catch either. ``bool`` is refused where a number is expected,
although Python treats ``True`` as the integer 1: ``epochs=True`` is a mistake, not one epoch.
"""

from __future__ import annotations

import math
import numbers


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
