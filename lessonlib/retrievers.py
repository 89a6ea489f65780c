"""Retrievers: the systems lessonlib evaluates, each turning a data set's judged queries into a run.

A retriever has a ``name`` and a ``retrieve(dataset, top_k)`` method returning a run
``{query_id: {doc_id: score}}`` over the data set's corpus. ``lessonlib.evaluation.evaluate`` takes any of them:

- ``DenseRetriever``: a sentence-transformers model, cosine similarity over normalised embeddings, with the
  prompts the model was trained with (``model.prompts``, filled by ``lessonlib.models.load_model``);
- ``BM25Retriever``: BM25 as MTEB's ``bm25s`` baseline runs it (Robertson & Zaragoza 2009; Lù 2024);
- ``AdapterRetriever``: a frozen model whose query embeddings pass through a trained linear head
  (``lessonlib.projection.ProjectionHead``); the document index is the base model's, unchanged;
- ``HybridRetriever``: reciprocal rank fusion of several retrievers (Cormack, Clarke & Büttcher 2009).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from sentence_transformers import SentenceTransformer

from lessonlib.datasets import RetrievalDataset
from lessonlib.embeddings import encode
from lessonlib.metrics import Run, ranked
from lessonlib.models import load_model
from lessonlib.projection import ProjectionHead, project
from lessonlib.retrieval import EmptyVocabularyError, bm25_search, bm25_texts, search, to_run
from lessonlib.validation import check_int

#: How many documents per query a retriever returns by default (MTEB's depth).
TOP_K = 1000


@runtime_checkable
class Retriever(Protocol):
    """What ``evaluate`` needs: a name for the report and a run for a data set's judged queries."""

    name: str

    def retrieve(self, dataset: RetrievalDataset, top_k: int = TOP_K) -> Run:
        """The ``top_k`` best documents of ``dataset.corpus`` for every query in ``dataset.query_ids``."""
        ...


@dataclass
class DenseRetriever:
    """Exact cosine search over a model's normalised embeddings (MTEB's dense retrieval).

    Documents are embedded as ``(title + " " + text).strip()``; queries get ``query_prompt`` and documents
    ``document_prompt``, by default the model's own ``prompts["query"]`` / ``prompts["document"]`` (a model
    from ``load_model`` carries the catalogue's), so a loaded model keeps its prompts. Embeddings are cached
    (``lessonlib.embeddings.encode``).

    Parameters
    ----------
    model : SentenceTransformer
    name : str
        Shown in reports, e.g. ``"all-MiniLM-L6-v2"``.
    query_prompt, document_prompt : str, optional
        Override the model's prompts (``""`` for none).
    precision : {"float32", "bfloat16"}
        Compute precision of the encoding; float32 is what MTEB's figures are measured in.

    Examples
    --------
    >>> from lessonlib.models import load_model  # doctest: +SKIP
    >>> evaluate(DenseRetriever(load_model("all-MiniLM-L6-v2"), "MiniLM"), scifact)  # doctest: +SKIP
    """

    model: SentenceTransformer
    name: str = "dense model"
    query_prompt: str | None = None
    document_prompt: str | None = None
    batch_size: int = 32
    cache: bool = True
    progress: bool = True
    precision: str = "float32"

    def __post_init__(self) -> None:
        check_int(self.batch_size, "batch_size", minimum=1)

    def _embed(self, texts: list[str], prompt: str, description: str) -> np.ndarray:
        return encode(
            self.model,
            texts,
            prompt=prompt,
            batch_size=self.batch_size,
            cache=self.cache,
            progress=self.progress,
            description=description,
            precision=self.precision,
        )

    def _prompt(self, role: str, override: str | None) -> str:
        return self.model.prompts.get(role, "") if override is None else override

    def embed_query_texts(self, texts: list[str], description: str = "queries") -> np.ndarray:
        """Query texts' embeddings with the query prompt, ``(len(texts), d)`` unit rows."""
        return self._embed(texts, self._prompt("query", self.query_prompt), description)

    def embed_queries(self, dataset: RetrievalDataset) -> np.ndarray:
        """The judged queries' embeddings, ``(len(dataset.query_ids), d)`` unit rows."""
        return self.embed_query_texts(dataset.query_texts(), f"{dataset.name} {dataset.split} queries")

    def embed_documents(self, dataset: RetrievalDataset) -> np.ndarray:
        """The corpus' embeddings, ``(len(dataset.doc_ids), d)`` unit rows."""
        prompt = self._prompt("document", self.document_prompt)
        return self._embed(dataset.document_texts(), prompt, f"{dataset.name} documents")

    def retrieve(self, dataset: RetrievalDataset, top_k: int = TOP_K) -> Run:
        """Encode the corpus and the judged queries and return the top-``k`` cosine run."""
        doc_emb = self.embed_documents(dataset)
        return search(dataset.query_ids, self.embed_queries(dataset), dataset.doc_ids, doc_emb, top_k=top_k)


