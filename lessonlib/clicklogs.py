"""Simulated search click logs: sessions over a model's rankings, click mining, and the mined pairs' noise.

Real search logs record what users saw and clicked, not what was relevant. This module simulates them with
a standard click model so a lesson can mine training pairs the way a production team would, and then
measure, against the data set's relevance judgements (qrels), how noisy those pairs are.

The click model (one session = one user issuing one query and scanning the top ``depth`` results):

- **Examination** follows the position-based model (Craswell et al. 2008; Joachims et al. 2017): the user
  looks at rank :math:`r` with probability :math:`\\eta_r = (1 / r)^{\\theta}`.
- **Attractiveness** depends on relevance: an examined result is clicked with probability
  :math:`\\alpha_1` if it is relevant and :math:`\\alpha_0` (the *noise*) if it is not.
- **Satisfaction / dwell**: a click is satisfied with probability :math:`\\sigma_1` (relevant) or
  :math:`\\sigma_0` (not); a satisfied click has a long dwell time, an unsatisfied one a short dwell
  (log-normal). After a satisfied click the user stops with probability ``stop_after_satisfied``, as in
  the dynamic Bayesian network click model (Chapelle & Zhang 2009).

Mining keeps a (query, document) pair when it received at least ``min_clicks`` clicks whose dwell time
was at least ``min_dwell`` seconds (the "long click", Fox et al. 2005), de-duplicated across sessions.

Test queries must never reach the log: ``simulate_click_log`` refuses any query whose id *or text* belongs to
the test split (``lessonlib.heldout.ensure_no_test_queries``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lessonlib.datasets import RetrievalDataset
from lessonlib.heldout import ensure_no_test_queries
from lessonlib.retrieval import dense_search
from lessonlib.validation import check_int

#: Columns of a click log, one row per impression (a result shown to a user in a session).
LOG_COLUMNS = ("session", "query_id", "rank", "doc_id", "relevant", "examined", "clicked", "dwell", "satisfied")


@dataclass(frozen=True)
class ClickModel:
    """Parameters of the simulated users (see the module docstring for the model).

    Attributes
    ----------
    depth : int
        Results shown per session (the first page).
    position_bias : float
        :math:`\\theta` in :math:`\\eta_r = (1/r)^\\theta`; 0 means every rank is examined.
    click_relevant, click_nonrelevant : float
        :math:`\\alpha_1`, :math:`\\alpha_0`: click probability of an examined relevant / non-relevant result.
    satisfied_relevant, satisfied_nonrelevant : float
        :math:`\\sigma_1`, :math:`\\sigma_0`: probability that a click on it is satisfied (long dwell).
    stop_after_satisfied : float
        Probability that the user ends the session after a satisfied click.
    dwell_satisfied, dwell_unsatisfied : float
        Median dwell time in seconds of satisfied / unsatisfied clicks (log-normal, sigma 0.5).
    """

    depth: int = 10
    position_bias: float = 1.0
    click_relevant: float = 0.7
    click_nonrelevant: float = 0.15
    satisfied_relevant: float = 0.8
    satisfied_nonrelevant: float = 0.15
    stop_after_satisfied: float = 0.7
    dwell_satisfied: float = 60.0
    dwell_unsatisfied: float = 8.0

    def __post_init__(self) -> None:
        check_int(self.depth, "depth", minimum=1)
        if self.position_bias < 0:
            raise ValueError(f"position_bias must be >= 0, got {self.position_bias}.")
        for name in (
            "click_relevant",
            "click_nonrelevant",
            "satisfied_relevant",
            "satisfied_nonrelevant",
            "stop_after_satisfied",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a probability and must be in [0, 1], got {value}.")
        if self.dwell_satisfied <= 0 or self.dwell_unsatisfied <= 0:
            raise ValueError("dwell times must be positive seconds.")

    def examination(self) -> np.ndarray:
        """:math:`\\eta_r = (1/r)^\\theta` for ranks ``1 … depth``, shape ``(depth,)``."""
        return (1.0 / np.arange(1, self.depth + 1)) ** self.position_bias


def rankings_from_embeddings(
    query_ids: Sequence[str],
    query_embeddings: np.ndarray,
    doc_ids: Sequence[str],
    doc_embeddings: np.ndarray,
    depth: int = 10,
) -> dict[str, list[str]]:
    """The top-``depth`` document ids per query by cosine similarity (what the search engine showed)."""
    if len(query_ids) != len(query_embeddings) or len(doc_ids) != len(doc_embeddings):
        raise ValueError(
            f"ids and embeddings disagree: {len(query_ids)} query ids for {len(query_embeddings)} rows, "
            f"{len(doc_ids)} doc ids for {len(doc_embeddings)} rows."
        )
    _, indices = dense_search(query_embeddings, doc_embeddings, top_k=depth)
    return {qid: [doc_ids[j] for j in row] for qid, row in zip(query_ids, indices, strict=True)}


def simulate_click_log(
    rankings: Mapping[str, Sequence[str]],
    dataset: RetrievalDataset,
    click_model: ClickModel | None = None,
    sessions_per_query: int = 10,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulate ``sessions_per_query`` search sessions for every query in ``rankings``.

    Parameters
    ----------
    rankings : mapping of query id to ranked document ids
        What the search engine showed (e.g. from ``rankings_from_embeddings`` with the base model).
        Only the first ``click_model.depth`` are shown.
    dataset : RetrievalDataset
        The *training* split: its qrels decide which results the simulated users find relevant. Every
        query is checked with ``ensure_no_test_queries``.
    click_model : ClickModel, optional
    sessions_per_query : int
    seed : int
        Seed of the NumPy generator; the log is identical for identical inputs.

    Returns
    -------
    pandas.DataFrame
        One row per impression with ``LOG_COLUMNS``; ``dwell`` is 0 where nothing was clicked. Sorted by
        session, then rank.
    """
    click_model = click_model or ClickModel()
    sessions_per_query = check_int(sessions_per_query, "sessions_per_query", minimum=1)
    unknown = sorted(q for q in rankings if q not in dataset.queries)
    if unknown:
        raise KeyError(f"{len(unknown)} ranked queries are not judged in the {dataset.split!r} split: {unknown[:5]}.")
    ensure_no_test_queries({q: dataset.queries[q] for q in rankings}, dataset)
    rng = np.random.default_rng(seed)
    eta = click_model.examination()
    columns: dict[str, list] = {name: [] for name in LOG_COLUMNS}
    session = 0
    for qid in sorted(rankings):
        shown = list(rankings[qid])[: click_model.depth]
        relevant = np.array([dataset.qrels[qid].get(d, 0) > 0 for d in shown])
        for _ in range(sessions_per_query):
            stopped = False
            for rank, doc in enumerate(shown, start=1):
                rel = bool(relevant[rank - 1])
                draws = rng.random(4)
                examined = not stopped and draws[0] < eta[rank - 1]
                clicked = examined and draws[1] < (click_model.click_relevant if rel else click_model.click_nonrelevant)
                satisfied = clicked and draws[2] < (
                    click_model.satisfied_relevant if rel else click_model.satisfied_nonrelevant
                )
                dwell = 0.0
                if clicked:
                    median = click_model.dwell_satisfied if satisfied else click_model.dwell_unsatisfied
                    dwell = float(median * np.exp(0.5 * rng.standard_normal()))
                for name, value in zip(
                    LOG_COLUMNS, (session, qid, rank, doc, rel, examined, clicked, dwell, satisfied), strict=True
                ):
                    columns[name].append(value)
                if satisfied and draws[3] < click_model.stop_after_satisfied:
                    stopped = True
            session += 1
    return pd.DataFrame(columns)


