# Caveat's two entry points (see README): `make run` and `make test`.
# Both set up .venv first; every step is idempotent (re-running does only what is out of date).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.caveat-installed
PORT   ?= 8001

# Nothing is ever downloaded at run time: the embedding model ships inside a Python package.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test test-fast browser build site serve eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel of torch first: otherwise sentence-transformers pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,train,scale]'
	touch $@

setup: $(STAMP)

## The main job: validate, build the database (with the checker's verdicts), print the checker's measured accuracy
## on real statements it was not fitted on (from the committed evaluation/ files: cross-validated, the locked fold's
## latest run, human agreement), build the explainer site, then serve it all on one server: the data at /, the check
## page at /-/check, the site at /site/.
run: setup
	$(BIN)/kb validate
	$(BIN)/kb build
	$(BIN)/kb eval --show
	$(BIN)/kb site
	$(BIN)/kb serve --port $(PORT)

## The test suite (browser tests need Debian's chromium; `make browser` installs it when it can).
## Tests run on every core, a whole file per worker (its fixtures load once); at most 4 workers, each holds a model.
test: setup browser
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile

test-fast: setup
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile -m "not slow and not browser"

browser:
	@command -v chromium >/dev/null 2>&1 || ( \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed and cannot be installed here: browser tests will be skipped"; fi )

build: setup
	$(BIN)/kb build

site: setup
	$(BIN)/kb site

serve: setup
	$(BIN)/kb serve --port $(PORT)

## Re-measure the checker by cross-validation and save the figures that make run, README and the site show.
eval: setup
	$(BIN)/kb eval --cv --save evaluation/cv.json

bench: setup
	$(BIN)/python benchmarks/check_throughput.py
	$(BIN)/python benchmarks/serve_load.py
	$(BIN)/python benchmarks/scan_throughput.py --ray

clean:
	rm -rf build test-artifacts .pytest_cache
