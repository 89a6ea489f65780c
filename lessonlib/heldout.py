"""Splits and held-out guards: the dev split, subsets and re-ranking pools, and the test-leak guard.

A test split is scored once, with a recipe fixed before it is scored; everything chosen along the way
(rules, settings, negatives) is chosen on a **dev** split carved out of the training queries. Two guards
keep the test queries out of mining and training:

- ``held_out_queries`` reads the held-out split's queries once per file version (with
  ``lessonlib.datasets.load_beir``, the same parser and checks as every other read) and remembers them;
- ``ensure_no_test_queries`` refuses any query whose id *or* (case- and whitespace-normalised) text is a
  held-out query: SciFact's train split holds two claims whose text is also a test claim, under other ids.

``lessonlib.pairs.TrainingSet`` is the checked result that the trainer accepts.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lessonlib.datasets import RetrievalDataset, load_beir
from lessonlib.retrieval import Run
from lessonlib.validation import check_fraction, check_int


class TestQueryLeakError(ValueError):
    """A query of the test split (by id or by text) was about to reach click mining or training."""

    __test__ = False  # not a pytest test class


def normalise_query(text: str) -> str:
    """Case- and whitespace-insensitive form of a query, used to spot a test query under another id.

    Examples
    --------
    >>> normalise_query("  Aspirin   lowers FEVER. ")
    'aspirin lowers fever.'
    """
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class HeldOutQueries:
    """The ids and normalised texts of a BEIR folder's held-out (``split``) queries."""

    folder: Path
    split: str
    ids: frozenset[str]
    texts: frozenset[str]

    def leaks(self, queries: Mapping[str, str]) -> tuple[list[str], list[str]]:
        """The ids among ``queries`` that are held-out ids, and those whose text is a held-out text."""
        by_id = sorted(q for q in queries if q in self.ids)
        by_text = sorted(q for q, text in queries.items() if q not in self.ids and normalise_query(text) in self.texts)
        return by_id, by_text


def _version(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=8)
def _read_held_out(folder: Path, split: str, qrels_version: tuple, queries_version: tuple) -> HeldOutQueries:
    held_out = load_beir(folder, split=split, download=False)
    texts = frozenset(normalise_query(text) for text in held_out.queries.values())
    return HeldOutQueries(folder, split, frozenset(held_out.queries), texts)


def held_out_queries(dataset: RetrievalDataset | str | Path, split: str = "test") -> HeldOutQueries:
    """The held-out queries of ``dataset``'s folder, read once per version of its files.

    A folder without ``qrels/<split>.tsv`` holds no held-out queries (empty sets).
    """
    folder = Path(dataset.path if isinstance(dataset, RetrievalDataset) else dataset).resolve()
    qrels = folder / "qrels" / f"{split}.tsv"
    if not qrels.is_file():
        return HeldOutQueries(folder, split, frozenset(), frozenset())
    return _read_held_out(folder, split, _version(qrels), _version(folder / "queries.jsonl"))


def ensure_no_test_queries(
    queries: Mapping[str, str], dataset: RetrievalDataset | str | Path, split: str = "test"
) -> None:
    """Raise ``TestQueryLeakError`` if any query is a ``split`` query, by id or by (normalised) text.

    Parameters
    ----------
    queries : mapping of query id to text
        The queries about to be used for mining or training.
    dataset : RetrievalDataset or path
        The BEIR folder whose ``qrels/<split>.tsv`` defines the held-out queries.
    """
    by_id, by_text = held_out_queries(dataset, split).leaks(queries)
    if by_id or by_text:
        raise TestQueryLeakError(
            f"{len(by_id)} query id(s) of the {split!r} split {by_id[:5]} and {len(by_text)} query(ies) whose "
            f"text equals a {split!r} query {by_text[:5]} would reach mining or training. Use only training "
            "queries: drop these with `training_queries(dataset)`."
        )


def training_queries(dataset: RetrievalDataset, split: str = "test") -> dict[str, str]:
    """The dataset's judged queries minus any whose id or text belongs to the held-out ``split``.

    ``dataset`` must not itself be the held-out split.
    """
    if dataset.split == split:
        raise TestQueryLeakError(f"dataset is the {split!r} split: load the 'train' split for mining and training.")
    by_id, by_text = held_out_queries(dataset, split).leaks(dataset.queries)
    dropped = set(by_id) | set(by_text)
    return {q: text for q, text in dataset.queries.items() if q not in dropped}


