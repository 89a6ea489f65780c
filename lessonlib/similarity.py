"""Vector similarity: normalisation, cosine, dot product, squared L2 distance and top-k search (lesson 03).

For vectors :math:`u, v \\in \\mathbb{R}^d` and :math:`\\hat u = u / \\lVert u \\rVert`:

.. math::

    \\cos(u, v) = \\frac{u \\cdot v}{\\lVert u \\rVert \\, \\lVert v \\rVert} = \\hat u \\cdot \\hat v,
    \\qquad
    \\lVert \\hat u - \\hat v \\rVert^2 = 2 - 2 \\cos(u, v).

So once every embedding has unit length, ranking by cosine, by dot product and by (ascending) L2 distance
give the same order: the reason sentence-transformers models end with a ``Normalize`` module and why an L2
index (FAISS ``IndexFlatL2``, HNSW; Johnson et al. 2019, Malkov & Yashunin 2018) can serve cosine search.
Sentence-BERT (Reimers & Gurevych 2019) scores pairs by cosine similarity.

Conventions shared by every function here
-----------------------------------------
* One validation path (``_as_rows``): an input is a vector of shape ``(d,)`` or a matrix of shape
  ``(n, d)`` with ``n, d >= 1``; every value must be finite (a NaN or inf is an error naming the row);
  both sides of a pairwise function must have the same width ``d``.
* dtype: floating inputs keep their dtype (float16, float32, float64); integer and bool inputs are
  converted to float64. A pair of inputs is computed in ``numpy.result_type`` of the two, except that
  float16 is computed in float32 and the result rounded back: a float16 vector's squared norm overflows
  float16 (max 65504) once its norm passes 256. A result that float16 cannot hold (a norm, a dot product
  or a distance above 65504) is an error, never an inf.
* Pairwise functions return an ``(n, m)`` matrix; an axis that came from a 1-D input is dropped, as in
  ``numpy.matmul`` (two vectors give a 0-d array: use ``float(...)``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from lessonlib.validation import check_int

Metric = Literal["cosine", "dot", "l2"]

#: Metrics ``scores`` and ``top_k`` accept. ``"l2"`` is the squared Euclidean distance (smaller is closer).
METRICS: tuple[str, ...] = ("cosine", "dot", "l2")

#: How many offending rows an error message lists before "…".
_MAX_ROWS_SHOWN = 5


def _row_list(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:_MAX_ROWS_SHOWN])
    return shown + (f", … ({len(rows)} rows in all)" if len(rows) > _MAX_ROWS_SHOWN else "")


def _as_rows(x: ArrayLike, name: str) -> tuple[np.ndarray, bool]:
    """The one validation path: return ``x`` as a finite float ``(n, d)`` array and whether it was 1-D."""
    array = np.asarray(x)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name} is complex; similarities here are defined for real vectors only.")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if array.ndim not in (1, 2):
        raise ValueError(f"{name} must be a vector (d,) or a matrix (n, d); got shape {array.shape}.")
    was_vector = array.ndim == 1
    rows = array[np.newaxis, :] if was_vector else array
    if rows.shape[0] == 0 or rows.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); pass at least one vector of width >= 1.")
    bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if bad.size:
        raise ValueError(
            f"{name} has NaN or inf in row(s) {_row_list(bad)}: a similarity of such a vector is undefined. "
            "Check the encoder's output (e.g. a float16 overflow) and drop or re-embed those rows."
        )
    return rows, was_vector


def _as_pair(a: ArrayLike, b: ArrayLike, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray, bool, bool]:
    """Validate two inputs with ``_as_rows``, check their widths match and cast both to a common dtype."""
    rows_a, vec_a = _as_rows(a, names[0])
    rows_b, vec_b = _as_rows(b, names[1])
    if rows_a.shape[1] != rows_b.shape[1]:
        raise ValueError(
            f"{names[0]} has width {rows_a.shape[1]} but {names[1]} has width {rows_b.shape[1]}: "
            "similarities compare vectors of one embedding space (the same model and dimension)."
        )
    dtype = np.result_type(rows_a.dtype, rows_b.dtype)
    return rows_a.astype(dtype, copy=False), rows_b.astype(dtype, copy=False), vec_a, vec_b


def _shape_like_inputs(matrix: np.ndarray, vec_a: bool, vec_b: bool) -> np.ndarray:
    if vec_a and vec_b:
        return matrix.reshape(())
    if vec_a:
        return matrix[0]
    if vec_b:
        return matrix[:, 0]
    return matrix


def _pairwise(rows_fn, a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """``rows_fn`` over every row pair of the validated inputs, shaped like them (a vector gives a 1-D axis less)."""
    rows_a, rows_b, vec_a, vec_b = _as_pair(a, b, ("a", "b"))
    return _shape_like_inputs(rows_fn(rows_a, rows_b), vec_a, vec_b)


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """float16 is computed in float32 (as BLAS and GPUs accumulate it); float32 and float64 as they are."""
    return np.promote_types(dtype, np.float32)


def _rounded_to(values: np.ndarray, dtype: np.dtype, what: str) -> np.ndarray:
    """Round results computed in ``_compute_dtype`` back to ``dtype``, refusing any that overflow it."""
    with np.errstate(over="ignore"):
        out = values.astype(dtype, copy=False)
    if out.dtype != values.dtype and not np.isfinite(out).all() and np.isfinite(values).all():
        raise ValueError(
            f"{what} exceed {dtype}'s largest value ({np.finfo(dtype).max:g}), so they cannot be returned in "
            f"{dtype}: pass the input as float32 (x.astype(np.float32))."
        )
    return out


def _norms(rows: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row, in ``_compute_dtype``, scaled by the row's largest magnitude first so squares
    cannot overflow.

    ``‖x‖ = s · ‖x / s‖`` with ``s = max_i |x_i|`` (the guard BLAS ``nrm2`` uses): a float32 row with values
    near 1e20 would otherwise square to inf, and one near 1e-25 to 0.
    """
    rows = rows.astype(_compute_dtype(rows.dtype), copy=False)
    scale = np.max(np.abs(rows), axis=1, keepdims=True)
    safe = np.where(scale > 0, scale, 1)
    return (scale * np.sqrt(np.sum(np.square(rows / safe), axis=1, keepdims=True)))[:, 0]


