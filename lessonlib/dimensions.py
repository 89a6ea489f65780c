"""Matryoshka truncation: keep the first ``m`` of an embedding's ``d`` dimensions, then re-normalise (lesson 05).

A model trained with Matryoshka Representation Learning (Kusupati et al., NeurIPS 2022; sentence-transformers'
``MatryoshkaLoss``) is trained so that every prefix ``x[:m]`` of its embedding, for the nested sizes it was
trained at, is itself a usable embedding: the loss is summed over those prefixes. Storage and search cost
shrink by ``d / m`` (``lessonlib.picker.storage_bytes``). A model trained without that loss (all-MiniLM-L6-v2)
spreads information over all dimensions, so its prefixes lose more: measure before you truncate.

Why re-normalise. A unit vector's prefix is shorter than 1, :math:`\\lVert x_{1:m} \\rVert \\le \\lVert x \\rVert = 1`,
and by a different amount for each document, so the dot product of two prefixes is no longer their cosine
and ranks long prefixes first (lesson 03's counterexample). Dividing each prefix by its norm,

.. math:: t_m(x) = \\frac{x_{1:m}}{\\lVert x_{1:m} \\rVert},

makes rows unit again, so inner product = cosine and an inner-product index (``lessonlib.indexing``) serves
cosine search. sentence-transformers' ``SentenceTransformer(..., truncate_dim=m)`` cuts the model's output
*after* its ``Normalize`` module, so its rows are not unit length unless ``encode(normalize_embeddings=True)``
is passed too; ``truncate`` always returns unit rows.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lessonlib.similarity import normalise
from lessonlib.validation import check_embeddings, check_int


def truncate(embeddings: ArrayLike, truncate_dim: int) -> np.ndarray:
    """Keep the first ``truncate_dim`` dimensions of each row and scale the row back to unit length.

    .. math:: t_m(x) = x_{1:m} / \\lVert x_{1:m} \\rVert

    Truncate queries and documents to the same ``m``: both sides of a search must live in one space.
    ``truncate(x, d)`` is ``x`` normalised (the identity on unit rows), and truncations compose:
    ``truncate(truncate(x, m1), m2) == truncate(x, m2)`` for ``m2 <= m1``.

    Parameters
    ----------
    embeddings : array_like of shape (n, d)
        Float embeddings (any floating dtype, kept; integer codes are refused).
    truncate_dim : int
        How many leading dimensions to keep, ``1 <= truncate_dim <= d`` (the name sentence-transformers uses).

    Returns
    -------
    numpy.ndarray of shape (n, truncate_dim)
        Unit rows, in the input's dtype.

    Raises
    ------
    lessonlib.validation.InvalidParameterError
        ``embeddings`` is not a 2-D float array, or ``truncate_dim`` is not an int in ``1..d``.
    ValueError
        A row's first ``truncate_dim`` values are all zero: that prefix has no direction (the message names the rows).

    Examples
    --------
    >>> truncate(np.array([[0.6, 0.0, 0.8], [0.0, 0.6, 0.8]]), 2)
    array([[1., 0.],
           [0., 1.]])

    Kusupati et al., "Matryoshka Representation Learning", NeurIPS 2022.
    """
    rows = check_embeddings(embeddings, "embeddings", dtype=None)
    m = check_int(
        truncate_dim,
        "truncate_dim",
        minimum=1,
        maximum=rows.shape[1],
        hint=f"the embeddings have {rows.shape[1]} dimensions",
    )
    return normalise(rows[:, :m], name=f"embeddings truncated to {m} dimensions")
