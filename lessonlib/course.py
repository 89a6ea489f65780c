"""The course as a whole: notebook structure checks and learner variants (prose numbers: ``lessonlib.prose``).

Every lesson notebook follows the lesson template: a title cell (number, name, objectives, prerequisites,
measured run time), a summary, exercises, solutions, further reading; it is stored executed, with no error
output; its cells import only ``lessonlib`` and the declared stack; its prose has no dated phrases.
``notebook_problems`` checks all of that. ``learner_variant`` strips the solutions and outputs, for
learners who want to work the exercises themselves.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

#: Top-level modules a notebook may import: lessonlib, the declared stack, and Python's standard library.
DECLARED_STACK = frozenset(
    {
        "lessonlib",
        "numpy",
        "pandas",
        "torch",
        "sentence_transformers",
        "transformers",
        "datasets",
        "accelerate",
        "matplotlib",
        "seaborn",
        "ipywidgets",
        "IPython",
        "sympy",
        "hypothesis",
        "bm25s",
        "Stemmer",
        "pytrec_eval",
    }
)
ALLOWED_IMPORTS = DECLARED_STACK | frozenset(sys.stdlib_module_names)

#: Phrases that date a text ("as of 2024", "recently"): the course must read the same in any year.
DATED_PHRASES = re.compile(
    r"\bas of (?:19|20)\d\d\b|\brecently\b|\bin recent (?:years|months)\b|\bat the time of writing\b|"
    r"\b(?:this|last|next) year\b|\bnowadays\b|\bthese days\b",
    re.IGNORECASE,
)

#: Sentences about how the course was made, and pointers to files a learner does not have.
MAKING_OF = re.compile(
    r"\bthe issue behind\b|\ban earlier version of this (?:lesson|notebook)\b|"
    r"\b(?:while|when) (?:this|the) (?:lesson|notebook) was (?:written|made)\b",
    re.IGNORECASE,
)
OUTSIDE_REPOSITORY = re.compile(r"mteb_published\.md|mteb_v2_figures\.md|\.\./shared\b|\bshared/reference\b")
_PROGRESS_BAR = re.compile(r"^\s*[^\n]*\d+%\|[^\n]*$|^\s*$")

REQUIRED_SECTIONS = ("Summary", "Exercises", "Solutions", "Further reading")
SOLUTIONS_HEADING = re.compile(r"^#{1,3}\s*Solutions\b", re.MULTILINE)
READING_HEADING = re.compile(r"^#{1,3}\s*Further reading\b", re.MULTILINE)


def lesson_notebooks(folder: str | Path = "notebooks") -> list[Path]:
    """The course's notebooks, ``NN_name.ipynb``, in order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


def _imports(source: str) -> set[str]:
    # IPython turns magics (`%timeit`, `x = !ls`) into Python first, as the kernel does.
    code = TransformerManager().transform_cell(source)
    modules: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def _title_problems(path: Path, cell) -> list[str]:
    number = path.name[:2]
    text = cell.source if cell.cell_type == "markdown" else ""
    problems = []
    if not re.match(rf"#\s*(?:Lesson\s+)?{number}\b", text):
        problems.append(f"the first cell must be a markdown title with the lesson's number ('# {number} · …')")
    if not re.search(r"after this (?:notebook|lesson)[^\n]*you can", text, re.IGNORECASE):
        problems.append("the title cell must list objectives ('After this notebook you can …')")
    bullets = len(re.findall(r"^\s*(?:[-*]|\d+\.) ", text.split("**Prerequisites", 1)[0], re.MULTILINE))
    if not 3 <= bullets <= 6:
        problems.append(f"the title cell must list 3-5 objectives as bullets (found {bullets})")
    if not re.search(r"prerequisite", text, re.IGNORECASE):
        problems.append("the title cell must name the prerequisites")
    if not re.search(r"run time[^\n]*measured|measured[^\n]*run time", text, re.IGNORECASE):
        problems.append("the title cell must state the measured run time ('Run time: measured …')")
    return problems


