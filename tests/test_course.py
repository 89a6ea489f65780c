"""The course as a whole: every notebook follows the lesson template; learner variants are current."""

from pathlib import Path

import nbformat
import pytest

from lessonlib.course import (
    learner_text,
    learner_variant,
    lesson_notebooks,
    notebook_problems,
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


def _with_cells(tmp_path, *cells) -> tuple[Path, int]:
    """The first notebook with ``cells`` appended, written to ``tmp_path``; and the index of its last cell."""
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    nb.cells += list(cells)
    target = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, target)
    return target, len(nb.cells) - 1


def test_check_fails_on_a_notebook_missing_its_summary(tmp_path):
    broken = _copy_without(tmp_path, lambda c: "## Summary" not in c.source)
    assert "missing a '## Summary' section" in notebook_problems(broken)


def test_check_catches_unexecuted_and_error_cells_foreign_imports_and_dated_phrases(tmp_path):
    failing = nbformat.v4.new_code_cell("1 / 0", execution_count=99)
    failing.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])]
    target, _ = _with_cells(
        tmp_path,
        nbformat.v4.new_code_cell("import requests"),
        failing,
        nbformat.v4.new_markdown_cell("As of 2024 this model is the best."),
    )
    problems = "\n".join(notebook_problems(target))
    assert "never executed" in problems
    assert "imports ['requests']" in problems
    assert "stored with an error output" in problems
    assert "dated phrase 'As of 2024'" in problems


def test_check_catches_making_of_sentences_and_files_outside_the_repository(tmp_path):
    target, _ = _with_cells(
        tmp_path,
        nbformat.v4.new_markdown_cell("The issue behind this lesson measured it (see mteb_published.md)."),
        nbformat.v4.new_markdown_cell("An earlier version of this lesson used 64 tokens."),
    )
    problems = "\n".join(notebook_problems(target))
    assert "says how the course was made ('The issue behind')" in problems
    assert "says how the course was made ('An earlier version of this lesson')" in problems
    assert "points at 'mteb_published.md', which learners do not have" in problems


def test_check_catches_a_frozen_progress_bar_and_a_stored_warning(tmp_path):
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
    target, last = _with_cells(tmp_path, frozen, warned, finished)
    problems = notebook_problems(target)
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


def test_the_readme_module_table_matches_the_package():
    import pkgutil

    import lessonlib

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| Module | Concept |") :].split("\n\n", 1)[0]
    listed = {line.split("`")[1] for line in table.splitlines()[2:]}
    modules = {m.name for m in pkgutil.iter_modules(lessonlib.__path__) if m.name != "__main__"}
    assert listed == modules, (
        f"README lists {sorted(listed - modules)} that do not exist; misses {sorted(modules - listed)}"
    )
