# The README's two commands: `make run` (the pipeline end to end on the embedded DuckDB warehouse)
# and `make test` (the whole test suite). Each sets itself up on a fresh machine.
SHELL := /bin/bash
VENV := .venv
UV_VERSION := 0.13.9
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export MINIMIZATION_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(MINIMIZATION_DATA_DIR)/dagster_home
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project \( -path dbt_project/target -o -path dbt_project/logs \) -prune -o \( -name '*.sql' -o -name '*.yml' \) -print 2>/dev/null)

.PHONY: setup run test lint ui plan bench bench-breakdown clean

setup: $(VENV)/.installed $(MANIFEST)

$(VENV)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@if command -v uv >/dev/null 2>&1; then uv sync --frozen --extra dev; else python3 -m uv sync --frozen --extra dev; fi
	@touch $@

# The manifest is prepared by the build, never at import (dagster-dbt reads it to build assets).
$(MANIFEST): $(VENV)/.installed $(DBT_SOURCES)
	@mkdir -p "$(MINIMIZATION_DATA_DIR)"
	dagster-dbt project prepare-and-package --file minimization_pipeline/dbt_project.py
	@touch $@

run: setup
	python -m minimization_pipeline run

test: setup
	python -m pytest

lint: setup
	ruff check .
	ruff format --check .

ui: setup
	@test -f "$(MINIMIZATION_DATA_DIR)/raw.duckdb" || python -m minimization_pipeline.demo.generate --data-dir "$(MINIMIZATION_DATA_DIR)"
	@python -c "from minimization_pipeline.cli import _ensure_dagster_home; from pathlib import Path; _ensure_dagster_home(Path('$(MINIMIZATION_DATA_DIR)'))"
	MINIMIZATION_DAGSTER_URL=http://127.0.0.1:$${PORT:-3000} dagster dev -h 127.0.0.1 -p $${PORT:-3000} -w workspace.yaml

# What every RAW table and column will get, and why (PLAN_ARGS="--write" adds it to minimization.yaml).
plan: setup
	python -m minimization_pipeline plan $(PLAN_ARGS)

# Both benchmarks (UCI Adult against the PyPI peers, each in its own virtualenv under .bench/; RAW_SAFE
# app.users at 1M and 10M rows); the tables are printed and written to bench_results/.
# Options: make bench BENCH_ARGS="--all-k" | "--skip-peers" | "--scale-users 1000000"
bench: $(VENV)/.installed
	python -m minimization_pipeline_tests.benchmarks $(BENCH_ARGS)

# Where the engine's seconds go on Adult, statement by statement (BENCH_ARGS="--k 10 --repeats 50").
bench-breakdown: $(VENV)/.installed
	python -m minimization_pipeline_tests.benchmarks.breakdown $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data dbt_project/target dbt_project/logs .pytest_cache .ruff_cache .bench bench_results
