"""Information-retrieval metrics through pytrec_eval, the trec_eval bindings MTEB uses.

nDCG@k here is trec_eval's: the gain of a document is its qrel grade (linear, not ``2**grade - 1``),
discounted by ``log2(rank + 1)``, divided by the ideal DCG of the judged documents:

.. math:: \\mathrm{nDCG@k} = \\frac{\\sum_{i=1}^{k} g_i / \\log_2(i + 1)}{\\sum_{i=1}^{k} g^*_i / \\log_2(i + 1)}

Järvelin & Kekäläinen 2002; Van Gysel & de Rijke 2018 (pytrec_eval). Values are fractions in [0, 1];
MTEB's tables show them × 100.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytrec_eval

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]

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


def truncate_run(run: Run, k: int) -> Run:
    """Keep each query's ``k`` best-ranked documents."""
    return {qid: dict(ranked(docs)[:k]) for qid, docs in run.items()}


def per_query_metrics(qrels: Qrels, run: Run, k_values: Iterable[int] = DEFAULT_K) -> dict[str, dict[str, float]]:
    """Metrics per query: ``{query_id: {"ndcg@10": ..., "recall@10": ..., "mrr@10": ..., ...}}``.

    Every query in ``qrels`` is reported; a query the run does not answer scores 0 on every metric.
    MRR@k is trec_eval's reciprocal rank on the run truncated to ``k`` (trec_eval has no cut-off for it).
    """
    ks = _validate(qrels, run, k_values)
    measures = {f"{measure}.{','.join(map(str, ks))}" for measure, _ in _FAMILIES.values()}
    raw = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    rr_evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"})
    reciprocal = {k: rr_evaluator.evaluate(truncate_run(run, k)) for k in ks}
    table: dict[str, dict[str, float]] = {}
    for qid in qrels:
        row = {}
        for family, (_, key) in _FAMILIES.items():
            for k in ks:
                row[f"{family}@{k}"] = float(raw.get(qid, {}).get(key.format(k=k), 0.0))
        for k in ks:
            row[f"mrr@{k}"] = float(reciprocal[k].get(qid, {}).get("recip_rank", 0.0))
        table[qid] = row
    return table


def mean_metrics(per_query: dict[str, dict[str, float]]) -> dict[str, float]:
    """Average per-query metrics over queries (MTEB's aggregate)."""
    if not per_query:
        raise ValueError("per_query is empty.")
    names = next(iter(per_query.values())).keys()
    return {name: float(np.mean([row[name] for row in per_query.values()])) for name in names}


def evaluate_run(qrels: Qrels, run: Run, k_values: Iterable[int] = DEFAULT_K) -> dict[str, float]:
    """Mean nDCG@k, recall@k, precision@k, MAP@k and MRR@k of a run over the queries in ``qrels``."""
    return mean_metrics(per_query_metrics(qrels, run, k_values))


def ndcg_at_k(qrels: Qrels, run: Run, k: int = 10) -> float:
    """Mean nDCG@k (graded gains, as MTEB computes it) over the queries in ``qrels``."""
    return evaluate_run(qrels, run, [k])[f"ndcg@{k}"]
