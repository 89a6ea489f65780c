"""Choosing a model under constraints: what its vectors cost to store, and which models a deployment allows
(lesson 02).

``pick_models`` reads a benchmark's figures (``lessonlib.leaderboard.model_table``), keeps the models that meet
every ``Constraints`` (access, licence, dimensions, context length, storage of the corpus) and says why each one
is kept or dropped; ``storage_bytes`` prices the raw vectors of a corpus in each precision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from lessonlib.leaderboard import ACCESS_KINDS, RETRIEVAL_AVG, model_table
from lessonlib.validation import check_int

#: Bytes per stored vector component for the usual index encodings.
BYTES_PER_VALUE = {"float32": 4.0, "float16": 2.0, "int8": 1.0, "binary": 1 / 8}


def storage_bytes(n_documents: int, dimensions: int, dtype: str = "float32") -> float:
    """Bytes needed to store ``n_documents`` vectors of ``dimensions`` components.

    .. math:: \\text{bytes} = n_{\\text{docs}} \\times d \\times b

    with ``b`` the bytes per component (``BYTES_PER_VALUE``: float32 4, float16 2, int8 1, binary 1/8).
    The raw vectors only: an index (HNSW graph, IVF lists) and document ids come on top.
    """
    if dtype not in BYTES_PER_VALUE:
        raise ValueError(f"dtype {dtype!r} is not one of {', '.join(BYTES_PER_VALUE)}.")
    n_documents = check_int(n_documents, "n_documents", minimum=0)
    dimensions = check_int(dimensions, "dimensions", minimum=0)
    return n_documents * dimensions * BYTES_PER_VALUE[dtype]


def storage_gb_per_million(dimensions: int, dtype: str = "float32") -> float:
    """Gigabytes (10⁹ bytes) for one million vectors: ``storage_bytes(10**6, dimensions, dtype) / 1e9``."""
    return storage_bytes(10**6, dimensions, dtype) / 1e9


@dataclass(frozen=True)
class Constraints:
    """What a deployment requires of an embedding model; ``None`` means "no requirement".

    Attributes
    ----------
    licences : frozenset of str, optional
        Licences you may use (compared case-insensitively), e.g. ``{"MIT", "Apache-2.0"}``.
    max_dimensions : int, optional
        Largest embedding size you can afford to store (see ``storage_gb_per_million``).
    min_context : int, optional
        Fewest tokens a document may have before the model truncates it.
    access : frozenset of str
        Kinds of model you accept, among ``ACCESS_KINDS``: ``open-weights`` (you run it), ``api`` (a vendor
        runs it: your texts leave your network) and ``lexical`` (BM25, no model).
    """

    licences: frozenset[str] | None = None
    max_dimensions: int | None = None
    min_context: int | None = None
    access: frozenset[str] = field(default_factory=lambda: frozenset(ACCESS_KINDS))

    def __post_init__(self) -> None:
        if self.licences is not None:
            if isinstance(self.licences, str):
                raise TypeError("licences must be a set of licence names, e.g. {'MIT'}, not a single string.")
            object.__setattr__(self, "licences", frozenset(self.licences))
        if isinstance(self.access, str):
            raise TypeError(f"access must be a set of kinds, e.g. {{'open-weights'}}, not {self.access!r}.")
        object.__setattr__(self, "access", frozenset(self.access))
        unknown = self.access - set(ACCESS_KINDS)
        if unknown or not self.access:
            raise ValueError(f"access must be a non-empty subset of {ACCESS_KINDS}, got {sorted(self.access)}.")
        for name in ("max_dimensions", "min_context"):
            value = getattr(self, name)
            if value is not None:
                check_int(value, name, minimum=1, hint="or None")


@dataclass(frozen=True)
class Decision:
    """The picker's verdict on one model: kept or dropped, its score, and one reason per constraint."""

    model: str
    kept: bool
    score: float
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        mark = "keep" if self.kept else "drop"
        score = "no figure" if math.isnan(self.score) else f"{self.score:.2f}"
        return f"{mark} {self.model} ({score}): " + "; ".join(self.reasons)


def _judge(row: pd.Series, c: Constraints) -> list[tuple[bool, str]]:
    """(passed, reason) for each constraint that is set, access first."""
    lexical = row["access"] == "lexical"
    checks = [
        (
            row["access"] in c.access,
            f"access {row['access']} " + ("accepted" if row["access"] in c.access else "not accepted"),
        )
    ]
    if c.licences is not None:
        allowed = {lic.lower() for lic in c.licences}
        if lexical:
            checks.append((True, "no weights to license"))
        else:
            ok = str(row["licence"]).lower() in allowed
            checks.append((ok, f"licence {row['licence']} " + ("allowed" if ok else "not allowed")))
    if c.max_dimensions is not None:
        if lexical:
            checks.append((True, "sparse index, no dense vectors"))
        else:
            ok = int(row["dimensions"]) <= c.max_dimensions
            checks.append((ok, f"{row['dimensions']} dims {'≤' if ok else '>'} {c.max_dimensions}"))
    if c.min_context is not None:
        if lexical:
            checks.append((True, "no token limit"))
        else:
            ok = int(row["max_tokens"]) >= c.min_context
            checks.append((ok, f"{row['max_tokens']} tokens {'≥' if ok else '<'} {c.min_context}"))
    return checks


def pick_models(
    leaderboard: pd.DataFrame, constraints: Constraints, task: str = RETRIEVAL_AVG, benchmark: str | None = None
) -> list[Decision]:
    """Keep the models that meet every constraint and explain each verdict.

    A model is kept when it passes every constraint that is set; a dropped model's reasons list only the
    constraints it failed, a kept model's list every check it passed. Kept models come first, best
    ``task`` score first (models without a figure for ``task`` last), then dropped models by name.

    Parameters
    ----------
    leaderboard : pandas.DataFrame
        From ``load_leaderboard``.
    constraints : Constraints
    task : str
        The figure to rank by; the benchmark's retrieval average by default (15 tasks in MTEB(eng, v1), 10
        in MTEB(eng, v2)).
    benchmark : str, optional
        The benchmark version to rank on (see ``one_benchmark``); by default the table's only one.

    Returns
    -------
    list of Decision

    Raises
    ------
    TypeError
        ``constraints`` is not a ``Constraints``.
    BenchmarkMixError
        The table mixes benchmark versions and ``benchmark`` does not choose one.
    """
    if not isinstance(constraints, Constraints):
        raise TypeError(f"constraints must be a Constraints, got {type(constraints).__name__}.")
    models = model_table(leaderboard, [task], benchmark=benchmark)
    decisions = []
    for name, row in models.iterrows():
        checks = _judge(row, constraints)
        kept = all(ok for ok, _ in checks)
        # A kept model lists every check it passed; a dropped one only the checks it failed.
        reasons = tuple(reason for ok, reason in checks if kept or not ok)
        decisions.append(Decision(str(name), kept, float(row[task]), reasons))
    return sorted(decisions, key=_decision_order)


def _decision_order(d: Decision) -> tuple[bool, bool, float, str]:
    no_score = math.isnan(d.score)
    return (not d.kept, no_score, 0.0 if no_score or not d.kept else -d.score, d.model)


def decisions_table(decisions: Iterable[Decision]) -> pd.DataFrame:
    """The picker's decisions as a table: model, kept, score, reasons (joined with "; ")."""
    return pd.DataFrame(
        [{"model": d.model, "kept": d.kept, "score": d.score, "reasons": "; ".join(d.reasons)} for d in decisions],
        columns=["model", "kept", "score", "reasons"],
    )
