"""The contrastive objective embedding models are trained with: InfoNCE with in-batch and hard negatives.

A batch holds ``B`` (query, positive) pairs and, optionally, ``K`` hard negatives per query. Every query is
scored against every candidate in the batch: the ``B`` positives (its own, and the other queries' positives,
which serve as *in-batch negatives*) and the ``B·K`` hard negatives. With cosine similarity
``s_ij = cos(q_i, c_j)`` and temperature ``τ > 0``, the loss is the softmax cross-entropy of picking the
query's own positive among its candidates:

.. math::

    \\mathcal{L} = \\frac{1}{B} \\sum_{i=1}^{B} -\\log
        \\frac{\\exp(s_{ii} / \\tau)}{\\sum_{j=1}^{B(1+K)} \\exp(s_{ij} / \\tau)}

Oord, Li & Vinyals 2018 (InfoNCE, "Representation Learning with Contrastive Predictive Coding");
Henderson et al. 2017 (in-batch negatives); sentence-transformers' ``MultipleNegativesRankingLoss`` computes
the same number with ``scale = 1/τ``.

The math is written once, in ``_info_nce_terms`` and friends, over a tiny backend (``_NUMPY`` or ``_TORCH``)
that supplies the four operations NumPy and torch spell differently (concat, logsumexp, sqrt, exp). The
public functions take NumPy arrays (clear, for reading and for the notebooks) or torch tensors
(differentiable, for training) and return the same type.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

#: The temperature sentence-transformers' ``MultipleNegativesRankingLoss`` uses by default (``scale = 20``).
DEFAULT_TEMPERATURE = 0.05

# A numpy array or a torch tensor: the functions here take either and return the same kind.
Array = TypeVar("Array", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class _Backend:
    """The operations whose spelling differs between NumPy and torch; everything else is shared syntax."""

    concat: Callable  # (list of arrays, axis) -> array
    logsumexp: Callable  # (array, axis) -> array, computed stably
    sqrt: Callable
    exp: Callable


def _np_logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    peak = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(peak, axis=axis) + np.log(np.sum(np.exp(x - peak), axis=axis))


_NUMPY = _Backend(
    concat=lambda xs, axis: np.concatenate(xs, axis=axis), logsumexp=_np_logsumexp, sqrt=np.sqrt, exp=np.exp
)
_TORCH = _Backend(
    concat=lambda xs, axis: torch.cat(xs, dim=axis),
    logsumexp=lambda x, axis: torch.logsumexp(x, dim=axis),
    sqrt=torch.sqrt,
    exp=torch.exp,
)


# --------------------------------------------------------------------------------------------------------
# Validation (once, at the boundary)
# --------------------------------------------------------------------------------------------------------


def validate_temperature(temperature: float) -> float:
    """Return ``temperature`` as a float, or raise if it is not a finite number > 0."""
    if isinstance(temperature, bool) or not isinstance(temperature, int | float | np.floating | np.integer):
        raise TypeError(f"temperature must be a positive number, got {type(temperature).__name__}.")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(
            f"temperature must be a finite number > 0, got {temperature!r}. Typical values are 0.01-0.1 "
            "(sentence-transformers' default scale 20 is temperature 0.05)."
        )
    return float(temperature)


def _backend(*arrays: object) -> _Backend:
    given = [a for a in arrays if a is not None]
    if all(isinstance(a, torch.Tensor) for a in given):
        return _TORCH
    if all(isinstance(a, np.ndarray) for a in given):
        return _NUMPY
    kinds = sorted({type(a).__name__ for a in given})
    raise TypeError(
        f"Pass all embeddings as NumPy arrays or all as torch tensors, not a mix ({', '.join(kinds)}). "
        "Convert with np.asarray(...) or torch.as_tensor(...)."
    )


def _as_float(x: Array) -> Array:
    """NumPy input in float64; torch input in float32 or float64.

    float16 and bfloat16 tensors (what a model returns under autocast) are computed in float32, as autocast
    computes a softmax and a loss: in float16 a squared norm overflows once the norm passes 256 (every
    cosine would become 0), and NumPy has no bfloat16 at all. The cast is differentiable, so gradients
    reach the half-precision input.
    """
    if isinstance(x, torch.Tensor):
        return x if x.dtype in (torch.float32, torch.float64) else x.float()
    return np.asarray(x, dtype=np.float64)


def check_vectors(x: Array, name: str) -> None:
    """Refuse vectors InfoNCE cannot score: a NaN or infinite value, or an all-zero vector (no direction).

    Checked where the values live, NumPy or torch (no copy from the GPU or out of the autograd graph).

    Examples
    --------
    >>> check_vectors(np.array([[1.0, 0.0], [0.0, 0.0]]), "doc_embeddings")
    Traceback (most recent call last):
    ...
    ValueError: doc_embeddings contains an all-zero vector: cosine similarity is undefined for it.
    """
    finite = bool(torch.isfinite(x).all()) if isinstance(x, torch.Tensor) else bool(np.all(np.isfinite(x)))
    if not finite:
        raise ValueError(f"{name} contains NaN or infinite values.")
    zero = bool((x == 0).all(dim=-1).any()) if isinstance(x, torch.Tensor) else bool(np.any(np.all(x == 0, axis=-1)))
    if zero:
        raise ValueError(f"{name} contains an all-zero vector: cosine similarity is undefined for it.")


def _check_batch(queries: Array, positives: Array, negatives: Array | None) -> tuple[Array, Array, Array | None]:
    """Check shapes: queries and positives ``(B, d)``, negatives ``(B, K, d)`` or ``(B, d)`` (K = 1)."""
    if queries.ndim != 2:
        raise ValueError(f"queries must be 2-D (batch, dimensions), got shape {tuple(queries.shape)}.")
    if queries.shape[0] < 1 or queries.shape[1] < 1:
        raise ValueError(f"queries is empty (shape {tuple(queries.shape)}): pass at least one pair.")
    if tuple(positives.shape) != tuple(queries.shape):
        raise ValueError(
            f"positives must have the queries' shape {tuple(queries.shape)} (one positive per query), "
            f"got {tuple(positives.shape)}."
        )
    if negatives is not None:
        if negatives.ndim == 2:
            negatives = negatives[:, None, :]
        if negatives.ndim != 3 or negatives.shape[0] != queries.shape[0] or negatives.shape[2] != queries.shape[1]:
            raise ValueError(
                f"negatives must have shape (batch, K, dimensions) = ({queries.shape[0]}, K, {queries.shape[1]}) "
                f"(or (batch, dimensions) for one per query), got {tuple(negatives.shape)}."
            )
        if negatives.shape[1] == 0:
            negatives = None
    for name, x in (("queries", queries), ("positives", positives), ("negatives", negatives)):
        if x is not None:
            check_vectors(x, name)
    return queries, positives, negatives


def _prepare(queries: Array, positives: Array, negatives: Array | None, temperature: float, check_input: bool = True):
    ops = _backend(queries, positives, negatives)
    queries, positives = _as_float(queries), _as_float(positives)
    negatives = None if negatives is None else _as_float(negatives)
    if not check_input:
        # The caller validated the inputs once at its boundary (e.g. a training loop, before its first step).
        if negatives is not None and negatives.ndim == 2:
            negatives = negatives[:, None, :]
        return ops, queries, positives, negatives, temperature
    queries, positives, negatives = _check_batch(queries, positives, negatives)
    return ops, queries, positives, negatives, validate_temperature(temperature)


# --------------------------------------------------------------------------------------------------------
# The math, written once for both backends
# --------------------------------------------------------------------------------------------------------


def _unit(x: Array, ops: _Backend) -> Array:
    """Rows scaled to unit L2 norm, so that dot products are cosine similarities."""
    return x / ops.sqrt((x * x).sum(axis=-1, keepdims=True))


def _candidates(positives: Array, negatives: Array | None, ops: _Backend) -> Array:
    """All ``B(1+K)`` candidates, in sentence-transformers' order: the B positives, then negative 1 of
    every query, then negative 2, …; candidate ``i`` is query ``i``'s positive."""
    if negatives is None:
        return positives
    return ops.concat([positives] + [negatives[:, k, :] for k in range(negatives.shape[1])], 0)


