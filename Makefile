# `make run` starts the product, `make test` runs lint and the tests. Both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test audit fmt lint bench stop clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The stamps re-run pip only when a requirements file changed.
$(VENV)/.runtime: requirements.txt requirements-nodeps.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/python -m blogllm.run

# Browser tests drive Debian's chromium (never a downloaded browser). Install it where we can
# (root with apt); elsewhere those tests skip and say why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests…"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || echo "Could not install chromium: the browser tests will be skipped."; \
	  else echo "No chromium and no root apt: the browser tests will be skipped."; fi; }

test: $(VENV)/.dev chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python .ci/audit.py
	$(BIN)/pytest

# Known vulnerabilities in the pinned requirements (.ci/audit.py says how exceptions are kept).
audit: $(VENV)/.dev
	$(BIN)/python .ci/audit.py

fmt: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The benchmarks compare our de-identification with Presidio and philter-lite: bench-only packages.
$(VENV)/.bench: $(VENV)/.dev requirements-bench.txt
	$(BIN)/pip install -q -r requirements-bench.txt
	touch $@

bench: $(VENV)/.bench
	$(BIN)/python -m bench

# Stop a development embedded PostgreSQL left running (for example after `kill -9`).
stop: $(VENV)/.runtime
	$(BIN)/python -c "from pathlib import Path; from blogllm import pgembed; pgembed.stop(Path('var/postgres')); pgembed.stop(Path('var/test/postgres'))"

clean: stop
	rm -rf var/test
