"""Claims checks: what a lesson's prose says about numbers that vary with the hardware, asserted in code.

nbval compares a notebook's stored outputs byte for byte, so a compared output must print the same on every
machine. Some numbers cannot: a trained model's scores (training amplifies the last bits in which two CPUs,
or a CPU and a GPU, differ), anything computed in bfloat16, and timings. Their cells are still shown to the
reader, but not compared (``# NBVAL_IGNORE_OUTPUT``), and the cell after each one calls a *claims check*: a
function in this package that asserts what the prose says about those numbers, with tolerances measured
across bfloat16 on and off (``LESSONLIB_BF16=0``) and several training seeds (each check's docstring says
what was measured), and prints one stable line per claim::

    ✔ on dev, one mined hard negative per pair gains more than in-batch negatives only

nbval compares those lines, so CI still fails when a claim stops holding; a failing check raises
``ClaimError``, which names the number that broke each claim and by how much.

``lesson01``, ``lesson03``, ``lesson04`` … hold each lesson's checks; this module holds the pieces they are
built from.

Measuring a claim's spread: with ``$LESSONLIB_CLAIMS_RECORD`` set to a file, every claim appends its numbers
to that file (JSON lines) and a failing claim prints its ``✘`` line instead of raising, so one run records
them all (nbval still fails on the changed line). ``benchmarks/claims_spread.py`` runs the notebooks that
way under each setting and tabulates the spread.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lessonlib.metrics import PairedDifference

RECORD_ENV = "LESSONLIB_CLAIMS_RECORD"


@dataclass(frozen=True)
class Claim:
    """One statement of a lesson, whether this run's numbers support it, and the numbers behind the verdict.

    Attributes
    ----------
    statement : str
        What the lesson says, as the stable line a reader sees ("on dev, … beats …").
    holds : bool
    evidence : str
        The numbers and the bound they were held to, e.g. ``"gain +5.57 points; needs at least +2.00"``.
    values : dict
        The measured numbers by name, recorded when ``$LESSONLIB_CLAIMS_RECORD`` is set.
    """

    statement: str
    holds: bool
    evidence: str
    values: Mapping[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"✔ {self.statement}" if self.holds else f"✘ {self.statement}: {self.evidence}"


@dataclass(frozen=True)
class Report:
    """The claims one check made, all of which held (a check that finds a failing claim raises instead)."""

    claims: tuple[Claim, ...]

    def __str__(self) -> str:
        return "\n".join(str(claim) for claim in self.claims)

    def __bool__(self) -> bool:
        return all(claim.holds for claim in self.claims)


class ClaimError(AssertionError):
    """A claim the lesson makes does not hold for the numbers this run produced; the message says which and why."""


def _number(value: float, name: str) -> float:
    try:
        if isinstance(value, bool | str):
            raise TypeError
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}.") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} is {value}: a claim needs a finite number (did a run fail?).")
    return value


def _fmt(value: float, signed: bool = False) -> str:
    text = f"{value:+.2f}" if signed else f"{value:.2f}"
    return text if abs(value) >= 0.01 or value == 0 else (f"{value:+.2g}" if signed else f"{value:.2g}")


def at_least(statement: str, value: float, bound: float, *, what: str, unit: str = "") -> Claim:
    """The claim that ``value >= bound``; ``what`` names the value in the evidence ("the test gain")."""
    value, bound = _number(value, what), _number(bound, "bound")
    holds = value >= bound
    evidence = f"{what} is {_fmt(value)}{unit}; the claim needs at least {_fmt(bound)}{unit}"
    if not holds:
        evidence += f" (short by {_fmt(bound - value)}{unit})"
    return Claim(statement, holds, evidence, {what: value})


def at_most(statement: str, value: float, bound: float, *, what: str, unit: str = "") -> Claim:
    """The claim that ``value <= bound``."""
    value, bound = _number(value, what), _number(bound, "bound")
    holds = value <= bound
    evidence = f"{what} is {_fmt(value)}{unit}; the claim needs at most {_fmt(bound)}{unit}"
    if not holds:
        evidence += f" (over by {_fmt(value - bound)}{unit})"
    return Claim(statement, holds, evidence, {what: value})


def between(statement: str, value: float, low: float, high: float, *, what: str, unit: str = "") -> Claim:
    """The claim that ``low <= value <= high`` (e.g. "about 4 to 5 points")."""
    value, low, high = _number(value, what), _number(low, "low"), _number(high, "high")
    if low > high:
        raise ValueError(f"low ({low}) must not exceed high ({high}).")
    holds = low <= value <= high
    evidence = f"{what} is {_fmt(value)}{unit}; the claim needs {_fmt(low)} to {_fmt(high)}{unit}"
    if value < low:
        evidence += f" (below by {_fmt(low - value)}{unit})"
    elif value > high:
        evidence += f" (above by {_fmt(value - high)}{unit})"
    return Claim(statement, holds, evidence, {what: value})


def exceeds(statement: str, a: float, b: float, *, by: float = 0.0, what_a: str, what_b: str, unit: str = "") -> Claim:
    """The claim that ``a - b > by`` ("A beats B by more than ``by``")."""
    a, b, by = _number(a, what_a), _number(b, what_b), _number(by, "by")
    margin = a - b
    holds = margin > by
    evidence = f"{what_a} {_fmt(a)}{unit} vs {what_b} {_fmt(b)}{unit}: difference {_fmt(margin, True)}{unit}"
    evidence += f"; the claim needs more than {_fmt(by, True)}{unit}"
    if not holds:
        evidence += f" (short by {_fmt(by - margin)}{unit})"
    return Claim(statement, holds, evidence, {what_a: a, what_b: b})


def _interval(statement: str, diff: PairedDifference, what: str, holds: bool, needs: str) -> Claim:
    low, mean, high = 100 * diff.low, 100 * diff.mean, 100 * diff.high
    evidence = (
        f"{what}: {_fmt(mean, True)} points, {diff.confidence:.0%} interval {_fmt(low, True)} to "
        f"{_fmt(high, True)}; the claim needs {needs}"
    )
    return Claim(statement, holds, evidence, {f"{what} mean": mean, f"{what} low": low, f"{what} high": high})


def interval_above_zero(statement: str, diff: PairedDifference, *, what: str) -> Claim:
    """The claim that a paired difference's whole confidence interval lies above 0 (a gain clear of noise)."""
    return _interval(statement, diff, what, diff.low > 0, "its lower end above 0")


