"""The leaderboard data file, its loader and validation, benchmark versions, lesson 02's checks."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from lessonlib.exercises import lesson02
from lessonlib.leaderboard import (
    ACCESS_KINDS,
    BENCHMARK_TASKS,
    BENCHMARKS,
    COLUMNS,
    DATA_FILE,
    RETRIEVAL_AVG,
    RETRIEVAL_TASKS,
    BenchmarkMixError,
    LeaderboardFormatError,
    load_leaderboard,
    model_table,
    one_benchmark,
    seed_comparison,
    seed_verdict,
)
from lessonlib.metrics import score
from lessonlib.models import CATALOGUE
from lessonlib.picker import Constraints, pick_models

SEED_MODELS = {"bge-large-en-v1.5", "text-embedding-3-large", "e5-large-v2", "all-MiniLM-L6-v2", "nomic-embed-text-v1"}


@pytest.fixture(scope="module")
def board():
    return load_leaderboard()


# --- the data file -----------------------------------------------------------------------------------------


def test_every_row_has_a_source(board):
    assert len(board) > 0
    for row in board.itertuples():
        assert row.source_repo and row.source_path, row
        assert "/" in row.source_repo, f"{row.model}/{row.task}: source_repo should be owner/name"
        if row.source_checked == "read":
            assert len(row.source_revision) == 40 and all(c in "0123456789abcdef" for c in row.source_revision)


def test_the_file_holds_the_models_the_lesson_needs(board):
    needed = SEED_MODELS | {"all-mpnet-base-v2", "bge-small-en-v1.5", "bge-base-en-v1.5", "bm25s"}
    assert needed <= set(board["model"])
    scifact = model_table(board, ["SciFact", RETRIEVAL_AVG])
    assert scifact[["SciFact", RETRIEVAL_AVG]].notna().all().all(), "every model needs SciFact and the average"


def test_the_figures_the_lesson_reproduces(board):
    scores = model_table(board, ["SciFact"])["SciFact"]
    # The same figures tests/test_mteb_reproduction.py reproduces from scratch.
    assert scores["all-MiniLM-L6-v2"] == pytest.approx(64.51)
    assert scores["bm25s"] == pytest.approx(68.74, abs=0.005)
    assert scores["all-mpnet-base-v2"] == pytest.approx(65.57)


def test_seed_figures_are_flagged_where_they_disagree_with_the_source(board):
    seeds = seed_comparison(board)
    assert set(seeds["model"]) == SEED_MODELS
    assert set(seeds["task"]) == {RETRIEVAL_AVG}
    verdicts = dict(zip(seeds["model"], seeds["seed_verdict"], strict=True))
    assert verdicts["all-MiniLM-L6-v2"] == "wrong"
    assert verdicts["nomic-embed-text-v1"] == "wrong"
    assert verdicts["text-embedding-3-large"] == "rounding"
    assert verdicts["bge-large-en-v1.5"] == "matches"
    assert verdicts["e5-large-v2"] == "matches"
    for row in seeds.itertuples():
        if abs(row.seed_score - row.score) >= 0.005:
            assert row.seed_verdict != "matches"
            assert "right" in row.note, "say which figure is right"


def test_model_facts_agree_with_the_catalogue(board):
    models = model_table(board)
    for name, info in CATALOGUE.items():
        assert name in models.index, name
        row = models.loc[name]
        assert (row["dimensions"], row["max_tokens"], row["licence"]) == (
            info.dimensions,
            info.max_tokens,
            info.licence,
        )
        assert (row["access"] == "open-weights") == info.open_weights
    assert set(models["access"]) <= set(ACCESS_KINDS)


# --- validation --------------------------------------------------------------------------------------------


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _row(**overrides: str) -> dict[str, str]:
    row = {
        "benchmark": "MTEB(eng, v1)",
        "model": "m",
        "task": "SciFact",
        "metric": "nDCG@10 x 100",
        "score": "60.0",
        "dimensions": "384",
        "max_tokens": "512",
        "licence": "MIT",
        "access": "open-weights",
        "source_repo": "owner/repo",
        "source_path": "results/m/SciFact.json",
        "source_revision": "a" * 40,
        "source_checked": "read",
        "seed_score": "",
        "seed_verdict": "",
        "note": "",
    }
    row.update(overrides)
    return row


def test_a_valid_minimal_file_loads(tmp_path):
    table = load_leaderboard(
        _write(tmp_path / "ok.csv", [_row(), _row(task="NFCorpus", seed_score="61.0", seed_verdict="wrong")])
    )
    assert list(table["score"]) == [60.0, 60.0]
    assert math.isnan(table["seed_score"][0]) and table["seed_score"][1] == 61.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"source_path": ""}, "source_path is empty"),
        ({"source_repo": " "}, "source_repo is empty"),
        ({"source_revision": ""}, "40-hex commit"),
        ({"source_checked": "maybe"}, "source_checked"),
        ({"score": "abc"}, "not a number"),
        ({"score": "123"}, r"\[0, 100\]"),
        ({"dimensions": ""}, "positive integer"),
        ({"access": "cloud"}, "access"),
        ({"seed_score": "60.5", "seed_verdict": "matches"}, "'wrong'"),
        ({"seed_score": "60.5"}, "together"),
        ({"benchmark": ""}, "benchmark is empty"),
        ({"benchmark": "MTEB(eng, v3)"}, "not one of"),
        ({"benchmark": "MTEB(eng, v2)"}, "'SciFact' is not a task of MTEB\\(eng, v2\\)"),
        (
            {"benchmark": "MTEB(eng, v2)", "task": "ArguAna", "source_checked": "reference", "source_revision": ""},
            "every MTEB\\(eng, v2\\) figure needs the 40-hex commit",
        ),
        ({"benchmark": "MTEB(eng, v2)", "task": "ArguAna", "source_repo": ""}, "source_repo is empty"),
        ({"benchmark": "MTEB(eng, v2)", "task": "ArguAna", "source_path": ""}, "source_path is empty"),
        ({"source_checked": "reference", "source_revision": "abc123"}, "not a 40-hex git commit"),
    ],
)
def test_bad_rows_are_reported_with_their_line(tmp_path, overrides, message):
    path = _write(tmp_path / "bad.csv", [_row(task="NFCorpus"), _row(**overrides)])
    with pytest.raises(LeaderboardFormatError, match=message) as info:
        load_leaderboard(path)
    assert "bad.csv:3" in str(info.value)


def test_an_unpinned_v1_reference_row_loads(tmp_path):
    table = load_leaderboard(_write(tmp_path / "v1.csv", [_row(source_checked="reference", source_revision="")]))
    assert table["source_revision"][0] == ""


def test_the_same_task_may_appear_once_per_benchmark(tmp_path):
    rows = [_row(task="ArguAna"), _row(task="ArguAna", benchmark="MTEB(eng, v2)")]
    path = _write(tmp_path / "both.csv", rows)
    assert list(load_leaderboard(path, benchmark=None)["benchmark"]) == ["MTEB(eng, v1)", "MTEB(eng, v2)"]
    assert list(load_leaderboard(path)["benchmark"]) == ["MTEB(eng, v1)"]
    assert list(load_leaderboard(path, benchmark="MTEB(eng, v2)")["benchmark"]) == ["MTEB(eng, v2)"]
    with pytest.raises(LeaderboardFormatError, match="more than once"):
        load_leaderboard(_write(tmp_path / "dup2.csv", rows + rows[1:]), benchmark=None)


@pytest.mark.parametrize("benchmark", ["MTEB(eng)", "v2", 2])
def test_an_unknown_benchmark_is_refused(benchmark):
    with pytest.raises(ValueError, match="benchmark must be one of"):
        load_leaderboard(benchmark=benchmark)


def test_the_benchmark_task_lists_match_mteb():
    assert BENCHMARKS == ("MTEB(eng, v1)", "MTEB(eng, v2)")
    assert len(BENCHMARK_TASKS["MTEB(eng, v1)"]) == 56
    assert len(BENCHMARK_TASKS["MTEB(eng, v2)"]) == 41
    assert "SciFact" not in BENCHMARK_TASKS["MTEB(eng, v2)"] and "MSMARCO" not in BENCHMARK_TASKS["MTEB(eng, v2)"]


def test_duplicates_conflicts_and_missing_files_are_reported(tmp_path):
    with pytest.raises(LeaderboardFormatError, match="more than once"):
        load_leaderboard(_write(tmp_path / "dup.csv", [_row(), _row()]))
    with pytest.raises(LeaderboardFormatError, match="conflicting dimensions"):
        load_leaderboard(_write(tmp_path / "conflict.csv", [_row(), _row(task="NFCorpus", dimensions="768")]))
    with pytest.raises(FileNotFoundError, match=r"mteb_leaderboard\.csv"):
        load_leaderboard(tmp_path / "absent.csv")
    (tmp_path / "cols.csv").write_text("model,score\nm,1\n")
    with pytest.raises(LeaderboardFormatError, match="missing columns"):
        load_leaderboard(tmp_path / "cols.csv")


def test_seed_verdict_boundaries():
    assert seed_verdict(54.29, 54.29) == "matches"
    assert seed_verdict(55.44, 55.43) == "rounding"
    assert seed_verdict(40.69, 41.95) == "wrong"
    assert seed_verdict(50.0, 50.02) == "wrong"


def test_default_data_file_is_the_course_copy():
    assert DATA_FILE.name == "mteb_leaderboard.csv" and DATA_FILE.parent.name == "data"


# --- storage -----------------------------------------------------------------------------------------------


def test_exercise1_checks_graded_ndcg_and_names_common_mistakes():
    expected = lesson02.exercise1_answer()
    # By hand: ranks 2 and 3 hold grades 1 and 2; the ideal order is 2, 1, 1.
    dcg = 1 / math.log2(3) + 2 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert expected == pytest.approx(dcg / ideal, abs=1e-9)
    assert lesson02.check_ndcg_by_hand(round(expected, 4)).correct
    assert "× 100" in lesson02.check_ndcg_by_hand(100 * expected).message
    binary = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert "binary" in lesson02.check_ndcg_by_hand(binary).message
    exponential = (1 / math.log2(3) + 3 / math.log2(4)) / (3 + 1 / math.log2(3) + 1 / math.log2(4))
    assert "2**grade" in lesson02.check_ndcg_by_hand(exponential).message
    assert not lesson02.check_ndcg_by_hand(0.1).correct
    assert not lesson02.check_ndcg_by_hand("n/a").correct


def test_exercise2_storage():
    assert lesson02.exercise2_answer() == pytest.approx(30.72)
    assert lesson02.check_storage_gb(30.72).correct
    assert "GiB" in lesson02.check_storage_gb(30.72e9 / 2**30).message
    assert "4 bytes" in lesson02.check_storage_gb(7.68).message
    assert not lesson02.check_storage_gb(-1).correct


def test_exercise3_scenario():
    assert lesson02.exercise3_answer() == {"bge-small-en-v1.5", "bge-base-en-v1.5", "bge-large-en-v1.5", "e5-large-v2"}
    assert lesson02.check_scenario(
        ["bge-small-en-v1.5", "bge-base-en-v1.5", "bge-large-en-v1.5", "e5-large-v2"]
    ).correct
    wrong = lesson02.check_scenario(["bge-small-en-v1.5", "all-MiniLM-L6-v2"])
    assert not wrong.correct
    assert "all-MiniLM-L6-v2 fails" in wrong.message and "licence Apache-2.0 not allowed" in wrong.message
    assert "missing" in wrong.message
    assert not lesson02.check_scenario("bge-small-en-v1.5").correct


def test_exercise4_accepts_a_correct_ndcg_and_rejects_a_binary_one():
    def correct(ranking, grades, k):
        return score({"q": grades}, lesson02.ranking_to_run(ranking), [k])[f"ndcg@{k}"]

    def binary(ranking, grades, k):
        binary = {"q": {d: int(g > 0) for d, g in grades.items()}}
        return score(binary, lesson02.ranking_to_run(ranking), [k])[f"ndcg@{k}"]

    def broken(ranking, grades, k):
        raise ZeroDivisionError("oops")

    assert lesson02.check_ndcg_function(correct).correct
    assert "expected" in lesson02.check_ndcg_function(binary).message
    assert "ZeroDivisionError" in lesson02.check_ndcg_function(broken).message
    assert not lesson02.check_ndcg_function(42).correct


def test_ranking_to_run_rejects_repeats():
    assert lesson02.ranking_to_run(["a", "b"]) == {"q": {"a": 2.0, "b": 1.0}}
    with pytest.raises(ValueError, match="once"):
        lesson02.ranking_to_run(["a", "a"])


# --- benchmark versions ------------------------------------------------------------------------------------


@pytest.fixture
def mixed(tmp_path):
    """Two models with a v1 and a v2 retrieval average each."""
    rows = [
        _row(model=m, task=RETRIEVAL_AVG, benchmark=b, score=s)
        for m, b, s in [
            ("a", "MTEB(eng, v1)", "50.0"),
            ("b", "MTEB(eng, v1)", "40.0"),
            ("a", "MTEB(eng, v2)", "45.0"),
            ("b", "MTEB(eng, v2)", "55.0"),
        ]
    ]
    return load_leaderboard(_write(tmp_path / "mixed.csv", rows), benchmark=None)


def test_mixing_benchmark_versions_is_refused_with_the_reason(mixed):
    for call in (
        lambda: model_table(mixed),
        lambda: pick_models(mixed, Constraints()),
        lambda: one_benchmark(mixed),
    ):
        with pytest.raises(BenchmarkMixError, match="task sets differ") as info:
            call()
        assert "MTEB(eng, v1) and MTEB(eng, v2)" in str(info.value)


def test_a_benchmark_argument_chooses_one_version(mixed):
    assert model_table(mixed, benchmark="MTEB(eng, v1)")[RETRIEVAL_AVG].to_dict() == {"a": 50.0, "b": 40.0}
    assert model_table(mixed, benchmark="MTEB(eng, v2)")[RETRIEVAL_AVG].to_dict() == {"a": 45.0, "b": 55.0}
    assert [d.model for d in pick_models(mixed, Constraints(), benchmark="MTEB(eng, v2)")] == ["b", "a"]
    with pytest.raises(ValueError, match="benchmark must be one of"):
        one_benchmark(mixed, "MTEB(eng, v3)")
    with pytest.raises(ValueError, match="No MTEB\\(eng, v2\\) figures"):
        one_benchmark(mixed[mixed["benchmark"] == "MTEB(eng, v1)"], "MTEB(eng, v2)")
    with pytest.raises(ValueError, match="no 'benchmark' column"):
        model_table(mixed.drop(columns="benchmark"))


def test_the_default_table_is_v1_as_lesson_02_uses_it(board):
    assert set(board["benchmark"]) == {"MTEB(eng, v1)"}
    assert len(board) == 62 and board["model"].nunique() == 9
    assert list(board.index) == list(range(len(board)))


@pytest.fixture(scope="module")
def v2():
    return load_leaderboard(benchmark="MTEB(eng, v2)")


def test_every_row_names_its_benchmark_and_every_v2_row_a_pinned_source():
    everything = load_leaderboard(benchmark=None)
    assert set(everything["benchmark"]) == set(BENCHMARKS)
    v2_rows = everything[everything["benchmark"] == "MTEB(eng, v2)"]
    for row in v2_rows.itertuples():
        assert row.source_repo == "embeddings-benchmark/results", row
        assert row.source_path.startswith("results/"), row
        assert len(row.source_revision) == 40 and all(c in "0123456789abcdef" for c in row.source_revision), row
    with DATA_FILE.open(newline="") as handle:
        assert all(rec["benchmark"] in BENCHMARKS for rec in csv.DictReader(handle))


def test_v2_holds_the_ten_retrieval_tasks_and_their_mean_for_22_models(v2):
    assert v2["model"].nunique() == 22
    tasks = set(RETRIEVAL_TASKS["MTEB(eng, v2)"])
    for model, group in v2.groupby("model"):
        assert set(group["task"]) == tasks | {RETRIEVAL_AVG}, model
        per_task = group[group["task"] != RETRIEVAL_AVG]["score"]
        mean = group.loc[group["task"] == RETRIEVAL_AVG, "score"].item()
        # The mean is of the unrounded values; each task row is rounded to 0.01, so they agree within 0.01.
        assert abs(per_task.mean() - mean) <= 0.01 + 1e-9, model


def test_v2_spot_values_equal_the_source_files(v2):
    scores = v2.set_index(["model", "task"])["score"]
    assert scores[("all-MiniLM-L6-v2", RETRIEVAL_AVG)] == 42.92
    assert scores[("bge-small-en-v1.5", RETRIEVAL_AVG)] == 53.86
    assert scores[("Qwen3-Embedding-8B", RETRIEVAL_AVG)] == 69.44
    assert scores[("all-MiniLM-L6-v2", "Touche2020Retrieval.v3")] == 49.71  # ndcg_at_10 0.49713
    assert scores[("NV-Embed-v2", "ArguAna")] == 70.07  # under external/, ndcg_at_10 0.70074


def test_a_task_in_both_versions_has_the_same_figure_for_the_same_file(board, v2):
    v1 = board.set_index(["model", "task"])
    for row in v2[v2["task"].isin(["ArguAna", "SCIDOCS", "FiQA2018"])].itertuples():
        if (row.model, row.task) in v1.index and v1.loc[(row.model, row.task), "source_path"] == row.source_path:
            assert v1.loc[(row.model, row.task), "score"] == pytest.approx(row.score, abs=0.005)


def test_the_real_file_refuses_to_mix_versions():
    everything = load_leaderboard(benchmark=None)
    with pytest.raises(BenchmarkMixError, match="task sets differ"):
        pick_models(everything, Constraints())
    v2_best = pick_models(everything, Constraints(), benchmark="MTEB(eng, v2)")[0]
    assert (v2_best.model, v2_best.score) == ("Qwen3-Embedding-8B", 69.44)
    assert model_table(everything, benchmark="MTEB(eng, v1)").equals(model_table(load_leaderboard()))
