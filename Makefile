# revfield — every command a user needs. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help demo test soak eval cassettes bench lint fmt clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## fresh SQLite, the sample book of business, the field loop; offline, no API key
	$(BIN)/revfield demo

test: $(STAMP)  ## the whole suite (SQLite always; PostgreSQL when REVFIELD_TEST_DATABASE_URL is set)
	@command -v chromium >/dev/null 2>&1 || (apt-get install -y -q chromium >/dev/null 2>&1 || true)
	$(BIN)/python -m pytest -q -n auto

soak: $(STAMP)  ## the long soak: 4 workers on PostgreSQL, a 4x book, faults and kills, then the invariant checker
	@test -n "$$REVFIELD_TEST_DATABASE_URL" || (echo "set REVFIELD_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test"; exit 2)
	SOAK=long $(BIN)/python -m pytest -q -s tests/worker/test_soak.py

eval: $(STAMP)  ## replay the recorded scenarios (evals/scenarios) and print the report
	$(BIN)/revfield eval

cassettes: $(STAMP)  ## re-record the OpenAI scenarios' cassettes against revfield's local server
	$(BIN)/revfield eval --record

bench: $(STAMP)  ## every performance figure beside its floor -> benchmarks/results.json
	$(BIN)/python -m benchmarks

lint: $(STAMP)  ## format check, ruff, mypy --strict on the package
	$(BIN)/ruff format --check revfield tests benchmarks
	$(BIN)/ruff check revfield tests benchmarks
	$(BIN)/mypy

fmt: $(STAMP)  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format revfield tests benchmarks
	$(BIN)/ruff check --fix revfield tests benchmarks

clean:  ## remove the virtualenv, caches and demo databases
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis revfield.db revfield.db-wal revfield.db-shm