def _logits(queries: Array, candidates: Array, temperature: float, ops: _Backend) -> Array:
    """``s_ij / τ``: cosine similarity of query ``i`` and candidate ``j``, divided by the temperature."""
    return (_unit(queries, ops) @ _unit(candidates, ops).T) / temperature


def _info_nce_terms(logits: Array, ops: _Backend) -> Array:
    """Per-query loss ``-log softmax(logits_i)[i] = logsumexp_j(logits_ij) - logits_ii``, shape ``(B,)``."""
    batch = logits.shape[0]
    positive_logit = logits[:, :batch].diagonal()  # the positives block's diagonal: each query's own positive
    return ops.logsumexp(logits, 1) - positive_logit


def _softmax(logits: Array, ops: _Backend) -> Array:
    return ops.exp(logits - ops.logsumexp(logits, -1)[..., None])


# --------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------


def info_nce_logits(
    queries: Array, positives: Array, negatives: Array | None = None, *, temperature: float = DEFAULT_TEMPERATURE
) -> Array:
    """The scaled similarity matrix InfoNCE takes a softmax over.

    Parameters
    ----------
    queries : ndarray or Tensor of shape (B, d)
    positives : ndarray or Tensor of shape (B, d)
        Row ``i`` is query ``i``'s positive; it is an in-batch negative for every other query.
    negatives : ndarray or Tensor of shape (B, K, d) or (B, d), optional
        ``K`` hard negatives per query; every query is scored against all ``B·K`` of them.
    temperature : float
        ``τ > 0``; sentence-transformers' ``scale`` is ``1/τ``.

    Returns
    -------
    ndarray or Tensor of shape (B, B(1+K))
        ``cos(q_i, c_j) / τ``; column ``i`` is query ``i``'s positive, columns ``B + kB + i`` its hard
        negatives (the order sentence-transformers uses).
    """
    ops, queries, positives, negatives, temperature = _prepare(queries, positives, negatives, temperature)
    return _logits(queries, _candidates(positives, negatives, ops), temperature, ops)


