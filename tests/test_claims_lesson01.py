"""Lesson 01's claims check holds on a sweep shaped like the lesson's and fails on sweeps that break its prose."""

import itertools

import pandas as pd
import pytest

from lessonlib.claims import ClaimError
from lessonlib.claims.lesson01 import temperature_sweep

TAUS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
FROZEN = {"alignment": 0.875, "uniformity": -3.333, "ndcg@10": 0.6451, "ndcg@10 unseen": 0.6758}


def sweep(**changes) -> pd.DataFrame:
    """A sweep with the lesson's shape: best at τ = 0.1, alignment best at τ = 1, spread largest at small τ."""
    ndcg = {0.01: 64.0, 0.02: 65.0, 0.05: 71.0, 0.1: 77.0, 0.2: 76.0, 0.5: 70.0, 1.0: 62.0}
    rows = []
    for batch, tau in itertools.product([8, 32, 128], TAUS):
        boost = {8: 0.0, 32: 1.0, 128: 2.0}[batch] * (4.0 if tau <= 0.02 else 0.5)
        rows.append(
            {
                "batch": batch,
                "τ": tau,
                "alignment": 1.0 - 0.4 * tau,
                "uniformity": -2.6 if tau == 0.01 else -3.5 - (ndcg[tau] + boost) / 100,
                "nDCG@10": ndcg[tau] + boost,
                "nDCG@10 unseen": 60.0 + boost,
            }
        )
    frame = pd.DataFrame(rows)
    for (batch, tau, column), value in changes.get("cells", {}).items():
        frame.loc[(frame["batch"] == batch) & (frame["τ"] == tau), column] = value
    return frame


def test_the_lessons_shape_passes_every_claim():
    lines = str(temperature_sweep(sweep(), FROZEN)).splitlines()
    assert len(lines) == 8 and all(line.startswith("✔") for line in lines)


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({(128, 0.01, "nDCG@10"): 90.0}, "gives the best nDCG@10 for no batch size: best τ per batch size"),
        ({(8, 0.01, "uniformity"): -3.9}, "the most uniform head at τ = 0.01 -3.90 vs the frozen model -3.33"),
        ({(8, 0.5, "alignment"): 0.1}, "τ = 1 gives the best alignment of the sweep: best alignment 0.100"),
        ({(32, 1.0, "nDCG@10"): 95.0}, "τ = 1 is not the best temperature for retrieval at any batch size"),
        ({(128, 0.1, "nDCG@10 unseen"): 70.0}, "lead over the frozen model on unseen claims is 2.42 points"),
    ],
)
def test_a_sweep_that_breaks_a_claim_is_refused_with_the_number(cells, message):
    with pytest.raises(ClaimError, match=message.replace("(", r"\(").replace(")", r"\)")):
        temperature_sweep(sweep(cells=cells), FROZEN)


def test_an_even_spread_across_batch_sizes_breaks_the_small_temperature_claim():
    flat = sweep()
    flat["nDCG@10"] = flat["τ"].map({0.01: 64.0, 0.02: 65.0, 0.05: 71.0, 0.1: 77.0, 0.2: 76.0, 0.5: 70.0, 1.0: 62.0})
    with pytest.raises(ClaimError, match=r"mean spread across batch sizes at τ ≤ 0\.02 0\.00 points vs at τ ≥ 0\.1"):
        temperature_sweep(flat, FROZEN)


def test_a_table_without_the_sweep_columns_is_explained():
    with pytest.raises(ValueError, match="lacks the columns"):
        temperature_sweep(pd.DataFrame({"batch": [8]}), FROZEN)
