"""What an index costs at scale: memory by arithmetic, per layout, projected to millions and billions of documents
(lesson 05).

A corpus of ``n`` documents embedded in ``d`` dimensions takes bytes per vector × ``n`` plus the index's fixed
part (centroids, codebooks). ``estimate_bytes`` prices one layout, ``cost_table`` every layout for several corpus
sizes (e.g. 1 M, 10 M and 1 B). The layouts are the indexes of ``lessonlib.indexing`` and the flat int8 and
binary codes of ``lessonlib.quantization``; the estimate is checked against FAISS' serialised indexes in the
tests (within a few per cent).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from lessonlib.quantization import bytes_per_vector, index_bytes
from lessonlib.validation import InvalidParameterError, check_int

#: Layouts ``estimate_bytes`` prices: the four indexes built here and the flat int8 and binary codes of
#: ``lessonlib.quantization``.
LAYOUTS: tuple[str, ...] = ("flat", "flat-int8", "binary", "hnsw", "ivf", "ivfpq")

#: Bytes of one stored document id in an IVF inverted list (FAISS ``idx_t``, int64).
ID_BYTES = 8

#: Bytes of one HNSW link (a neighbour's number, int32).
LINK_BYTES = 4


def default_nlist(n_documents: int) -> int:
    """``round(4·√n)``, the low end of FAISS' guideline of 4·√n to 16·√n cells for ``n`` documents (at most ``n``)."""
    n = check_int(n_documents, "n_documents", minimum=1)
    return min(n, round(4 * math.sqrt(n)))


def estimate_bytes(
    layout: str,
    n_documents: int,
    dimensions: int,
    *,
    M: int = 32,
    nlist: int | None = None,
    m: int | None = None,
    nbits: int = 8,
) -> int:
    """Memory of an index by arithmetic: bytes per vector × documents + the index's fixed overhead.

    With ``n`` documents of ``d`` dimensions (``b(p)`` = ``lessonlib.quantization.bytes_per_vector``):

    * ``flat``: ``4d`` per vector (``b(float32)``).
    * ``flat-int8``: ``d`` per vector (``b(int8)``), plus ``2 · d · 4`` for the calibration ranges.
    * ``binary``: ``⌈d/8⌉`` per vector (``b(binary)``).
    * ``hnsw``: ``4d + 2 · M · 4`` per vector: the float32 vector and its ``2M`` bottom-layer links (int32).
    * ``ivf``: ``4d + 8`` per vector (the vector and its int64 id in an inverted list), plus ``nlist · d · 4``
      for the centroids.
    * ``ivfpq``: ``m · nbits / 8 + 8`` per vector (the code and the id), plus ``nlist · d · 4`` for the
      centroids and ``2^nbits · d · 4`` for the PQ codebooks.

    The PQ codebooks are ``m`` sub-quantizers of ``2^nbits`` centroids of ``d/m`` floats: ``2^nbits · d · 4``.
    HNSW's upper layers (a share of about ``1/M`` of the vectors, ``M`` links each) and FAISS' per-vector level
    and offset tables (12 bytes) are left out: the estimate runs a few per cent under ``index_memory_bytes``.

    Parameters
    ----------
    layout : {"flat", "flat-int8", "binary", "hnsw", "ivf", "ivfpq"}
    n_documents, dimensions : int
    M : int
        HNSW links per vector per upper layer.
    nlist : int, optional
        IVF cells; ``default_nlist(n_documents)`` when not given.
    m : int, optional
        PQ sub-quantizers (``ivfpq``); ``d / 8`` when not given (8 dimensions per byte-sized code).
    nbits : int
        PQ bits per code.

    Examples
    --------
    >>> estimate_bytes("flat", 10**6, 384) / 1e9  # GB
    1.536
    """
    if layout not in LAYOUTS:
        raise InvalidParameterError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}.")
    n = check_int(n_documents, "n_documents", minimum=1)
    d = check_int(dimensions, "dimensions", minimum=1)
    flat_precision = {"flat": "float32", "flat-int8": "int8", "binary": "binary"}
    if layout in flat_precision:
        return index_bytes(n, d, flat_precision[layout])
    float_bytes = bytes_per_vector(d, "float32")
    if layout == "hnsw":
        return n * (float_bytes + 2 * check_int(M, "M", minimum=2) * LINK_BYTES)
    cells = default_nlist(n) if nlist is None else check_int(nlist, "nlist", minimum=1)
    centroids = cells * d * 4
    if layout == "ivf":
        return n * (float_bytes + ID_BYTES) + centroids
    subquantizers = max(1, d // 8) if m is None else check_int(m, "m", minimum=1, maximum=d)
    nbits = check_int(nbits, "nbits", minimum=1, maximum=16)
    return n * (math.ceil(subquantizers * nbits / 8) + ID_BYTES) + centroids + 2**nbits * d * 4


def _size_label(n: int) -> str:
    for value, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if n >= value and n % value == 0:
            return f"{n // value}{suffix}"
    return f"{n:,}"


def cost_table(
    dimensions: int,
    n_documents: Sequence[int] = (10**6, 10**7, 10**9),
    *,
    M: int = 32,
    m: int | None = None,
    nbits: int = 8,
    nlist: int | None = None,
) -> pd.DataFrame:
    """Memory of each layout for corpora of ``n_documents`` sizes: ``estimate_bytes``, one column per size.

    Returns
    -------
    pandas.DataFrame
        Indexed by layout (``LAYOUTS``); column ``bytes_per_vector`` (the per-vector part, fixed overhead left
        out) and one column per corpus size, labelled ``"1M"``, ``"10M"``, ``"1B"`` …, holding bytes (divide by
        1e9 for GB). IVF's ``nlist`` is ``default_nlist`` of each size unless given.

    Examples
    --------
    >>> (cost_table(384, [10**6])["1M"] / 1e9).round(3).to_dict()["flat"]
    1.536
    """
    d = check_int(dimensions, "dimensions", minimum=1)
    if not n_documents:
        raise InvalidParameterError("n_documents is empty: pass the corpus sizes to price, e.g. [10**7, 10**9].")
    sizes = [check_int(n, "n_documents", minimum=1) for n in n_documents]
    subquantizers = max(1, d // 8) if m is None else m
    per_vector = {
        "flat": bytes_per_vector(d, "float32"),
        "flat-int8": bytes_per_vector(d, "int8"),
        "binary": bytes_per_vector(d, "binary"),
        "hnsw": bytes_per_vector(d, "float32") + 2 * M * LINK_BYTES,
        "ivf": bytes_per_vector(d, "float32") + ID_BYTES,
        "ivfpq": math.ceil(subquantizers * nbits / 8) + ID_BYTES,
    }
    table = pd.DataFrame({"bytes_per_vector": per_vector})
    for n in sizes:
        table[_size_label(n)] = [
            estimate_bytes(layout, n, d, M=M, nlist=nlist, m=subquantizers, nbits=nbits) for layout in LAYOUTS
        ]
    table.index.name = "layout"
    return table
