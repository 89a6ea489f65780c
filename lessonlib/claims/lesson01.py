"""Claims checks for lesson 01 (contrastive loss and temperature).

The sweep of section 4 trains 21 projection heads; training amplifies the last bits in which two machines'
float32 kernels differ, and the seed decides the batches. ``temperature_sweep`` asserts what the lesson's
reading of the sweep says, with bounds set from the spread measured by ``benchmarks/claims_spread.py`` over
training seeds and CPU kernel sets (its docstring quotes it).
"""

from __future__ import annotations

import pandas as pd

from lessonlib.claims import Report, at_most, check, exceeds, that
from lessonlib.sweep import best_per_batch, rank_correlations, spread_across_batch_sizes

COLUMNS = ("batch", "τ", "alignment", "uniformity", "nDCG@10", "nDCG@10 unseen")


def temperature_sweep(results: pd.DataFrame, frozen: dict[str, float]) -> Report:
    """Section 4: what the reading of the temperature × batch-size sweep says.

    Parameters
    ----------
    results : DataFrame
        One row per trained head with the columns ``batch``, ``τ``, ``alignment``, ``uniformity``,
        ``nDCG@10`` and ``nDCG@10 unseen`` (nDCG in points), as ``lessonlib.sweep.run_sweep`` returns it.
    frozen : dict
        The frozen model's ``alignment``, ``uniformity``, ``ndcg@10`` and ``ndcg@10 unseen`` (fractions), as
        ``lessonlib.projection.evaluate_space`` returns them.

    Measured spread (``benchmarks/claims_spread.py``: training seeds 0, 1, 2, each with this course's CPU
    kernels and with AVX2-only kernels): the best τ was 0.1 for every batch size in all six runs; the most
    uniform head at τ = 0.01 scored −2.77 to −2.66 against the frozen model's −3.33; Spearman ρ of nDCG@10
    with uniformity −0.77 to −0.75, with alignment +0.67 to +0.76; the mean spread of nDCG@10 across batch
    sizes was 4.3 to 7.5 points at τ ≤ 0.02 and 2.3 to 2.7 at τ ≥ 0.1; the best head reached 78.8 to 79.1
    on all claims (frozen 64.51) and led the frozen model on the unseen claims by −1.56 to −0.13 points.
    """
    missing = [c for c in COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results lacks the columns {missing}; build it as section 4 of lesson 01 does.")
    taus = sorted(results["τ"].unique())
    low_tau, high_tau = taus[0], taus[-1]
    best = best_per_batch(results, "nDCG@10")
    lowest, highest = results[results["τ"] == low_tau], results[results["τ"] == high_tau]
    spread = spread_across_batch_sizes(results, "nDCG@10")
    small_tau_spread = spread[[t for t in taus if t <= 0.02]].mean()
    large_tau_spread = spread[[t for t in taus if t >= 0.1]].mean()
    rho = rank_correlations(results, "nDCG@10", ("uniformity", "alignment"))
    rho_uniformity, rho_alignment = float(rho["uniformity"]), float(rho["alignment"])
    best_unseen = float(results["nDCG@10 unseen"].max())
    return check(
        that(
            f"the lowest temperature (τ = {low_tau:g}) gives the best nDCG@10 for no batch size",
            bool((best["τ"] != low_tau).all()),
            evidence=f"best τ per batch size: {dict(zip(best['batch'], best['τ'], strict=True))}",
        ),
        exceeds(
            f"at τ = {low_tau:g} the abstracts end up less uniform than in the frozen model",
            float(lowest["uniformity"].min()),
            frozen["uniformity"],
            what_a=f"the most uniform head at τ = {low_tau:g}",
            what_b="the frozen model",
        ),
        that(
            f"τ = {high_tau:g} gives the best alignment of the sweep",
            bool(highest["alignment"].min() == results["alignment"].min()),
            evidence=f"best alignment {results['alignment'].min():.3f}, at τ = {high_tau:g} "
            f"{highest['alignment'].min():.3f}",
        ),
        that(
            f"τ = {high_tau:g} is not the best temperature for retrieval at any batch size",
            bool((best["τ"] != high_tau).all()),
            evidence=f"best τ per batch size: {dict(zip(best['batch'], best['τ'], strict=True))}",
        ),
        that(
            f"over the {len(results)} heads, nDCG@10 rises as uniformity improves and falls as alignment improves "
            "(rank correlations of opposite signs)",
            rho_uniformity < 0 < rho_alignment,
            evidence=f"Spearman ρ: uniformity {rho_uniformity:.2f}, alignment {rho_alignment:.2f}",
            values={"rho uniformity": rho_uniformity, "rho alignment": rho_alignment},
        ),
        exceeds(
            "batch size moves nDCG@10 more at τ ≤ 0.02 than at τ ≥ 0.1 (mean spread across batch sizes), by over a "
            "point",
            float(small_tau_spread),
            float(large_tau_spread),
            by=1.0,
            what_a="the mean spread across batch sizes at τ ≤ 0.02",
            what_b="at τ ≥ 0.1",
            unit=" points",
        ),
        exceeds(
            "some head beats the frozen model on all test claims",
            float(results["nDCG@10"].max()),
            100 * frozen["ndcg@10"],
            what_a="the best head",
            what_b="the frozen model",
            unit=" points",
        ),
        at_most(
            "on the unseen claims, no head beats the frozen model by more than a point",
            best_unseen - 100 * frozen["ndcg@10 unseen"],
            1.0,
            what="the best head's lead over the frozen model on unseen claims",
            unit=" points",
        ),
        source="lesson01.temperature_sweep",
    )
