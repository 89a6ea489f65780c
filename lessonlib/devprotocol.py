"""Lesson 04's pipeline from a search log to a scored model: the click-mined training pairs and the dev protocol.

The notebook and ``benchmarks/lesson04_dev_grid.py`` both build their data and score their candidates here,
so the two cannot drift apart.

1. ``simulate_search_log``: the base model ranks the corpus for the mining queries (what a search engine
   showed), and simulated users click on those rankings (``lessonlib.clicklogs``).
2. ``DevProtocol``: every training choice is scored on the dev queries only, re-ranking a small pool (the union
   of the base model's top ``depth`` documents for the dev queries) with texts cut to ``encode_length``
   tokens; each candidate's gain over the base model on the same pool comes with its paired bootstrap
   interval (``lessonlib.metrics.paired_difference``). The pool makes one candidate's score take seconds
   instead of minutes; the benchmark checks that it ranks candidates as the full corpus does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sentence_transformers import SentenceTransformer

from lessonlib.clicklogs import ClickModel, rankings_from_embeddings, simulate_click_log
from lessonlib.datasets import RetrievalDataset
from lessonlib.evaluation import EvaluationResult
from lessonlib.heldout import rerank_pool, subset_dataset
from lessonlib.metrics import PairedDifference, Run, paired_difference
from lessonlib.pairs import TrainingSet
from lessonlib.retrievers import DenseRetriever
from lessonlib.training import FineTuned, TrainingSettings, evaluate_at_length, fine_tune
from lessonlib.validation import check_int


@dataclass(frozen=True)
class SearchLog:
    """What the search engine showed (``rankings``: query id → ranked doc ids) and the simulated click log."""

    rankings: dict[str, list[str]]
    log: pd.DataFrame


def simulate_search_log(
    model: SentenceTransformer,
    dataset: RetrievalDataset,
    query_ids: Sequence[str],
    click_model: ClickModel | None = None,
    *,
    sessions_per_query: int = 20,
    seed: int = 0,
) -> SearchLog:
    """Rank the corpus for ``query_ids`` with ``model`` and simulate users clicking on those rankings.

    Parameters
    ----------
    model : SentenceTransformer
        The deployed (base) model: its top ``click_model.depth`` documents per query are what users see. Queries
        and documents are encoded with its prompts (``lessonlib.retrievers.DenseRetriever``).
    dataset : RetrievalDataset
        The training split; its qrels decide what simulated users find relevant. Test queries are refused
        (``simulate_click_log``).
    query_ids : sequence of str
        The mining queries, e.g. the training side of ``lessonlib.heldout.split_dev``.
    click_model : ClickModel, optional
        Defaults to ``ClickModel()``.
    sessions_per_query, seed : int
        As in ``lessonlib.clicklogs.simulate_click_log``.

    Returns
    -------
    SearchLog
    """
    click_model = click_model or ClickModel()
    dense = DenseRetriever(model, progress=False)  # the model's prompts, as every dense search here
    query_emb = dense.embed_query_texts([dataset.queries[q] for q in query_ids], "mining queries")
    doc_emb = dense.embed_documents(dataset)
    rankings = rankings_from_embeddings(query_ids, query_emb, dataset.doc_ids, doc_emb, depth=click_model.depth)
    log = simulate_click_log(rankings, dataset, click_model, sessions_per_query=sessions_per_query, seed=seed)
    return SearchLog(rankings, log)


@dataclass
class DevProtocol:
    """Score candidate models on a re-ranking pool of the dev queries, against the base model on the same pool.

    Build it with ``DevProtocol.build``. ``score`` evaluates a model on the pool at ``encode_length`` tokens;
    ``gain`` is a result's paired difference from the base model (``baseline``); ``row`` is the line of a grid
    table; ``train_and_score`` fine-tunes (or loads the cached run) and scores the model in the precision it
    was trained in.

    Examples
    --------
    >>> protocol = DevProtocol.build(base, train, dev_ids, base_dev.run, depth=10, encode_length=128)  # doctest: +SKIP
    >>> sorted(protocol.row(protocol.score(tuned.model)))  # doctest: +SKIP
    ['95% CI', 'claims better/worse', 'dev_ndcg@10', 'gain_vs_base']
    """

    pool: RetrievalDataset
    pool_ids: list[str]
    encode_length: int
    baseline: EvaluationResult

    @classmethod
    def build(
        cls,
        base: SentenceTransformer,
        dataset: RetrievalDataset,
        dev_ids: Sequence[str],
        base_run: Run,
        *,
        depth: int = 10,
        encode_length: int = 128,
    ) -> DevProtocol:
        """The pool of the base model's top ``depth`` documents for ``dev_ids`` (from ``base_run``), and the
        base model's score on it.

        Parameters
        ----------
        base : SentenceTransformer
            The model every candidate is compared with.
        dataset : RetrievalDataset
            The split that holds the dev queries (the training split).
        dev_ids : sequence of str
        base_run : Run
            The base model's run over the full corpus for the dev queries.
        depth, encode_length : int
            Documents per dev query in the pool; tokens every text is cut to.
        """
        depth = check_int(depth, "depth", minimum=1)
        encode_length = check_int(encode_length, "encode_length", minimum=1)
        pool_ids = rerank_pool(base_run, depth=depth)
        pool = subset_dataset(dataset, dev_ids, pool_ids)
        return cls(pool, pool_ids, encode_length, evaluate_at_length(base, pool, encode_length))

    def score(self, model: SentenceTransformer, precision: str = "float32") -> EvaluationResult:
        """``model`` on the pool, texts cut to ``encode_length`` tokens, encoded in ``precision``."""
        return evaluate_at_length(model, self.pool, self.encode_length, precision=precision)

    def gain(self, result: EvaluationResult) -> PairedDifference:
        """``result`` minus the base model on the pool, nDCG@10, with its paired bootstrap interval."""
        return paired_difference(self.baseline.per_query, result.per_query)

    def row(self, result: EvaluationResult) -> dict[str, float | str]:
        """Dev nDCG@10 and its gain over the base model, with the interval and the per-claim wins and losses."""
        diff = self.gain(result)
        return {
            "dev_ndcg@10": round(100 * result.metrics["ndcg@10"], 2),
            "gain_vs_base": round(100 * diff.mean, 2),
            "95% CI": f"{100 * diff.low:+.2f} to {100 * diff.high:+.2f}",
            "claims better/worse": f"{diff.wins}/{diff.losses}",
        }

    def train_and_score(
        self, data: TrainingSet, settings: TrainingSettings, *, name: str, data_description: str
    ) -> tuple[FineTuned, EvaluationResult]:
        """Fine-tune on ``data`` (or load the cached run) and score the model in the precision it was trained in."""
        tuned = fine_tune(data, settings, name=name, data_description=data_description)
        return tuned, self.score(tuned.model, tuned.precision)
