# Every target installs what it needs into .venv first, so a fresh clone needs only Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck check bench demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## start the app with working defaults; prints the install command
	$(BIN)/python -m hello_jwt

test: $(STAMP)  ## unit and end-to-end tests
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check hello_jwt tests
	$(BIN)/ruff format --check hello_jwt tests

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)  ## prints speed figures; see README "Benchmarks"
	$(BIN)/python tests/benchmarks/run.py

demo: $(STAMP)  ## the whole flow against a simulated Mattermost
	$(BIN)/python -m hello_jwt.demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
