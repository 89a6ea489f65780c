"""The course site's two additions to Sphinx.

A "Run it yourself" box at the top of every lesson page: it names the notebook's path in the repository,
offers the executed notebook as a download, and gives the README's two commands (``make course`` opens the
lessons in JupyterLab, ``make test`` checks them), linking to where the landing page explains them.

numpydoc's signature hook, kept to callables that have a signature: a type alias such as
``lessonlib.metrics.Qrels`` (``dict[str, dict[str, int]]``) is callable, so numpydoc would read the dict
constructor's docstring as the alias's signature, and Sphinx fails to apply a signature to an object
documented without one ("error while formatting signature … list assignment index out of range").
"""

from __future__ import annotations

from docutils import nodes
from numpydoc.numpydoc import mangle_signature
from sphinx import addnodes
from sphinx.application import Sphinx

LESSONS = "notebooks/"


def _literal_paragraph(*parts: str | nodes.Node) -> nodes.paragraph:
    paragraph = nodes.paragraph()
    for part in parts:
        paragraph += nodes.Text(part) if isinstance(part, str) else part
    return paragraph


def run_it_yourself(docname: str) -> nodes.admonition:
    """The box for the lesson page ``docname`` (``notebooks/03_normalisation_cosine_and_dot``)."""
    path = f"{docname}.ipynb"
    download = addnodes.download_reference(
        "", "", nodes.literal(text=path), reftarget=f"/{path}", refdoc=docname, refexplicit=True, reftype="download"
    )
    commands = addnodes.pending_xref(
        "",
        nodes.inline(text="the README's two commands"),
        refdomain="std",
        reftype="ref",
        reftarget="two-commands",
        refexplicit=True,
        refwarn=True,
        refdoc=docname,
    )
    box = nodes.admonition(classes=["tip", "run-it-yourself"])
    box += nodes.title(text="Run it yourself")
    box += _literal_paragraph("This lesson is the notebook ", download, " in the course's repository. From its root, ")
    steps = nodes.bullet_list()
    for command, what in (("make course", " sets up and opens it in JupyterLab;"), ("make test", " runs every test.")):
        steps += nodes.list_item("", _literal_paragraph(nodes.literal(text=command), what))
    box += steps
    box += _literal_paragraph("See ", commands, " for what they need.")
    return box


def _add_box(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    if not docname.startswith(LESSONS):
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        raise ValueError(f"{docname}: a lesson page needs a title (the notebook's first cell, '# NN · …').")
    title = next(iter(section.findall(nodes.title)))
    section.insert(section.index(title) + 1, run_it_yourself(docname))


def _signature_of_callables(app: Sphinx, what: str, name: str, obj: object, options, sig, retann):
    if what in {"data", "attribute", "type"}:  # autodoc documents these without a signature
        return None
    return mangle_signature(app, what, name, obj, options, sig, retann)


def setup(app: Sphinx) -> dict[str, object]:
    app.setup_extension("numpydoc")
    for listener in list(app.events.listeners["autodoc-process-signature"]):
        if listener.handler is mangle_signature:
            app.disconnect(listener.id)
            app.connect("autodoc-process-signature", _signature_of_callables, priority=listener.priority)
    # Before Sphinx's own doctree-read collectors (priority 500), which register the download.
    app.connect("doctree-read", _add_box, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
