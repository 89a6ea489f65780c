"""A query-side adapter: a linear head on the frozen model's query embeddings, so the index is never rebuilt.

Fine-tuning the encoder changes every document embedding, so the corpus must be re-encoded. The adapter
applies a ``lessonlib.projection.ProjectionHead`` (:math:`W`, initialised to the identity) to the query
embeddings only, :math:`\\hat q' = W q / \\lVert W q \\rVert`, and trains it with InfoNCE against the frozen
embeddings of the whole corpus, every document being a candidate (cheap: the documents are fixed vectors):

.. math:: \\mathcal{L}_i = -\\log \\operatorname{softmax}_j(s \\, \\hat q'_i \\cdot d_j)_{p_i}
   + \\lambda \\lVert W - I \\rVert_F^2

where :math:`p_i` is pair :math:`i`'s positive document and :math:`\\lambda` pulls :math:`W` towards the
identity (the untouched model). It is the same head and the same training loop
(``lessonlib.projection.fit_head``) as lesson 01's projection head.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lessonlib.environment import set_seed
from lessonlib.projection import ProjectionHead, fit_head
from lessonlib.validation import check_float, check_int


def train_query_adapter(
    query_embeddings: np.ndarray,
    positive_rows: Sequence[int],
    doc_embeddings: np.ndarray,
    epochs: int = 20,
    learning_rate: float = 1e-3,
    batch_size: int = 64,
    scale: float = 20.0,
    identity_weight: float = 1.0,
    seed: int = 0,
) -> ProjectionHead:
    """Train a query-side ``ProjectionHead`` with InfoNCE over the whole frozen corpus.

    Parameters
    ----------
    query_embeddings : ndarray of shape (n_pairs, d)
        One row per training pair (a query with two positives appears twice).
    positive_rows : sequence of int, length n_pairs
        Row of each pair's positive document in ``doc_embeddings``.
    doc_embeddings : ndarray of shape (n_docs, d)
        Normalised embeddings of the whole corpus from the frozen model.
    epochs, learning_rate, batch_size : training settings (Adam, shuffled batches of pairs).
    scale : float
        :math:`s = 1/\\tau`.
    identity_weight : float
        :math:`\\lambda`, pulling :math:`W` towards the identity (the untouched model).
    seed : int

    Returns
    -------
    ProjectionHead
        Apply it to query embeddings with ``lessonlib.projection.project``, then search the frozen corpus
        with ``lessonlib.retrieval.search``.
    """
    queries = torch.as_tensor(np.asarray(query_embeddings, dtype=np.float32))
    docs = torch.as_tensor(np.asarray(doc_embeddings, dtype=np.float32))
    targets = torch.as_tensor(np.asarray(positive_rows, dtype=np.int64))
    if queries.ndim != 2 or docs.ndim != 2 or queries.shape[1] != docs.shape[1]:
        raise ValueError(f"Shapes disagree: queries {tuple(queries.shape)}, documents {tuple(docs.shape)}.")
    if len(targets) != len(queries):
        raise ValueError(f"{len(targets)} positive rows for {len(queries)} query embeddings.")
    if len(targets) and (targets.min() < 0 or targets.max() >= len(docs)):
        raise ValueError("positive_rows must index rows of doc_embeddings.")
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    learning_rate = check_float(learning_rate, "learning_rate", minimum=0.0, include_minimum=False)
    identity_weight = check_float(identity_weight, "identity_weight", minimum=0.0)
    set_seed(seed)
    head = ProjectionHead(queries.shape[1])
    identity = torch.eye(queries.shape[1])
    generator = torch.Generator().manual_seed(seed)

    def batches() -> list[torch.Tensor]:
        return torch.randperm(len(queries), generator=generator).split(batch_size)

    def loss(batch: torch.Tensor) -> torch.Tensor:
        adapted = torch.nn.functional.normalize(head(queries[batch]), dim=-1)
        value = torch.nn.functional.cross_entropy(scale * adapted @ docs.T, targets[batch])
        return value + identity_weight * (head.linear.weight - identity).pow(2).sum()

    fit_head(head, batches, loss, epochs=epochs, learning_rate=learning_rate)
    return head
