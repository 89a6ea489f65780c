"""Leakage between splits: how much of a held-out result is re-learning what training already saw.

SciFact pairs claims with their negations and number-changed variants that cite the same abstract, and these
variants fall on both sides of the official train/test split. A model fine-tuned on training claims can then
score better on a test claim by having seen *its abstract* (often beside a near-copy of the claim) during
training, not by having learned the domain. Three tools measure it:

- ``seen_split``: the held-out queries whose relevant abstract is, or is not, relevant to some training
  query ("seen" and "unseen"); a result is reported on both parts (``split_difference``).
- ``near_duplicates``: held-out queries with a training query of token Jaccard similarity ≥ a threshold
  citing the same abstract (Jaccard 1901; Broder 1997 for near-duplicate detection by resemblance).
- ``lessonlib.heldout.split_dev_grouped``: a dev split in which no abstract is relevant to both sides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lessonlib.metrics import PairedDifference, Qrels, paired_difference
from lessonlib.validation import check_float

_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> frozenset[str]:
    """The set of lower-cased word tokens (``\\w+``) of a text.

    Examples
    --------
    >>> sorted(tokens("Aspirin lowers fever; aspirin!"))
    ['aspirin', 'fever', 'lowers']
    """
    return frozenset(_TOKEN.findall(text.lower()))


def jaccard(a: str, b: str) -> float:
    """Token Jaccard similarity :math:`|A \\cap B| / |A \\cup B|` of two texts' token sets (0 when both are empty).

    Examples
    --------
    >>> round(jaccard("aspirin lowers fever", "aspirin does not lower fever"), 3)
    0.333
    """
    ta, tb = tokens(a), tokens(b)
    union = ta | tb
    return len(ta & tb) / len(union) if union else 0.0


def relevant_docs(qrels: Qrels, query_ids: Iterable[str] | None = None) -> set[str]:
    """Documents judged relevant (grade > 0) to any of ``query_ids`` (every query when None)."""
    ids = qrels.keys() if query_ids is None else query_ids
    return {doc for qid in ids for doc, grade in qrels.get(qid, {}).items() if grade > 0}


@dataclass(frozen=True)
class SeenSplit:
    """Held-out query ids whose relevant abstract training saw (``seen``) and those it did not (``unseen``)."""

    seen: list[str]
    unseen: list[str]


def seen_split(held_out: Qrels, seen_doc_ids: Iterable[str]) -> SeenSplit:
    """Split held-out queries by whether any of their relevant documents is in ``seen_doc_ids``.

    Parameters
    ----------
    held_out : Qrels
        The held-out split's judgements, e.g. the test qrels.
    seen_doc_ids : iterable of str
        The documents training used as positives (or every document relevant to a training query:
        ``relevant_docs(train.qrels, train_ids)``).

    Examples
    --------
    >>> seen_split({"t1": {"a": 1}, "t2": {"b": 1}, "t3": {"a": 0, "c": 1}}, {"a"})
    SeenSplit(seen=['t1'], unseen=['t2', 't3'])
    """
    seen_docs = set(seen_doc_ids)
    seen = sorted(q for q, docs in held_out.items() if any(g > 0 and d in seen_docs for d, g in docs.items()))
    return SeenSplit(seen, sorted(set(held_out) - set(seen)))


def near_duplicates(
    held_out_queries: Mapping[str, str],
    held_out_qrels: Qrels,
    train_queries: Mapping[str, str],
    train_qrels: Qrels,
    threshold: float = 0.5,
) -> dict[str, list[str]]:
    """Held-out queries with a training query of token Jaccard ≥ ``threshold`` citing the same relevant abstract.

    Returns
    -------
    dict
        ``{held_out_id: [train_id, ...]}`` (sorted), only for held-out queries that have at least one.

    Examples
    --------
    >>> near_duplicates({"t": "aspirin lowers fever"}, {"t": {"a": 1}},
    ...                 {"x": "aspirin lowers fever fast", "y": "aspirin lowers fever"}, {"x": {"a": 1}, "y": {"b": 1}})
    {'t': ['x']}
    """
    threshold = check_float(threshold, "threshold", minimum=0.0, maximum=1.0, include_minimum=False)
    by_doc: dict[str, list[str]] = {}
    for tid, docs in train_qrels.items():
        for doc, grade in docs.items():
            if grade > 0 and tid in train_queries:
                by_doc.setdefault(doc, []).append(tid)
    found = {}
    for qid, text in held_out_queries.items():
        candidates = {tid for doc in relevant_docs(held_out_qrels, [qid]) for tid in by_doc.get(doc, [])}
        close = sorted(tid for tid in candidates if jaccard(text, train_queries[tid]) >= threshold)
        if close:
            found[qid] = close
    return found


def split_difference(
    per_query_a: Mapping[str, Mapping[str, float]],
    per_query_b: Mapping[str, Mapping[str, float]],
    groups: Mapping[str, Sequence[str]],
    metric: str = "ndcg@10",
    **bootstrap: object,
) -> dict[str, PairedDifference]:
    """B minus A with its paired bootstrap interval, on every query and on each group of queries.

    ``groups`` maps a label to query ids (e.g. ``{"seen": split.seen, "unseen": split.unseen}``); the result
    has ``"all"`` first, then one ``PairedDifference`` per group (``lessonlib.metrics.paired_difference``;
    ``bootstrap`` passes its options, e.g. ``seed``).
    """
    result = {"all": paired_difference(dict(per_query_a), dict(per_query_b), metric, **bootstrap)}
    for label, ids in groups.items():
        missing = sorted(set(ids) - set(per_query_a))
        if missing:
            raise ValueError(
                f"group {label!r} names {len(missing)} queries the systems were not scored on: {missing[:3]}"
            )
        sub_a = {q: per_query_a[q] for q in ids}
        sub_b = {q: per_query_b[q] for q in ids}
        result[label] = paired_difference(sub_a, sub_b, metric, **bootstrap)
    return result