def _nonzero_norms(rows: np.ndarray, name: str) -> np.ndarray:
    norms = _norms(rows)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"{name} has zero vector(s) in row(s) {_row_list(zero)}: a zero vector has no direction, so it "
            "cannot be normalised and its cosine similarity is undefined. Drop those rows (an empty text?) "
            "or use the dot product, which is defined (0) for them."
        )
    return norms


def _unit_rows(rows: np.ndarray, name: str) -> np.ndarray:
    """Rows divided by their norms, in ``_compute_dtype`` (zero rows refused)."""
    return rows.astype(_compute_dtype(rows.dtype), copy=False) / _nonzero_norms(rows, name)[:, np.newaxis]


def norms(x: ArrayLike) -> np.ndarray:
    """Euclidean (L2) norm of each row, :math:`\\lVert x_i \\rVert = \\sqrt{\\sum_j x_{ij}^2}`.

    Parameters
    ----------
    x : array_like of shape (n, d) or (d,)

    Returns
    -------
    numpy.ndarray of shape (n,) (a 0-d array for a vector), in ``x``'s floating dtype.
    """
    rows, was_vector = _as_rows(x, "x")
    out = _rounded_to(_norms(rows), rows.dtype, "norms of x")
    return out.reshape(()) if was_vector else out


