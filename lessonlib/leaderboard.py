"""Published MTEB figures with their sources, a constraint-based model picker, and the storage cost of vectors.

The figures live in ``data/mteb_leaderboard.csv``: one row per (benchmark, model, task) with the score × 100,
the model's dimensions, context length, licence and access (``open-weights``, ``api`` or ``lexical``), and the
source of the figure: repository, path and revision (the git commit that was read). ``benchmark`` names the
benchmark version the figure belongs to, ``MTEB(eng, v1)`` (56 tasks, 15 of them retrieval) or
``MTEB(eng, v2)`` (41 tasks, 10 of them retrieval); the two task sets differ, so their figures, and above all
their averages, are never put in one table (``BenchmarkMixError``). ``source_checked`` says how the figure was
checked: ``read`` (the file was read at that commit for this course) or ``reference`` (taken from the
course's notes on published figures, which read the file at the commit in ``source_revision``; blank where
they pinned none, as for some v1 averages). Every ``MTEB(eng, v2)`` figure names its commit. Where a widely
circulated lesson text quoted a different figure, ``seed_score`` keeps it and ``seed_verdict`` says whether
it ``matches`` the source, differs by ``rounding`` or is ``wrong``.

``load_leaderboard()`` returns the ``MTEB(eng, v1)`` figures, as it always has; pass
``benchmark="MTEB(eng, v2)"`` for the v2 figures or ``benchmark=None`` for every row.

Muennighoff et al., "MTEB: Massive Text Embedding Benchmark", EACL 2023; Enevoldsen et al., "MMTEB: Massive
Multilingual Text Embedding Benchmark", arXiv:2502.13595 (the citation mteb gives for MTEB(eng, v2)).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

#: The course's copy of the leaderboard figures (an editable install keeps ``data/`` beside the package).
DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "mteb_leaderboard.csv"

#: The task key of a benchmark's retrieval average: the mean nDCG@10 of its retrieval tasks
#: (``RETRIEVAL_TASKS``: 15 in MTEB(eng, v1), 10 in MTEB(eng, v2)). ``benchmark`` says which.
RETRIEVAL_AVG = "RetrievalAvg"

V1 = "MTEB(eng, v1)"
V2 = "MTEB(eng, v2)"
#: The benchmark versions the file may hold.
BENCHMARKS = (V1, V2)
#: What ``load_leaderboard`` returns unless told otherwise: the figures lesson 02 has always used.
DEFAULT_BENCHMARK = V1

#: Each benchmark's retrieval tasks, as ``mteb/benchmarks/benchmarks/benchmarks.py`` defines them
#: (embeddings-benchmark/mteb @ a905523d0111f999360b312bd4a601a0a97a0e1c: ``MTEB_ENG_CLASSIC``, ``MTEB_EN``).
RETRIEVAL_TASKS: dict[str, tuple[str, ...]] = {
    V1: (
        "ArguAna",
        "CQADupstackRetrieval",
        "ClimateFEVER",
        "DBPedia",
        "FEVER",
        "FiQA2018",
        "HotpotQA",
        "NFCorpus",
        "NQ",
        "QuoraRetrieval",
        "SCIDOCS",
        "SciFact",
        "TRECCOVID",
        "Touche2020",
        "MSMARCO",
    ),
    V2: (
        "ArguAna",
        "CQADupstackGamingRetrieval",
        "CQADupstackUnixRetrieval",
        "ClimateFEVERHardNegatives",
        "FEVERHardNegatives",
        "FiQA2018",
        "HotpotQAHardNegatives",
        "SCIDOCS",
        "TRECCOVID",
        "Touche2020Retrieval.v3",
    ),
}
#: The other tasks of each benchmark (same source): every task a row may name, with ``RETRIEVAL_AVG``.
_OTHER_TASKS = {
    V1: (
        "AmazonPolarityClassification AmazonReviewsClassification Banking77Classification EmotionClassification "
        "ImdbClassification MTOPDomainClassification MTOPIntentClassification MassiveIntentClassification "
        "MassiveScenarioClassification ToxicConversationsClassification TweetSentimentExtractionClassification "
        "AmazonCounterfactualClassification ArxivClusteringP2P ArxivClusteringS2S BiorxivClusteringP2P "
        "BiorxivClusteringS2S MedrxivClusteringP2P MedrxivClusteringS2S RedditClustering RedditClusteringP2P "
        "StackExchangeClustering StackExchangeClusteringP2P TwentyNewsgroupsClustering BIOSSES SICK-R STS12 STS13 "
        "STS14 STS15 STS16 STSBenchmark STS17 STS22 SprintDuplicateQuestions TwitterSemEval2015 TwitterURLCorpus "
        "AskUbuntuDupQuestions MindSmallReranking SciDocsRR StackOverflowDupQuestions SummEval"
    ),
    V2: (
        "Banking77Classification ImdbClassification MTOPDomainClassification MassiveIntentClassification "
        "MassiveScenarioClassification ToxicConversationsClassification TweetSentimentExtractionClassification "
        "AmazonCounterfactualClassification ArXivHierarchicalClusteringP2P ArXivHierarchicalClusteringS2S "
        "BiorxivClusteringP2P.v2 MedrxivClusteringP2P.v2 MedrxivClusteringS2S.v2 StackExchangeClustering.v2 "
        "StackExchangeClusteringP2P.v2 TwentyNewsgroupsClustering.v2 BIOSSES SICK-R STS12 STS13 STS14 STS15 "
        "STSBenchmark STS17 STS22.v2 SprintDuplicateQuestions TwitterSemEval2015 TwitterURLCorpus "
        "AskUbuntuDupQuestions MindSmallReranking SummEvalSummarization.v2"
    ),
}
#: Every task of each benchmark (56 in v1, 41 in v2).
BENCHMARK_TASKS: dict[str, frozenset[str]] = {
    name: frozenset(RETRIEVAL_TASKS[name]) | frozenset(_OTHER_TASKS[name].split()) for name in BENCHMARKS
}
#: Benchmarks whose every figure must name the commit it was read at (the v1 rows predate the pins, and
#: some of them are averages the course computed).
_PINNED_BENCHMARKS = frozenset({V2})

COLUMNS = (
    "benchmark",
    "model",
    "task",
    "metric",
    "score",
    "dimensions",
    "max_tokens",
    "licence",
    "access",
    "source_repo",
    "source_path",
    "source_revision",
    "source_checked",
    "seed_score",
    "seed_verdict",
    "note",
)
ACCESS_KINDS = ("open-weights", "api", "lexical")
SEED_VERDICTS = ("matches", "rounding", "wrong")
#: Largest difference still called a rounding difference, in score points (scores are × 100).
ROUNDING_TOLERANCE = 0.011


_MODEL_COLUMNS = ("dimensions", "max_tokens", "licence", "access")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class LeaderboardFormatError(ValueError):
    """The leaderboard file is malformed; the message names the row (file line) and what is wrong."""


class BenchmarkMixError(ValueError):
    """A table would put figures of two benchmark versions side by side; their task sets differ."""


def seed_verdict(seed_score: float, score: float) -> str:
    """Classify a quoted figure against its source: ``"matches"``, ``"rounding"`` (≤ 0.011 apart) or ``"wrong"``."""
    diff = abs(float(seed_score) - float(score))
    if diff < 0.005:
        return "matches"
    return "rounding" if diff <= ROUNDING_TOLERANCE else "wrong"


def _check_row(row: dict[str, object], where: str) -> None:
    benchmark = row["benchmark"]
    if not benchmark:
        raise LeaderboardFormatError(
            f"{where}: benchmark is empty; every figure names the benchmark version it belongs to "
            f"({' or '.join(BENCHMARKS)})."
        )
    if benchmark not in BENCHMARKS:
        raise LeaderboardFormatError(f"{where}: benchmark {benchmark!r} is not one of {', '.join(BENCHMARKS)}.")
    if row["task"] != RETRIEVAL_AVG and row["task"] not in BENCHMARK_TASKS[str(benchmark)]:
        raise LeaderboardFormatError(
            f"{where}: {row['task']!r} is not a task of {benchmark} (see BENCHMARK_TASKS); "
            f"label the row with the benchmark it belongs to."
        )
    for name in ("model", "task", "metric", "licence", "source_repo", "source_path", "source_checked"):
        if not str(row[name]).strip():
            raise LeaderboardFormatError(f"{where}: {name} is empty; every figure needs it (see the module docstring).")
    if row["access"] not in ACCESS_KINDS:
        raise LeaderboardFormatError(f"{where}: access {row['access']!r} is not one of {', '.join(ACCESS_KINDS)}.")
    if row["source_checked"] not in ("read", "reference"):
        raise LeaderboardFormatError(
            f"{where}: source_checked must be 'read' or 'reference', got {row['source_checked']!r}."
        )
    if row["source_checked"] == "read" and not _COMMIT.match(str(row["source_revision"])):
        raise LeaderboardFormatError(
            f"{where}: a figure marked 'read' needs the 40-hex commit it was read at in source_revision, "
            f"got {row['source_revision']!r}."
        )
    if benchmark in _PINNED_BENCHMARKS and not _COMMIT.match(str(row["source_revision"])):
        raise LeaderboardFormatError(
            f"{where}: every {benchmark} figure needs the 40-hex commit of {row['source_repo']} it was read at "
            f"in source_revision, got {row['source_revision']!r}."
        )
    if row["source_revision"] and not _COMMIT.match(str(row["source_revision"])):
        raise LeaderboardFormatError(
            f"{where}: source_revision {row['source_revision']!r} is not a 40-hex git commit (leave it blank if "
            f"the figure is not pinned)."
        )
    score = row["score"]
    if not isinstance(score, float) or math.isnan(score) or not 0.0 <= score <= 100.0:
        raise LeaderboardFormatError(f"{where}: score {score!r} is not a number in [0, 100] (scores are × 100).")
    if row["access"] != "lexical":
        for name in ("dimensions", "max_tokens"):
            value = row[name]
            if not isinstance(value, int) or value < 1:
                raise LeaderboardFormatError(f"{where}: {name} {value!r} must be a positive integer for a dense model.")
    seed, verdict = row["seed_score"], row["seed_verdict"]
    if (seed is None) != (verdict == ""):
        raise LeaderboardFormatError(f"{where}: seed_score and seed_verdict must be given together.")
    if seed is not None and verdict != seed_verdict(seed, score):
        raise LeaderboardFormatError(
            f"{where}: seed_verdict says {verdict!r} but the seed's {seed} against the source's {score} is "
            f"{seed_verdict(seed, score)!r}; correct the file."
        )


def _parse_number(text: str, where: str, name: str, kind: type[int] | type[float]) -> int | float | None:
    if text.strip() == "":
        return None
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise LeaderboardFormatError(f"{where}: {name} {text!r} is not {what}.") from None


def _parse_int(text: str, where: str, name: str) -> int | None:
    return _parse_number(text, where, name, int)  # type: ignore[return-value]


def _parse_float(text: str, where: str, name: str) -> float | None:
    return _parse_number(text, where, name, float)


def _check_benchmark(benchmark: object) -> str:
    if not isinstance(benchmark, str) or benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark must be one of {', '.join(map(repr, BENCHMARKS))}, got {benchmark!r}.")
    return benchmark


def load_leaderboard(path: str | Path | None = None, benchmark: str | None = DEFAULT_BENCHMARK) -> pd.DataFrame:
    """Load and validate the leaderboard figures of one benchmark version (or of all).

    Checks every row of the file, whichever benchmark is asked for: the row names its benchmark
    (``BENCHMARKS``) and a task of that benchmark (or ``RETRIEVAL_AVG``); a source (repository and path) is
    given; a figure marked ``read``, and every ``MTEB(eng, v2)`` figure, names the 40-hex commit it was read
    at; scores lie in [0, 100]; a dense model has positive ``dimensions`` and ``max_tokens``; a seed figure
    carries the verdict ``seed_verdict`` computes; (benchmark, model, task) triples are unique; and each
    model's dimensions, context, licence and access agree across all its rows.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with the columns in ``COLUMNS``; defaults to ``DATA_FILE``.
    benchmark : str or None
        The benchmark version to return, one of ``BENCHMARKS``; ``DEFAULT_BENCHMARK`` (``"MTEB(eng, v1)"``,
        what lesson 02 uses) by default. ``None`` returns every row; such a table mixes versions, so
        ``model_table`` and ``pick_models`` then need their own ``benchmark`` argument.

    Returns
    -------
    pandas.DataFrame
        One row per figure, in file order, indexed from 0; ``score`` and ``seed_score`` are floats (``NaN``
        when absent), ``dimensions`` and ``max_tokens`` nullable integers (missing for BM25).

    Raises
    ------
    FileNotFoundError, LeaderboardFormatError
        No such file; a malformed row (the message names file:line) or file.
    ValueError
        ``benchmark`` is not one of ``BENCHMARKS`` or ``None``.
    """
    if benchmark is not None:
        benchmark = _check_benchmark(benchmark)
    path = Path(path) if path is not None else DATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"No leaderboard file at {path}. Pass the path to data/mteb_leaderboard.csv of the course checkout."
        )
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise LeaderboardFormatError(f"{path}: missing columns {missing}; expected {list(COLUMNS)}.")
    rows = []
    for i, rec in enumerate(raw.to_dict("records")):
        where = f"{path.name}:{i + 2}"  # line 1 is the header
        row: dict[str, object] = {c: rec[c].strip() for c in COLUMNS}
        row["score"] = _parse_float(rec["score"], where, "score")
        row["seed_score"] = _parse_float(rec["seed_score"], where, "seed_score")
        row["dimensions"] = _parse_int(rec["dimensions"], where, "dimensions")
        row["max_tokens"] = _parse_int(rec["max_tokens"], where, "max_tokens")
        _check_row(row, where)
        rows.append(row)
    if not rows:
        raise LeaderboardFormatError(f"{path}: no figures.")
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    key = ["benchmark", "model", "task"]
    duplicated = table[table.duplicated(key, keep=False)]
    if not duplicated.empty:
        triples = sorted(set(duplicated[key].itertuples(index=False, name=None)))
        raise LeaderboardFormatError(f"{path}: (benchmark, model, task) given more than once: {triples[:3]}.")
    for model, group in table.groupby("model", sort=False):
        for name in _MODEL_COLUMNS:
            values = set(group[name].astype(str))
            if len(values) > 1:
                raise LeaderboardFormatError(f"{path}: {model} has conflicting {name} values {sorted(values)}.")
    for name in ("dimensions", "max_tokens"):
        table[name] = table[name].astype("Int64")
    table["seed_score"] = table["seed_score"].astype(float)
    if benchmark is not None:
        table = table[table["benchmark"] == benchmark].reset_index(drop=True)
    return table


def one_benchmark(leaderboard: pd.DataFrame, benchmark: str | None = None) -> pd.DataFrame:
    """The rows of one benchmark version, refusing to mix two.

    Parameters
    ----------
    leaderboard : pandas.DataFrame
        From ``load_leaderboard`` (it needs the ``benchmark`` column).
    benchmark : str, optional
        One of ``BENCHMARKS``: keep its rows only. ``None`` (the default) takes the table as it is, which
        must then hold a single benchmark.

    Returns
    -------
    pandas.DataFrame
        The rows of that one benchmark (the table itself when it holds no other).

    Raises
    ------
    BenchmarkMixError
        ``benchmark`` is ``None`` and the table holds figures of more than one benchmark: their task sets
        differ (15 retrieval tasks in v1, 10 in v2, with other corpora), so their scores and averages must
        not be ranked, compared or averaged in one table.
    ValueError
        No ``benchmark`` column, an unknown ``benchmark``, or no rows for it.
    """
    if "benchmark" not in leaderboard.columns:
        raise ValueError("The table has no 'benchmark' column; pass a table from load_leaderboard.")
    if benchmark is not None:
        benchmark = _check_benchmark(benchmark)
        selected = leaderboard[leaderboard["benchmark"] == benchmark]
        if selected.empty:
            raise ValueError(
                f"No {benchmark} figures in this table; load them with load_leaderboard(benchmark={benchmark!r}) "
                f"or load_leaderboard(benchmark=None)."
            )
        return selected
    present = list(dict.fromkeys(leaderboard["benchmark"]))
    if len(present) > 1:
        raise BenchmarkMixError(
            f"The table holds figures of {' and '.join(present)}. Their task sets differ (MTEB(eng, v1) "
            f"averages 15 retrieval tasks, MTEB(eng, v2) 10, with HardNegatives corpora, Touche2020 v3 and no "
            f"MSMARCO, NQ or SciFact), so their scores and averages are not comparable and are never put in "
            f"one table. Choose one: benchmark='MTEB(eng, v1)' or benchmark='MTEB(eng, v2)'."
        )
    return leaderboard


def model_table(
    leaderboard: pd.DataFrame, tasks: Iterable[str] = (RETRIEVAL_AVG,), benchmark: str | None = None
) -> pd.DataFrame:
    """One row per model: dimensions, context, licence, access and one score column per task (``NaN`` if none).

    Parameters
    ----------
    leaderboard : pandas.DataFrame
        From ``load_leaderboard``.
    tasks : iterable of str
        The score columns, in order; the benchmark's retrieval average by default.
    benchmark : str, optional
        The benchmark version to tabulate (see ``one_benchmark``); by default the table's only one.

    Returns
    -------
    pandas.DataFrame
        Indexed by model, in order of first appearance.

    Raises
    ------
    BenchmarkMixError
        The table mixes benchmark versions and ``benchmark`` does not choose one.
    KeyError
        A task has no figures.
    """
    leaderboard = one_benchmark(leaderboard, benchmark)
    models = leaderboard.drop_duplicates("model").set_index("model")[list(_MODEL_COLUMNS)]
    scores = leaderboard.pivot(index="model", columns="task", values="score")
    for task in tasks:
        if task not in scores.columns:
            known = ", ".join(sorted(leaderboard["task"].unique()))
            raise KeyError(f"No figures for task {task!r}; known tasks: {known}.")
        models[task] = scores[task].reindex(models.index)
    return models


def seed_comparison(leaderboard: pd.DataFrame) -> pd.DataFrame:
    """The rows where the seed lesson quoted a figure: model, task, seed figure, source figure, verdict, note."""
    rows = leaderboard[leaderboard["seed_score"].notna()]
    return rows[["model", "task", "seed_score", "score", "seed_verdict", "note"]].reset_index(drop=True)