def split_dev(query_ids: Sequence[str], dev_fraction: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """Split training query ids into (train, dev), both sorted; the dev part chooses settings.

    The split is a seeded permutation of the sorted ids, so it does not depend on the input order.

    Examples
    --------
    >>> split_dev(["q3", "q1", "q2", "q4", "q5"], dev_fraction=0.4)
    (['q1', 'q2', 'q4'], ['q3', 'q5'])
    """
    dev_fraction = check_fraction(dev_fraction, "dev_fraction")
    ids = sorted(set(query_ids))
    if len(ids) < 2:
        raise ValueError("Need at least two queries to split off a dev set.")
    n_dev = max(1, round(dev_fraction * len(ids)))
    order = np.random.default_rng(seed).permutation(len(ids))
    dev = sorted(ids[i] for i in order[:n_dev])
    train = sorted(ids[i] for i in order[n_dev:])
    return train, dev


def split_dev_grouped(
    qrels: Mapping[str, Mapping[str, int]], query_ids: Sequence[str], dev_fraction: float = 0.2, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Split training queries into (train, dev) so that no document is relevant to a query on each side.

    Queries are grouped by the documents judged relevant to them (grade > 0): two queries that share a
    relevant document, directly or through a chain of others, are in one group, the connected components
    of the query-document graph (``scipy.sparse.csgraph.connected_components``). Groups are drawn in a
    seeded random order and put in dev while they fit, until dev holds ``round(dev_fraction × n)``
    queries or no remaining group fits. Grouping by cited abstract keeps a claim's negation and its
    number-changed variants (SciFact writes several per abstract) out of the other side, so dev measures
    what a model does on abstracts it has not been trained on, as the unseen part of the test split does.

    Examples
    --------
    >>> qrels = {"a": {"d1": 1}, "b": {"d1": 1}, "c": {"d2": 1}, "d": {"d3": 1}, "e": {"d3": 1}, "f": {"d4": 1}}
    >>> split_dev_grouped(qrels, list(qrels), dev_fraction=0.34, seed=0)
    (['a', 'b', 'c', 'f'], ['d', 'e'])
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    dev_fraction = check_fraction(dev_fraction, "dev_fraction")
    ids = sorted(set(query_ids))
    if len(ids) < 2:
        raise ValueError("Need at least two queries to split off a dev set.")
    unknown = [q for q in ids if q not in qrels]
    if unknown:
        raise ValueError(f"{len(unknown)} query ids have no qrels, e.g. {unknown[:3]}: pass the split's own queries.")
    docs = sorted({d for q in ids for d, g in qrels[q].items() if g > 0})
    column = {d: len(ids) + j for j, d in enumerate(docs)}
    edges = [(i, column[d]) for i, q in enumerate(ids) for d, g in qrels[q].items() if g > 0]
    size = len(ids) + len(docs)
    rows, cols = zip(*edges, strict=True) if edges else ((), ())
    graph = coo_matrix(([1] * len(edges), (rows, cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[str]] = {}
    for i, q in enumerate(ids):
        groups.setdefault(int(labels[i]), []).append(q)
    ordered = sorted(groups.values())  # by smallest id: independent of the labels scipy assigns
    n_dev = max(1, round(dev_fraction * len(ids)))
    dev: list[str] = []
    for g in np.random.default_rng(seed).permutation(len(ordered)):
        if len(dev) + len(ordered[g]) <= n_dev:
            dev += ordered[g]
        if len(dev) == n_dev:
            break
    if not dev:
        raise ValueError(
            f"No group of queries fits in a dev split of {n_dev}: every query shares relevant documents with "
            "too many others. Raise dev_fraction."
        )
    dev_set = set(dev)
    return [q for q in ids if q not in dev_set], sorted(dev)


def subset_dataset(
    dataset: RetrievalDataset, query_ids: Sequence[str], doc_ids: Sequence[str] | None = None, split: str = "dev"
) -> RetrievalDataset:
    """A ``RetrievalDataset`` with only ``query_ids`` (and, optionally, only the documents ``doc_ids``).

    Judgements of documents outside ``doc_ids`` are kept, so a relevant document missing from a reduced
    index counts as a miss, exactly as in the full evaluation.
    """
    missing = [q for q in query_ids if q not in dataset.queries]
    if missing:
        raise KeyError(f"{len(missing)} query ids are not in the {dataset.split!r} split: {missing[:5]}.")
    corpus = dataset.corpus if doc_ids is None else {d: dataset.corpus[d] for d in sorted(set(doc_ids))}
    queries = {q: dataset.queries[q] for q in sorted(query_ids)}
    qrels = {q: dict(dataset.qrels[q]) for q in queries}
    name = dataset.name if doc_ids is None else f"{dataset.name}-pool"
    return RetrievalDataset(name, dataset.path, split, corpus, queries, qrels)


def rerank_pool(run: Run, depth: int) -> list[str]:
    """Sorted union of every query's top-``depth`` documents in ``run``: a small index to re-rank.

    Ties are broken as everywhere in lessonlib (``lessonlib.metrics.ranked``).

    Examples
    --------
    >>> rerank_pool({"q1": {"d1": 0.9, "d2": 0.5}, "q2": {"d3": 0.7, "d1": 0.1}}, depth=1)
    ['d1', 'd3']
    """
    from lessonlib.metrics import ranked

    depth = check_int(depth, "depth", minimum=1)
    pool = set()
    for docs in run.values():
        pool.update(d for d, _ in ranked(docs)[:depth])
    return sorted(pool)
