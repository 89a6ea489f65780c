"""End-to-end retrieval evaluation as MTEB runs it: a retriever's run, scored with pytrec_eval.

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

from lessonlib.datasets import RetrievalDataset
from lessonlib.metrics import DEFAULT_K, Run, ranked, score
from lessonlib.retrievers import TOP_K, Retriever
from lessonlib.storage import write_atomic
from lessonlib.validation import check_int

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


def evaluate(
    retriever: Retriever,
    dataset: RetrievalDataset,
    *,
    top_k: int = TOP_K,
    k_values: tuple[int, ...] = DEFAULT_K,
) -> EvaluationResult:
    """Evaluate a retriever on one split of a data set: its run, scored per query and on average.

    Parameters
    ----------
    retriever : Retriever
        A ``DenseRetriever`` (a model, with its prompts), ``BM25Retriever``, ``AdapterRetriever`` or
        ``HybridRetriever`` from ``lessonlib.retrievers``; anything with a ``name`` and a ``retrieve`` method.
    dataset : RetrievalDataset
        From ``lessonlib.datasets.load_beir``.
    top_k : int
        Documents ranked per query (MTEB: 1,000).
    k_values : tuple of int
        Cut-offs of the metrics (``lessonlib.metrics.score``).

    Returns
    -------
    EvaluationResult

    Examples
    --------
    >>> from lessonlib.retrievers import BM25Retriever
    >>> evaluate(BM25Retriever(), load_beir("scifact")).metrics["ndcg@10"]  # doctest: +SKIP
    0.6874...
    """
    if not isinstance(retriever, Retriever):
        raise TypeError(
            f"evaluate takes a retriever, got {type(retriever).__name__}: wrap a model in "
            "lessonlib.retrievers.DenseRetriever(model, name), or use BM25Retriever(), AdapterRetriever(model, head) "
            "or HybridRetriever([...]); lessonlib.retrievers.retriever_for(name) builds one from a name."
        )
    check_int(top_k, "top_k", minimum=1)
    start = time.perf_counter()
    run = retriever.retrieve(dataset, top_k=top_k)
    timings = {"total": time.perf_counter() - start}
    scores = score(dataset.qrels, run, k_values)
    return EvaluationResult(retriever.name, dataset.name, dataset.split, scores.mean, scores.per_query, run, timings)


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
