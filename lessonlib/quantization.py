"""Embedding quantization: float32 to int8 and to binary, Hamming search, and rescoring (lesson 05).

Three precisions of a document vector of ``d`` dimensions (``bytes_per_vector``):

* ``float32``: ``4 d`` bytes, what the model returns.
* ``int8`` (scalar quantization): ``d`` bytes. Each dimension ``j`` is cut into 256 buckets between the
  minimum :math:`a_j` and maximum :math:`b_j` it takes over a *calibration* set (the corpus itself, usually),
  step :math:`s_j = (b_j - a_j) / 255`, and stored as the bucket number less 128:

  .. math:: c_j = \\operatorname{clip}\\big(\\lfloor (x_j - a_j) / s_j \\rfloor, 0, 255\\big) - 128 .

  ``dequantize_int8`` maps a code back to its bucket's lower edge, :math:`\\hat x_j = a_j + (c_j + 128) s_j`,
  so :math:`0 \\le x_j - \\hat x_j < s_j` inside the calibrated range.
* ``binary``: ``ceil(d / 8)`` bytes, one bit per dimension, :math:`\\beta_j = [x_j > 0]`, packed eight to a
  byte (sentence-transformers' ``"ubinary"``; its ``"binary"`` is the same bits offset to signed int8).
  Two codes are compared by the Hamming distance, the number of bits that differ, :math:`\\operatorname{popcount}
  (\\beta \\oplus \\beta')`: for unit vectors a small Hamming distance approximates a small angle (each bit is the
  side of one coordinate hyperplane a vector lies on).

The quantizers are sentence-transformers' ``quantize_embeddings`` (``sentence_transformers.util.quantization``);
this module adds the calibration ranges kept beside the int8 codes, Hamming search through FAISS
``IndexBinaryFlat``, and **rescoring** as the sentence-transformers quantization guide does it (Shakir, Aarsen &
Lee, "Binary and Scalar Embedding Quantization for Significantly Faster & Cheaper Retrieval", Hugging Face blog,
2024): search the binary index for ``rescore_multiplier × k`` candidates with the binarised query, then score
only those candidates with the *float32* query against int8 (or float32) documents and keep the best ``k``. The
query is never quantized for rescoring, so the shortlist's order comes from a full-precision dot product.

Searches return ``(scores, indices)`` as ``lessonlib.retrieval.dense_search`` does, best first; turn them into a
run with ``lessonlib.retrieval.to_run`` and score it with ``lessonlib.metrics.score``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import faiss
import numpy as np
from numpy.typing import ArrayLike
from sentence_transformers.util.quantization import quantize_embeddings

from lessonlib.picker import BYTES_PER_VALUE
from lessonlib.retrieval import dense_search
from lessonlib.similarity import normalise
from lessonlib.validation import InvalidParameterError, check_embeddings, check_int

Precision = Literal["float32", "int8", "binary"]

#: The precisions this module stores documents in.
PRECISIONS: tuple[str, ...] = ("float32", "int8", "binary")


@dataclass(frozen=True)
class Int8Embeddings:
    """Int8 codes and the calibration ranges needed to read them back.

    Attributes
    ----------
    codes : numpy.ndarray of shape (n, d), dtype int8
        ``quantize_embeddings(..., precision="int8", ranges=ranges)``.
    ranges : numpy.ndarray of shape (2, d), dtype float32
        Row 0 the per-dimension minimum, row 1 the maximum, of the calibration embeddings.
    """

    codes: np.ndarray
    ranges: np.ndarray

    def __post_init__(self) -> None:
        codes, ranges = np.asarray(self.codes), np.asarray(self.ranges)
        if codes.dtype != np.int8 or codes.ndim != 2:
            raise InvalidParameterError(f"codes must be a 2-D int8 array, got {codes.dtype} of shape {codes.shape}.")
        if ranges.shape != (2, codes.shape[1]):
            raise InvalidParameterError(
                f"ranges must have shape (2, {codes.shape[1]}) (minimum and maximum per dimension), got {ranges.shape}."
            )

    @property
    def dimensions(self) -> int:
        """``d``, the width of each code."""
        return int(self.codes.shape[1])

    @property
    def nbytes(self) -> int:
        """Bytes stored: the codes (``n × d``) and the ranges (``2 × d × 4``)."""
        return int(self.codes.nbytes + self.ranges.nbytes)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def dequantize(self, rows: ArrayLike | None = None) -> np.ndarray:
        """The codes (or only ``rows`` of them) mapped back to float32: ``dequantize_int8``."""
        codes = self.codes if rows is None else self.codes[np.asarray(rows)]
        return dequantize_int8(codes, self.ranges)


def calibration_ranges(calibration_embeddings: ArrayLike) -> np.ndarray:
    """Per-dimension minimum and maximum of the calibration embeddings, shape ``(2, d)``: int8's bucket range.

    Calibrate on the corpus (or a sample of it): a range taken from a handful of queries clips documents
    whose values fall outside it.
    """
    rows = check_embeddings(calibration_embeddings, "calibration_embeddings")
    if len(rows) < 2:
        raise InvalidParameterError(
            "calibration_embeddings has 1 row: a range needs at least 2 embeddings (use the corpus, or a sample of it)."
        )
    return np.vstack([rows.min(axis=0), rows.max(axis=0)]).astype(np.float32)


def quantize_int8(
    embeddings: ArrayLike, calibration_embeddings: ArrayLike | None = None, *, ranges: ArrayLike | None = None
) -> Int8Embeddings:
    """Scalar-quantize float embeddings to int8 with ranges from ``calibration_embeddings``.

    Parameters
    ----------
    embeddings : array_like of shape (n, d)
        Float embeddings (integer input is refused: it is already quantized).
    calibration_embeddings : array_like of shape (m, d), optional
        Where the per-dimension ranges come from (``calibration_ranges``); ``None`` calibrates on
        ``embeddings`` themselves, which is right for a corpus.
    ranges : array_like of shape (2, d), optional
        Ranges computed before (``Int8Embeddings.ranges`` of the corpus), instead of ``calibration_embeddings``:
        quantize new documents (or queries) into the corpus' buckets.

    Returns
    -------
    Int8Embeddings
        ``d`` bytes per vector, plus ``2 d`` float32 ranges for the whole set.

    Examples
    --------
    The minimum maps to -128; the maximum lands in bucket 254 (code 126), not 255, when the float32 division
    ``(b - a) / s`` rounds just below 255, as it does here:

    >>> docs = np.array([[-1.0, 0.0], [0.0, 0.25], [1.0, 0.5]], dtype=np.float32)
    >>> quantize_int8(docs).codes
    array([[-128, -128],
           [  -1,   -1],
           [ 126,  126]], dtype=int8)
    """
    rows = check_embeddings(embeddings, "embeddings")
    if ranges is not None and calibration_embeddings is not None:
        raise InvalidParameterError("Pass calibration_embeddings or ranges, not both.")
    if ranges is None:
        ranges = calibration_ranges(rows if calibration_embeddings is None else calibration_embeddings)
    ranges = np.asarray(ranges, dtype=np.float32)
    if ranges.shape != (2, rows.shape[1]):
        raise InvalidParameterError(
            f"ranges must have shape (2, {rows.shape[1]}) for embeddings of width {rows.shape[1]}, got {ranges.shape}: "
            "calibrate on embeddings of the same model and dimensions."
        )
    if calibration_embeddings is not None:
        check_embeddings(calibration_embeddings, "calibration_embeddings", width=rows.shape[1], width_of="embeddings")
    codes = quantize_embeddings(rows, precision="int8", ranges=ranges)
    return Int8Embeddings(codes=np.asarray(codes, dtype=np.int8), ranges=ranges)


def dequantize_int8(codes: ArrayLike, ranges: ArrayLike) -> np.ndarray:
    """Map int8 codes back to float32: :math:`\\hat x_j = a_j + (c_j + 128)\\, s_j`, the bucket's lower edge.

    The inverse sentence-transformers applies before it rescores scalar-quantized candidates
    (``semantic_search_faiss``). Every dimension is off by less than one step ``s_j`` (inside the calibrated
    range), always downwards: the bias ``q · δ`` it adds to a dot product is the same for every document up to
    the rounding, so it hardly moves a ranking.

    Parameters
    ----------
    codes : array_like of shape (n, d), dtype int8
    ranges : array_like of shape (2, d)
        The ranges the codes were made with (``Int8Embeddings.ranges``).

    Returns
    -------
    numpy.ndarray of shape (n, d), float32
    """
    codes = np.asarray(codes)
    if codes.dtype != np.int8:
        raise InvalidParameterError(f"codes must be int8 (from quantize_int8), got dtype {codes.dtype}.")
    ranges = np.asarray(ranges, dtype=np.float32)
    if ranges.shape != (2, codes.shape[-1]):
        raise InvalidParameterError(f"ranges must have shape (2, {codes.shape[-1]}), got {ranges.shape}.")
    steps = (ranges[1] - ranges[0]) / 255
    steps = np.where(steps == 0, 1, steps)  # as quantize_embeddings: a constant dimension has one bucket
    return (ranges[0] + (codes.astype(np.float32) + 128) * steps).astype(np.float32)


def quantize_binary(embeddings: ArrayLike) -> np.ndarray:
    """One bit per dimension, :math:`[x_j > 0]`, packed eight to a byte: ``(n, ceil(d / 8))`` uint8.

    ``quantize_embeddings(..., precision="ubinary")``. When ``d`` is not a multiple of 8 the last byte is padded
    with zero bits, the same for every vector, so Hamming distances are unchanged.

    Examples
    --------
    >>> quantize_binary(np.array([[0.3, -0.2, 0.1, 0.0, -0.5, 0.4, 0.2, -0.1, 0.9]]))
    array([[166, 128]], dtype=uint8)
    """
    rows = check_embeddings(embeddings, "embeddings")
    return np.asarray(quantize_embeddings(rows, precision="ubinary"), dtype=np.uint8)


def unpack_binary(codes: ArrayLike, dimensions: int) -> np.ndarray:
    """Packed bits back to ``(n, dimensions)`` float32 zeros and ones (the padding bits dropped)."""
    codes = _check_binary(codes, "codes")
    dimensions = check_int(dimensions, "dimensions", minimum=1, maximum=codes.shape[1] * 8)
    return np.unpackbits(codes, axis=1)[:, :dimensions].astype(np.float32)


def hamming_search(query_embeddings: ArrayLike, binary_docs: ArrayLike, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` documents nearest each binarised query by Hamming distance (exact, FAISS ``IndexBinaryFlat``).

    Parameters
    ----------
    query_embeddings : array_like of shape (n_queries, d)
        Float32 queries; they are binarised here with ``quantize_binary``.
    binary_docs : array_like of shape (n_docs, ceil(d / 8)), dtype uint8
        From ``quantize_binary``.
    k : int
        Neighbours per query (capped at ``n_docs``).

    Returns
    -------
    distances, indices : numpy.ndarray of shape (n_queries, min(k, n_docs))
        Hamming distances (int32) in ascending order, ties in FAISS' order, and the document rows.
    """
    docs = _check_binary(binary_docs, "binary_docs")
    queries = check_embeddings(query_embeddings, "query_embeddings")
    if math.ceil(queries.shape[1] / 8) != docs.shape[1]:
        raise InvalidParameterError(
            f"query_embeddings has width {queries.shape[1]} ({math.ceil(queries.shape[1] / 8)} bytes once binarised) "
            f"but binary_docs has {docs.shape[1]} bytes per document ({docs.shape[1] * 8} bits): embed queries and "
            "documents with one model, truncated to the same dimensions."
        )
    k = min(check_int(k, "k", minimum=1), len(docs))
    index = faiss.IndexBinaryFlat(docs.shape[1] * 8)
    index.add(docs)
    distances, indices = index.search(quantize_binary(queries), k)
    return distances, indices


