"""Sphinx configuration of the course site: ``make site`` builds it into build/site/.

The source folder is the repository itself (``sphinx-build -c docs . build/site``), so a link that works
on a repository host works on the site. The lessons are the committed, executed notebooks in notebooks/,
rendered by myst-nb without re-executing them; the landing page and every other page are MyST Markdown in
docs/ (docs/index.md includes the README's course map, docs/teaching.md includes TEACHING.md); the API
reference is generated from lessonlib's numpydoc docstrings. The build runs offline: no asset comes from
a CDN.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # lessonlib, importable without installing it
sys.path.insert(0, str(DOCS / "_ext"))

import lessonlib  # noqa: E402

project = "Text embedding models: a hands-on course"
html_title = "Text embedding models"
release = version = lessonlib.__version__
author = "the course's authors"
copyright = "the course's authors, Apache-2.0"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 served from _static/, not from a CDN
    "course_site",
]

root_doc = "docs/index"
# Only these files are pages: the lessons (not notebooks/sanitize.cfg, not checkpoints), the Markdown in docs/
# (a new docs/*.md appears on the site by itself: docs/index.md lists it with a glob) and the API pages.
# The folders that hold no page are not even walked.
include_patterns = ["notebooks/[0-9][0-9]_*.ipynb", "docs/*.md", "docs/api/**"]
exclude_patterns = [".*", "build", "learner", "tests", "benchmarks", "data", "lessonlib", "**/.ipynb_checkpoints"]
# Absolute: Sphinx reads templates_path relative to the source folder for autosummary, to docs/ for HTML.
templates_path = [str(DOCS / "_templates")]

# ------------------------------------------------------------------------------------------------ notebooks
nb_execution_mode = "off"  # render the stored outputs CI has checked; never re-execute
nb_execution_raise_on_error = True
# A widget needs a live kernel: lesson 01's slider cell is tagged remove-output, and the cell after it, its
# static twin, prints the same numbers. No widget JavaScript is loaded (it would come from a CDN).
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# Sphinx's own "unknown target" check for Markdown links, made a warning (so an error under -W).
myst_all_links_external = False

# ------------------------------------------------------------------------------------------- API reference
autosummary_generate = True
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "signature"
# Spell the course's type aliases by name in signatures instead of expanding them.
autodoc_type_aliases = {"Qrels": "lessonlib.metrics.Qrels", "Run": "lessonlib.metrics.Run"}
numpydoc_show_class_members = False  # autodoc's :members: documents them once
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -------------------------------------------------------------------------------------------------- checks
nitpicky = True
# Other projects' objects (numpy, torch, the standard library, …) could only be resolved through intersphinx
# inventories fetched from the web, which the offline build cannot reach. References to them are left
# unchecked; every reference to a lessonlib object, and every link between pages, is checked.
nitpick_ignore_regex = [
    (r"py:(class|obj|exc|func|data|meth|attr)", r"(?!lessonlib\b).*"),
]
# contrastive's functions take and return ``Array``, a TypeVar (a numpy array or a torch tensor) that the
# module's docstring explains; numpydoc cannot document a TypeVar as an object of its own.
nitpick_ignore = [("py:class", "lessonlib.contrastive.Array")]

# -------------------------------------------------------------------------------------------------- theme
html_theme = "sphinx_book_theme"
html_theme_options = {
    "show_toc_level": 2,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}
html_context = {"default_mode": "auto"}  # light or dark as the reader's system is (and no console error)
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_show_sourcelink = False

# The landing page is docs/index.html; build/site/index.html sends the browser there.
html_additional_pages = {"index": "redirect.html"}
