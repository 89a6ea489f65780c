"""Shared fixtures: a tiny BEIR folder written by the test, an isolated cache, the real SciFact."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from lessonlib.datasets import load_beir, locate_dataset


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """Point lessonlib's cache at an empty folder for this test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("LESSONLIB_CACHE", str(folder))
    return folder


def write_beir(
    folder: Path,
    corpus: list[dict] | None = None,
    queries: list[dict] | None = None,
    qrels: dict[str, list[tuple[str, str, int]]] | None = None,
) -> Path:
    """Write a small BEIR folder; every part has a sensible default."""
    corpus = corpus or [
        {"_id": "d1", "title": "Cats", "text": "Cats purr when they are content."},
        {"_id": "d2", "title": "Dogs", "text": "Dogs bark at the postman."},
        {"_id": "d3", "title": "", "text": "Stock markets fell sharply on Monday."},
    ]
    queries = queries or [
        {"_id": "q1", "text": "why do cats purr"},
        {"_id": "q2", "text": "dog barking"},
        {"_id": "q3", "text": "a training query"},
    ]
    qrels = qrels or {"test": [("q1", "d1", 1), ("q2", "d2", 2)], "train": [("q3", "d3", 1)]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels").mkdir(exist_ok=True)
    for split, rows in qrels.items():
        lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in rows]
        (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def tiny_beir(tmp_path) -> Path:
    return write_beir(tmp_path / "tiny")


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    """The real SciFact (via $LESSONLIB_DATA_DIR or the cache). Missing in CI is a failure, not a skip."""
    found = locate_dataset("scifact")
    if found is None:
        message = (
            "SciFact not found: set LESSONLIB_DATA_DIR to a folder holding scifact/, "
            "or run `lessonlib datasets --download scifact`."
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def minilm():
    from lessonlib.models import load_model

    return load_model("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def scifact_minilm(scifact_dir, minilm):
    """SciFact's test split with all-MiniLM-L6-v2's query and document embeddings (cached; marks slow and model)."""
    from lessonlib.retrievers import DenseRetriever

    dataset = load_beir(scifact_dir, split="test")
    retriever = DenseRetriever(minilm, "all-MiniLM-L6-v2", progress=False)
    return dataset, retriever.embed_queries(dataset), retriever.embed_documents(dataset)


# ----------------------------------------------------------------------------- toy training sets
# Shared by the held-out guard, the pairs, the trainer and the click-log tests.

TOPICS = ["cats purr", "dogs bark", "stock markets", "rain forecast", "protein folding", "vaccine trials"]


@pytest.fixture
def small_set(tmp_path):
    """Six training queries (one relevant document each), one test query whose text a train query copies."""
    docs = [{"_id": f"d{i}", "title": t.title(), "text": f"A passage about {t}."} for i, t in enumerate(TOPICS)]
    queries = [{"_id": f"q{i}", "text": f"question on {t}"} for i, t in enumerate(TOPICS)]
    queries += [{"_id": "x0", "text": "A test question"}, {"_id": "q9", "text": "a test  question"}]
    qrels = {
        "train": [(f"q{i}", f"d{i}", 1) for i in range(len(TOPICS))] + [("q9", "d0", 1)],
        "test": [("x0", "d1", 1)],
    }
    return load_beir(write_beir(tmp_path / "beir", docs, queries, qrels), split="train")


def toy_pairs(ids: list[str]) -> pd.DataFrame:
    """(query_id, doc_id) pairs of small_set's queries with their own documents: q3 -> d3."""
    import pandas as pd

    return pd.DataFrame({"query_id": ids, "doc_id": [f"d{q[1:]}" for q in ids]})


DOCS = [{"_id": f"d{i}", "title": "", "text": f"document number {i}"} for i in range(12)]


@pytest.fixture
def train_set(tmp_path):
    """Two training queries with one relevant document each, one test query, 12 documents."""
    queries = [
        {"_id": "t1", "text": "first training query"},
        {"_id": "t2", "text": "second training query"},
        {"_id": "x1", "text": "The held-out test claim"},
        {"_id": "t3", "text": "the  held-out TEST claim"},  # same text as x1 under another id
    ]
    qrels = {
        "train": [("t1", "d0", 1), ("t2", "d5", 1), ("t3", "d3", 1)],
        "test": [("x1", "d3", 1)],
    }
    return load_beir(write_beir(tmp_path / "beir", DOCS, queries, qrels), split="train")


# ----------------------------------------------------------------------------- markers
# `slow`: real SciFact data; `model`: loads a model; `notebook`: nbval (marked in the root conftest); `site`:
# builds or browses the course site (tests/test_site.py).
# Fixtures mark the tests that use them; a test that loads a model by itself carries `@pytest.mark.model`.
# `make test-fast` deselects all four and sets LESSONLIB_FAST_TESTS=1, under which loading a model fails,
# so a test that should be marked `model` and is not shows up at once.

_MARKED_BY_FIXTURE = {"scifact_dir": "slow", "minilm": "model"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture, marker in _MARKED_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _no_models_in_fast_tests(request, monkeypatch):
    if os.environ.get("LESSONLIB_FAST_TESTS") == "1" and request.node.get_closest_marker("model") is None:
        from sentence_transformers import SentenceTransformer

        def refuse(*args, **kwargs):
            raise RuntimeError(
                f"{request.node.nodeid} loads a model but is not marked: add @pytest.mark.model "
                "(or use the minilm fixture)."
            )

        monkeypatch.setattr(SentenceTransformer, "__init__", refuse)
