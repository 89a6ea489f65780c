"""Information-retrieval metrics through pytrec_eval, the trec_eval bindings MTEB uses.

nDCG@k here is trec_eval's: the gain of a document is its qrel grade (linear, not ``2**grade - 1``),
discounted by ``log2(rank + 1)``, divided by the ideal DCG of the judged documents:

.. math:: \\mathrm{nDCG@k} = \\frac{\\sum_{i=1}^{k} g_i / \\log_2(i + 1)}{\\sum_{i=1}^{k} g^*_i / \\log_2(i + 1)}

Järvelin & Kekäläinen 2002; Van Gysel & de Rijke 2018 (pytrec_eval). Values are fractions in [0, 1];
MTEB's tables show them × 100.

Comparing two systems on the same queries: ``paired_difference`` gives the mean per-query difference with a
paired bootstrap confidence interval (Efron & Tibshirani 1993; Sakai 2006 for IR evaluation).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pytrec_eval
from scipy.stats import DegenerateDataWarning, bootstrap

#: Relevance judgements: ``{query_id: {doc_id: grade}}``, the grade an int (0 = judged not relevant).
Qrels: TypeAlias = dict[str, dict[str, int]]
#: A ranking per query: ``{query_id: {doc_id: score}}``, higher scores ranked first (TREC's run format).
Run: TypeAlias = dict[str, dict[str, float]]

DEFAULT_K = (1, 3, 5, 10, 100, 1000)

# Our metric family -> (pytrec_eval measure, the key it reports per k).
_FAMILIES = {
    "ndcg": ("ndcg_cut", "ndcg_cut_{k}"),
    "recall": ("recall", "recall_{k}"),
    "precision": ("P", "P_{k}"),
    "map": ("map_cut", "map_cut_{k}"),
}


def _validate(qrels: Qrels, run: Run, k_values: Iterable[int]) -> list[int]:
    if not qrels:
        raise ValueError("qrels is empty: there is nothing to evaluate against.")
    ks = sorted(set(k_values))
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError(f"k_values must be positive integers, got {list(k_values)!r}.")
    unknown = set(run) - set(qrels)
    if unknown:
        raise ValueError(f"The run has {len(unknown)} queries without qrels, e.g. {sorted(unknown)[:3]}.")
    return ks


def ranked(docs: dict[str, float]) -> list[tuple[str, float]]:
    """One query's ``(doc_id, score)`` pairs best first, score ties broken as trec_eval does (id descending)."""
    # Sort by id first, then stably by score: ties keep the descending-id order.
    order = sorted(docs.items(), key=lambda item: item[0], reverse=True)
    order.sort(key=lambda item: -item[1])
    return order


def first_relevant_rank(docs: dict[str, float], relevant: dict[str, int]) -> int | None:
    """The rank (from 1) of the first document with a grade above 0 in one query's ranking, or None.

    ``docs`` is one query's ``{doc_id: score}``, ranked as everywhere here (``ranked``); ``relevant`` its qrels.

    Examples
    --------
    >>> first_relevant_rank({"a": 0.9, "b": 0.8, "c": 0.1}, {"b": 1, "a": 0})
    2
    >>> first_relevant_rank({"a": 0.9}, {"z": 1}) is None
    True
    """
    return next((rank for rank, (doc, _) in enumerate(ranked(docs), 1) if relevant.get(doc, 0) > 0), None)


def truncate_run(run: Run, k: int) -> Run:
    """Keep each query's ``k`` best-ranked documents."""
    return {qid: dict(ranked(docs)[:k]) for qid, docs in run.items()}


@dataclass(frozen=True)
class Scores:
    """What ``score`` measured: every metric per query, and their means over the queries (MTEB's aggregate).

    ``scores["ndcg@10"]`` is the mean; ``scores.per_query[query_id]["ndcg@10"]`` one query's value, the rows
    ``paired_difference`` compares.
    """

    per_query: dict[str, dict[str, float]]
    mean: dict[str, float]

    def __getitem__(self, name: str) -> float:
        try:
            return self.mean[name]
        except KeyError:
            raise KeyError(f"No metric {name!r} was computed; computed: {sorted(self.mean)}.") from None


