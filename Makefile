# chaosbench: the commands the README names, and the usual ones.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Flux's parser for the dashboards' queries, when .ci/run installed it (tests/test_grafana.py).
export FLUX_LSP_DIR ?= $(CURDIR)/.ci/.npm/node_modules/@influxdata/flux-lsp-browser

.PHONY: setup deps run sut test check lint format bench up down reset clean

# The virtual environment, created when missing and refreshed when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

# The main job: a short load-plus-chaos run against the reference system, ending in a verdict and a report.
run: $(STAMP)
	$(BIN)/python -m chaosbench.cli.mainjob

# The reference system under test, in the foreground.
sut: $(STAMP)
	$(BIN)/python -m chaosbench.sut

# What the tests need on this machine (servers, Debian and npm packages): installed when missing.
deps:
	@bash .ci/deps

test: $(STAMP) deps
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench

# Revert whatever a killed harness left behind (ledger of faults that outlive the process).
reset: $(STAMP)
	$(BIN)/python -m chaosbench.chaos reset

# For users with Docker: InfluxDB 2, Grafana, Toxiproxy, PostgreSQL, Redis, the reference system, Locust.
up:
	docker compose up -d --build

down:
	docker compose down

clean:
	rm -rf runs spool .pytest_cache .mypy_cache .ruff_cache
