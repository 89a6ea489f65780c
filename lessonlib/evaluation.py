"""End-to-end retrieval evaluation as MTEB runs it: encode, search, score with pytrec_eval.

MTEB's conventions (Muennighoff et al., 2023): documents are embedded as ``(title + " " + text).strip()``;
queries and documents get the prompts the model was trained with; the top 1,000 documents per query are
scored by cosine similarity; metrics are pytrec_eval's, with graded gains.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

from lessonlib.datasets import RetrievalDataset
from lessonlib.embeddings import encode
from lessonlib.metrics import DEFAULT_K, mean_metrics, per_query_metrics, ranked
from lessonlib.models import load_model
from lessonlib.retrieval import EmptyVocabularyError, Run, bm25_search, bm25_texts, search, to_run
from lessonlib.storage import write_atomic

BM25 = "bm25"
TOP_K = 1000

#: Metrics shown by default, in this order (MTEB's main score first).
HEADLINE_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100", "precision@10")


@dataclass
class EvaluationResult:
    """What one evaluation produced: mean metrics, per-query metrics, the run and timings in seconds."""

    model: str
    dataset: str
    split: str
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    run: Run = field(repr=False)
    seconds: dict[str, float] = field(default_factory=dict)

    def table(self, names: tuple[str, ...] = HEADLINE_METRICS) -> str:
        """The metrics × 100 as a small aligned text table."""
        lines = [f"{self.model} on {self.dataset} ({self.split}, {len(self.per_query)} queries)"]
        lines += [f"  {name:<13}{100 * self.metrics[name]:7.2f}" for name in names]
        return "\n".join(lines)


def dense_run(
    model: SentenceTransformer,
    dataset: RetrievalDataset,
    *,
    query_prompt: str = "",
    document_prompt: str = "",
    batch_size: int = 32,
    top_k: int = TOP_K,
    cache: bool = True,
    progress: bool = True,
    precision: str = "float32",
) -> Run:
    """Encode the corpus and the judged queries (cached, in ``precision``) and return the top-``k`` cosine run."""

    def embed(texts: list[str], prompt: str, description: str) -> np.ndarray:
        return encode(
            model,
            texts,
            prompt=prompt,
            batch_size=batch_size,
            cache=cache,
            progress=progress,
            description=description,
            precision=precision,
        )

    doc_emb = embed(dataset.document_texts(), document_prompt, f"{dataset.name} documents")
    query_emb = embed(dataset.query_texts(), query_prompt, f"{dataset.name} {dataset.split} queries")
    return search(dataset.query_ids, query_emb, dataset.doc_ids, doc_emb, top_k=top_k)


def bm25_run(dataset: RetrievalDataset, top_k: int = TOP_K, progress: bool = False) -> Run:
    """BM25 (MTEB's bm25s baseline) over the corpus for the judged queries."""
    try:
        scores, indices = bm25_search(bm25_texts(dataset.corpus), dataset.query_texts(), top_k, progress)
    except EmptyVocabularyError as err:
        raise EmptyVocabularyError(f"{dataset.path / 'corpus.jsonl'}: {err}") from None
    return to_run(dataset.query_ids, dataset.doc_ids, scores, indices)


def evaluate(
    model: str | SentenceTransformer,
    dataset: RetrievalDataset,
    *,
    batch_size: int = 32,
    top_k: int = TOP_K,
    cache: bool = True,
    progress: bool = True,
    device: str | None = None,
    k_values: tuple[int, ...] = DEFAULT_K,
    precision: str = "float32",
) -> EvaluationResult:
    """Evaluate a model (or ``"bm25"``) on one split of a data set.

    Parameters
    ----------
    model : str or SentenceTransformer
        ``"bm25"``, a name or path for ``load_model``, or a loaded model (e.g. one just fine-tuned). Queries
        and documents are encoded with the model's ``prompts["query"]`` / ``prompts["document"]``, which
        ``load_model`` fills from the catalogue, so a loaded model keeps its prompts.
    dataset : RetrievalDataset
        From ``lessonlib.datasets.load_beir``.
    precision : {"float32", "bfloat16"}
        Compute precision of the encoding (``lessonlib.embeddings.encode``); float32, the default, is what
        MTEB's figures are measured in. Ignored for BM25.

    Returns
    -------
    EvaluationResult
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if isinstance(model, str) and model.lower() == BM25:
        label = BM25
        run = bm25_run(dataset, top_k=top_k, progress=progress)
    else:
        if isinstance(model, str):
            label = model
            model = load_model(model, device=device)
            timings["load"] = time.perf_counter() - start
        else:
            label = "in-memory model"
        run = dense_run(
            model,
            dataset,
            query_prompt=model.prompts.get("query", ""),
            document_prompt=model.prompts.get("document", ""),
            batch_size=batch_size,
            top_k=top_k,
            cache=cache,
            progress=progress,
            precision=precision,
        )
    timings["total"] = time.perf_counter() - start
    per_query = per_query_metrics(dataset.qrels, run, k_values)
    return EvaluationResult(label, dataset.name, dataset.split, mean_metrics(per_query), per_query, run, timings)


def check_run_path(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a ``Path`` if a run file can be written there, or raise naming it and what to do.

    Checked before any work, so a bad path costs nothing: a folder (or a name ending in ``/``), a folder
    that does not exist, or one this user cannot write to is refused. Nothing is left behind.

    Raises
    ------
    IsADirectoryError, FileNotFoundError, PermissionError, OSError

    Examples
    --------
    >>> check_run_path("run.trec")
    PosixPath('run.trec')
    """
    text = os.fspath(path)
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        raise IsADirectoryError(f"The run file {text} names a folder; give a file name such as {path / 'run.trec'}.")
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"The run file {text} cannot be written: its folder {folder} does not exist. Create it first "
            f"(mkdir -p {folder}) or choose another path."
        )
    probe = folder / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as err:
        raise OSError(
            err.errno, f"The run file {text} cannot be written ({err.strerror}); choose a folder you can write to"
        ) from None
    probe.unlink()
    return path


def write_trec_run(run: Run, path: str | os.PathLike[str], tag: str = "lessonlib") -> Path:
    """Write a run in TREC format (``qid Q0 docid rank score tag``), best first, atomically.

    Raises
    ------
    OSError
        ``path`` cannot be written (see ``check_run_path``); the message names it. Nothing is left behind.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = write_trec_run({"q1": {"d1": 0.9, "d2": 0.5}}, pathlib.Path(tempfile.mkdtemp()) / "run.trec", tag="demo")
    >>> path.read_text().splitlines()
    ['q1 Q0 d1 1 0.900000 demo', 'q1 Q0 d2 2 0.500000 demo']
    """
    path = check_run_path(path)
    tag = tag.replace(" ", "_") or "lessonlib"
    lines = []
    for qid in sorted(run):
        best_first = ranked(run[qid])
        lines += [f"{qid} Q0 {doc} {rank} {score:.6f} {tag}" for rank, (doc, score) in enumerate(best_first, 1)]
    try:
        return write_atomic(path, "\n".join(lines) + "\n")
    except OSError as err:
        raise OSError(err.errno, f"Writing the run file {path} failed ({err.strerror}); nothing was written") from None