@dataclass
class BM25Retriever:
    """BM25 over ``title + "\\n" + text``, configured as MTEB's ``bm25s`` baseline (``lessonlib.retrieval``).

    Examples
    --------
    >>> evaluate(BM25Retriever(), scifact).metrics["ndcg@10"]  # doctest: +SKIP
    """

    name: str = "bm25"
    progress: bool = False

    def retrieve(self, dataset: RetrievalDataset, top_k: int = TOP_K) -> Run:
        """BM25's top-``k`` for every judged query; a corpus of stop words only is an error naming its file."""
        try:
            scores, indices = bm25_search(bm25_texts(dataset.corpus), dataset.query_texts(), top_k, self.progress)
        except EmptyVocabularyError as err:
            raise EmptyVocabularyError(f"{dataset.path / 'corpus.jsonl'}: {err}") from None
        return to_run(dataset.query_ids, dataset.doc_ids, scores, indices)


@dataclass
class AdapterRetriever:
    """A frozen model with a query-side adapter: ``q' = normalise(W q)``, documents as the model embeds them.

    Only queries change, so an existing document index stays as it is (lesson 04).

    Parameters
    ----------
    model : SentenceTransformer
        The frozen base model (it embeds queries and documents, with its prompts).
    head : ProjectionHead
        The trained head, e.g. from ``lessonlib.adapter.train_query_adapter``.
    """

    model: SentenceTransformer
    head: ProjectionHead
    name: str = "query-side adapter"
    batch_size: int = 32
    cache: bool = True
    progress: bool = True
    precision: str = "float32"

    def retrieve(self, dataset: RetrievalDataset, top_k: int = TOP_K) -> Run:
        """Project the base model's query embeddings with the head, then exact cosine search."""
        dense = DenseRetriever(
            self.model,
            batch_size=self.batch_size,
            cache=self.cache,
            progress=self.progress,
            precision=self.precision,
        )
        queries = project(self.head, dense.embed_queries(dataset))
        return search(dataset.query_ids, queries, dataset.doc_ids, dense.embed_documents(dataset), top_k=top_k)


@dataclass
class HybridRetriever:
    """Reciprocal rank fusion (RRF) of several retrievers (Cormack, Clarke & Büttcher, SIGIR 2009).

    Each retriever ranks ``depth`` documents per query; a document's fused score is

    .. math:: \\mathrm{RRF}(d) = \\sum_{r} \\frac{1}{k + \\mathrm{rank}_r(d)}

    over the retrievers that rank it (rank from 1, ties broken as trec_eval does), with ``k = 60`` as in the
    paper. Only ranks are fused, so scores on different scales (BM25's, cosine's) need no normalisation.
    The fusion is these few lines rather than ``ranx.fuse``: ranx breaks score ties by document id ascending
    (trec_eval, and so every metric here, descending), and its numba kernels take 20 s or more to import and
    compile in each fresh process on a 2-core CPU, for a sum that takes milliseconds.

    Examples
    --------
    >>> hybrid = HybridRetriever([BM25Retriever(), DenseRetriever(model, "MiniLM")])  # doctest: +SKIP
    """

    retrievers: Sequence[Retriever]
    name: str = ""
    k: int = 60
    depth: int = TOP_K
    runs: dict[str, Run] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if len(self.retrievers) < 2:
            raise ValueError(f"A hybrid fuses at least two retrievers, got {len(self.retrievers)}.")
        check_int(self.k, "k", minimum=0)
        check_int(self.depth, "depth", minimum=1)
        self.name = self.name or " + ".join(r.name for r in self.retrievers)

    def retrieve(self, dataset: RetrievalDataset, top_k: int = TOP_K) -> Run:
        """Fuse the retrievers' runs by RRF; each one's run is kept in ``runs`` under its name."""
        self.runs = {r.name: r.retrieve(dataset, top_k=self.depth) for r in self.retrievers}
        return reciprocal_rank_fusion(list(self.runs.values()), k=self.k, top_k=top_k)


def reciprocal_rank_fusion(runs: Sequence[Run], k: int = 60, top_k: int = TOP_K) -> Run:
    """Fuse runs by reciprocal rank: ``score(d) = Σ_r 1 / (k + rank_r(d))``, keeping ``top_k`` per query.

    Examples
    --------
    >>> fused = reciprocal_rank_fusion([{"q": {"a": 9.0, "b": 1.0}}, {"q": {"b": 0.9, "c": 0.1}}], k=60)
    >>> [doc for doc, _ in ranked(fused["q"])]
    ['b', 'a', 'c']
    """
    fused: Run = {}
    for run in runs:
        for qid, docs in run.items():
            scores = fused.setdefault(qid, {})
            for rank, (doc, _) in enumerate(ranked(docs), 1):
                scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return {qid: dict(ranked(docs)[:top_k]) for qid, docs in fused.items()}


def retriever_for(
    name: str,
    *,
    device: str | None = None,
    batch_size: int = 32,
    cache: bool = True,
    progress: bool = True,
    precision: str = "float32",
) -> BM25Retriever | DenseRetriever:
    """The retriever a name on the command line stands for: ``"bm25"``, or a model name or folder.

    A model is loaded with ``lessonlib.models.load_model`` (with its catalogue prompts) and named ``name``.

    Examples
    --------
    >>> retriever_for("bm25")
    BM25Retriever(name='bm25', progress=True)
    """
    if name.strip().lower() == "bm25":
        return BM25Retriever(progress=progress)
    model = load_model(name, device=device)
    return DenseRetriever(model, name, batch_size=batch_size, cache=cache, progress=progress, precision=precision)
