"""The temperature × batch-size sweep of lesson 01: one projection head per (batch size, τ), measured.

For every batch size :math:`B` and temperature :math:`τ` of a grid, ``run_sweep`` trains a
``lessonlib.projection`` head with InfoNCE on frozen (query, positive) embeddings and measures it on a test
split with ``lessonlib.projection.evaluate_space``. The result has one row per head, in the order
``for B in batch_sizes: for τ in temperatures``, with the columns of ``COLUMNS``:

- ``batch`` (:math:`B`) and ``τ``;
- ``train loss``: the head's mean InfoNCE over its last epoch;
- ``alignment`` and ``uniformity``: Wang & Isola's ℒ_align and ℒ_uniform on the test split (lower is better);
- ``nDCG@10`` and ``nDCG@10 unseen``: nDCG@10 × 100 (points) over all test queries and over the queries none
  of whose relevant documents is a training positive (``lessonlib.projection.unseen_queries``).

``sweep_table`` puts the frozen model's row on top and ``format_table`` prints it. ``best_per_batch``,
``spread_across_batch_sizes`` and ``rank_correlations`` are the summaries the lesson reads, and the ones
``lessonlib.claims.lesson01`` checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from lessonlib.datasets import RetrievalDataset
from lessonlib.projection import evaluate_space, project, train_projection_head, unseen_queries
from lessonlib.validation import check_float, check_int

#: The columns of a sweep's results, in order.
COLUMNS: tuple[str, ...] = ("batch", "τ", "train loss", "alignment", "uniformity", "nDCG@10", "nDCG@10 unseen")

#: How ``format_table`` prints each measured column.
FORMATS: dict[str, str] = {
    "train loss": "{:.3f}",
    "alignment": "{:.3f}",
    "uniformity": "{:.3f}",
    "nDCG@10": "{:.2f}",
    "nDCG@10 unseen": "{:.2f}",
}

#: The keys of the frozen model's report that ``sweep_table`` reads (``evaluate_space`` with ``seen_doc_ids``).
FROZEN_KEYS: tuple[str, ...] = ("alignment", "uniformity", "ndcg@10", "ndcg@10 unseen")


def _grid(values: Iterable[object], name: str, check: Callable[[object, str], object]) -> list:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be a non-empty list of values, got {values!r}.")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must be a non-empty list of values, got none.")
    checked = [check(value, f"{name}[{i}]") for i, value in enumerate(values)]
    repeated = sorted({v for v in checked if checked.count(v) > 1})
    if repeated:
        raise ValueError(f"{name} repeats {repeated}: each value gives one row of the sweep.")
    return checked


def _embeddings(x: np.ndarray, name: str, rows: int, width: int | None = None) -> np.ndarray:
    array = np.asarray(x)
    if array.ndim != 2 or len(array) != rows or (width is not None and array.shape[1] != width):
        shape = f"({rows}, {'d' if width is None else width})"
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}.")
    return array


def run_sweep(
    pair_queries: np.ndarray,
    pair_docs: np.ndarray,
    *,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    test: RetrievalDataset,
    test_query_embeddings: np.ndarray,
    test_doc_embeddings: np.ndarray,
    batch_sizes: Iterable[int],
    temperatures: Iterable[float],
    epochs: int = 10,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> pd.DataFrame:
    """Train and measure one projection head per (batch size, temperature).

    Each head is ``lessonlib.projection.train_projection_head(pair_queries, pair_docs, temperature=τ,
    batch_size=B, ...)`` (batches never repeat a query or a document), measured by ``evaluate_space`` on
    ``project(head, test_query_embeddings)`` and ``project(head, test_doc_embeddings)`` with the training
    positives ``doc_ids`` as the documents seen in training. Every argument is checked before the first head
    trains, so a mistake in the grid fails at once, not minutes in.

    Parameters
    ----------
    pair_queries, pair_docs : ndarray of shape (n, d)
        Row ``i`` of each is training pair ``i``, (query, positive document), e.g. frozen embeddings.
    query_ids, doc_ids : sequences of str of length n
        The ids of pair ``i``'s query and document (``lessonlib.projection.positive_pairs``).
    test : RetrievalDataset
        The split the heads are measured on.
    test_query_embeddings : ndarray of shape (len(test.query_ids), d)
        In ``test.query_ids`` order.
    test_doc_embeddings : ndarray of shape (len(test.doc_ids), d)
        In ``test.doc_ids`` order.
    batch_sizes : iterable of int
        Each at least 2 (in-batch negatives need other pairs), none repeated.
    temperatures : iterable of float
        Each ``τ > 0``, none repeated.
    epochs : int
        Passes over the pairs per head.
    learning_rate : float
        Adam's step size.
    seed : int
        Seeds every head's batches (the same for all of them).

    Returns
    -------
    pandas.DataFrame
        ``len(batch_sizes) × len(temperatures)`` rows with the columns ``COLUMNS``; nDCG in points.

    Raises
    ------
    ValueError
        A shape or length that does not match, an invalid or repeated grid value
        (``lessonlib.validation.InvalidParameterError``), or no test query left unseen by the training
        positives.
    """
    n = len(query_ids)
    if len(doc_ids) != n:
        raise ValueError(f"query_ids ({n}) and doc_ids ({len(doc_ids)}) must have the same length.")
    if n < 2:
        raise ValueError(f"The sweep needs at least 2 training pairs, got {n}.")
    pair_queries = _embeddings(pair_queries, "pair_queries", n)
    width = pair_queries.shape[1]
    pair_docs = _embeddings(pair_docs, "pair_docs", n, width)
    test_query_embeddings = _embeddings(test_query_embeddings, "test_query_embeddings", len(test.query_ids), width)
    test_doc_embeddings = _embeddings(test_doc_embeddings, "test_doc_embeddings", len(test.doc_ids), width)
    batch_sizes = _grid(
        batch_sizes, "batch_sizes", lambda v, name: check_int(v, name, minimum=2, hint="in-batch negatives")
    )
    temperatures = _grid(
        temperatures, "temperatures", lambda v, name: check_float(v, name, minimum=0.0, include_minimum=False)
    )
    epochs = check_int(epochs, "epochs", minimum=1)
    learning_rate = check_float(learning_rate, "learning_rate", minimum=0.0, include_minimum=False)
    seed = check_int(seed, "seed", minimum=0)
    if not unseen_queries(test, doc_ids):
        raise ValueError("Every test query has a relevant document among doc_ids: no unseen queries to score.")

    rows = []
    for batch_size in batch_sizes:
        for tau in temperatures:
            trained = train_projection_head(
                pair_queries,
                pair_docs,
                temperature=tau,
                batch_size=batch_size,
                epochs=epochs,
                learning_rate=learning_rate,
                seed=seed,
                query_ids=query_ids,
                doc_ids=doc_ids,
            )
            report = evaluate_space(
                project(trained.head, test_query_embeddings),
                project(trained.head, test_doc_embeddings),
                test,
                seen_doc_ids=doc_ids,
            )
            rows.append(
                {
                    "batch": batch_size,
                    "τ": tau,
                    "train loss": trained.epoch_losses[-1],
                    "alignment": report["alignment"],
                    "uniformity": report["uniformity"],
                    "nDCG@10": 100 * report["ndcg@10"],
                    "nDCG@10 unseen": 100 * report["ndcg@10 unseen"],
                }
            )
    return pd.DataFrame(rows)


def _require(results: pd.DataFrame, columns: Sequence[str]) -> None:
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame (run_sweep's), got {type(results).__name__}.")
    missing = [c for c in columns if c not in results.columns]
    if missing:
        raise ValueError(f"results lacks the columns {missing}; build it with lessonlib.sweep.run_sweep.")
    if results.empty:
        raise ValueError("results is empty: there is no head to summarise.")


def sweep_table(results: pd.DataFrame, frozen: Mapping[str, float]) -> pd.DataFrame:
    """The sweep's results with the frozen model's row on top (batch ``—``, τ ``frozen``, no training loss).

    Parameters
    ----------
    results : DataFrame
        ``run_sweep``'s results.
    frozen : mapping
        The frozen model's ``alignment``, ``uniformity``, ``ndcg@10`` and ``ndcg@10 unseen`` (fractions), as
        ``evaluate_space(..., seen_doc_ids=...)`` returns them; nDCG is turned into points.

    Returns
    -------
    pandas.DataFrame
        ``1 + len(results)`` rows with the columns ``COLUMNS``.
    """
    _require(results, COLUMNS)
    missing = [key for key in FROZEN_KEYS if key not in frozen]
    if missing:
        raise ValueError(f"frozen lacks {missing}: pass evaluate_space(..., seen_doc_ids=...)'s report.")
    frozen_row = {
        "batch": "—",
        "τ": "frozen",
        "train loss": float("nan"),
        "alignment": frozen["alignment"],
        "uniformity": frozen["uniformity"],
        "nDCG@10": 100 * frozen["ndcg@10"],
        "nDCG@10 unseen": 100 * frozen["ndcg@10 unseen"],
    }
    return pd.concat([pd.DataFrame([frozen_row]), results[list(COLUMNS)]], ignore_index=True)


def format_table(table: pd.DataFrame) -> str:
    """``sweep_table``'s table as text: losses and geometry to 3 decimals, nDCG to 2, no index."""
    _require(table, COLUMNS)
    return table.to_string(index=False, formatters={column: FORMATS[column].format for column in FORMATS})