def normalise(x: ArrayLike, *, name: str = "x") -> np.ndarray:
    """Scale each row to unit length: :math:`\\hat x_i = x_i / \\lVert x_i \\rVert`.

    This is what sentence-transformers' ``Normalize`` module and ``encode(normalize_embeddings=True)`` do.

    Parameters
    ----------
    x : array_like of shape (n, d) or (d,)
        Finite values. float16/float32/float64 keep their dtype; integers become float64.
    name : str
        What to call ``x`` in error messages (the caller's argument name).

    Returns
    -------
    numpy.ndarray of the same shape, each row of norm 1 up to rounding (a few units in the last place of
    the dtype: about 1e-7 relative for float32, 1e-3 for float16).

    Raises
    ------
    ValueError
        A row is all zeros (no direction to keep) or holds NaN/inf; the message names the rows.
    """
    rows, was_vector = _as_rows(x, name)
    unit = _unit_rows(rows, name).astype(rows.dtype, copy=False)
    return unit[0] if was_vector else unit


def dot(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Dot products of every row of ``a`` with every row of ``b``: :math:`S_{ij} = a_i \\cdot b_j`.

    On unit-length rows this *is* the cosine similarity. On raw rows it grows with the norms, so a long
    vector can outrank a better-aligned short one (lesson 03's counterexample). Zero rows are allowed (score 0).

    ``a`` is ``(n, d)`` or ``(d,)``, ``b`` is ``(m, d)`` or ``(d,)``; the result is ``(n, m)``, with 1-D axes
    dropped as in ``numpy.matmul``.
    """
    return _pairwise(_dot_rows, a, b)


def _dot_rows(rows_a: np.ndarray, rows_b: np.ndarray, names: tuple[str, str] = ("a", "b")) -> np.ndarray:
    compute = _compute_dtype(rows_a.dtype)
    products = rows_a.astype(compute, copy=False) @ rows_b.astype(compute, copy=False).T
    return _rounded_to(products, rows_a.dtype, f"dot products of {names[0]} and {names[1]}")


def cosine(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Cosine similarity computed from scratch, norms included.

    .. math:: S_{ij} = \\frac{a_i \\cdot b_j}{\\lVert a_i \\rVert \\, \\lVert b_j \\rVert}

    Both inputs are normalised here, on every call, and then multiplied (as sentence-transformers'
    ``util.cos_sim`` does): dividing after the product would underflow for tiny float32 vectors. The result
    is clipped to ``[-1, 1]`` because rounding can push a value a few ulps past ±1. Invariant to scaling
    either vector by a positive number. On rows that are already unit length, ``dot`` gives the same matrix
    without recomputing the norms: the saving lesson 03 measures.

    Parameters
    ----------
    a : array_like of shape (n, d) or (d,)
    b : array_like of shape (m, d) or (d,)

    Returns
    -------
    numpy.ndarray of shape (n, m) in ``[-1, 1]``, 1-D axes dropped as in ``numpy.matmul``.

    Raises
    ------
    ValueError
        A row of either input is a zero vector (its cosine is undefined) or holds NaN/inf.
    """
    return _pairwise(_cosine_rows, a, b)


def _cosine_rows(rows_a: np.ndarray, rows_b: np.ndarray, names: tuple[str, str] = ("a", "b")) -> np.ndarray:
    # Divide first, multiply second: (a / ‖a‖) · (b / ‖b‖). Taking a · b first underflows to 0 for tiny
    # float32 vectors (1e-38 · 1e-38) and overflows for huge ones, so the textbook order is not used.
    unit_a, unit_b = _unit_rows(rows_a, names[0]), _unit_rows(rows_b, names[1])
    return np.clip(unit_a @ unit_b.T, -1, 1).astype(rows_a.dtype, copy=False)


def squared_l2(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Squared Euclidean distances between every row of ``a`` and every row of ``b``.

    .. math:: D_{ij} = \\lVert a_i - b_j \\rVert^2 = \\lVert a_i \\rVert^2 + \\lVert b_j \\rVert^2 - 2\\, a_i \\cdot b_j

    Computed through the expansion on the right, as FAISS ``IndexFlatL2`` does, so memory is ``n × m``
    rather than ``n × m × d``; rounding can make a tiny distance negative, so results are clipped at 0.
    For unit-length rows :math:`D_{ij} = 2 - 2\\cos(a_i, b_j)`: the nearest neighbour by L2 is the most
    similar by cosine.

    ``a`` is ``(n, d)`` or ``(d,)``, ``b`` is ``(m, d)`` or ``(d,)``; the result is ``(n, m)`` and non-negative,
    with 1-D axes dropped as in ``numpy.matmul``.
    """
    return _pairwise(_squared_l2_rows, a, b)


def _squared_l2_rows(rows_a: np.ndarray, rows_b: np.ndarray, names: tuple[str, str] = ("a", "b")) -> np.ndarray:
    compute = _compute_dtype(rows_a.dtype)
    a, b = rows_a.astype(compute, copy=False), rows_b.astype(compute, copy=False)
    sq_a = np.sum(np.square(a), axis=1)
    sq_b = np.sum(np.square(b), axis=1)
    dist = np.maximum(sq_a[:, np.newaxis] + sq_b[np.newaxis, :] - 2 * (a @ b.T), 0)
    return _rounded_to(dist, rows_a.dtype, f"squared distances between {names[0]} and {names[1]}")


# Scorers on rows already through ``_as_pair``: the public functions and ``top_k`` validate once, then call these.
_SCORERS = {"cosine": _cosine_rows, "dot": _dot_rows, "l2": _squared_l2_rows}


def _check_metric(metric: str) -> None:
    if metric not in _SCORERS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}.")


def scores(queries: ArrayLike, docs: ArrayLike, metric: Metric = "cosine") -> np.ndarray:
    """Score matrix by ``metric``: ``cosine`` and ``dot`` are similarities (higher is closer), ``l2`` is the
    squared distance (lower is closer).

    Returns
    -------
    numpy.ndarray of shape (n_queries, n_docs), as ``cosine``, ``dot`` or ``squared_l2`` returns it.
    """
    _check_metric(metric)
    rows_q, rows_d, vec_q, vec_d = _as_pair(queries, docs, ("queries", "docs"))
    return _shape_like_inputs(_SCORERS[metric](rows_q, rows_d, ("queries", "docs")), vec_q, vec_d)


def top_k(queries: ArrayLike, docs: ArrayLike, k: int = 10, metric: Metric = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest documents of each query by ``metric``, best first (exact, brute force).

    Ties are broken by the lower document index, so the result is deterministic. This scores the whole
    ``n_queries × n_docs`` matrix at once: fine for a lesson's corpus; ``lessonlib.retrieval.dense_search``
    is the chunked cosine search for large ones.

    Parameters
    ----------
    queries : array_like of shape (n_queries, d) or (d,)
    docs : array_like of shape (n_docs, d)
    k : int
        Neighbours per query, ``1 <= k``; capped at ``n_docs``.
    metric : {"cosine", "dot", "l2"}
        ``"l2"`` ranks by ascending squared distance, the others by descending similarity.

    Returns
    -------
    scores, indices : numpy.ndarray of shape (n_queries, min(k, n_docs))
        Each query's best scores (distances for ``"l2"``) and the matching row indices into ``docs``.
        A 1-D ``queries`` gives 2-D results with one row.
    """
    _check_metric(metric)
    k = check_int(k, "k", minimum=1)
    if np.ndim(docs) != 2:
        raise ValueError(f"docs must be a matrix (n_docs, d); got shape {np.shape(docs)}. Stack your vectors.")
    rows_q, rows_d, _, _ = _as_pair(queries, docs, ("queries", "docs"))
    matrix = _SCORERS[metric](rows_q, rows_d, ("queries", "docs"))
    keys = matrix if metric == "l2" else -matrix
    indices = np.argsort(keys, axis=1, kind="stable")[:, : min(int(k), matrix.shape[1])]
    return np.take_along_axis(matrix, indices, axis=1), indices
