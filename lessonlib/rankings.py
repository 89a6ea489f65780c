"""How far two similarity functions agree: top-k overlap, and "is a closer to q than b?" (lesson 03).

Two ways to score documents can be compared at two levels:

- the lists they return: the **top-k overlap** of two rankings of the same documents,
  :math:`\\frac{1}{n}\\sum_{i=1}^{n} |A_i^{(k)} \\cap B_i^{(k)}| / k` over the :math:`n` queries, where
  :math:`A_i^{(k)}` is query :math:`i`'s first :math:`k` documents under one function (``overlap_at_k``);
- the comparisons an index makes: HNSW (Malkov & Yashunin 2018) builds and searches its graph only by asking
  whether document :math:`a` is closer to query :math:`q` than document :math:`b` is. ``closer`` answers that
  question for many random ``Triples`` at once, by squared L2 distance, cosine or dot product. On unit vectors
  :math:`\\lVert \\hat q - \\hat d \\rVert^2 = 2 - 2\\cos(q, d)` is strictly decreasing in the cosine, so L2 and
  cosine give the same answer on every triple (up to ties within rounding); on raw vectors they need not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lessonlib.similarity import METRICS, Metric, normalise
from lessonlib.validation import check_int


def _rankings(x: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(x)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{name} must be a 2-D array of document indices, one ranking per row (top_k's indices); got "
            f"shape {array.shape} and dtype {array.dtype}."
        )
    return array


def overlap_at_k(a: ArrayLike, b: ArrayLike, k: int) -> float:
    """Mean fraction of the top ``k`` documents that two rankings of the same queries share.

    .. math:: \\mathrm{overlap@k} = \\frac{1}{n} \\sum_{i=1}^{n} \\frac{|\\{a_{i1}, …, a_{ik}\\} \\cap
        \\{b_{i1}, …, b_{ik}\\}|}{k}

    The order inside each top ``k`` does not matter: 1 means the same ``k`` documents for every query, 0 no
    document in common for any.

    Parameters
    ----------
    a, b : array_like of int, shape (n, at least k)
        Row ``i`` is query ``i``'s ranking, best first, as document indices (``lessonlib.similarity.top_k``'s
        indices); both for the same ``n`` queries. A row may not repeat a document within its first ``k``.
    k : int
        The cut-off, ``1 <= k`` and at most the length of the shorter ranking.

    Returns
    -------
    float
        In ``[0, 1]``.

    Examples
    --------
    >>> overlap_at_k([[0, 1, 2], [3, 4, 5]], [[1, 0, 9], [3, 7, 8]], k=2)
    0.75
    """
    a, b = _rankings(a, "a"), _rankings(b, "b")
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"a and b must rank the same queries (at least one), got {len(a)} and {len(b)} rows.")
    k = check_int(k, "k", minimum=1, maximum=min(a.shape[1], b.shape[1]), hint="both rankings must reach it")
    for name, top in (("a", a[:, :k]), ("b", b[:, :k])):
        sorted_top = np.sort(top, axis=1)
        repeats = np.flatnonzero((sorted_top[:, 1:] == sorted_top[:, :-1]).any(axis=1))
        if repeats.size:
            raise ValueError(f"{name} repeats a document within its top {k} in row(s) {repeats[:5].tolist()}.")
    return float(np.mean([len(set(x[:k]) & set(y[:k])) / k for x, y in zip(a, b, strict=True)]))


@dataclass(frozen=True)
class Triples:
    """Index arrays of (query, document a, document b) triples: is ``a`` closer to the query than ``b``?

    Triple ``i`` is ``(query[i], a[i], b[i])``: a row of the queries and two rows of the documents.
    """

    query: np.ndarray
    a: np.ndarray
    b: np.ndarray


def random_triples(n_queries: int, n_docs: int, n: int, seed: int = 0) -> Triples:
    """``n`` triples drawn uniformly with replacement: a query index, then two document indices.

    ``a`` and ``b`` are drawn independently, so some triples have ``a == b``; no function calls a document
    closer than itself, so leave those out when counting agreement (``triples.a != triples.b``).

    Parameters
    ----------
    n_queries, n_docs : int
        Indices are drawn from ``range(n_queries)`` and ``range(n_docs)``.
    n : int
        How many triples.
    seed : int
        Seed of ``numpy.random.default_rng``, which draws the queries first, then ``a`` and ``b`` together.

    Returns
    -------
    Triples
        Three int arrays of shape ``(n,)``.
    """
    n_queries = check_int(n_queries, "n_queries", minimum=1)
    n_docs = check_int(n_docs, "n_docs", minimum=1)
    n = check_int(n, "n", minimum=1)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    query = rng.integers(0, n_queries, n)
    a, b = rng.integers(0, n_docs, (2, n))
    return Triples(query=query, a=a, b=b)


def _as_matrix(x: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(x)
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        array = array.astype(np.float64)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{name} must be a 2-D real array (n, d), got shape {array.shape} and dtype {array.dtype}.")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} has NaN or inf: which document is closer is undefined.")
    return array


def closer(queries: ArrayLike, docs: ArrayLike, triples: Triples, metric: Metric) -> np.ndarray:
    """For each triple ``(q, a, b)``: is document ``a`` strictly closer to query ``q`` than document ``b``?

    - ``"l2"``: :math:`\\lVert q - d_a \\rVert^2 < \\lVert q - d_b \\rVert^2`, computed from the differences;
    - ``"cosine"``: :math:`\\hat q \\cdot \\hat d_a > \\hat q \\cdot \\hat d_b` (``lessonlib.similarity.normalise``
      first, so raw vectors may be passed);
    - ``"dot"``: :math:`q \\cdot d_a > q \\cdot d_b`.

    Only the rows the triples name are scored (the normalisation aside): memory is ``3 × len(triples) × d``.

    Parameters
    ----------
    queries : array_like of float, shape (n_queries, d)
    docs : array_like of float, shape (n_docs, d)
    triples : Triples
        Indices into ``queries`` and ``docs`` (``random_triples``).
    metric : {"l2", "cosine", "dot"}

    Returns
    -------
    numpy.ndarray of bool, shape (len(triples.query),)

    Examples
    --------
    >>> q, docs = np.array([[1.0, 0.0]]), np.array([[0.5, 0.1], [3.0, 2.0]])
    >>> t = Triples(query=np.array([0]), a=np.array([0]), b=np.array([1]))
    >>> bool(closer(q, docs, t, "cosine")[0]), bool(closer(q, docs, t, "dot")[0])
    (True, False)
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}.")
    queries, docs = _as_matrix(queries, "queries"), _as_matrix(docs, "docs")
    if queries.shape[1] != docs.shape[1]:
        raise ValueError(f"queries have width {queries.shape[1]} but docs {docs.shape[1]}: one embedding space only.")
    q_i, a_i, b_i = (np.asarray(part) for part in (triples.query, triples.a, triples.b))
    if not (q_i.shape == a_i.shape == b_i.shape and q_i.ndim == 1):
        raise ValueError(f"triples must be three 1-D arrays of one length, got {q_i.shape}, {a_i.shape}, {b_i.shape}.")
    for name, index, rows in (("query", q_i, len(queries)), ("a", a_i, len(docs)), ("b", b_i, len(docs))):
        if not np.issubdtype(index.dtype, np.integer) or (index.size and not 0 <= index.min() <= index.max() < rows):
            raise ValueError(f"triples.{name} must hold integer indices in [0, {rows}).")
    if metric == "l2":
        return np.sum((queries[q_i] - docs[a_i]) ** 2, axis=1) < np.sum((queries[q_i] - docs[b_i]) ** 2, axis=1)
    if metric == "cosine":
        queries, docs = normalise(queries, name="queries"), normalise(docs, name="docs")
    return np.sum(queries[q_i] * docs[a_i], axis=1) > np.sum(queries[q_i] * docs[b_i], axis=1)
