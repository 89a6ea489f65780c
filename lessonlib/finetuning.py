"""Domain fine-tuning of an embedding model on (query, passage) pairs, and a cheaper query-side adapter.

Full fine-tuning trains every weight with the contrastive InfoNCE loss that sentence-transformers calls
``MultipleNegativesRankingLoss`` (van den Oord et al. 2018; Henderson et al. 2017): for a batch of
:math:`B` pairs :math:`(q_i, p_i)` (and optional hard negatives :math:`n_i`), with cosine similarity
:math:`s` and scale :math:`1/\\tau` (20 by default),

.. math:: \\mathcal{L} = -\\frac{1}{B}\\sum_{i=1}^{B}
   \\log \\frac{e^{s(q_i, p_i)/\\tau}}{\\sum_{j=1}^{B} e^{s(q_i, p_j)/\\tau} + \\sum_{j=1}^{B} e^{s(q_i, n_j)/\\tau}}

so every other passage in the batch is a negative. ``BatchSamplers.NO_DUPLICATES`` keeps a text from
appearing twice in a batch, where it would be its own false negative. Hard negatives are mined with
``sentence_transformers.util.mine_hard_negatives`` (Moreira et al. 2024, NV-Retriever: top-k with a
relative margin).

Every trained model changes the document embeddings, so the corpus must be re-encoded (re-indexed). The
query-side adapter (``QueryAdapter``) avoids that: a linear map :math:`W` (initialised to the identity)
is applied to the frozen model's query embeddings only and trained with the same loss against the frozen
document embeddings of the whole corpus.

Training runs are cached: ``fine_tune`` saves each model (with a model card recording data and settings)
under ``<cache>/finetuned/<key>``, where the key hashes the base model's weights, the training texts, the
settings and the library versions, so a re-run loads it instead of training again.

No test query may reach training: ``pairs_to_dataset`` and ``fine_tune`` call
``lessonlib.clicklogs.ensure_no_test_queries`` on the queries (ids and texts).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import torch
import tqdm
from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from sentence_transformers.sentence_transformer.training_args import (
    BatchSamplers,
    SentenceTransformerTrainingArguments,
)
from sentence_transformers.util import hard_negatives as hard_negatives_module
from sentence_transformers.util import mine_hard_negatives
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from lessonlib.clicklogs import ensure_no_test_queries
from lessonlib.datasets import RetrievalDataset, document_text
from lessonlib.embeddings import encode, model_fingerprint, texts_fingerprint
from lessonlib.environment import cache_dir, package_version, pick_device, pick_mixed_precision, set_seed
from lessonlib.evaluation import EvaluationResult, evaluate
from lessonlib.metrics import Run, evaluate_run
from lessonlib.models import load_model, transformers_progress
from lessonlib.retrieval import dense_search, to_run

SETTINGS_FILE = "lessonlib_training.json"


# --------------------------------------------------------------------------------------------- data


def split_dev(query_ids: Sequence[str], dev_fraction: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """Split training query ids into (train, dev), both sorted; the dev part chooses settings.

    The split is a seeded permutation of the sorted ids, so it does not depend on the input order.
    """
    if not 0.0 < dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be in (0, 1), got {dev_fraction}.")
    ids = sorted(set(query_ids))
    if len(ids) < 2:
        raise ValueError("Need at least two queries to split off a dev set.")
    n_dev = max(1, round(dev_fraction * len(ids)))
    order = np.random.default_rng(seed).permutation(len(ids))
    dev = sorted(ids[i] for i in order[:n_dev])
    train = sorted(ids[i] for i in order[n_dev:])
    return train, dev


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
    return RetrievalDataset(dataset.name if doc_ids is None else name, dataset.path, split, corpus, queries, qrels)


def rerank_pool(run: Run, depth: int) -> list[str]:
    """Sorted union of every query's top-``depth`` documents in ``run``: a small index to re-rank."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}.")
    pool = set()
    for docs in run.values():
        pool.update(d for d, _ in sorted(docs.items(), key=lambda item: (-item[1], item[0]))[:depth])
    return sorted(pool)