def click_through_by_rank(log: pd.DataFrame) -> pd.DataFrame:
    """Click-through rate per rank, split by relevance: position bias and noise, made visible."""
    _check_log(log)
    table = log.groupby(["rank", "relevant"])["clicked"].mean().unstack("relevant")
    table = table.reindex(columns=[False, True]).rename(columns={False: "ctr_nonrelevant", True: "ctr_relevant"})
    table["ctr_all"] = log.groupby("rank")["clicked"].mean()
    return table


def _check_log(log: pd.DataFrame) -> None:
    missing = [c for c in LOG_COLUMNS if c not in log.columns]
    if missing:
        raise ValueError(f"Not a click log: missing columns {missing}. Build it with simulate_click_log.")


def mine_pairs(log: pd.DataFrame, min_dwell: float = 30.0, min_clicks: int = 1) -> pd.DataFrame:
    """Mine (query, document) training pairs from a click log.

    Rule: keep a pair when it received at least ``min_clicks`` clicks with ``dwell >= min_dwell`` seconds
    (long clicks) over all sessions; each pair appears once.

    Returns
    -------
    pandas.DataFrame
        Columns ``query_id``, ``doc_id``, ``long_clicks``, ``clicks``, sorted by query id then document id.
    """
    _check_log(log)
    min_clicks = check_int(min_clicks, "min_clicks", minimum=1)
    clicks = log[log["clicked"]]
    counts = clicks.groupby(["query_id", "doc_id"]).agg(
        long_clicks=("dwell", lambda d: int((d >= min_dwell).sum())), clicks=("dwell", "size")
    )
    kept = counts[counts["long_clicks"] >= min_clicks].reset_index()
    return kept.sort_values(["query_id", "doc_id"], ignore_index=True)


def pair_precision(pairs: pd.DataFrame, qrels: Mapping[str, Mapping[str, int]]) -> float:
    """Fraction of mined pairs that the qrels judge relevant (score > 0): 1 − the label noise."""
    if len(pairs) == 0:
        raise ValueError("No mined pairs: loosen the mining rule (min_dwell, min_clicks) or add sessions.")
    hits = [qrels.get(q, {}).get(d, 0) > 0 for q, d in zip(pairs["query_id"], pairs["doc_id"], strict=True)]
    return float(np.mean(hits))


def pair_recall(pairs: pd.DataFrame, qrels: Mapping[str, Mapping[str, int]], query_ids: Iterable[str]) -> float:
    """Fraction of the relevant (query, document) pairs of ``query_ids`` that mining found."""
    wanted = {(q, d) for q in query_ids for d, s in qrels.get(q, {}).items() if s > 0}
    if not wanted:
        raise ValueError("The given queries have no relevant documents in qrels.")
    found = set(zip(pairs["query_id"], pairs["doc_id"], strict=True))
    return len(wanted & found) / len(wanted)