def best_per_batch(results: pd.DataFrame, metric: str = "nDCG@10") -> pd.DataFrame:
    """For each batch size, the row of the head with the highest ``metric`` (the first one on a tie).

    A description of the sweep, not a model selection: the metric is measured on the test split.

    Returns
    -------
    pandas.DataFrame
        One row of ``results`` per batch size, in ascending batch size, with all of ``results``' columns
        and its index.

    Examples
    --------
    >>> results = pd.DataFrame({"batch": [8, 8, 32], "τ": [0.05, 0.1, 0.05], "nDCG@10": [70.0, 77.0, 75.0]})
    >>> best_per_batch(results)["τ"].tolist()
    [0.1, 0.05]
    """
    _require(results, ("batch", metric))
    return results.loc[results.groupby("batch")[metric].idxmax()]


def spread_across_batch_sizes(results: pd.DataFrame, metric: str = "nDCG@10") -> pd.Series:
    """For each τ, how far batch size moves ``metric``: its largest minus its smallest value over batch sizes.

    Returns
    -------
    pandas.Series
        Indexed by τ (ascending), named ``metric``.

    Examples
    --------
    >>> results = pd.DataFrame({"batch": [8, 32, 8, 32], "τ": [0.01, 0.01, 0.1, 0.1], "nDCG@10": [64, 70, 77, 78]})
    >>> spread_across_batch_sizes(results).tolist()
    [6, 1]
    """
    _require(results, ("τ", metric))
    by_tau = results.groupby("τ")[metric]
    return by_tau.max() - by_tau.min()


def rank_correlations(
    results: pd.DataFrame, metric: str = "nDCG@10", against: Sequence[str] = ("uniformity", "alignment")
) -> pd.Series:
    """Spearman's rank correlation ρ of ``metric`` with each column of ``against``, over the heads.

    ρ is Pearson's correlation of the ranks (ties get their average rank), in ``[-1, 1]``; a negative ρ with
    ``uniformity`` means the metric rises as uniformity falls (improves).

    Returns
    -------
    pandas.Series
        ρ per column of ``against``, in that order.
    """
    if isinstance(against, str):
        against = [against]
    against = list(against)
    _require(results, (metric, *against))
    if len(results) < 2:
        raise ValueError(f"A rank correlation needs at least 2 heads, got {len(results)}.")
    return results[[metric, *against]].corr(method="spearman")[metric][against]
