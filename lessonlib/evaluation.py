"""End-to-end retrieval evaluation as MTEB runs it: encode, search, score with pytrec_eval.

MTEB's conventions (Muennighoff et al., 2023): documents are embedded as ``(title + " " + text).strip()``;
queries and documents get the prompts the model was trained with; the top 1,000 documents per query are
scored by cosine similarity; metrics are pytrec_eval's, with graded gains.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sentence_transformers import SentenceTransformer

from lessonlib.datasets import RetrievalDataset
from lessonlib.embeddings import encode
from lessonlib.metrics import DEFAULT_K, Run, mean_metrics, per_query_metrics, ranked
from lessonlib.models import load_model, model_info
from lessonlib.retrieval import bm25_search, bm25_texts, dense_search, to_run

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
    doc_emb = encode(
        model,
        dataset.document_texts(),
        prompt=document_prompt,
        batch_size=batch_size,
        cache=cache,
        progress=progress,
        description=f"{dataset.name} documents",
        precision=precision,
    )
    query_emb = encode(
        model,
        dataset.query_texts(),
        prompt=query_prompt,
        batch_size=batch_size,
        cache=cache,
        progress=progress,
        description=f"{dataset.name} {dataset.split} queries",
        precision=precision,
    )
    scores, indices = dense_search(query_emb, doc_emb, top_k=top_k)
    return to_run(dataset.query_ids, dataset.doc_ids, scores, indices)


def bm25_run(dataset: RetrievalDataset, top_k: int = TOP_K, progress: bool = False) -> Run:
    """BM25 (MTEB's bm25s baseline) over the corpus for the judged queries."""
    scores, indices = bm25_search(bm25_texts(dataset.corpus), dataset.query_texts(), top_k, progress)
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
        ``"bm25"``, a name or path for ``load_model``, or a loaded model (e.g. one just fine-tuned). A name
        from the catalogue brings its query and document prompts.
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
            label, info = model, model_info(model)
            model = load_model(model, device=device)
            timings["load"] = time.perf_counter() - start
        else:
            label, info = "in-memory model", None
        run = dense_run(
            model,
            dataset,
            query_prompt=info.query_prompt if info else "",
            document_prompt=info.document_prompt if info else "",
            batch_size=batch_size,
            top_k=top_k,
            cache=cache,
            progress=progress,
            precision=precision,
        )
    timings["total"] = time.perf_counter() - start
    per_query = per_query_metrics(dataset.qrels, run, k_values)
    return EvaluationResult(label, dataset.name, dataset.split, mean_metrics(per_query), per_query, run, timings)


def write_trec_run(run: Run, path: str | Path, tag: str = "lessonlib") -> Path:
    """Write a run in TREC format (``qid Q0 docid rank score tag``), best first, atomically."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"--run-out {path} is a folder; give a file name such as {path / 'run.trec'}.")
    tag = tag.replace(" ", "_") or "lessonlib"
    lines = []
    for qid in sorted(run):
        best_first = ranked(run[qid])
        lines += [f"{qid} Q0 {doc} {rank} {score:.6f} {tag}" for rank, (doc, score) in enumerate(best_first, 1)]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path
