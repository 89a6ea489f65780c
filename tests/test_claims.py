"""Claims checks: each builder holds when it should, fails when it should, and says by how much."""

import json

import pytest

from lessonlib.claims import (
    Claim,
    ClaimError,
    at_least,
    at_most,
    between,
    check,
    exceeds,
    interval_above_zero,
    interval_contains_zero,
    that,
)
from lessonlib.metrics import PairedDifference


def diff(mean, low, high):
    return PairedDifference("ndcg@10", mean, low, high, 0.95, 300, 10, 5)


def test_a_claim_that_holds_prints_its_statement_only():
    claim = at_least("the gain is clear", 5.57, 2.0, what="the gain", unit=" points")
    assert claim.holds and str(claim) == "✔ the gain is clear"
    assert str(check(claim)) == "✔ the gain is clear"


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        (at_least("s", 1.5, 2.0, what="the gain"), "the gain is 1.50; the claim needs at least 2.00 (short by 0.50)"),
        (at_most("s", 0.75, 0.5, what="the shift"), "the shift is 0.75; the claim needs at most 0.50 (over by 0.25)"),
        (between("s", 5.6, 4.0, 5.0, what="gain"), "gain is 5.60; the claim needs 4.00 to 5.00 (above by 0.60)"),
        (between("s", 3.5, 4.0, 5.0, what="gain"), "gain is 3.50; the claim needs 4.00 to 5.00 (below by 0.50)"),
        (
            exceeds("s", 3.0, 2.0, by=2.0, what_a="A", what_b="B"),
            "A 3.00 vs B 2.00: difference +1.00; the claim needs more than +2.00 (short by 1.00)",
        ),
    ],
)
def test_a_failing_claim_names_the_number_the_bound_and_the_miss(claim, expected):
    assert not claim.holds
    assert str(claim) == f"✘ s: {expected}"


def test_check_raises_with_every_claim_and_what_broke_the_failing_ones():
    good = at_least("first holds", 3.0, 2.0, what="x")
    bad = at_most("second fails", 0.9, 0.5, what="the bf16 shift", unit=" points")
    with pytest.raises(ClaimError) as raised:
        check(good, bad, source="lesson04.example")
    message = str(raised.value)
    assert "1 of 2 claims do not hold" in message and "(lesson04.example)" in message
    assert "✔ first holds" in message
    expected = "✘ second fails: the bf16 shift is 0.90 points; the claim needs at most 0.50 points (over by 0.40"
    assert expected in message


def test_interval_claims_read_the_paired_difference_in_points():
    clear = diff(0.0457, 0.0186, 0.0739)
    noisy = diff(0.0166, -0.0107, 0.0442)
    assert interval_above_zero("s", clear, what="gain").holds
    assert not interval_above_zero("s", noisy, what="gain").holds
    assert interval_contains_zero("s", noisy, what="gain").holds
    failed = interval_contains_zero("s", clear, what="the test gain")
    assert not failed.holds
    assert "the test gain: +4.57 points, 95% interval +1.86 to +7.39; the claim needs it to contain 0" in str(failed)


def test_boundaries_are_inclusive_where_the_words_say_at_least_or_at_most():
    assert at_least("s", 2.0, 2.0, what="x").holds
    assert at_most("s", 0.5, 0.5, what="x").holds
    assert between("s", 4.0, 4.0, 5.0, what="x").holds and between("s", 5.0, 4.0, 5.0, what="x").holds
    assert not exceeds("s", 4.0, 2.0, by=2.0, what_a="a", what_b="b").holds  # "more than"


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_claim_refuses_a_number_that_is_not_finite(bad):
    with pytest.raises(ValueError, match=r"the gain is (nan|inf)"):
        at_least("s", bad, 2.0, what="the gain")


@pytest.mark.parametrize("bad", ["5.2", None, True])
def test_a_claim_refuses_what_is_not_a_number(bad):
    with pytest.raises(TypeError, match="the gain must be a number"):
        at_least("s", bad, 2.0, what="the gain")


def test_between_refuses_an_empty_range():
    with pytest.raises(ValueError, match="low"):
        between("s", 1.0, 5.0, 4.0, what="x")


def test_check_refuses_nothing_and_non_claims():
    with pytest.raises(ValueError, match="at least one claim"):
        check()
    with pytest.raises(TypeError, match="Claim objects"):
        check("✔ looks like a claim")


def test_that_takes_a_computed_condition_with_its_evidence():
    assert that("the model keeps 128 tokens", True, evidence="it encodes at 128").holds
    claim = that("the model keeps 128 tokens", False, evidence="it encodes at 256")
    assert str(claim) == "✘ the model keeps 128 tokens: it encodes at 256"
    with pytest.raises(TypeError, match="condition must be a bool"):
        that("s", 1, evidence="")


def test_recording_writes_every_claim_and_prints_failures_instead_of_raising(tmp_path, monkeypatch):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("LESSONLIB_CLAIMS_RECORD", str(log))
    report = check(at_least("holds", 3.0, 2.0, what="x"), at_most("fails", 0.9, 0.5, what="y"), source="demo")
    assert str(report).splitlines() == ["✔ holds", "✘ fails: y is 0.90; the claim needs at most 0.50 (over by 0.40)"]
    assert not report  # a report with a failed claim is falsy
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert rows == [
        {"source": "demo", "statement": "holds", "holds": True, "values": {"x": 3.0}},
        {"source": "demo", "statement": "fails", "holds": False, "values": {"y": 0.9}},
    ]


def test_claims_are_immutable_records():
    claim = Claim("s", True, "evidence", {"x": 1.0})
    with pytest.raises(AttributeError):
        claim.holds = False  # type: ignore[misc]
