"""A laptop-sized contrastive training run: a linear projection head over frozen, cached embeddings.

Fine-tuning a whole encoder takes minutes on a CPU. Training only a linear map ``W`` on top of frozen
embeddings takes seconds, and still shows what the contrastive loss and
its temperature do to an embedding space. The head is shared by queries and documents and starts as the
identity, so before training it reproduces the frozen model exactly:

.. math:: f(x) = \\frac{W x}{\\lVert W x \\rVert_2}, \\qquad W_0 = I

It is trained with ``lessonlib.contrastive.info_nce`` (in-batch negatives, temperature ``τ``), then
measured with ``evaluate_space``: alignment and uniformity (``lessonlib.geometry``, Wang & Isola 2020) and
nDCG@10 (``lessonlib.metrics``, pytrec_eval).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from lessonlib.contrastive import check_vectors, info_nce, validate_temperature
from lessonlib.datasets import RetrievalDataset
from lessonlib.geometry import alignment, uniformity
from lessonlib.metrics import score
from lessonlib.retrieval import search
from lessonlib.validation import check_float, check_int


class ProjectionHead(torch.nn.Module):
    """A bias-free linear map ``x ↦ W x`` from ``d`` to ``d`` dimensions, initialised to ``W = I``."""

    def __init__(self, dimensions: int) -> None:
        super().__init__()
        dimensions = check_int(dimensions, "dimensions", minimum=1)
        self.linear = torch.nn.Linear(dimensions, dimensions, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(dimensions))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``W``: ``(n, d) → (n, d)``; the loss and ``project`` normalise afterwards."""
        return self.linear(x)


@dataclass
class TrainedHead:
    """A trained head and its mean training loss per epoch."""

    head: ProjectionHead
    epoch_losses: list[float] = field(default_factory=list)
    temperature: float = 0.05
    batch_size: int = 32


