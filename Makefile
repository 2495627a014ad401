# `make run` and `make test` are the only commands a new user types: both build .venv when it is
# missing or older than pyproject.toml.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON ?= python3

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/immoflow dev

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

# Two pytest-xdist workers (TEST_WORKERS=0 runs in one process); the chaos scenarios stay on one of them.
TEST_WORKERS ?= 2

test: lint
	$(VENV)/bin/pytest -ra -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .immoflow .pytest_cache .mypy_cache .ruff_cache
