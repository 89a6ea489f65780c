"""The course as a whole: notebook structure checks, prose figures and learner variants.

Every lesson notebook follows the lesson template: a title cell (number, name, objectives, prerequisites,
measured run time), a summary, exercises, solutions, further reading; it is stored executed, with no error
output; its cells import only ``lessonlib`` and the declared stack; its prose has no dated phrases.
``notebook_problems`` checks all of that. ``learner_variant`` strips the solutions and outputs, for
learners who want to work the exercises themselves.
"""

from __future__ import annotations

import ast
import csv
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


# --------------------------------------------------------------------------------------------- prose numbers

#: Where a number in a lesson's prose may come from when no compared output prints it: published figures
#: (with their sources), constants of the course's setup, and the measured run times of the title cells.
PROSE_FIGURES = Path(__file__).resolve().parents[1] / "data" / "prose_figures.csv"

_IGNORED_MARKERS = ("# NBVAL_IGNORE_OUTPUT", "# NBVAL_SKIP")
_NOT_PROSE = re.compile(
    r"\$\$.*?\$\$|\$[^$\n]+\$"  # math: formulas need no entry
    r"|```.*?```|`[^`\n]*`"  # code
    r"|\]\([^)]*\)|<[^>\n]*>|https?://\S+"  # link targets, HTML tags, addresses
    r"|\b(?:arXiv|doi)[: ]\S+",  # identifiers of papers
    re.DOTALL,
)
_STRUCTURE = re.compile(
    r"^\s*#+\s*\d+(?:\.\d+)*"  # a heading's section number
    r"|^\s*\d+\.\s"  # a numbered list item
    r"|(?:\b(?:[Ss]ections?|[Ll]essons?|[Ee]xercises?|[Ss]olutions?|[Cc]ells?|[Ss]teps?|[Tt]ables?|[Ll]ines?)\s+|§\s*)"
    r"\d+(?:\.\d+)*(?:(?:\s*(?:,|and|or|to|–|-)\s*)\d+(?:\.\d+)*)*",  # "section 5", "lessons 02 and 04", "§3.1"
    re.MULTILINE,
)
_NUMBER = re.compile(r"(?<![\w@./\-−+])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w@/]|\.\d)")
_TIME_UNITS = {"ms": "ms", "s": "s", "sec": "s", "second": "s", "seconds": "s", "min": "min", "minute": "min"}
_TIME_UNITS |= {"minutes": "min", "h": "h", "hour": "h", "hours": "h"}
_UNIT = re.compile(
    r"(?:\s?(?:–|-|to)\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)?"  # the end of a range: "19–22 minutes"
    r"\s?(%|×|(?:" + "|".join(sorted(_TIME_UNITS, key=len, reverse=True)) + r")\b)"
)


def _compared_numbers(nb: nbformat.NotebookNode) -> set[str]:
    """Every number printed by a cell whose output nbval compares (thousands separators dropped)."""
    found: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or any(marker in cell.source for marker in _IGNORED_MARKERS):
            continue
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            found |= {_canonical(m) for m in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}
    return found


def _canonical(figure: str) -> str:
    """One spelling per figure: ``5,183`` → ``5183``, ``71.0`` → ``71``, ``4 minutes`` → ``4 min``."""
    number, _, unit = figure.strip().partition(" ")
    text = number.replace(",", "")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    text = text or "0"
    unit = _TIME_UNITS.get(unit.strip().lower(), "")
    return f"{text} {unit}" if unit else text


def prose_measurements(text: str) -> list[str]:
    """The numbers in markdown ``text`` that state a measurement: decimals, percentages, times, ratios, counts.

    A time keeps its unit (``"4 min"``): times are never matched against printed numbers, only against the
    allow-list. Formulas, code, link targets, years (1900–2099), section, lesson and exercise numbers,
    numbered-list markers, numbers inside names (``all-MiniLM-L6-v2``, ``nDCG@10``) and single digits without
    a unit are not measurements and are left out.

    Examples
    --------
    >>> prose_measurements("In section 5 (Oord et al. 2018), 161 dev claims scored 64.51 in about 4 minutes.")
    ['161', '64.51', '4 min']
    """
    return [figure for figure, _ in _measurements(text)]


def _blank(match: re.Match) -> str:
    return " " * len(match.group(0))  # keeps every later position where it was


def _measurements(text: str) -> list[tuple[str, int]]:
    """``prose_measurements`` with the position of each figure in ``text``."""
    text = _STRUCTURE.sub(_blank, _NOT_PROSE.sub(_blank, text))
    found = []
    for match in _NUMBER.finditer(text):
        token = match.group(0)
        unit = _UNIT.match(text, match.end())
        if unit and unit.group(1) in _TIME_UNITS:
            found.append((_canonical(f"{token} {unit.group(1)}"), match.start()))
            continue
        plain = token.replace(",", "")
        if "." not in plain and "," not in token and not unit:
            value = int(plain)
            if value < 10 or 1900 <= value <= 2099:
                continue
        found.append((token, match.start()))
    return found


def load_prose_figures(path: str | Path = PROSE_FIGURES) -> dict[str, set[str]]:
    """The allow-list of prose figures: notebook number (``"04"``, or ``"*"`` for every lesson) → figures.

    Every row must name its source; a row without one is an error naming the file and line.
    """
    path = Path(path)
    allowed: dict[str, set[str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            if not (row.get("figure") or "").strip() or not (row.get("source") or "").strip():
                raise ValueError(f"{path}:{line}: every figure needs a value and a source, got {row}.")
            allowed.setdefault(row["notebook"].strip(), set()).add(_canonical(row["figure"]))
    return allowed


def unsourced_prose_numbers(path: str | Path, allowed: dict[str, set[str]] | None = None) -> list[str]:
    """Numbers in a notebook's markdown that no compared output prints and the allow-list does not hold.

    Each problem names the cell and the number, with a few words around it. A number in prose must be a
    published figure with its source, or printed by a cell whose output nbval compares, or a constant of the
    course kept in ``data/prose_figures.csv``; otherwise it goes stale the day the computation changes. Times
    must be on the allow-list (compared outputs print no timings).
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    allowed = load_prose_figures() if allowed is None else allowed
    listed = allowed.get("*", set()) | allowed.get(path.name[:2], set())
    printed = _compared_numbers(nb)
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for figure, at in _measurements(cell.source):
            if _canonical(figure) in listed or (" " not in figure and _canonical(figure) in printed):
                continue
            context = " ".join(cell.source[max(0, at - 40) : at + 40].split())
            problems.append(f"cell {index}: {figure} (…{context}…)")
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