def info_nce(
    queries: Array,
    positives: Array,
    negatives: Array | None = None,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    check_input: bool = True,
) -> Array:
    """InfoNCE over a batch with in-batch negatives and optional hard negatives (Oord et al. 2018).

    .. math:: \\mathcal{L} = \\frac{1}{B}\\sum_i \\left[\\log \\sum_j e^{s_{ij}/\\tau} - s_{ii}/\\tau\\right]

    where ``s_ij`` is the cosine similarity of query ``i`` and candidate ``j`` (all ``B`` positives and all
    ``B·K`` hard negatives). Equal to sentence-transformers' ``MultipleNegativesRankingLoss(scale=1/τ)``.

    Parameters
    ----------
    queries, positives : ndarray or Tensor of shape (B, d)
    negatives : ndarray or Tensor of shape (B, K, d) or (B, d), optional
    temperature : float
        ``τ > 0``.
    check_input : bool
        Check shapes, the temperature and that no vector is zero or non-finite (scikit-learn's name for the
        switch). A training loop that checked its data once at its boundary passes ``False`` for its steps,
        so no step waits on a check of values it produced itself.

    Returns
    -------
    numpy.float64 for NumPy input; 0-d Tensor (differentiable) for torch input.
        At least 0; ``log(B(1+K))`` when all similarities are equal ("chance"). float16 and bfloat16
        tensors are computed, and the loss returned, in float32.

    Raises
    ------
    ValueError, TypeError
        A temperature that is not > 0, shapes that disagree, zero or non-finite vectors, mixed array types.
    """
    ops, queries, positives, negatives, temperature = _prepare(queries, positives, negatives, temperature, check_input)
    logits = _logits(queries, _candidates(positives, negatives, ops), temperature, ops)
    return _info_nce_terms(logits, ops).mean()


def symmetric_info_nce(
    queries: Array, positives: Array, negatives: Array | None = None, *, temperature: float = DEFAULT_TEMPERATURE
) -> Array:
    """Symmetric InfoNCE: the mean of query→document and document→query InfoNCE.

    .. math:: \\mathcal{L}_{sym} = \\tfrac12\\left[\\mathcal{L}(q \\to \\{p, n\\}) + \\mathcal{L}(p \\to q)\\right]

    The document→query direction asks each positive to pick its own query among the batch's ``B`` queries
    (hard negatives take no part in it). As in CLIP (Radford et al. 2021) and Günther et al. 2024; equal
    to ``MultipleNegativesRankingLoss(scale=1/τ, directions=("query_to_doc", "doc_to_query"),
    partition_mode="per_direction")``.

    Parameters and returns as for ``info_nce``.
    """
    ops, queries, positives, negatives, temperature = _prepare(queries, positives, negatives, temperature)
    forward = _info_nce_terms(_logits(queries, _candidates(positives, negatives, ops), temperature, ops), ops)
    backward = _info_nce_terms(_logits(positives, queries, temperature, ops), ops)
    return (forward.mean() + backward.mean()) / 2


