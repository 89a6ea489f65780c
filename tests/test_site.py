"""The course site (``make site``, configured in docs/conf.py), checked in a real browser.

Headless Chromium (Debian's ``chromium`` package), driven by Playwright, opens the landing page and every
lesson over HTTP from 127.0.0.1: each lesson shows its title, the course map in the sidebar, an on-page
table of contents, its plots and its math, the "Run it yourself" box, and previous/next links that lead
where they should; the search finds lesson 03 for "normalise"; no page logs a console error or asks for
anything outside the site. Screenshots of the landing page and of lesson 03 are kept in build/screenshots/.

Without chromium the browser tests are skipped, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

import lessonlib
from lessonlib.course import lesson_notebooks, notebook_title

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "build" / "site"
SCREENSHOTS = ROOT / "build" / "screenshots"
NOTEBOOKS = lesson_notebooks(ROOT / "notebooks")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
INSTALL_HINT = "Debian/Ubuntu: `apt-get install -y chromium` (the browser tests use the system browser)"
#: How long one page may take to load or one element to appear (ms): the site is static and local.
TIMEOUT_MS = 20_000

# The one place sockets are enabled: the server below binds 127.0.0.1 and the browser reaches nothing else.
pytestmark = [pytest.mark.enable_socket, pytest.mark.site]


def _sources() -> list[Path]:
    """What the site is built from: a site older than any of these is rebuilt before it is checked."""
    files = [*NOTEBOOKS, ROOT / "README.md", ROOT / "TEACHING.md", ROOT / "Makefile"]
    files += [p for p in (ROOT / "docs").rglob("*") if p.is_file() and not {"generated", "__pycache__"} & set(p.parts)]
    return files + list((ROOT / "lessonlib").rglob("*.py"))


@pytest.fixture(scope="module")
def site() -> Path:
    """build/site, built by `make site` (as `make test` does first) unless it is newer than its sources."""
    landing = SITE / "docs" / "index.html"
    if not landing.is_file() or landing.stat().st_mtime < max(p.stat().st_mtime for p in _sources()):
        subprocess.run(["make", "site", f"VENV={sys.prefix}"], cwd=ROOT, check=True)
    return SITE


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    """The site served over HTTP on 127.0.0.1 (Sphinx's search fetches pages, which file:// URLs forbid)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=site))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        message = f"chromium is not installed at {CHROMIUM}: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


class Visit:
    """One browser page that records console errors, uncaught exceptions and requests leaving the site."""

    def __init__(self, browser, base_url: str) -> None:
        self.base_url = base_url
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.set_default_timeout(TIMEOUT_MS)
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"{self.page.url}: uncaught {error}"))
        self.page.on("request", self._request)

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"{self.page.url}: console error {message.text!r}")

    def _request(self, request) -> None:
        if not request.url.startswith((self.base_url, "data:", "blob:")):
            self.problems.append(f"{self.page.url}: requested {request.url}, outside the site")

    def open(self, path: str):
        self.page.goto(f"{self.base_url}/{path}", wait_until="load")
        return self.page

    def close(self) -> None:
        self.page.close()
        assert self.problems == []


@pytest.fixture
def visit(browser, base_url) -> Iterator[Visit]:
    opened = Visit(browser, base_url)
    yield opened
    opened.close()


def _lesson_url(path: Path) -> str:
    return f"notebooks/{path.stem}.html"


def _heading(page) -> str:
    return page.locator("article h1").first.text_content().replace("#", "").strip()


def _follow(page, selector: str) -> str:
    """Click the link ``selector`` and return the heading of the page it leads to."""
    with page.expect_navigation(wait_until="load"):
        page.locator(selector).click()
    return _heading(page)