def unique_batches(
    query_ids: Sequence[str], doc_ids: Sequence[str], batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Shuffle pair indices into batches in which no query and no document appears twice.

    A query with two relevant documents in one batch would see its other positive as a negative (a false
    negative); this is sentence-transformers' ``BatchSamplers.NO_DUPLICATES`` idea. Pairs that would
    repeat an id wait for the next batch, so every pair is used exactly once per epoch.

    Parameters
    ----------
    query_ids, doc_ids : sequences of str of length n
        The ids of pair ``i``'s query and document.
    batch_size : int
        At least 2 (a batch of one has no in-batch negatives).
    rng : numpy.random.Generator

    Returns
    -------
    list of int ndarrays
        Pair indices; every batch but possibly the last few has ``batch_size`` pairs.
    """
    if len(query_ids) != len(doc_ids):
        raise ValueError(f"query_ids ({len(query_ids)}) and doc_ids ({len(doc_ids)}) must have the same length.")
    batch_size = check_int(batch_size, "batch_size", minimum=2, hint="in-batch negatives need other pairs")
    waiting = [int(i) for i in rng.permutation(len(query_ids))]
    batches = []
    while waiting:
        batch, seen_q, seen_d, deferred = [], set(), set(), []
        for i in waiting:
            if len(batch) < batch_size and query_ids[i] not in seen_q and doc_ids[i] not in seen_d:
                batch.append(i)
                seen_q.add(query_ids[i])
                seen_d.add(doc_ids[i])
            else:
                deferred.append(i)
        batches.append(np.array(batch))
        waiting = deferred
    return batches


def train_projection_head(
    query_embeddings: np.ndarray,
    doc_embeddings: np.ndarray,
    *,
    temperature: float,
    batch_size: int = 32,
    epochs: int = 10,
    learning_rate: float = 1e-3,
    seed: int = 0,
    query_ids: Sequence[str] | None = None,
    doc_ids: Sequence[str] | None = None,
    threads: int | None = 1,
) -> TrainedHead:
    """Train a ``ProjectionHead`` with InfoNCE (in-batch negatives) on frozen (query, positive) embeddings.

    Each step takes a batch of ``B`` pairs, projects both sides and minimises
    ``lessonlib.contrastive.info_nce(W q, W p, temperature=τ)`` with Adam (Kingma & Ba 2015).

    Parameters
    ----------
    query_embeddings, doc_embeddings : ndarray of shape (n, d)
        Row ``i`` of each forms training pair ``i``.
    temperature : float
        ``τ > 0``.
    batch_size : int
        Pairs per step, >= 2; each query sees ``batch_size − 1`` in-batch negatives.
    epochs : int
        Passes over the pairs.
    learning_rate : float
    seed : int
        Seeds the shuffling; the head starts at the identity, so nothing else is random.
    query_ids, doc_ids : sequences of str, optional
        When given, batches never repeat a query or a document (``unique_batches``).
    threads : int or None
        CPU threads torch may use while training (restored afterwards); ``None`` leaves torch's setting.
        The matrices here are tiny, so one thread is usually fastest: several threads spend the step
        waiting for each other, the more so on a busy machine.

    Returns
    -------
    TrainedHead
    """
    q = np.asarray(query_embeddings, dtype=np.float32)
    d = np.asarray(doc_embeddings, dtype=np.float32)
    if q.ndim != 2 or q.shape != d.shape or len(q) < 2:
        raise ValueError(
            f"query_embeddings and doc_embeddings must be 2-D with the same shape and at least 2 rows, "
            f"got {q.shape} and {d.shape}."
        )
    check_vectors(q, "query_embeddings")  # once here: the loop's steps skip InfoNCE's checks
    check_vectors(d, "doc_embeddings")
    temperature = validate_temperature(temperature)
    epochs = check_int(epochs, "epochs", minimum=1)
    learning_rate = check_float(learning_rate, "learning_rate", minimum=0.0, include_minimum=False)
    if (query_ids is None) != (doc_ids is None):
        raise ValueError("Pass both query_ids and doc_ids, or neither.")
    if query_ids is None:
        query_ids = doc_ids = [str(i) for i in range(len(q))]  # every pair distinct
    if len(query_ids) != len(q):
        raise ValueError(f"query_ids has {len(query_ids)} ids for {len(q)} pairs.")
    if threads is not None:
        threads = check_int(threads, "threads", minimum=1, hint="or None")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        head, losses = _train(q, d, temperature, batch_size, epochs, learning_rate, seed, query_ids, doc_ids)
    finally:
        torch.set_num_threads(previous_threads)
    return TrainedHead(head=head, epoch_losses=losses, temperature=temperature, batch_size=batch_size)


def fit_head(
    head: ProjectionHead,
    batches: Callable[[], Iterable[torch.Tensor]],
    loss: Callable[[torch.Tensor], torch.Tensor],
    *,
    epochs: int,
    learning_rate: float,
) -> list[float]:
    """The one training loop for a ``ProjectionHead``: Adam over ``epochs`` passes; returns each epoch's mean loss.

    Parameters
    ----------
    head : ProjectionHead
        Trained in place and left in ``eval`` mode.
    batches : callable
        Called once per epoch; yields index tensors of the training rows of one step.
    loss : callable
        Maps one batch's index tensor to the scalar loss of that step.
    epochs : int
    learning_rate : float
        Adam's step size (Kingma & Ba 2015).
    """
    optimiser = torch.optim.Adam(head.parameters(), lr=learning_rate)
    losses = []
    for _ in range(epochs):
        epoch = []
        for batch in batches():
            value = loss(batch)
            optimiser.zero_grad()
            value.backward()
            optimiser.step()
            epoch.append(float(value.detach()))
        losses.append(float(np.mean(epoch)) if epoch else float("nan"))
        if epoch and not np.isfinite(losses[-1]):
            raise FloatingPointError(
                f"The training loss became {losses[-1]} in epoch {len(losses)}: the head diverged. "
                "Lower the learning rate or raise the temperature."
            )
    head.eval()
    return losses


def _train(
    q: np.ndarray,
    d: np.ndarray,
    temperature: float,
    batch_size: int,
    epochs: int,
    learning_rate: float,
    seed: int,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
) -> tuple[ProjectionHead, list[float]]:
    """Symmetric in-batch InfoNCE behind ``train_projection_head`` (inputs already validated)."""
    rng = np.random.default_rng(seed)
    head = ProjectionHead(q.shape[1])
    q_t, d_t = torch.from_numpy(q), torch.from_numpy(d)

    def batches() -> Iterable[torch.Tensor]:
        # A lone leftover pair has no negatives: skipped.
        return (torch.from_numpy(b) for b in unique_batches(query_ids, doc_ids, batch_size, rng) if len(b) >= 2)

    def loss(idx: torch.Tensor) -> torch.Tensor:
        # Inputs and temperature were checked once, in train_projection_head; fit_head checks each epoch's loss.
        return info_nce(head(q_t[idx]), head(d_t[idx]), temperature=temperature, check_input=False)

    losses = fit_head(head, batches, loss, epochs=epochs, learning_rate=learning_rate)
    return head, losses


def project(head: ProjectionHead, embeddings: np.ndarray) -> np.ndarray:
    """Apply a head to embeddings and L2-normalise: ``(n, d) → (n, d)`` float32 unit rows."""
    x = torch.from_numpy(np.asarray(embeddings, dtype=np.float32))
    with torch.no_grad():
        out = torch.nn.functional.normalize(head(x), dim=1)
    return out.numpy()


def positive_pairs(dataset: RetrievalDataset) -> tuple[list[str], list[str]]:
    """The (query id, document id) pairs judged relevant (grade > 0), sorted by query then document id."""
    pairs = sorted((qid, did) for qid, docs in dataset.qrels.items() for did, grade in docs.items() if grade > 0)
    return [qid for qid, _ in pairs], [did for _, did in pairs]


def unseen_queries(dataset: RetrievalDataset, seen_doc_ids: Iterable[str]) -> list[str]:
    """Query ids of ``dataset`` none of whose relevant documents is in ``seen_doc_ids``, in query order.

    On SciFact, many test claims are about abstracts that are also positives of training claims; these
    queries measure what a trained model does on documents it never saw as a positive.
    """
    seen = set(seen_doc_ids)
    return [
        qid
        for qid in dataset.query_ids
        if not any(grade > 0 and did in seen for did, grade in dataset.qrels.get(qid, {}).items())
    ]


def evaluate_space(
    query_embeddings: np.ndarray,
    doc_embeddings: np.ndarray,
    dataset: RetrievalDataset,
    seen_doc_ids: Iterable[str] | None = None,
) -> dict[str, float]:
    """Alignment, uniformity and nDCG@10 of an embedding space on one split of a data set.

    Parameters
    ----------
    query_embeddings : ndarray of shape (len(dataset.query_ids), d)
        In ``dataset.query_ids`` order.
    doc_embeddings : ndarray of shape (len(dataset.doc_ids), d)
        In ``dataset.doc_ids`` order.
    dataset : RetrievalDataset
    seen_doc_ids : iterable of str, optional
        Documents used as training positives; adds ``ndcg@10 unseen``, the mean nDCG@10 over the
        ``unseen_queries`` only.

    Returns
    -------
    dict
        ``alignment``: Wang & Isola's ℒ_align (α = 2) over the split's relevant (query, document) pairs;
        ``uniformity``: ℒ_uniform (t = 2) over all documents; ``ndcg@10``: pytrec_eval's mean nDCG@10
        (a fraction) of exact cosine search over all queries; ``ndcg@10 unseen`` when asked.
    """
    if len(query_embeddings) != len(dataset.query_ids) or len(doc_embeddings) != len(dataset.doc_ids):
        raise ValueError(
            f"Expected {len(dataset.query_ids)} query and {len(dataset.doc_ids)} document embeddings in the "
            f"dataset's order, got {len(query_embeddings)} and {len(doc_embeddings)}."
        )
    q_row = {qid: i for i, qid in enumerate(dataset.query_ids)}
    d_row = {did: i for i, did in enumerate(dataset.doc_ids)}
    qids, dids = positive_pairs(dataset)
    align = alignment(
        np.asarray(query_embeddings)[[q_row[q] for q in qids]], np.asarray(doc_embeddings)[[d_row[d] for d in dids]]
    )
    run = search(dataset.query_ids, query_embeddings, dataset.doc_ids, doc_embeddings, top_k=10)
    scores = score(dataset.qrels, run, [10])
    per_query = scores.per_query
    report = {"alignment": align, "uniformity": uniformity(doc_embeddings), "ndcg@10": scores["ndcg@10"]}
    if seen_doc_ids is not None:
        unseen = unseen_queries(dataset, seen_doc_ids)
        if not unseen:
            raise ValueError("Every query has a relevant document in seen_doc_ids: no unseen queries to score.")
        report["ndcg@10 unseen"] = float(np.mean([per_query[qid]["ndcg@10"] for qid in unseen]))
    return report
