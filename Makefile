# dealbooks — every target builds .venv from nothing when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: install test test-fast demo bench lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)  ## the whole suite; PostgreSQL too when DEALBOOKS_TEST_POSTGRES_URL is set
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

demo: $(STAMP)  ## the lifecycle against in-process sandboxes, SQLite ledger, Prefect's ephemeral API
	$(BIN)/dealbooks demo

bench: $(STAMP)  ## benchmarks; results in bench/results/
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache
