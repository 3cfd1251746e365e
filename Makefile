# Every target creates .venv if it is missing; `make test` is what CI runs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-http bench-impact lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p var
	$(BIN)/rehab-rules db upgrade
	$(BIN)/rehab-rules serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/rehab-rules check policies
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench.decisions

bench-http: $(STAMP)
	$(BIN)/python -m bench.http

bench-impact: $(STAMP)
	$(BIN)/python -m bench.impact

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
