# Every target creates .venv if it is missing; `make test` is what CI runs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench bench-memory bench-http bench-impact lint clean browser lock test-pythons

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# constraints.txt: the versions CI tested (make lock writes it). CPPFLAGS lets
# durable-rules 2.0.28 build on Python 3.13, which removed PyEval_CallObject.
DURABLE_FLAGS := CPPFLAGS="-DPyEval_CallObject=PyObject_CallObject"

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(DURABLE_FLAGS) $(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
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

# axe-core (pinned in package.json / package-lock.json) for the explorer's accessibility test
AXE := node_modules/axe-core/axe.min.js

$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# pytest keeps its rewritten test modules in __pycache__ even where the shell says not to
# write bytecode: a second run then starts seconds sooner.
test test-fast: export PYTHONDONTWRITEBYTECODE =

# Both lanes run on WORKERS pytest-xdist processes (one per core here), a test file at a time
# each (loadfile), so that a module's shared app or browser is built once; the files with
# slow tests go first (tests/conftest.py), not the ones with most tests. Each worker has a
# temporary folder and a PostgreSQL database of its own (tests/service/conftest.py).
# WORKERS=0 runs in the one process.
WORKERS ?= 2
XDIST = -n $(WORKERS) --dist loadfile --no-loadscope-reorder

test: $(STAMP) browser $(AXE)
	$(BIN)/ruff check .
	$(BIN)/rehab-rules check policies
	$(BIN)/python -m pytest $(XDIST)

# The quick lane for iterating (under a minute): everything but the tests marked slow (the
# browser, real processes, floods, thousands of generated bodies) and PostgreSQL, with 300
# differential inputs per action instead of 2,000. `make test` runs all of it.
test-fast: $(STAMP)
	$(BIN)/ruff check .
	REHAB_RULES_DIFF_INPUTS=300 $(BIN)/python -m pytest -m "not slow and not postgres" \
		-p no:cacheprovider $(XDIST)

bench: $(STAMP)
	$(BIN)/python -m bench.decisions

bench-memory: $(STAMP)
	$(BIN)/python -m bench.decisions --only-memory --memory 1000000

bench-http: $(STAMP)
	$(BIN)/python -m bench.http

bench-impact: $(STAMP)
	$(BIN)/python -m bench.impact $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# Write constraints.txt from what the virtual environment holds (after changing pyproject.toml)
lock: $(BIN)/python
	$(DURABLE_FLAGS) $(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip freeze --exclude-editable | sed '/^-e /d' > constraints.txt

# The engine's tests on every Python from 3.11 up that this machine has (each in .venv-X.Y)
PYTHONS ?= 3.11 3.12 3.13
test-pythons:
	@for v in $(PYTHONS); do \
		py=; for c in python$$v $$HOME/.pyenv/versions/$$v*/bin/python$$v; do \
			$$c -c pass 2>/dev/null && { py=$$c; break; }; done; \
		[ -n "$$py" ] || { echo "python$$v: not on this machine"; continue; }; \
		[ -x .venv-$$v/bin/python ] || $$py -m venv .venv-$$v; \
		.venv-$$v/bin/python -c "import durable_rules_engine" 2>/dev/null || \
			$(DURABLE_FLAGS) .venv-$$v/bin/pip install --quiet --no-cache-dir --force-reinstall \
				--no-deps -c constraints.txt durable-rules || exit 1; \
		$(DURABLE_FLAGS) .venv-$$v/bin/pip install --quiet -c constraints.txt -e '.[dev]' || exit 1; \
		echo "== Python $$v"; .venv-$$v/bin/python -m pytest -q -p no:cacheprovider tests/engine \
			tests/test_policies.py tests/test_fixture_cases.py tests/test_planner_mistakes.py || exit 1; \
	done

clean:
	rm -rf $(VENV) .venv-3.* var node_modules .pytest_cache .ruff_cache .hypothesis
