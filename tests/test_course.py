"""The course as a whole: every notebook follows the lesson template; learner variants are current."""

from pathlib import Path

import nbformat
import pytest

from lessonlib.course import (
    learner_text,
    learner_variant,
    lesson_notebooks,
    load_prose_figures,
    notebook_problems,
    prose_measurements,
    unsourced_prose_numbers,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = lesson_notebooks(ROOT / "notebooks")


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_setup.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_lesson_template(path):
    assert notebook_problems(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_learner_variant_is_current(path):
    learner = ROOT / "learner" / path.name
    assert learner.is_file(), f"{learner} is missing: run `make learner`"
    assert learner.read_text() == learner_text(path), f"{learner} is stale: run `make learner`"


def _copy_without(tmp_path, keep) -> Path:
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    nb.cells = [c for c in nb.cells if keep(c)]
    target = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, target)
    return target


def test_check_fails_on_a_notebook_missing_its_summary(tmp_path):
    broken = _copy_without(tmp_path, lambda c: "## Summary" not in c.source)
    assert "missing a '## Summary' section" in notebook_problems(broken)


def test_check_catches_unexecuted_and_error_cells_foreign_imports_and_dated_phrases(tmp_path):
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import requests"))
    failing = nbformat.v4.new_code_cell("1 / 0", execution_count=99)
    failing.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])]
    nb.cells.append(failing)
    nb.cells.append(nbformat.v4.new_markdown_cell("As of 2024 this model is the best."))
    target = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, target)
    problems = "\n".join(notebook_problems(target))
    assert "never executed" in problems
    assert "imports ['requests']" in problems
    assert "stored with an error output" in problems
    assert "dated phrase 'As of 2024'" in problems


def test_check_catches_making_of_sentences_and_files_outside_the_repository(tmp_path):
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("The issue behind this lesson measured it (see mteb_published.md)."))
    nb.cells.append(nbformat.v4.new_markdown_cell("An earlier version of this lesson used 64 tokens."))
    target = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, target)
    problems = "\n".join(notebook_problems(target))
    assert "says how the course was made ('The issue behind')" in problems
    assert "says how the course was made ('An earlier version of this lesson')" in problems
    assert "points at 'mteb_published.md', which learners do not have" in problems


def test_check_catches_a_frozen_progress_bar_and_a_stored_warning(tmp_path):
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    frozen = nbformat.v4.new_code_cell("model = load_model()", execution_count=1)
    frozen.outputs = [
        nbformat.v4.new_output("display_data", data={"text/plain": "Loading weights:   0%|          | 0/103"})
    ]
    warned = nbformat.v4.new_code_cell("tokenize()", execution_count=2)
    warned.outputs = [nbformat.v4.new_output("stream", name="stderr", text="Token indices sequence length is longer\n")]
    finished = nbformat.v4.new_code_cell("encode()", execution_count=3)
    finished.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="Encoding:   0%|  | 0/9\rEncoding: 100%|##| 9/9\n")
    ]
    nb.cells += [frozen, warned, finished]
    target = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, target)
    problems = notebook_problems(target)
    last = len(nb.cells) - 1
    assert f"cell {last - 2}: a stored progress bar frozen at 0 %: turn the bar off for this call, then re-execute" in (
        problems
    )
    assert any(p.startswith(f"cell {last - 1}: stored stderr message 'Token indices") for p in problems)
    assert not any(p.startswith(f"cell {last}:") for p in problems)  # a finished bar is no problem


def test_title_cell_needs_objectives_and_run_time(tmp_path):
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    nb.cells[0].source = "# 00 · Setup\n\nSome text."
    target = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, target)
    problems = "\n".join(notebook_problems(target))
    assert "objectives" in problems and "run time" in problems and "prerequisites" in problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_learner_variant_keeps_further_reading_and_the_recipes_link(path):
    # In some lessons the further reading shares a cell with the solutions' heading; it must survive the cut.
    text = "\n".join(c.source for c in learner_variant(path).cells if c.cell_type == "markdown")
    assert "## Further reading" in text
    assert "(../docs/recipes.md)" in text


def test_learner_variant_drops_solutions_and_outputs_but_keeps_exercises_and_reading():
    nb = learner_variant(NOTEBOOKS[0])
    text = "\n".join(c.source for c in nb.cells)
    assert "## Exercises" in text and "## Further reading" in text
    assert 'check_device_order(["cuda", "mps", "cpu"])' not in text  # the worked solution
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("In section 5 (Oord et al. 2018), 161 dev claims scored 64.51.", ["161", "64.51"]),
        ("about 4 minutes, 19–22 minutes, 2 min 18 s", ["4 min", "19 min", "22 min", "2 min", "18 s"]),
        ("all-MiniLM-L6-v2 at nDCG@10, bge-small-en-v1.5 and lessons 02 and 04; §3.1", []),
        ("a formula $0.05 \\cdot 20$ and `scale=20` and [link](https://x.org/2508.21038)", []),
        ("5,183 abstracts, 71 %, 1.4 to 1.7 times, 3 epochs", ["5,183", "71", "1.4", "1.7"]),
        ("1. **A numbered item** with 2 parts\n## 6 · Learning curve", []),
    ],
)
def test_prose_measurements_find_the_numbers_that_state_a_measurement(text, expected):
    assert prose_measurements(text) == expected


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_number_in_a_lessons_prose_is_printed_or_sourced(path):
    """A number in markdown is printed by a compared cell, or a published figure or constant with its source."""
    assert unsourced_prose_numbers(path) == []


def test_a_number_no_cell_prints_is_caught(tmp_path):
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("The model scores 99.99 here, in about 7 minutes."))
    target = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, target)
    problems = unsourced_prose_numbers(target)
    index = len(nb.cells) - 1
    assert problems[0].startswith(f"cell {index}: 99.99 (…The model scores 99.99 here")
    assert problems[1].startswith(f"cell {index}: 7 min (")


def test_a_number_in_an_ignored_cell_does_not_source_the_prose(tmp_path):
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    ignored = nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nprint(score)", execution_count=1)
    ignored.outputs = [nbformat.v4.new_output("stream", name="stdout", text="score 88.88\n")]
    nb.cells += [ignored, nbformat.v4.new_markdown_cell("It scores 88.88.")]
    target = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, target)
    assert [p.split(" (")[0] for p in unsourced_prose_numbers(target)] == [f"cell {len(nb.cells) - 1}: 88.88"]


def test_every_prose_figure_needs_a_source(tmp_path):
    bad = tmp_path / "figures.csv"
    bad.write_text("notebook,figure,kind,source\n04,64.51,published,\n")
    with pytest.raises(ValueError, match=r"figures.csv:2: every figure needs a value and a source"):
        load_prose_figures(bad)