def binary_search(
    query_embeddings: ArrayLike,
    binary_docs: ArrayLike,
    k: int = 10,
    *,
    rescore_multiplier: int = 4,
    rescore_docs: ArrayLike | Int8Embeddings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Binary search with rescoring: Hamming shortlist of ``rescore_multiplier × k``, rescored by the float32 query.

    1. ``hamming_search`` returns ``rescore_multiplier × k`` candidates (capped at ``n_docs``).
    2. Each candidate is scored with the float32 query ``q``: against ``rescore_docs`` when given, as cosine
       :math:`\\hat q \\cdot \\hat x` (int8 documents are dequantized first, only the candidates); without them,
       against the candidate's own bits, :math:`q \\cdot \\beta` (what ``semantic_search_faiss`` does for a
       ``"ubinary"`` corpus).
    3. The best ``k`` by that score are returned.

    Recall can only be lost in step 1: a document outside the shortlist cannot come back, so a larger
    ``rescore_multiplier`` recovers more of the exact top ``k`` at the cost of scoring more candidates.

    Parameters
    ----------
    query_embeddings : array_like of shape (n_queries, d)
        Float32 queries (not quantized: rescoring needs their full precision).
    binary_docs : array_like of shape (n_docs, ceil(d / 8)), dtype uint8
        From ``quantize_binary``.
    k : int
        Results per query (capped at ``n_docs``).
    rescore_multiplier : int
        Candidates per result in the shortlist, ``>= 1`` (the guide's demo uses 4: 40 candidates for 10).
    rescore_docs : array_like of shape (n_docs, d) or Int8Embeddings, optional
        The same documents in float32 or int8, row for row with ``binary_docs``.

    Returns
    -------
    scores, indices : numpy.ndarray of shape (n_queries, min(k, n_docs))
        Rescored scores in descending order and the document rows, as ``dense_search`` returns them.
    """
    docs = _check_binary(binary_docs, "binary_docs")
    queries = check_embeddings(query_embeddings, "query_embeddings")
    k = check_int(k, "k", minimum=1)
    rescore_multiplier = check_int(rescore_multiplier, "rescore_multiplier", minimum=1)
    d = queries.shape[1]
    if isinstance(rescore_docs, Int8Embeddings):
        _check_same_documents(len(rescore_docs), rescore_docs.dimensions, len(docs), d, "rescore_docs")
    elif rescore_docs is not None:
        rescore_docs = check_embeddings(rescore_docs, "rescore_docs", width=d, width_of="query_embeddings")
        _check_same_documents(len(rescore_docs), d, len(docs), d, "rescore_docs")
    _, candidates = hamming_search(queries, docs, min(k * rescore_multiplier, len(docs)))
    if isinstance(rescore_docs, Int8Embeddings):
        vectors = normalise(rescore_docs.dequantize(candidates.ravel()), name="dequantized candidates")
        q = normalise(queries, name="query_embeddings")
    elif rescore_docs is not None:
        vectors = normalise(rescore_docs[candidates.ravel()], name="rescore_docs")
        q = normalise(queries, name="query_embeddings")
    else:
        vectors, q = np.unpackbits(docs[candidates.ravel()], axis=1)[:, :d].astype(np.float32), queries
    vectors = vectors.reshape(*candidates.shape, d)
    scores = np.einsum("qd,qcd->qc", q, vectors)
    order = np.argsort(-scores, axis=1, kind="stable")[:, : min(k, len(docs))]
    return np.take_along_axis(scores, order, axis=1).astype(np.float32), np.take_along_axis(candidates, order, axis=1)


def int8_search(query_embeddings: ArrayLike, int8_docs: Int8Embeddings, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine search of float32 queries against int8 documents (dequantized), as ``dense_search``.

    A measurement of what int8 codes keep of the ranking, not a memory-saving search: the corpus is
    dequantized to float32 to be scored here. A production system scores the codes directly (FAISS
    ``IndexScalarQuantizer``, a vector database's scalar quantization).
    """
    if not isinstance(int8_docs, Int8Embeddings):
        raise InvalidParameterError(
            f"int8_docs must be an Int8Embeddings (from quantize_int8), got {type(int8_docs).__name__}."
        )
    queries = check_embeddings(query_embeddings, "query_embeddings", width=int8_docs.dimensions, width_of="int8_docs")
    return dense_search(queries, int8_docs.dequantize(), top_k=check_int(k, "k", minimum=1))


def bytes_per_vector(dimensions: int, precision: Precision = "float32") -> int:
    """Bytes one stored vector takes: float32 ``4 d``, int8 ``d``, binary ``ceil(d / 8)`` (whole bytes).

    From ``lessonlib.picker.BYTES_PER_VALUE``, rounded up to whole bytes as packed bits are stored.

    Examples
    --------
    >>> [bytes_per_vector(384, p) for p in PRECISIONS]
    [1536, 384, 48]
    """
    if precision not in PRECISIONS:
        raise InvalidParameterError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
    dimensions = check_int(dimensions, "dimensions", minimum=1)
    return math.ceil(dimensions * BYTES_PER_VALUE[precision])


def index_bytes(n_documents: int, dimensions: int, precision: Precision = "float32") -> int:
    """Bytes of a flat index of ``n_documents`` vectors: ``n × bytes_per_vector`` (+ ``2 d × 4`` int8 ranges).

    Document ids, and any graph or inverted lists, come on top (``lessonlib.costs.cost_table``).
    """
    n_documents = check_int(n_documents, "n_documents", minimum=0)
    fixed = 2 * check_int(dimensions, "dimensions", minimum=1) * 4 if precision == "int8" else 0
    return n_documents * bytes_per_vector(dimensions, precision) + fixed


def _check_binary(codes: ArrayLike, name: str) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.dtype != np.uint8:
        hint = " (float embeddings? binarise them with quantize_binary first)" if codes.dtype.kind == "f" else ""
        raise InvalidParameterError(f"{name} must be packed bits, dtype uint8, got {codes.dtype}{hint}.")
    if codes.ndim != 2 or codes.shape[1] == 0:
        raise InvalidParameterError(f"{name} must be a 2-D array (n, bytes), got shape {codes.shape}.")
    if codes.shape[0] == 0:
        raise InvalidParameterError(f"{name} holds no documents: there is nothing to search.")
    return np.ascontiguousarray(codes)


def _check_same_documents(n: int, d: int, n_docs: int, width: int, name: str) -> None:
    if n != n_docs or d != width:
        raise InvalidParameterError(
            f"{name} holds {n} documents of width {d} but binary_docs {n_docs} of width {width}: rescoring needs the "
            "same documents, row for row, in float32 or int8."
        )
