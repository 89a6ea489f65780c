"""The model picker under constraints, and the storage price of vectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lessonlib.leaderboard import load_leaderboard
from lessonlib.picker import Constraints, decisions_table, pick_models, storage_bytes, storage_gb_per_million


@pytest.fixture(scope="module")
def board():
    return load_leaderboard()


def test_storage_by_hand():
    assert storage_bytes(1_000_000, 384) == 1_536_000_000  # 384 × 4 bytes per document
    assert storage_gb_per_million(768) == pytest.approx(3.072)
    assert storage_bytes(8, 1024, "binary") == 1024  # 1 bit per component
    assert storage_bytes(10, 100, "int8") == 1000


@given(n=st.integers(0, 10**9), d=st.integers(1, 8192))
def test_storage_is_linear_and_ordered_by_precision(n, d):
    full = storage_bytes(n, d)
    assert storage_bytes(2 * n, d) == 2 * full
    assert (
        full
        == 2 * storage_bytes(n, d, "float16")
        == 4 * storage_bytes(n, d, "int8")
        == 32 * storage_bytes(n, d, "binary")
    )


@pytest.mark.parametrize(
    ("args", "message"), [((10, 384, "float64"), "dtype"), ((-1, 384), "n_documents"), ((10, 3.5), "dimensions")]
)
def test_storage_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        storage_bytes(*args)


# --- the picker --------------------------------------------------------------------------------------------


def test_picker_keeps_what_meets_every_constraint_and_says_why(board):
    constraints = Constraints(
        licences=frozenset({"MIT", "Apache-2.0"}),
        max_dimensions=768,
        min_context=512,
        access=frozenset({"open-weights"}),
    )
    decisions = {d.model: d for d in pick_models(board, constraints)}
    kept = [d.model for d in pick_models(board, constraints) if d.kept]
    assert kept == ["bge-base-en-v1.5", "nomic-embed-text-v1", "bge-small-en-v1.5"]  # best retrieval average first
    assert decisions["all-MiniLM-L6-v2"].reasons == ("256 tokens < 512",)
    assert decisions["bge-large-en-v1.5"].reasons == ("1024 dims > 768",)
    assert "access api not accepted" in decisions["text-embedding-3-large"].reasons
    assert "licence MIT allowed" in decisions["bge-base-en-v1.5"].reasons
    assert str(decisions["bge-large-en-v1.5"]).startswith("drop bge-large-en-v1.5 (54.29)")


def test_picker_without_constraints_keeps_everything_ranked_by_the_task(board):
    decisions = pick_models(board, Constraints(), task="SciFact")
    assert all(d.kept for d in decisions)
    scores = [d.score for d in decisions]
    assert scores == sorted(scores, reverse=True)
    assert decisions[0].model == "text-embedding-3-large"


def test_bm25_passes_model_constraints_when_lexical_access_is_accepted(board):
    decisions = {
        d.model: d
        for d in pick_models(board, Constraints(licences=frozenset({"MIT"}), max_dimensions=1, min_context=10**6))
    }
    assert decisions["bm25s"].kept
    assert "no weights to license" in decisions["bm25s"].reasons


def test_decisions_table_and_unknown_task(board):
    table = decisions_table(pick_models(board, Constraints(access=frozenset({"api"}))))
    assert list(table.columns) == ["model", "kept", "score", "reasons"]
    assert table["kept"].sum() == 1
    with pytest.raises(KeyError, match="known tasks"):
        pick_models(board, Constraints(), task="NoSuchTask")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"licences": "MIT"}, TypeError),
        ({"access": "api"}, TypeError),
        ({"access": frozenset({"cloud"})}, ValueError),
        ({"access": frozenset()}, ValueError),
        ({"max_dimensions": 0}, ValueError),
        ({"min_context": 1.5}, ValueError),
    ],
)
def test_constraints_are_validated(kwargs, error):
    with pytest.raises(error):
        Constraints(**kwargs)


def test_picker_rejects_a_plain_dict(board):
    with pytest.raises(TypeError, match="Constraints"):
        pick_models(board, {"max_dimensions": 768})


# --- lesson 02's exercise checks ----------------------------------------------------------------------------
