# Every target creates .venv if it is missing; `make test` is what CI runs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-memory bench-http bench-impact lint clean browser

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

# The explorer's browser tests need Debian's chromium and chromium-driver (CI runs as root).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		if command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium and chromium-driver with apt-get (browser tests)"; \
			(apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver) \
				|| echo "could not install them (not root?): browser tests skip outside CI"; \
		else \
			echo "no /usr/bin/chromium or /usr/bin/chromedriver and no apt-get: browser tests skip outside CI"; \
		fi; \
	fi

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/rehab-rules check policies
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench.decisions

bench-memory: $(STAMP)
	$(BIN)/python -m bench.decisions --only-memory --memory 1000000

bench-http: $(STAMP)
	$(BIN)/python -m bench.http

bench-impact: $(STAMP)
	$(BIN)/python -m bench.impact

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