def interval_contains_zero(statement: str, diff: PairedDifference, *, what: str) -> Claim:
    """The claim that a paired difference's confidence interval contains 0 (these queries cannot tell the two apart)."""
    return _interval(statement, diff, what, diff.low <= 0 <= diff.high, "it to contain 0")


def that(statement: str, condition: bool, *, evidence: str, values: Mapping[str, float] | None = None) -> Claim:
    """A claim whose test is a condition computed by the caller; ``evidence`` says what it was computed from."""
    if not isinstance(condition, bool):
        raise TypeError(f"condition must be a bool, got {type(condition).__name__}.")
    return Claim(statement, condition, evidence, dict(values or {}))


def check(*claims: Claim, source: str = "") -> Report:
    """Return the report of ``claims``, or raise ``ClaimError`` listing every claim that does not hold.

    Parameters
    ----------
    *claims : Claim
        Built with ``at_least``, ``between``, ``exceeds``, ``interval_above_zero`` … .
    source : str
        The check's name, recorded with the numbers when ``$LESSONLIB_CLAIMS_RECORD`` is set.

    Raises
    ------
    ClaimError
        One or more claims failed; the message has every claim's line, and for the failed ones the number at
        fault, the bound it was held to and by how much it missed. (While recording, nothing is raised: the
        ``✘`` lines are returned, and nbval's comparison fails on them.)

    Examples
    --------
    >>> print(check(at_least("the gain is clearly positive", 5.2, 2.0, what="the gain")))
    ✔ the gain is clearly positive
    """
    if not claims:
        raise ValueError("check needs at least one claim.")
    for claim in claims:
        if not isinstance(claim, Claim):
            raise TypeError(f"check takes Claim objects (from at_least, between, …), got {type(claim).__name__}.")
    record_to = os.environ.get(RECORD_ENV)
    if record_to:
        with Path(record_to).open("a", encoding="utf-8") as log:
            for claim in claims:
                entry = {"source": source, "statement": claim.statement, "holds": claim.holds, "values": claim.values}
                log.write(json.dumps(entry) + "\n")
        return Report(tuple(claims))
    failed = [claim for claim in claims if not claim.holds]
    if failed:
        lines = "\n".join(str(claim) for claim in claims)
        raise ClaimError(
            f"{len(failed)} of {len(claims)} claims do not hold for this run's numbers"
            f"{f' ({source})' if source else ''}:\n{lines}\n"
            "The lesson's prose states these claims: if the numbers moved for a reason (new data, a new recipe), "
            "re-measure the spread (benchmarks/claims_spread.py) and correct the prose, not only the bound."
        )
    return Report(tuple(claims))
