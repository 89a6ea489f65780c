"""Prose that cannot go stale: every measured number in a lesson's markdown is printed or sourced."""

from pathlib import Path

import nbformat
import pytest

from lessonlib.course import lesson_notebooks
from lessonlib.prose import load_prose_figures, prose_measurements, unsourced_prose_numbers

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = lesson_notebooks(ROOT / "notebooks")


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
