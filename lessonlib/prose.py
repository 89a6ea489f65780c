"""Prose that cannot go stale: every measured number in a lesson's markdown is printed or sourced.

A number written in a markdown cell either is printed by a cell whose output nbval compares, or is listed,
with its source, in ``data/prose_figures.csv`` (published figures, constants of the course's setup, the
measured run times of the title cells). ``unsourced_prose_numbers`` finds every number that states a
measurement (a decimal, a percentage, a time, a count of things measured) and is neither; years, section
numbers and formulas need no entry.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import nbformat

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
