"""Retrieval: exact dense search over normalised embeddings, and BM25 as MTEB's bm25s baseline runs it.

A *run* (:data:`lessonlib.metrics.Run`) is ``{query_id: {doc_id: score}}``, the format pytrec_eval and TREC
tools read.
"""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer
import torch

from lessonlib.metrics import Run
from lessonlib.validation import check_int


class EmptyVocabularyError(ValueError):
    """BM25 has no term to index: every document is empty once stop words are removed."""


def dense_search(
    query_embeddings: np.ndarray,
    doc_embeddings: np.ndarray,
    top_k: int = 1000,
    doc_chunk: int = 50_000,
    query_chunk: int = 1_024,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` search by cosine similarity.

    Both sides are L2-normalised, so the score is the dot product ``q̂ · d̂ = cos(q, d)``. The corpus is
    scored ``doc_chunk`` documents at a time and merged into a running top-k, so memory stays at
    ``query_chunk × (doc_chunk + k)`` scores whatever the corpus size.

    Parameters
    ----------
    query_embeddings : ndarray of shape (n_queries, d)
    doc_embeddings : ndarray of shape (n_docs, d)
    top_k : int
        Hits per query (capped at ``n_docs``).

    Returns
    -------
    scores, indices : ndarrays of shape (n_queries, min(top_k, n_docs))
        Scores in descending order and the matching row indices into ``doc_embeddings``.
    """
    queries = torch.as_tensor(np.asarray(query_embeddings, dtype=np.float32))
    docs = torch.as_tensor(np.asarray(doc_embeddings, dtype=np.float32))
    if queries.ndim != 2 or docs.ndim != 2 or queries.shape[1] != docs.shape[1]:
        raise ValueError(
            f"Expected 2-D embeddings of one width; got queries {tuple(queries.shape)} and "
            f"documents {tuple(docs.shape)}."
        )
    if len(docs) == 0 or len(queries) == 0:
        raise ValueError("dense_search needs at least one query and one document.")
    top_k = check_int(top_k, "top_k", minimum=1)
    for name, rows in (("query_embeddings", queries), ("doc_embeddings", docs)):
        bad = torch.nonzero(~torch.isfinite(rows).all(dim=1)).flatten().tolist()
        if bad:
            raise ValueError(
                f"{name} has NaN or inf in row(s) {', '.join(map(str, bad[:5]))}{', …' if len(bad) > 5 else ''} "
                f"({len(bad)} in all): they would rank arbitrarily. Re-encode those texts (in float32)."
            )
    k = min(top_k, len(docs))
    queries = torch.nn.functional.normalize(queries, dim=1)
    docs = torch.nn.functional.normalize(docs, dim=1)
    all_scores, all_indices = [], []
    for q_start in range(0, len(queries), query_chunk):
        q = queries[q_start : q_start + query_chunk]
        best_scores = torch.full((len(q), 0), float("-inf"))
        best_indices = torch.zeros((len(q), 0), dtype=torch.long)
        for d_start in range(0, len(docs), doc_chunk):
            scores = q @ docs[d_start : d_start + doc_chunk].T
            chunk_scores, chunk_idx = torch.topk(scores, min(k, scores.shape[1]), dim=1)
            merged_scores = torch.cat([best_scores, chunk_scores], dim=1)
            merged_indices = torch.cat([best_indices, chunk_idx + d_start], dim=1)
            best_scores, pos = torch.topk(merged_scores, min(k, merged_scores.shape[1]), dim=1)
            best_indices = torch.gather(merged_indices, 1, pos)
        all_scores.append(best_scores)
        all_indices.append(best_indices)
    return torch.cat(all_scores).numpy(), torch.cat(all_indices).numpy()


def to_run(query_ids: Sequence[str], doc_ids: Sequence[str], scores: np.ndarray, indices: np.ndarray) -> Run:
    """Turn ``(scores, indices)`` from a search into a run ``{query_id: {doc_id: score}}``.

    An index of ``-1`` is skipped: FAISS (and ``lessonlib.indexing``) pad a query's row with ``-1`` when an
    approximate index finds fewer than ``k`` documents, and ``doc_ids[-1]`` would silently be the last document.
    """
    return {
        qid: {doc_ids[j]: float(s) for s, j in zip(row_scores, row_idx, strict=True) if j >= 0}
        for qid, row_scores, row_idx in zip(query_ids, scores, indices, strict=True)
    }


def search(
    query_ids: Sequence[str],
    query_embeddings: np.ndarray,
    doc_ids: Sequence[str],
    doc_embeddings: np.ndarray,
    top_k: int = 1000,
) -> Run:
    """Exact cosine search of every query against the corpus, as a run: the one way lessonlib searches vectors.

    ``dense_search`` followed by ``to_run``. Rows of ``query_embeddings`` and ``doc_embeddings`` belong to
    ``query_ids`` and ``doc_ids``, in order.

    Examples
    --------
    >>> search(["q"], np.array([[1.0, 0.0]]), ["a", "b"], np.array([[0.0, 1.0], [2.0, 0.1]]), top_k=1)
    {'q': {'b': 0.9987523555755615}}
    """
    if len(query_ids) != len(query_embeddings) or len(doc_ids) != len(doc_embeddings):
        raise ValueError(
            f"{len(query_ids)} query ids for {len(query_embeddings)} query rows and {len(doc_ids)} document ids for "
            f"{len(doc_embeddings)} document rows: each row needs its id."
        )
    scores, indices = dense_search(query_embeddings, doc_embeddings, top_k=top_k)
    return to_run(query_ids, doc_ids, scores, indices)


def bm25_texts(corpus: dict[str, dict[str, str]]) -> list[str]:
    """Documents as MTEB's bm25s baseline indexes them: ``title + "\\n" + text``."""
    return ["\n".join([doc.get("title", ""), doc["text"]]) for doc in corpus.values()]


def bm25_search(
    doc_texts: Sequence[str], query_texts: Sequence[str], top_k: int = 1000, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """BM25 top-``k`` with bm25s, configured as MTEB's ``bm25s`` baseline.

    English stop words removed, Snowball English stemming (PyStemmer), Lucene's BM25 variant with
    ``k1 = 1.5``, ``b = 0.75`` (bm25s' defaults). Robertson & Zaragoza 2009; Lù 2024 (bm25s).

    Returns
    -------
    scores, indices : ndarrays of shape (n_queries, min(top_k, n_docs))

    Raises
    ------
    EmptyVocabularyError
        No document has a term left after stop-word removal.
    """
    if not doc_texts or not query_texts:
        raise ValueError("bm25_search needs at least one document and one query.")
    stemmer = Stemmer.Stemmer("english")
    corpus_tokens = bm25s.tokenize(list(doc_texts), stopwords="en", stemmer=stemmer, show_progress=progress)
    if not any(len(ids) for ids in corpus_tokens.ids):
        raise EmptyVocabularyError(
            f"all {len(doc_texts)} documents are empty once English stop words are removed (e.g. "
            f"{doc_texts[0][:60]!r}), so BM25 has no term to index. Check that the documents hold their text."
        )
    retriever = bm25s.BM25()
    retriever.index(corpus_tokens, show_progress=progress)
    query_tokens = bm25s.tokenize(
        list(query_texts), stopwords="en", stemmer=stemmer, return_ids=False, show_progress=progress
    )
    k = min(top_k, len(doc_texts))
    indices, scores = retriever.retrieve(query_tokens, k=k, show_progress=progress)
    return np.asarray(scores, dtype=np.float32), np.asarray(indices)