def notebook_problems(path: str | Path) -> list[str]:
    """Everything in a lesson notebook that breaks the lesson template; empty when it complies."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    if not nb.cells:
        return ["the notebook is empty"]
    problems = _title_problems(path, nb.cells[0])
    headings = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for section in REQUIRED_SECTIONS:
        if not re.search(rf"^#{{1,3}}\s*{section}\b", headings, re.MULTILINE):
            problems.append(f"missing a '## {section}' section")
    for index, cell in enumerate(nb.cells):
        where = f"cell {index}"
        if cell.cell_type == "markdown" and (dated := DATED_PHRASES.search(cell.source)):
            problems.append(f"{where}: dated phrase {dated.group(0)!r}")
        if making_of := MAKING_OF.search(cell.source):
            problems.append(
                f"{where}: says how the course was made ({making_of.group(0)!r}): say what is true for the reader"
            )
        if outside := OUTSIDE_REPOSITORY.search(cell.source):
            problems.append(
                f"{where}: points at {outside.group(0)!r}, which learners do not have: cite the source itself"
            )
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        problems += [f"{where}: {problem}" for problem in _output_problems(cell)]
        if cell.get("execution_count") is None:
            problems.append(f"{where}: never executed (nbval would not compare it)")
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            problems.append(f"{where}: stored with an error output")
        try:
            foreign = _imports(cell.source) - ALLOWED_IMPORTS
        except SyntaxError as err:
            problems.append(f"{where}: does not parse ({err.msg})")
            continue
        if foreign:
            problems.append(f"{where}: imports {sorted(foreign)}, outside lessonlib and the declared stack")
        for comment in re.findall(r"#[^\n]*", cell.source):
            if dated := DATED_PHRASES.search(comment):
                problems.append(f"{where}: dated phrase {dated.group(0)!r} in a comment")
    return problems


def _output_problems(cell: nbformat.NotebookNode) -> list[str]:
    """A stored stderr message (a warning), or a progress bar whose stored text is frozen before 100 %."""
    problems = []
    texts = []
    for out in cell.get("outputs", []):
        text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
        texts.append(text)
        if out.get("name") == "stderr" and not all(_PROGRESS_BAR.match(line) for line in text.splitlines()):
            first = next(line for line in text.splitlines() if not _PROGRESS_BAR.match(line))
            problems.append(f"stored stderr message {first.strip()[:80]!r}: silence or handle it, then re-execute")
    joined = "\n".join(texts)
    if re.search(r"(?<!\d)0%\|", joined) and "100%|" not in joined:
        problems.append("a stored progress bar frozen at 0 %: turn the bar off for this call, then re-execute")
    return problems


def learner_variant(path: str | Path) -> nbformat.NotebookNode:
    """The notebook without its solutions and outputs: what a learner works through."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    kept, skipping = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown" and SOLUTIONS_HEADING.search(cell.source):
            skipping = True
            before = cell.source[: SOLUTIONS_HEADING.search(cell.source).start()]
            if READING_HEADING.search(before):  # further reading and the solutions' heading share this cell
                kept.append(nbformat.v4.new_markdown_cell(before.rstrip().removesuffix("---").rstrip()))
            kept.append(
                nbformat.v4.new_markdown_cell(
                    f"## Solutions\n\nThe worked solutions are in `notebooks/{path.name}`: try the exercises first."
                )
            )
            continue
        if skipping and cell.cell_type == "markdown" and READING_HEADING.search(cell.source):
            skipping = False
        if skipping:
            continue
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.pop("id", None)
        kept.append(cell)
    nb.cells = kept
    for cell in nb.cells:
        cell.pop("id", None)
        cell.metadata.pop("execution", None)  # run timings
    # Widget state belongs to the executed notebook only.
    nb.metadata = {key: nb.metadata[key] for key in ("kernelspec", "language_info") if key in nb.metadata}
    nb.nbformat_minor = 4  # no cell ids: the learner files stay byte-stable across regenerations
    return nb


def learner_text(path: str | Path) -> str:
    """The learner variant serialised exactly as ``write_learner_variants`` writes it."""
    return nbformat.writes(learner_variant(path)) + "\n"


def write_learner_variants(notebooks: list[Path], out_dir: str | Path = "learner") -> list[Path]:
    """Write each notebook's learner variant into ``out_dir``; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        target = out_dir / path.name
        target.write_text(learner_text(path))
        written.append(target)
    return written


def notebook_title(path: str | Path) -> str:
    """The first heading of a notebook's first cell."""
    nb = nbformat.read(Path(path), as_version=4)
    match = re.search(r"^#\s*(.+)$", nb.cells[0].source, re.MULTILINE) if nb.cells else None
    return match.group(1).strip() if match else Path(path).stem


def main(argv: list[str] | None = None) -> int:
    """``python -m lessonlib.course check|learner``: the course's maintenance commands."""
    args = sys.argv[1:] if argv is None else argv
    notebooks = lesson_notebooks()
    if args[:1] == ["check"]:
        failures = {str(p): notebook_problems(p) for p in notebooks}
        for name, problems in failures.items():
            for problem in problems:
                print(f"{name}: {problem}")
        return 1 if any(failures.values()) else 0
    if args[:1] == ["learner"]:
        for path in write_learner_variants(notebooks):
            print(f"wrote {path}")
        return 0
    print("usage: python -m lessonlib.course check | learner", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
