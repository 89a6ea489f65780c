"""Measuring an embedding space: alignment and uniformity on the unit hypersphere (Wang & Isola, 2020).

Wang & Isola ("Understanding Contrastive Representation Learning through Alignment and Uniformity on the
Hypersphere", ICML 2020) show that the contrastive loss optimises two properties of L2-normalised
embeddings ``f(x)``:

- **alignment**: positive pairs land close together,
  ``ℒ_align = E_{(x, y) ~ positives} ‖f(x) − f(y)‖₂^α`` (lower is better; α = 2);
- **uniformity**: the embeddings spread over the sphere,
  ``ℒ_uniform = log E_{x, y ~ data} exp(−t ‖f(x) − f(y)‖₂²)`` (lower is better; t = 2).

On the unit sphere ``‖u − v‖² = 2 − 2 cos(u, v)``, so alignment (α = 2) lies in [0, 4] and uniformity in
[−4, 0]: 0 means every embedding is the same point (collapse).
"""

from __future__ import annotations

import numpy as np

from lessonlib.similarity import normalise
from lessonlib.validation import check_int


def _unit_rows(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, dimensions), got shape {x.shape}.")
    return normalise(x, name=name)  # rejects empty, NaN/inf and zero rows, naming them


def alignment(x: np.ndarray, y: np.ndarray, alpha: float = 2.0) -> float:
    """Mean distance between positive pairs on the unit sphere, ``E ‖x̂_i − ŷ_i‖₂^α`` (Wang & Isola 2020).

    Parameters
    ----------
    x, y : ndarray of shape (n, d)
        Row ``i`` of ``x`` and row ``i`` of ``y`` form a positive pair (e.g. a query and a relevant
        document). Rows are L2-normalised first.
    alpha : float
        Exponent ``α > 0``; the paper uses 2, for which the value is ``2 − 2 · mean cos(x_i, y_i)``.

    Returns
    -------
    float
        In ``[0, 2^α]``; lower means positives sit closer together.
    """
    if np.shape(x) != np.shape(y):
        raise ValueError(
            f"x and y must have the same shape (one row per positive pair), got {np.shape(x)} and {np.shape(y)}."
        )
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}.")
    x_hat, y_hat = _unit_rows(x, "x"), _unit_rows(y, "y")
    return float(np.mean(np.linalg.norm(x_hat - y_hat, axis=1) ** alpha))


def uniformity(x: np.ndarray, t: float = 2.0, chunk: int = 1024) -> float:
    """Log of the mean Gaussian potential between distinct points, ``log E_{i<j} exp(−t ‖x̂_i − x̂_j‖²)``.

    Every unordered pair ``i < j`` counts once, as ``torch.pdist`` does in Wang & Isola's code. The
    ``n × n`` similarity matrix is formed ``chunk`` rows at a time, so memory stays at ``chunk × n``.

    Parameters
    ----------
    x : ndarray of shape (n, d), n >= 2
        Embeddings; rows are L2-normalised first.
    t : float
        ``t > 0``; the paper uses 2.
    chunk : int
        Rows per block.

    Returns
    -------
    float
        In ``[−2t · n/(n − 1), 0]`` (Jensen's inequality); 0 for a collapsed space (all points equal),
        lower for embeddings spread more evenly.
    """
    if not t > 0:
        raise ValueError(f"t must be > 0, got {t!r}.")
    chunk = check_int(chunk, "chunk", minimum=1)
    x_hat = _unit_rows(x, "x")
    n = len(x_hat)
    if n < 2:
        raise ValueError("uniformity needs at least two embeddings (it averages over pairs).")
    total = 0.0
    for start in range(0, n, chunk):
        block = x_hat[start : start + chunk]
        squared = np.clip(2.0 - 2.0 * (block @ x_hat.T), 0.0, 4.0)  # ‖u − v‖² on the unit sphere
        rows = np.arange(start, start + len(block))[:, None]
        upper = np.arange(n)[None, :] > rows  # pairs i < j only
        total += float(np.exp(-t * squared[upper]).sum())
    return float(np.log(total / (n * (n - 1) / 2)))
