"""Training pairs and hard negatives: from mined ``(query_id, doc_id)`` pairs to a checked ``TrainingSet``.

The trainer (``lessonlib.training.fine_tune``) takes a ``TrainingSet``, never a bare ``datasets.Dataset``:
a ``TrainingSet`` is only made by ``pairs_to_dataset``, ``add_hard_negatives`` or ``TrainingSet.check``,
each of which refuses any anchor that is a held-out (test) query, by id or by text
(``lessonlib.heldout.ensure_no_test_queries``). The check runs once, where the data is made.

Hard negatives are mined with ``sentence_transformers.util.mine_hard_negatives`` (Moreira et al. 2024,
NV-Retriever: top-k with a relative margin): a candidate is kept only if its similarity to the query is
at least ``relative_margin`` below the positive's, which skips many unlabelled relevant documents.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import tqdm
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from sentence_transformers.util import hard_negatives as hard_negatives_module
from sentence_transformers.util import mine_hard_negatives

from lessonlib.datasets import RetrievalDataset, document_text
from lessonlib.embeddings import encode
from lessonlib.heldout import ensure_no_test_queries
from lessonlib.validation import check_int


@dataclass(frozen=True)
class TrainingSet:
    """Text columns for the trainer (``anchor``, ``positive``, optionally ``negative…``), checked against
    the held-out queries of ``folder``.

    It reads like the ``datasets.Dataset`` it wraps (``len``, ``ts[0]``, ``ts["anchor"]``,
    ``column_names``); ``data`` is the dataset itself.
    """

    data: Dataset
    folder: Path

    @classmethod
    def check(cls, data: Dataset, dataset: RetrievalDataset, split: str = "test") -> TrainingSet:
        """Check a ``datasets.Dataset`` of trainer columns against ``dataset``'s held-out ``split``.

        Raises
        ------
        ValueError
            ``data`` lacks an ``anchor`` or a ``positive`` column, or is empty.
        lessonlib.heldout.TestQueryLeakError
            An anchor is a held-out query (by id or text).
        """
        if not isinstance(data, Dataset):
            raise TypeError(f"data must be a datasets.Dataset, got {type(data).__name__}.")
        if "anchor" not in data.column_names or "positive" not in data.column_names:
            raise ValueError(f"train needs 'anchor' and 'positive' columns, got {data.column_names}.")
        if len(data) == 0:
            raise ValueError("the training data is empty: nothing to train on.")
        ensure_no_test_queries({f"anchor {i}": t for i, t in enumerate(data["anchor"])}, dataset, split)
        return cls(data, Path(dataset.path))

    @property
    def column_names(self) -> list[str]:
        return self.data.column_names

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: int | str) -> object:
        return self.data[key]

    def __iter__(self) -> Iterator[dict]:
        return iter(self.data)


def subsample_pairs(pairs: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of ``pairs`` drawn without replacement, sorted by query then document id.

    One seeded permutation serves every ``n``, so smaller samples are subsets of larger ones (nested
    samples make a learning curve smoother).
    """
    n = check_int(n, "n", minimum=1, maximum=len(pairs))
    rows = np.random.default_rng(seed).permutation(len(pairs))[:n]
    return pairs.iloc[rows].sort_values(["query_id", "doc_id"], ignore_index=True)


def pairs_to_dataset(pairs: pd.DataFrame, dataset: RetrievalDataset) -> TrainingSet:
    """Turn mined ``(query_id, doc_id)`` pairs into the trainer's ``anchor`` / ``positive`` texts.

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
    data = Dataset.from_dict(
        {
            "anchor": [dataset.queries[q] for q in query_ids],
            "positive": [document_text(dataset.corpus[d]) for d in pairs["doc_id"]],
        }
    )
    return TrainingSet(data, Path(dataset.path))


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
    train: TrainingSet,
    model: SentenceTransformer,
    dataset: RetrievalDataset,
    num_negatives: int = 1,
    relative_margin: float = 0.05,
    range_min: int = 0,
) -> TrainingSet:
    """Add ``num_negatives`` hard negatives per pair with ``sentence_transformers.util.mine_hard_negatives``.

    The candidates are the whole corpus ranked by ``model``; a candidate is kept only if its similarity is
    at least ``relative_margin`` (5 %) below the positive's (NV-Retriever's TopK-PercPos). Embeddings come
    from lessonlib's cache (the base corpus is usually encoded already).

    Returns
    -------
    TrainingSet
        Columns ``anchor``, ``positive``, ``negative`` (``negative_1 … negative_n`` for n > 1); pairs
        without a valid negative are dropped.
    """
    if not isinstance(train, TrainingSet):
        train = TrainingSet.check(train, dataset)
    num_negatives = check_int(num_negatives, "num_negatives", minimum=1)
    # verbose=False does not reach the similarity loop's bar in sentence-transformers 6.2; silence it here.
    quiet = functools.partial(tqdm.trange, disable=True)
    with mock.patch.object(hard_negatives_module, "trange", quiet):
        mined = mine_hard_negatives(
            train.data,
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
    return TrainingSet(mined, train.folder)
