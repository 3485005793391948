# One command per job: `make smoke` (every notebook in seconds), `make reproduce`
# (the default profile, then its report), `make report` (rebuild the report from the
# results on disk), `make test` (lint + every test tier, what CI runs), `make test-fast`
# (lint + the fast unit tier; `make hooks` runs it before every commit).
#
# The virtualenv is built once and rebuilt only when pyproject.toml changes (the stamp
# .venv/.installed). torch is installed first and pinned, so re-runs find it satisfied
# instead of downloading it again. For a CPU-only torch wheel on Linux, pass its index:
#   make .venv TORCH_INDEX=https://download.pytorch.org/whl/cpu

PYTHON ?= python3
PROFILE ?= default
PYTEST_ARGS ?=
TORCH_INDEX ?=

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: $(VENV) reproduce report smoke test test-fast test-smoke test-functional hooks lint clean

$(VENV): $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch==2.13.0
	$(BIN)/python -m pip install -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name newsstudy --display-name "Python (newsstudy)"
	touch $@

reproduce: $(STAMP)
	$(BIN)/newsstudy reproduce --profile $(PROFILE)

report: $(STAMP)
	$(BIN)/newsstudy report --profile $(PROFILE)

smoke:
	$(MAKE) reproduce PROFILE=smoke

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

# The tiers `make test` runs together: fast unit tests (the pre-commit hook runs these),
# every notebook on the smoke profile, and the committed default results against the gates.
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not slow and not smoke and not functional" $(PYTEST_ARGS)

test-smoke: $(STAMP)
	$(BIN)/pytest -m smoke $(PYTEST_ARGS)

test-functional: $(STAMP)
	$(BIN)/pytest -m functional $(PYTEST_ARGS)

hooks:
	git config core.hooksPath .githooks

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf artifacts reports/smoke