def candidate_probabilities(similarities: Array, temperature: float) -> Array:
    """Softmax of similarities at temperature ``τ``: ``p_j = exp(s_j/τ) / Σ_k exp(s_k/τ)``.

    Parameters
    ----------
    similarities : ndarray or Tensor of shape (n,) or (m, n)
        One query's similarities to its ``n`` candidates (or ``m`` queries' rows).
    temperature : float
        ``τ > 0``; small ``τ`` sharpens the distribution towards the most similar candidate.

    Returns
    -------
    Same type and shape; each row sums to 1.
    """
    ops = _backend(similarities)
    similarities = _as_float(similarities)
    if similarities.ndim not in (1, 2) or similarities.shape[-1] < 1:
        raise ValueError(f"similarities must be 1-D (n,) or 2-D (m, n) with n >= 1, got {tuple(similarities.shape)}.")
    return _softmax(similarities / validate_temperature(temperature), ops)


def similarity_gradient(similarities: np.ndarray, positive: int, temperature: float) -> np.ndarray:
    """Gradient of one query's InfoNCE term with respect to its similarities.

    With ``ℓ = -log p_pos`` and ``p = softmax(s/τ)``:

    .. math:: \\frac{\\partial \\ell}{\\partial s_j} = \\frac{p_j - [j = \\text{pos}]}{\\tau}

    so each negative is pushed away with weight ``p_j / τ``: the negatives the query finds most similar
    (the hard ones) get almost all of it when ``τ`` is small (Wang & Liu 2021, "Understanding the
    Behaviour of Contrastive Loss").

    Parameters
    ----------
    similarities : ndarray of shape (n,)
    positive : int
        Index of the positive among the ``n`` candidates.
    temperature : float

    Returns
    -------
    ndarray of shape (n,)
        Negative at the positive (gradient descent raises its similarity), positive elsewhere; sums to 0.
    """
    similarities = np.asarray(similarities, dtype=np.float64)
    if similarities.ndim != 1:
        raise ValueError(f"similarities must be 1-D (one query's candidates), got shape {similarities.shape}.")
    if not (isinstance(positive, int | np.integer) and 0 <= positive < len(similarities)):
        raise ValueError(f"positive must be an index in [0, {len(similarities)}), got {positive!r}.")
    temperature = validate_temperature(temperature)
    grad = candidate_probabilities(similarities, temperature)
    grad[positive] -= 1.0
    return grad / temperature


def entropy(probabilities: np.ndarray) -> float:
    """Shannon entropy in nats, ``H(p) = -Σ p_j log p_j`` (0 log 0 = 0): ``log n`` for uniform, 0 for one-hot.

    Parameters
    ----------
    probabilities : ndarray of shape (n,)
        Non-negative, summing to 1.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 1 or np.any(p < 0) or not np.isclose(p.sum(), 1.0, atol=1e-6):
        raise ValueError("probabilities must be a 1-D array of non-negative numbers that sum to 1.")
    nonzero = p[p > 0]
    return float(-(nonzero * np.log(nonzero)).sum())


def temperature_to_scale(temperature: float) -> float:
    """sentence-transformers' ``scale`` for a temperature: ``scale = 1/τ`` (τ = 0.05 → scale 20)."""
    return 1.0 / validate_temperature(temperature)


def scale_to_temperature(scale: float) -> float:
    """The temperature behind a sentence-transformers ``scale``: ``τ = 1/scale`` (scale 20 → τ = 0.05)."""
    if isinstance(scale, bool) or not isinstance(scale, int | float | np.floating | np.integer):
        raise TypeError(f"scale must be a positive number, got {type(scale).__name__}.")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}.")
    return 1.0 / float(scale)
