# Omega V2: one entry point for people and CI. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Cargo builds live outside the checkout so that fresh clones (CI) reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/omega-v2/target

.PHONY: help install run backtest test test-rust test-python lint fmt bench

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY) ## create .venv, build the Rust engine and install omega-v2 with its dev tools
	$(PY) -m pip install --quiet --upgrade pip 'maturin>=1.7,<2'
	$(PY) -m pip install --quiet --no-build-isolation -e '.[dev]'

run: install ## install, then run the dev sweep on the bundled fixtures and print the top 10
	$(PY) -m optimizer sweep studies/eurusd_mrz_dev.yaml

backtest: install ## install, then run one backtest on the fixtures and write artifacts to out/
	$(PY) -m bt run configs/backtest/eurusd_m5_mrz.json --out out/eurusd_m5_mrz

test: install test-rust test-python ## install, then run every test (cargo test + pytest)

test-rust: ## run the Rust tests of every crate
	cargo test --workspace --quiet

test-python: ## run the Python test suite (needs `make install` first)
	$(PY) -m pytest

lint: ## check formatting and lints: cargo fmt, clippy, ruff, mypy
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

fmt: ## format Rust and Python code in place
	cargo fmt --all
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install ## run the benchmarks (criterion + end to end) and print the tables
	cargo bench --workspace --quiet
	$(PY) benchmarks/bench_engine.py