def _image_outputs(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


def _has_formulas(path: Path) -> bool:
    """Whether the notebook's markdown holds $…$ or $$…$$ math (outside code)."""
    markdown = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    return bool(re.search(r"\$\$.+?\$\$|\$[^$\n]+\$", re.sub(r"```.*?```|`[^`\n]*`", "", markdown, flags=re.S)))


def _typeset_math(page) -> int:
    """How many formulas MathJax has typeset on the page, once it has finished."""
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    return page.evaluate("() => MathJax.startup.promise.then(() => document.querySelectorAll('mjx-container').length)")


def _rendered_output_images(page) -> int:
    """Images in cell outputs that the browser has loaded and decoded (a broken one has no width)."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.cell_output img')].filter(i => i.complete && i.naturalWidth > 0).length"
    )


def test_make_site_fails_on_a_broken_link_and_a_missing_page(tmp_path):
    """`make site` with the course's configuration, on a two-page source with both mistakes: it fails, naming each."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(
        "# Home\n\nSee [the recipes](recipes.md) and [a page that is not there](missing.md).\n\n"
        "```{toctree}\nrecipes\nnot-written-yet\n```\n"
    )
    (tmp_path / "docs" / "recipes.md").write_text("# Recipes\n\nBack to [the course](index.md).\n")
    out = tmp_path / "site"
    result = subprocess.run(
        ["make", "site", f"VENV={sys.prefix}", f"SITE_SRC={tmp_path}", f"SITE_DIR={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "missing.md" in result.stderr and "not-written-yet" in result.stderr, result.stderr[-2000:]
    assert "recipes" not in result.stderr.replace("/recipes.md", "")  # the good link and page pass


def test_landing_page_shows_the_course_map_and_the_two_commands(visit, site, capsys):
    page = visit.open("index.html")  # sends the browser on to docs/index.html
    page.wait_for_url("**/docs/index.html")
    assert _heading(page) == "Text embedding models: a hands-on course"
    course_map = page.locator("#course-map table")
    rows = course_map.locator("tbody tr")
    assert rows.count() == len(NOTEBOOKS)
    for row, path in zip(rows.all(), NOTEBOOKS, strict=True):
        link = row.locator("a").first
        assert link.get_attribute("href") == f"../{_lesson_url(path)}"
        assert path.name in link.text_content()
        assert len(row.locator("td").all()) == 4  # the lesson, what it lets you do, its time, its prerequisites
    commands = page.locator("#two-commands").text_content()
    assert "make course" in commands and "make test" in commands
    sidebar = page.locator("nav.bd-docs-nav")
    for path in NOTEBOOKS:
        assert sidebar.locator(f'a[href="../{_lesson_url(path)}"]').count() == 1
    for guide in sorted((ROOT / "docs").glob("*.md")):
        if guide.stem != "index":  # every other page in docs/ is in the sidebar, recipes and workshop plan included
            assert sidebar.locator(f'a[href="{guide.stem}.html"]').count() == 1, guide.name
    assert sidebar.locator('a[href="api/index.html"]').count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "landing.png", full_page=True)


@pytest.mark.parametrize("index", range(len(NOTEBOOKS)), ids=[p.stem[:2] for p in NOTEBOOKS])
def test_lesson_page_reads_and_navigates(visit, index):
    path = NOTEBOOKS[index]
    page = visit.open(_lesson_url(path))
    title = notebook_title(path)
    assert _heading(page) == title

    # The course map in the sidebar, this lesson marked as the current page; the on-page table of contents.
    sidebar = page.locator("nav.bd-docs-nav")
    for other in NOTEBOOKS:
        if other != path:
            assert sidebar.locator(f'a[href="{other.stem}.html"]').count() == 1, other.name
    assert sidebar.locator("li.current > a").first.text_content().strip() == title
    toc = page.locator(".bd-sidebar-secondary nav.page-toc")
    assert toc.is_visible() and toc.locator("a").count() >= 3

    # Every plot the notebook stores is on the page, loaded; math is typeset when the lesson has any.
    assert _rendered_output_images(page) == _image_outputs(path)
    formulas = page.locator(".math").count()
    assert (formulas > 0) == _has_formulas(path)
    if formulas:
        assert _typeset_math(page) == formulas
    article = page.locator("article").inner_text()
    assert "interactive(children=" not in article  # a widget's text stand-in is not shown: its static twin is

    # Run it yourself: the notebook's path (a download of the executed notebook) and the README's commands.
    box = page.locator(".run-it-yourself")
    assert f"notebooks/{path.name}" in box.inner_text()
    assert "make course" in box.inner_text() and "make test" in box.inner_text()
    download = box.locator("a.download").first.evaluate("a => a.href")
    response = page.request.get(download)
    assert response.ok and json.loads(response.body())["cells"]
    assert box.locator('a[href$="index.html#two-commands"]').count() == 1

    # Previous and next lead to the neighbouring pages and back.
    previous = "Text embedding models: a hands-on course" if index == 0 else notebook_title(NOTEBOOKS[index - 1])
    assert _follow(page, "a.left-prev") == previous
    page.go_back(wait_until="load")
    if index + 1 < len(NOTEBOOKS):
        assert _follow(page, "a.right-next") == notebook_title(NOTEBOOKS[index + 1])
        assert _follow(page, "a.left-prev") == title
    if index == 3:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"lesson-{path.stem[:2]}.png")


