# careloop developer commands. Each target creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install demo simulate test lint typecheck unit schemas clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,reports]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## The main job on the embedded default: a synthetic hospital through the live pipeline (embedded Kafka + PostgreSQL).
demo: install
	$(BIN)/careloop demo

## docs/img/revisit-by-arm.png from the demo's database: its closing table (return by journey and arm, 95% intervals,
## from careloop report experiment) as drawn at the end of `careloop demo`.
.PHONY: docs-charts
docs-charts: install
	$(BIN)/careloop demo
	mkdir -p docs/img && cp "$${CARELOOP_DATA_DIR:-.careloop}/demo/revisit-by-arm.png" docs/img/revisit-by-arm.png

## The same journeys without any services: replay the bundled sample through the pure core.
simulate: install
	$(BIN)/careloop simulate --events docs/samples/hospital.jsonl

## Everything CI checks: lint, types, the whole test suite.
test: install lint typecheck
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest tests/unit

## The corpus tier's public test data (tests/corpus/manifest.json: pinned commits, SHA-256 checked) into
## .careloop/testdata, for clones without ../shared/testdata beside them.
.PHONY: testdata
testdata: install
	$(BIN)/python -m tests.corpus.fetch

schemas: install
	$(BIN)/careloop schema export --out docs

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

## The fault-injection suite (kills, restarts, duplicates, poison) on Tansu and Apache Kafka, then docs/reliability.md.
.PHONY: faults
faults: install
	$(BIN)/python -m pytest tests/faults -m faults
	$(BIN)/python -m tests.faults.report

## Benchmarks at reduced size (a smoke run, ~2 minutes); `careloop bench` alone runs them at the issue's sizes.
.PHONY: bench-quick
bench-quick: install
	$(BIN)/careloop bench --quick

## The integration and end-to-end suites on real Apache Kafka (assembled from Maven Central jars) instead of Tansu.
.PHONY: test-apache
test-apache: install
	CARELOOP_TEST_BROKER=apache $(BIN)/python -m pytest tests/integration tests/e2e