def score(qrels: Qrels, run: Run, k_values: Iterable[int] = DEFAULT_K) -> Scores:
    """Score a run against relevance judgements: nDCG@k, recall@k, precision@k, MAP@k and MRR@k, per query and mean.

    The one way lessonlib computes retrieval metrics (pytrec_eval underneath). Every query in ``qrels`` is
    reported; a query the run does not answer scores 0 on every metric. MRR@k is trec_eval's reciprocal rank
    on the run truncated to ``k`` (trec_eval has no cut-off for it).

    Parameters
    ----------
    qrels : Qrels
        ``{query_id: {doc_id: grade}}``; grades are the gains of nDCG.
    run : Run
        ``{query_id: {doc_id: score}}``; every query must have qrels.
    k_values : iterable of int
        The cut-offs, each a positive integer.

    Returns
    -------
    Scores
        ``.per_query[qid]["ndcg@10"]``, and the means as ``scores["ndcg@10"]``.

    Examples
    --------
    >>> scores = score({"q": {"a": 1}}, {"q": {"b": 0.9, "a": 0.5}}, [10])
    >>> round(scores["ndcg@10"], 4), scores.per_query["q"]["mrr@10"]
    (0.6309, 0.5)
    """
    ks = _validate(qrels, run, k_values)
    measures = {f"{measure}.{','.join(map(str, ks))}" for measure, _ in _FAMILIES.values()}
    raw = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    rr_evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"})
    reciprocal = {k: rr_evaluator.evaluate(truncate_run(run, k)) for k in ks}
    per_query: dict[str, dict[str, float]] = {}
    for qid in qrels:
        row = {}
        for family, (_, key) in _FAMILIES.items():
            for k in ks:
                row[f"{family}@{k}"] = float(raw.get(qid, {}).get(key.format(k=k), 0.0))
        for k in ks:
            row[f"mrr@{k}"] = float(reciprocal[k].get(qid, {}).get("recip_rank", 0.0))
        per_query[qid] = row
    names = next(iter(per_query.values())).keys()
    mean = {name: float(np.mean([row[name] for row in per_query.values()])) for name in names}
    return Scores(per_query, mean)


@dataclass(frozen=True)
class PairedDifference:
    """System B minus system A on one metric, over the same queries: mean, bootstrap interval and win counts."""

    metric: str
    mean: float
    low: float
    high: float
    confidence: float
    queries: int
    wins: int
    losses: int

    def __str__(self) -> str:
        return (
            f"{self.metric} {100 * self.mean:+.2f} points "
            f"({self.confidence:.0%} CI {100 * self.low:+.2f} to {100 * self.high:+.2f}; "
            f"better on {self.wins} of {self.queries} queries, worse on {self.losses})"
        )


def paired_difference(
    per_query_a: dict[str, dict[str, float]],
    per_query_b: dict[str, dict[str, float]],
    metric: str = "ndcg@10",
    *,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
) -> PairedDifference:
    """How much better system B scores than system A, with a paired bootstrap confidence interval.

    The per-query differences :math:`d_q = m_B(q) - m_A(q)` are resampled over queries with replacement;
    the interval is scipy's bias-corrected and accelerated (BCa) interval of their mean
    (``scipy.stats.bootstrap``), or its percentile interval where BCa is undefined (a degenerate resampling
    distribution). Pairing by query removes the (large) spread between easy and hard queries,
    so the interval reflects only how consistently B beats A. It describes uncertainty over *queries*
    drawn from the same population, not over training seeds.

    Parameters
    ----------
    per_query_a, per_query_b : dict
        ``{query_id: {metric: value}}`` for the same queries, e.g. ``EvaluationResult.per_query``.
    metric : str
        A key of every row, e.g. ``"ndcg@10"``.
    confidence : float
        Confidence level of the interval, in (0, 1).
    n_resamples : int
        Bootstrap resamples; at least 100.
    seed : int
        Seed of the resampling, so the interval is reproducible.

    Returns
    -------
    PairedDifference
        Mean, interval ends (fractions, like the metrics) and how many queries B wins and loses.
    """
    if set(per_query_a) != set(per_query_b):
        raise ValueError(
            f"The two systems were scored on different queries ({len(per_query_a)} and {len(per_query_b)}; "
            f"{len(set(per_query_a) ^ set(per_query_b))} differ): evaluate both on the same split."
        )
    if len(per_query_a) < 2:
        raise ValueError(f"A paired bootstrap needs at least 2 queries, got {len(per_query_a)}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}.")
    if n_resamples < 100:
        raise ValueError(f"n_resamples must be at least 100 for a usable interval, got {n_resamples!r}.")
    ids = sorted(per_query_a)
    missing = [q for q in ids if metric not in per_query_a[q] or metric not in per_query_b[q]]
    if missing:
        raise ValueError(
            f"metric {metric!r} is missing for {len(missing)} queries, e.g. {missing[:3]}; "
            f"available: {sorted(per_query_a[ids[0]])}."
        )
    diffs = np.array([per_query_b[q][metric] - per_query_a[q][metric] for q in ids])
    mean = float(diffs.mean())
    if np.ptp(diffs) == 0:
        low = high = mean  # every query moved by the same amount: nothing to resample
    else:
        low, high = _bootstrap_interval(diffs, confidence, n_resamples, seed, "BCa")
        if not (np.isfinite(low) and np.isfinite(high)):
            low, high = _bootstrap_interval(diffs, confidence, n_resamples, seed, "percentile")
    return PairedDifference(
        metric, mean, low, high, confidence, len(ids), int((diffs > 0).sum()), int((diffs < 0).sum())
    )


def _bootstrap_interval(
    diffs: np.ndarray, confidence: float, n_resamples: int, seed: int, method: str
) -> tuple[float, float]:
    with warnings.catch_warnings():
        # BCa reports a degenerate distribution with warnings and NaN ends; the caller falls back on NaN.
        warnings.simplefilter("ignore", DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        interval = bootstrap(
            (diffs,),
            np.mean,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method=method,
            rng=np.random.default_rng(seed),
        ).confidence_interval
    return float(interval.low), float(interval.high)
