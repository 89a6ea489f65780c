"""Lesson 03's claims check: it holds for the measured timings and fails, naming the number, when they break it."""

import pandas as pd
import pytest

from lessonlib.claims import ClaimError
from lessonlib.claims.lesson03 import CHECKED_DOT, FROM_SCRATCH, PRE_NORMALISED, similarity_speed


def timings(scratch_1=135.65, dot_1=20.18, checked_1=89.57, scratch_256=420.35, dot_256=257.34):
    rows = [
        (1, FROM_SCRATCH, scratch_1),
        (1, PRE_NORMALISED, dot_1),
        (1, CHECKED_DOT, checked_1),
        (256, FROM_SCRATCH, scratch_256),
        (256, PRE_NORMALISED, dot_256),
        (256, CHECKED_DOT, 305.81),
    ]
    return pd.DataFrame(rows, columns=["queries", "method", "best ms"])


def test_the_measured_timings_support_every_claim():
    report = str(similarity_speed(timings()))
    assert report.count("✔") == 3 and "✘" not in report


@pytest.mark.parametrize(
    ("broken", "number"),
    [
        ({"scratch_1": 38.0, "scratch_256": 300.0}, "one query's time ratio is 1.88x"),
        ({"scratch_256": 2000.0}, "256 queries' ratio"),
        ({"checked_1": 25.0}, "lessonlib's extra time over the bare dot product"),
    ],
)
def test_each_claim_fails_naming_its_number(broken, number):
    with pytest.raises(ClaimError, match=r"1 of 3 claims") as err:
        similarity_speed(timings(**broken))
    assert number in str(err.value)


def test_missing_rows_are_named():
    with pytest.raises(ValueError, match="time every method"):
        similarity_speed(timings().iloc[:4])