def subsample_pairs(pairs: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of ``pairs`` drawn without replacement, sorted by query then document id.

    One seeded permutation serves every ``n``, so smaller samples are subsets of larger ones (nested
    samples make a learning curve smoother).
    """
    if not 1 <= n <= len(pairs):
        raise ValueError(f"n must be between 1 and the {len(pairs)} available pairs, got {n}.")
    rows = np.random.default_rng(seed).permutation(len(pairs))[:n]
    return pairs.iloc[rows].sort_values(["query_id", "doc_id"], ignore_index=True)


def pairs_to_dataset(pairs: pd.DataFrame, dataset: RetrievalDataset) -> Dataset:
    """Turn mined ``(query_id, doc_id)`` pairs into the trainer's ``anchor`` / ``positive`` text dataset.

    Rows keep the order of ``pairs``; documents are written as MTEB embeds them (title + text). Raises
    ``TestQueryLeakError`` if a query belongs to the test split.
    """
    for column in ("query_id", "doc_id"):
        if column not in pairs.columns:
            raise ValueError(f"pairs needs a {column!r} column (as returned by clicklogs.mine_pairs).")
    if len(pairs) == 0:
        raise ValueError("pairs is empty: nothing to train on.")
    query_ids = list(pairs["query_id"])
    unknown = sorted({q for q in query_ids if q not in dataset.queries})
    if unknown:
        raise KeyError(f"{len(unknown)} query ids are not in the {dataset.split!r} split: {unknown[:5]}.")
    ensure_no_test_queries({q: dataset.queries[q] for q in query_ids}, dataset)
    return Dataset.from_dict(
        {
            "anchor": [dataset.queries[q] for q in query_ids],
            "positive": [document_text(dataset.corpus[d]) for d in pairs["doc_id"]],
        }
    )


class _CachedEncoder:
    """A SentenceTransformer whose document and query encodings go through lessonlib's embedding cache."""

    def __init__(self, model: SentenceTransformer) -> None:
        self._model = model

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def encode_document(self, texts: list[str], **_: object) -> np.ndarray:
        return encode(self._model, list(texts), progress=False, description="hard-negative corpus")

    def encode_query(self, texts: list[str], **_: object) -> np.ndarray:
        return encode(self._model, list(texts), progress=False, description="hard-negative queries")


def add_hard_negatives(
    train: Dataset,
    model: SentenceTransformer,
    dataset: RetrievalDataset,
    num_negatives: int = 1,
    relative_margin: float = 0.05,
    range_min: int = 0,
) -> Dataset:
    """Add ``num_negatives`` hard negatives per pair with ``sentence_transformers.util.mine_hard_negatives``.

    The candidates are the whole corpus ranked by ``model``; a candidate is kept only if its similarity is
    at least ``relative_margin`` (5 %) below the positive's (NV-Retriever's TopK-PercPos), which skips
    many unlabelled relevant documents. Embeddings come from lessonlib's cache (the base corpus is
    usually encoded already).

    Returns
    -------
    datasets.Dataset
        Columns ``anchor``, ``positive``, ``negative`` (``negative_1 … negative_n`` for n > 1); pairs
        without a valid negative are dropped.
    """
    ensure_no_test_queries({f"anchor {i}": t for i, t in enumerate(train["anchor"])}, dataset)
    # verbose=False does not reach the similarity loop's bar in sentence-transformers 6.2; silence it here.
    quiet = functools.partial(tqdm.trange, disable=True)
    with mock.patch.object(hard_negatives_module, "trange", quiet):
        return _mine(train, model, dataset, num_negatives, relative_margin, range_min)


def _mine(
    train: Dataset,
    model: SentenceTransformer,
    dataset: RetrievalDataset,
    num_negatives: int,
    relative_margin: float,
    range_min: int,
) -> Dataset:
    return mine_hard_negatives(
        train,
        _CachedEncoder(model),  # type: ignore[arg-type]
        anchor_column_name="anchor",
        positive_column_name="positive",
        corpus=dataset.document_texts(),
        num_negatives=num_negatives,
        relative_margin=relative_margin,
        range_min=range_min,
        sampling_strategy="top",
        output_format="triplet" if num_negatives == 1 else "n-tuple",
        verbose=False,
    )


# --------------------------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainingSettings:
    """Hyper-parameters of one fine-tuning run (all recorded in the saved model's card).

    Attributes
    ----------
    learning_rate : float
    epochs : int
    batch_size : int
        Pairs per batch; each query sees ``batch_size − 1`` in-batch negatives.
    max_seq_length : int
        Tokens kept per text during training (documents are truncated).
    encode_length : int or None
        ``max_seq_length`` the saved model encodes with; ``None`` keeps the base model's (256 for
        all-MiniLM-L6-v2). Encoding costs about proportionally to the tokens, so a shorter length makes
        every re-indexing cheaper; what it costs in nDCG is for the dev split to say.
    warmup_ratio : float
        Fraction of the steps with a linearly rising learning rate (then linear decay).
    scale : float
        :math:`1/\\tau` of the loss.
    seed : int
    bf16 : bool or None
        Train in bfloat16 mixed precision (autocast; the weights stay float32). ``None`` lets
        ``lessonlib.environment.pick_mixed_precision`` decide for the device: on where the hardware
        computes bfloat16 natively, off elsewhere. The run records the resolved value.
    """

    learning_rate: float = 2e-5
    epochs: int = 1
    batch_size: int = 32
    max_seq_length: int = 128
    encode_length: int | None = None
    warmup_ratio: float = 0.1
    scale: float = 20.0
    seed: int = 0
    bf16: bool | None = None

    def __post_init__(self) -> None:
        if self.learning_rate <= 0 or self.epochs < 1 or self.batch_size < 2 or self.max_seq_length < 8:
            raise ValueError(
                "learning_rate must be > 0, epochs >= 1, batch_size >= 2 (in-batch negatives need company) and "
                f"max_seq_length >= 8; got {self}."
            )
        if self.encode_length is not None and self.encode_length < 8:
            raise ValueError(
                f"encode_length must be >= 8 tokens or None (keep the base model's), got {self.encode_length}."
            )
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}.")


