"""A vector database: a Qdrant collection of document embeddings with their ids and titles, on disk (lesson 05).

``VectorStore.create`` writes a collection (one point per document: its unit vector, and a payload holding
the document id, title and any fields you add), ``VectorStore.open`` reopens it with a fresh client, ``query``
returns ``(scores, indices)`` as ``lessonlib.retrieval.dense_search`` does and ``search`` a run, both with an
optional payload filter. ``recall_against_exact`` checks the answers against exact search.

By default the store is Qdrant's *local mode*, ``QdrantClient(path=...)``: the database runs inside the Python
process, on a folder, with no server, no network and no sockets. The same ``QdrantClient`` class connects to a
Qdrant server or cluster, ``QdrantClient(url="http://host:6333")``, and every call here (``create_collection``,
``upsert``, ``query_batch_points``, filters) is the same against it: pass that client to ``create``/``open``
instead of a path. Local mode scans every vector exactly (NumPy); a server builds an HNSW index per segment,
can quantize vectors (scalar int8, binary, product quantization, with rescoring by ``oversampling``: the
``rescore_multiplier`` of ``lessonlib.quantization``) and shards and replicates a collection across nodes.

Why Qdrant, against the other embedded options on the package registries (Milvus Lite, LanceDB):

* **Same client from a laptop to a cluster.** Qdrant's local mode, Milvus Lite (``pymilvus`` + ``milvus-lite``)
  and LanceDB are all embedded; Qdrant's and Milvus' clients talk unchanged to their open-source servers
  and clusters, while LanceDB's scale-out is its commercial cloud (the open-source library stays embedded).
* **No server, no socket.** Milvus Lite 3 starts a gRPC server on a loopback port inside the process, which
  socket-blocked tests (pytest-socket) cannot see; Qdrant's local mode and LanceDB run in-process.
* **Persistence, payload filters**: all three. **Quantization**: LanceDB and Milvus Lite build quantized
  indexes locally (Milvus Lite 3.2.2 accepted an ``IVF_PQ`` index, logged ``NotImplementedError`` while
  building it and went on answering); Qdrant quantizes on its server only, and local mode says so (it warns
  that it ignores ``search_params``), which keeps local answers exact.
* **Install weight**: ``qdrant-client`` adds a handful of small packages (gRPC, protobuf, HTTP/2, portalocker).
* **The cost**: local mode writes each point in its own SQLite transaction and scans in NumPy, so writing is
  far slower than Milvus Lite's or LanceDB's and a query is an exact scan. Its answers equal
  ``dense_search``'s (``recall_against_exact``). Qdrant's client warns past 20,000 points in local mode:
  beyond that, run the server. Lesson 05 measures the write, reopen and query times.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from qdrant_client import QdrantClient, models

from lessonlib.indexing import recall_at_k
from lessonlib.metrics import Run
from lessonlib.retrieval import dense_search
from lessonlib.similarity import normalise
from lessonlib.validation import InvalidParameterError, check_embeddings, check_int

#: The collection name used when none is given.
DEFAULT_COLLECTION = "documents"

#: Payload fields every point carries; extra payload fields may not reuse them.
RESERVED_FIELDS = ("doc_id", "title")

Where = Mapping[str, object] | models.Filter


def _client(location: str | os.PathLike[str] | QdrantClient) -> tuple[QdrantClient, bool]:
    """A client for ``location`` (a folder: local mode) and whether this module opened it (and so closes it)."""
    if isinstance(location, QdrantClient):
        return location, False
    if not isinstance(location, str | os.PathLike):
        raise InvalidParameterError(f"location must be a folder path or a QdrantClient, got {type(location).__name__}.")
    return QdrantClient(path=str(Path(location))), True


def _filter(where: Where | None) -> models.Filter | None:
    """``{"field": value}`` (all must match; a list, tuple or set matches any of its values) or a Qdrant Filter."""
    if where is None or isinstance(where, models.Filter):
        return where
    if not isinstance(where, Mapping) or not where:
        raise InvalidParameterError(
            f"where must be a non-empty mapping of payload field to value, or a qdrant_client.models.Filter; got "
            f"{where!r}."
        )
    conditions = []
    for key, value in where.items():
        if isinstance(value, list | tuple | set | frozenset):
            match = models.MatchAny(any=list(value))
        else:
            match = models.MatchValue(value=value)
        conditions.append(models.FieldCondition(key=str(key), match=match))
    return models.Filter(must=conditions)


class VectorStore:
    """A Qdrant collection of unit document vectors; rows are point ids, ids and titles the payload.

    Build one with ``VectorStore.create`` or reopen one with ``VectorStore.open``; close it (or use ``with``) so
    that local mode releases its folder, which one client at a time may hold.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> docs = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    >>> with VectorStore.create(folder, ["a", "b", "c"], ["A", "B", "C"], docs) as store:
    ...     pass
    >>> with VectorStore.open(folder) as store:  # a fresh client, as in a new process
    ...     scores, rows = store.query(np.array([[0.0, 1.0]]), top_k=2)
    ...     run = store.search(["q"], np.array([[0.0, 1.0]]), top_k=2, where={"title": ["A", "B"]})
    >>> rows, scores.round(3)
    (array([[2, 1]]), array([[1. , 0.8]], dtype=float32))
    >>> {doc: round(score, 3) for doc, score in run["q"].items()}
    {'b': 0.8, 'a': 0.0}
    """

    def __init__(self, client: QdrantClient, collection: str = DEFAULT_COLLECTION, *, owns_client: bool = False):
        if not client.collection_exists(collection):
            names = [c.name for c in client.get_collections().collections]
            if owns_client:
                client.close()
            raise FileNotFoundError(
                f"No collection {collection!r} here (collections: {names or 'none'}); create it with "
                "VectorStore.create."
            )
        self.client = client
        self.collection = collection
        self._owns_client = owns_client
        self.dimensions = int(client.get_collection(collection).config.params.vectors.size)

    # ------------------------------------------------------------------ building and opening

    @classmethod
    def create(
        cls,
        location: str | os.PathLike[str] | QdrantClient,
        doc_ids: Sequence[str],
        titles: Sequence[str],
        embeddings: ArrayLike,
        *,
        payloads: Sequence[Mapping[str, object]] | None = None,
        collection: str = DEFAULT_COLLECTION,
        overwrite: bool = False,
        batch_size: int = 256,
    ) -> VectorStore:
        """Write a collection of ``len(doc_ids)`` points: row ``i`` of ``embeddings``, id ``i``, its id and title.

        Parameters
        ----------
        location : path or QdrantClient
            A folder for local mode (created if missing), or a client of a Qdrant server.
        doc_ids : sequence of str
            Unique document ids, one per row.
        titles : sequence of str
            One title per row (``""`` for none).
        embeddings : array_like of shape (n_docs, d)
            Float embeddings; stored normalised, with cosine distance.
        payloads : sequence of mapping, optional
            Extra fields per document to filter on (e.g. ``{"year": 2019}``); not ``doc_id`` or ``title``.
        collection : str
            The collection's name.
        overwrite : bool
            Replace a collection of that name; otherwise an existing one is an error.
        batch_size : int
            Points per ``upsert`` call.

        Returns
        -------
        VectorStore
            Open on the new collection.
        """
        vectors = normalise(check_embeddings(embeddings, "embeddings"), name="embeddings")
        n = len(vectors)
        if len(doc_ids) != n or len(titles) != n or (payloads is not None and len(payloads) != n):
            counts = f"{len(doc_ids)} doc_ids, {len(titles)} titles" + (
                f", {len(payloads)} payloads" if payloads is not None else ""
            )
            raise InvalidParameterError(f"{counts} for {n} embedding rows: each row needs its id, title and payload.")
        if len(set(doc_ids)) != n:
            duplicates = sorted(d for d, count in Counter(doc_ids).items() if count > 1)
            raise InvalidParameterError(f"doc_ids must be unique; repeated: {duplicates[:5]}.")
        for i, payload in enumerate(payloads or ()):
            clash = set(payload) & set(RESERVED_FIELDS)
            if clash:
                raise InvalidParameterError(f"payloads[{i}] uses the reserved field(s) {sorted(clash)}: rename them.")
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        client, owns = _client(location)
        try:
            if client.collection_exists(collection):
                if not overwrite:
                    raise FileExistsError(
                        f"A collection {collection!r} already exists at {location}: open it with VectorStore.open, or "
                        "pass overwrite=True to replace it."
                    )
                client.delete_collection(collection)
            client.create_collection(
                collection, vectors_config=models.VectorParams(size=vectors.shape[1], distance=models.Distance.COSINE)
            )
            for start in range(0, n, batch_size):
                rows = range(start, min(start + batch_size, n))
                client.upsert(
                    collection,
                    points=models.Batch(
                        ids=list(rows),
                        vectors=vectors[start : rows.stop].tolist(),
                        payloads=[
                            {**(payloads[i] if payloads else {}), "doc_id": doc_ids[i], "title": titles[i]}
                            for i in rows
                        ],
                    ),
                    wait=True,
                )
        except BaseException:
            if owns:
                client.close()
            raise
        return cls(client, collection, owns_client=owns)

    @classmethod
    def open(cls, location: str | os.PathLike[str] | QdrantClient, collection: str = DEFAULT_COLLECTION) -> VectorStore:
        """Reopen a collection written by ``create``: a folder (a fresh local-mode client) or a server's client."""
        if not isinstance(location, QdrantClient) and not Path(location).is_dir():
            raise FileNotFoundError(f"No vector store at {location}: create one with VectorStore.create.")
        client, owns = _client(location)
        return cls(client, collection, owns_client=owns)

    def close(self) -> None:
        """Close the client if this store opened it (local mode then releases the folder's lock)."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def __repr__(self) -> str:
        return f"VectorStore(collection={self.collection!r}, documents={len(self)}, dimensions={self.dimensions})"

    # ------------------------------------------------------------------ searching

    def _query(self, query_embeddings: ArrayLike, top_k: int, where: Where | None, payload: bool) -> list:
        queries = check_embeddings(
            query_embeddings, "query_embeddings", width=self.dimensions, width_of=f"collection {self.collection!r}"
        )
        queries = normalise(queries, name="query_embeddings")
        top_k = check_int(top_k, "top_k", minimum=1)
        condition = _filter(where)
        requests = [
            models.QueryRequest(
                query=q.tolist(), limit=top_k, filter=condition, with_payload=["doc_id"] if payload else False
            )
            for q in queries
        ]
        return [response.points for response in self.client.query_batch_points(self.collection, requests=requests)]

    def query(
        self, query_embeddings: ArrayLike, top_k: int = 10, *, where: Where | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``top_k`` most similar documents (cosine) of each query that match ``where``.

        Parameters
        ----------
        query_embeddings : array_like of shape (n_queries, d)
        top_k : int
            Results per query.
        where : mapping or qdrant_client.models.Filter, optional
            ``{"field": value}``: every field must equal its value, or be one of the values of a list, tuple or
            set (``{"year": [2019, 2020]}``); or any Qdrant ``Filter``.

        Returns
        -------
        scores, indices : numpy.ndarray of shape (n_queries, min(top_k, n_docs))
            Cosine similarities in descending order and the rows of the documents as given to ``create``. A query
            with fewer than ``top_k`` matches (a filter, a small collection) is padded with index ``-1`` and
            score ``-inf``, as FAISS pads (``lessonlib.retrieval.to_run`` skips them).
        """
        hits = self._query(query_embeddings, top_k, where, payload=False)
        width = min(int(top_k), len(self))
        scores = np.full((len(hits), width), -np.inf, dtype=np.float32)
        indices = np.full((len(hits), width), -1, dtype=np.int64)
        for row, points in enumerate(hits):
            scores[row, : len(points)] = [p.score for p in points]
            indices[row, : len(points)] = [int(p.id) for p in points]
        return scores, indices

    def search(
        self, query_ids: Sequence[str], query_embeddings: ArrayLike, top_k: int = 10, *, where: Where | None = None
    ) -> Run:
        """``query`` as a run ``{query_id: {doc_id: score}}`` (the ids come from the payload) for ``metrics.score``."""
        if len(query_ids) != len(query_embeddings):
            raise InvalidParameterError(
                f"{len(query_ids)} query_ids for {len(query_embeddings)} query rows: each row needs its id."
            )
        hits = self._query(query_embeddings, top_k, where, payload=True)
        return {
            qid: {p.payload["doc_id"]: float(p.score) for p in points}
            for qid, points in zip(query_ids, hits, strict=True)
        }


def recall_against_exact(
    store: VectorStore, query_embeddings: ArrayLike, doc_embeddings: ArrayLike, top_k: int = 10
) -> float:
    """``recall_at_k`` of the store's answers against exact search (``dense_search``) over ``doc_embeddings``.

    ``doc_embeddings`` are the rows given to ``create``, in order. 1.0 for Qdrant's local mode, which searches
    exactly (up to ties at the ``k``-th score); a server's HNSW index and quantization make it an estimate.
    """
    docs = check_embeddings(doc_embeddings, "doc_embeddings", width=store.dimensions, width_of="the store")
    if len(docs) != len(store):
        raise InvalidParameterError(
            f"doc_embeddings has {len(docs)} rows but the store holds {len(store)} documents: pass the embeddings the "
            "store was created from."
        )
    k = min(check_int(top_k, "top_k", minimum=1), len(docs))
    _, found = store.query(query_embeddings, k)
    _, exact = dense_search(check_embeddings(query_embeddings, "query_embeddings"), docs, top_k=k)
    return recall_at_k(found, exact, k)


def folder_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes of every file under ``path``: what a local-mode store takes on disk."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"No folder at {root}.")
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