def test_widget_static_twin_is_readable(visit):
    """Where a lesson shows a widget (it needs a live kernel), the page shows the next cell's printed twin."""
    found = 0
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        for at, cell in enumerate(cells):
            outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
            if not any("application/vnd.jupyter.widget-view+json" in out.get("data", {}) for out in outputs):
                continue
            twin = next(c for c in cells[at + 1 :] if c.cell_type == "code")
            printed = "".join(out.get("text", "") for out in twin.outputs if out.get("name") == "stdout")
            page = visit.open(_lesson_url(path))
            text = page.locator("article").inner_text()
            for line in filter(None, (line.strip() for line in printed.splitlines())):
                assert " ".join(line.split()) in " ".join(text.split()), f"{path.name}: {line!r} not on the page"
            found += 1
    assert found >= 1  # lesson 01's τ slider


def test_search_finds_lesson_03_for_normalise(visit, capsys):
    page = visit.open("search.html?q=normalise")
    page.wait_for_function("() => document.querySelector('#search-results')?.textContent.includes('Search finished')")
    results = page.locator("#search-results ul.search li a")
    hrefs = [link.get_attribute("href") for link in results.all()]
    lesson03 = next(p for p in NOTEBOOKS if p.name.startswith("03_"))
    hit = next((link for link in results.all() if _lesson_url(lesson03) in link.get_attribute("href")), None)
    assert hit is not None, f"no result for lesson 03 among {hrefs}"
    rank = hrefs.index(hit.get_attribute("href")) + 1
    with capsys.disabled():
        print(f"\nsite search 'normalise': {len(hrefs)} results; lesson 03 at rank {rank}: {hit.text_content()!r}")


def test_api_reference_has_every_module_with_its_type_aliases(visit, site):
    modules = ["lessonlib"] + [m.name for m in pkgutil.walk_packages(lessonlib.__path__, "lessonlib.")]
    for name in modules:
        assert (site / "docs" / "api" / "generated" / f"{name}.html").is_file(), name
    page = visit.open("docs/api/generated/lessonlib.metrics.html")
    assert page.locator('[id="lessonlib.metrics.Qrels"]').count() == 1
    assert page.locator('[id="lessonlib.metrics.Run"]').count() == 1
    signature = page.locator('[id="lessonlib.metrics.score"]')
    assert signature.locator('a[href="#lessonlib.metrics.Run"]').count() == 1  # the alias by name, linked
    page = visit.open("docs/api/generated/lessonlib.prose.html")  # numpydoc's sections, Examples included
    documented = page.locator('[id="lessonlib.prose.prose_measurements"]').locator("xpath=..")
    assert "Examples" in documented.inner_text() and documented.locator(".doctest").count() == 1


def test_site_has_every_page(site, capsys):
    """One page per lesson, per docs/*.md, per lessonlib module, plus the API index, the redirect, the
    search page and the two indices; printed with the site's size and the screenshots kept."""
    modules = 1 + len(list(pkgutil.walk_packages(lessonlib.__path__, "lessonlib.")))
    expected = len(NOTEBOOKS) + len(list((ROOT / "docs").glob("*.md"))) + modules + 1 + 4
    pages = sorted(p for p in site.rglob("*.html") if "_static" not in p.parts)  # not the theme's macros
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    shots = sorted(str(p.relative_to(ROOT)) for p in SCREENSHOTS.glob("*.png"))
    with capsys.disabled():
        print(f"\nsite: {len(pages)} HTML pages, {size / 2**20:.1f} MiB; screenshots kept: {shots}")
    assert len(pages) == expected, [str(p.relative_to(site)) for p in pages]