@dataclass
class FineTuned:
    """A fine-tuned model, where it is saved, and how it was obtained."""

    model: SentenceTransformer
    path: Path
    settings: TrainingSettings
    from_cache: bool
    record: dict = field(default_factory=dict)

    @property
    def precision(self) -> str:
        """The precision the model was trained in, ``"bfloat16"`` or ``"float32"``: encode it in the same."""
        return "bfloat16" if self.settings.bf16 else "float32"


def finetuned_cache() -> Path:
    """Folder of cached fine-tuned models: ``<cache>/finetuned``."""
    return cache_dir() / "finetuned"


def _run_key(base: SentenceTransformer, train: Dataset, settings: TrainingSettings) -> str:
    payload = {
        "base": model_fingerprint(base),
        "data": {c: texts_fingerprint([str(x) for x in train[c]]) for c in sorted(train.column_names)},
        "settings": asdict(settings),
        "versions": {p: package_version(p) for p in ("sentence-transformers", "transformers", "torch")},
        "format": 1,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


@contextlib.contextmanager
def seq_length(model: SentenceTransformer, length: int | None) -> Iterator[SentenceTransformer]:
    """Temporarily set ``model.max_seq_length`` (``None`` leaves it); restored on exit."""
    before = model.max_seq_length
    if length is not None:
        model.max_seq_length = length
    try:
        yield model
    finally:
        model.max_seq_length = before


def fine_tune(
    train: Dataset,
    settings: TrainingSettings,
    dataset: RetrievalDataset,
    base_model: str = "all-MiniLM-L6-v2",
    name: str = "minilm-scifact-clicks",
    data_description: str = "",
    progress: bool = False,
    use_cache: bool = True,
) -> FineTuned:
    """Fine-tune ``base_model`` on ``train`` with ``SentenceTransformerTrainer`` + MNRL, or load the cached run.

    Parameters
    ----------
    train : datasets.Dataset
        ``anchor`` / ``positive`` (and optionally ``negative…``) text columns, e.g. from ``pairs_to_dataset``.
    settings : TrainingSettings
    dataset : RetrievalDataset
        The training split the pairs came from: its folder's test queries are refused (ids and texts).
    base_model : str
        A name or folder for ``lessonlib.models.load_model``.
    name, data_description : str
        Written into the model card.
    progress : bool
        Show the trainer's progress bar (stderr) and logs.
    use_cache : bool
        Load a previously saved identical run instead of training.

    Returns
    -------
    FineTuned
        The model is on the device ``pick_device`` chooses; ``record`` holds the settings, data summary,
        training loss and seconds.
    """
    if "anchor" not in train.column_names or "positive" not in train.column_names:
        raise ValueError(f"train needs 'anchor' and 'positive' columns, got {train.column_names}.")
    if len(train) < settings.batch_size:
        raise ValueError(f"{len(train)} pairs is fewer than one batch of {settings.batch_size}: lower batch_size.")
    ensure_no_test_queries({f"anchor {i}": t for i, t in enumerate(train["anchor"])}, dataset)
    with transformers_progress(progress):
        return _train_or_load(train, settings, base_model, name, data_description, progress, use_cache)


def _train_or_load(
    train: Dataset,
    settings: TrainingSettings,
    base_model: str,
    name: str,
    data_description: str,
    progress: bool,
    use_cache: bool,
) -> FineTuned:
    device = pick_device()
    if settings.bf16 is None:
        # Resolved before hashing: a float32 run and a bfloat16 run are different models.
        settings = replace(settings, bf16=pick_mixed_precision(device))
    model = load_model(base_model, device=device)
    key = _run_key(model, train, settings)
    target = finetuned_cache() / f"{name}-{key}"
    if use_cache and (target / SETTINGS_FILE).is_file() and (target / "modules.json").is_file():
        record = json.loads((target / SETTINGS_FILE).read_text())
        return FineTuned(SentenceTransformer(str(target), device=device), target, settings, True, record)

    set_seed(settings.seed)
    base_length = model.max_seq_length
    model.max_seq_length = settings.max_seq_length
    model.model_card_data.model_name = name
    model.model_card_data.language = ["en"]
    model.model_card_data.license = "apache-2.0"
    model.model_card_data.train_datasets = [{"name": data_description or "mined (query, passage) pairs"}]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".train-") as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=str(Path(tmp) / "trainer"),
            num_train_epochs=settings.epochs,
            per_device_train_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            warmup_steps=settings.warmup_ratio,  # transformers 5: a float < 1 is a ratio of the steps
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            seed=settings.seed,
            data_seed=settings.seed,
            bf16=settings.bf16,
            use_cpu=device == "cpu",  # transformers refuses bf16 on a CPU unless told it is one
            save_strategy="no",
            logging_strategy="steps" if progress else "no",
            logging_steps=10,
            report_to="none",
            disable_tqdm=not progress,
        )
        loss = MultipleNegativesRankingLoss(model, scale=settings.scale)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train, loss=loss)
        if not progress:
            trainer.remove_callback(PrinterCallback)
            trainer.remove_callback(ProgressCallback)
        start = time.perf_counter()
        output = trainer.train()
        seconds = time.perf_counter() - start
        model.max_seq_length = settings.encode_length or base_length
        record = {
            "name": name,
            "base_model": base_model,
            "data": data_description,
            "pairs": len(train),
            "columns": list(train.column_names),
            "settings": asdict(settings),
            "loss": "MultipleNegativesRankingLoss",
            "batch_sampler": "NO_DUPLICATES",
            "train_loss": round(float(output.training_loss), 6),
            "train_seconds": round(seconds, 1),
            "device": device,
            "versions": {p: package_version(p) for p in ("sentence-transformers", "transformers", "torch")},
        }
        staging = Path(tmp) / "model"
        model.save(str(staging))
        (staging / SETTINGS_FILE).write_text(json.dumps(record, indent=2))
        _append_card(staging / "README.md", record)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    # Reload what was saved, so a fresh run and a cached run hand back bit-identical models.
    return FineTuned(SentenceTransformer(str(target), device=device), target, settings, False, record)


