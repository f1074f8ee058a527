# Accord: `make demo` and `make test` are all a newcomer needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-pg test-full coverage-client fuzz fuzz-report lint vectors bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/accord demo

test: $(STAMP)
	bash scripts/test.sh

# Issue 23: the same suite with every provider on its own throwaway PostgreSQL database.
test-pg: $(STAMP)
	ACCORD_TEST_ENGINE=postgresql bash scripts/test.sh

test-full: $(STAMP)
	ACCORD_TEST_FULL=1 bash scripts/test.sh

# Issue 21: the line coverage of accord.client by its unit tests alone (tests/client/unit:
# no server process, no socket, no sleep); fails under 80%.
coverage-client: $(STAMP)
	PYTHONPATH=src:. $(BIN)/python -m pytest -q -p no:cacheprovider tests/client/unit \
		--cov=accord.client --cov-report=term-missing --cov-fail-under=80

# Issue 24: every fuzz target for FUZZ_SECONDS in all (default 180), corpus merged back.
fuzz: $(STAMP)
	PYTHONPATH=src:. $(BIN)/python -m tests.fuzz.run

# The coverage of each target's corpus, written into docs/SECURITY-TESTING.md.
fuzz-report: $(STAMP)
	PYTHONPATH=src:. $(BIN)/python -m tests.fuzz.report

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

vectors: $(STAMP)
	$(BIN)/accord vectors tests/vectors/mls/*.json

clean:
	rm -rf $(VENV) build src/*.egg-info