def _append_card(readme: Path, record: dict) -> None:
    lines = ["", "## Course record (lessonlib)", "", f"- Data: {record['data']} ({record['pairs']} rows)"]
    lines += [f"- {k}: {v}" for k, v in record["settings"].items()]
    lines += [f"- Loss: {record['loss']}, batch sampler {record['batch_sampler']}"]
    lines += [f"- Final training loss: {record['train_loss']}", ""]
    text = readme.read_text() if readme.is_file() else f"# {record['name']}\n"
    readme.write_text(text + "\n".join(lines))


def evaluate_at_length(
    model: SentenceTransformer,
    dataset: RetrievalDataset,
    max_seq_length: int | None = None,
    progress: bool = False,
    precision: str = "float32",
) -> EvaluationResult:
    """``lessonlib.evaluation.evaluate`` with documents and queries truncated to ``max_seq_length`` tokens."""
    with seq_length(model, max_seq_length):
        return evaluate(model, dataset, progress=progress, precision=precision)


# --------------------------------------------------------------------------------------------- adapter


class QueryAdapter(torch.nn.Module):
    """A linear map on query embeddings, :math:`\\hat q' = W q / \\lVert W q \\rVert`, with :math:`W_0 = I`.

    Documents keep their frozen embeddings, so the index is never rebuilt.
    """

    def __init__(self, dimensions: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(dimensions, dimensions, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(dimensions))

    def forward(self, queries: torch.Tensor) -> torch.Tensor:
        """Map ``(n, d)`` query embeddings to ``(n, d)`` unit vectors."""
        return torch.nn.functional.normalize(self.linear(queries), dim=-1)

    def transform(self, queries: np.ndarray) -> np.ndarray:
        """Apply the adapter to a NumPy array of shape ``(n, d)``; returns float32 ``(n, d)``."""
        with torch.no_grad():
            return self(torch.as_tensor(np.asarray(queries, dtype=np.float32))).numpy()


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
) -> QueryAdapter:
    """Train a ``QueryAdapter`` with InfoNCE over the whole frozen corpus.

    For pair :math:`i` with query embedding :math:`q_i` and positive document row :math:`p_i`:
    :math:`\\mathcal{L} = -\\log \\operatorname{softmax}_j(s \\, \\hat q'_i \\cdot d_j)_{p_i}
    + \\lambda \\lVert W - I \\rVert_F^2`, every corpus document being a candidate (cheap: the documents
    are fixed vectors).

    Parameters
    ----------
    query_embeddings : ndarray of shape (n_pairs, d)
        One row per training pair (a query with two positives appears twice).
    positive_rows : sequence of int, length n_pairs
        Row of each pair's positive document in ``doc_embeddings``.
    doc_embeddings : ndarray of shape (n_docs, d)
        Normalised embeddings of the whole corpus from the frozen model.
    identity_weight : float
        :math:`\\lambda`, pulling :math:`W` towards the identity (the untouched model).
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
    set_seed(seed)
    adapter = QueryAdapter(queries.shape[1])
    identity = torch.eye(queries.shape[1])
    optimiser = torch.optim.Adam(adapter.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(queries), generator=generator).split(batch_size):
            logits = scale * adapter(queries[batch]) @ docs.T
            loss = torch.nn.functional.cross_entropy(logits, targets[batch])
            loss = loss + identity_weight * (adapter.linear.weight - identity).pow(2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    adapter.eval()
    return adapter


def adapter_run(
    adapter: QueryAdapter,
    query_ids: Sequence[str],
    query_embeddings: np.ndarray,
    doc_ids: Sequence[str],
    doc_embeddings: np.ndarray,
    top_k: int = 1000,
) -> Run:
    """The run of adapted queries against frozen document embeddings."""
    scores, indices = dense_search(adapter.transform(query_embeddings), doc_embeddings, top_k=top_k)
    return to_run(query_ids, doc_ids, scores, indices)


def run_metrics(qrels: Mapping[str, Mapping[str, int]], run: Run) -> dict[str, float]:
    """Mean metrics of ``run`` over ``qrels`` (pytrec_eval through ``lessonlib.metrics``)."""
    return evaluate_run({q: dict(d) for q, d in qrels.items()}, run)
