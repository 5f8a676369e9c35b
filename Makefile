# Omega V2: one entry point for people and CI. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Cargo builds live outside the checkout so that fresh clones (CI) reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/omega-v2/target

.PHONY: help install run backtest test test-rust test-python lint fmt bench
.PHONY: ci test-fast precommit workflows security security-rust coverage coverage-python \
	coverage-rust golden

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY) ## create .venv, build the Rust engine and install omega-v2 with its dev tools
	$(PY) -m pip install --quiet --upgrade pip 'maturin>=1.7,<2'
	$(PY) -m pip install --quiet --no-build-isolation -e '.[dev,cluster,bench]'

run: install ## install, then run the dev sweep on the bundled fixtures and print the top 10
	$(PY) -m optimizer sweep studies/eurusd_mrz_dev.yaml --resume

backtest: install ## install, then run one backtest on the fixtures and write artifacts to out/
	$(PY) -m bt run configs/backtest/eurusd_m5_mrz.json --out out/eurusd_m5_mrz

test: install test-rust test-python ## install, then run every test (cargo test + pytest)

test-rust: ## run the Rust tests of every crate
	cargo test --workspace --quiet

test-python: ## run the Python test suite (needs `make install` first; extra flags: PYTEST_ARGS=...)
	$(PY) -m pytest $(PYTEST_ARGS)

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
	$(PY) benchmarks/compare_backtesting.py
	$(PY) benchmarks/bench_sweep.py --quick

# ---- Gates (README "Gates", docs/ci.md) ---------------------------------------------
# Reports land under the ignored out/ci/. The workflow linters and hook tools come from
# the venv (`make install`), so it goes first on PATH for the recipes that call them.
OUT_CI ?= out/ci
PYTEST_ARGS ?=
COVERAGE_MIN ?= 80
TARPAULIN_VERSION ?= 0.37.5
# Per-crate exceptions to the floor, as --floor 'CRATE=PCT:reason' (none today: omega-ffi
# is tested in an embedded interpreter, since maturin alone turns on extension-module).
COVERAGE_FLOORS ?=
GOLDEN_OUT ?= $(OUT_CI)/golden-run
GOLDEN_CHECK_ARGS ?=
# pip-audit asks for one release at a time (/pypi/NAME/VERSION/json), so probe that form.
PYPI_JSON_PROBE ?= https://pypi.org/pypi/pip/24.0/json
PIP_AUDIT_REQUIRED ?=
VENV_PATH := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
# cargo install builds outside the shared target so it never holds its lock for minutes.
TOOLS_TARGET_DIR ?= $(HOME)/.cache/omega-v2/tools-target

ci: ## run every gate exactly as CI does (= bash .ci/run)
	bash .ci/run

test-fast: ## fast tier: pytest without slow, integration and e2e tests (under 5 minutes)
	$(PY) -m pytest -m "not slow and not integration and not e2e" $(PYTEST_ARGS)

precommit: ## run every pre-commit hook on all files (local hooks, tools from .venv)
	$(VENV_PATH) $(VENV)/bin/pre-commit run --all-files --show-diff-on-failure

workflows: ## lint the GitHub workflows: actionlint, zizmor --offline, SHA pins, permissions
	$(VENV_PATH) actionlint
	$(VENV_PATH) zizmor --offline --config .github/zizmor.yml .github/workflows
	$(PY) scripts/check_workflows.py

security: ## bandit on bt/ optimizer/ omega_bt/, pip-audit on the venv
	$(VENV)/bin/bandit -c pyproject.toml -r bt optimizer omega_bt --quiet
	@# pip-audit asks PyPI's JSON API about each package. Where only the package index is
	@# reachable (this project's machines) it could audit nothing, so it is skipped with a
	@# notice; PIP_AUDIT_REQUIRED=1 (the GitHub job) turns that into a failure.
	@if $(PY) -c 'import urllib.request as u; u.urlopen("$(PYPI_JSON_PROBE)", timeout=15)' 2>/dev/null; then \
		echo "$(VENV)/bin/pip-audit --strict --skip-editable"; \
		$(VENV)/bin/pip-audit --strict --skip-editable --progress-spinner off; \
	elif [ -n "$(PIP_AUDIT_REQUIRED)" ]; then \
		echo "pip-audit: PyPI's JSON API is unreachable and PIP_AUDIT_REQUIRED is set" >&2; exit 1; \
	else \
		echo "pip-audit: SKIPPED, PyPI's JSON API is unreachable here (the security_audit job runs it)"; \
	fi

security-rust: ## cargo audit against the RustSec database (fetched from GitHub: CI only)
	@command -v cargo-audit >/dev/null || \
		CARGO_TARGET_DIR=$(TOOLS_TARGET_DIR) cargo install cargo-audit --locked
	cargo audit

coverage: coverage-python coverage-rust ## Python and per-crate Rust coverage, >= 80% each

coverage-python: ## pytest with coverage of bt, optimizer and omega_bt (fails under 80%)
	@mkdir -p $(OUT_CI)
	$(PY) -m pytest --cov --cov-report=term --cov-report=xml $(PYTEST_ARGS)

coverage-rust: ## cargo-tarpaulin line coverage of every crate (fails when one is under 80%)
	@mkdir -p $(OUT_CI)
	@command -v cargo-tarpaulin >/dev/null || \
		CARGO_TARGET_DIR=$(TOOLS_TARGET_DIR) cargo install cargo-tarpaulin --locked --version $(TARPAULIN_VERSION)
	cargo tarpaulin --workspace --engine llvm --skip-clean --locked \
		--target-dir $(CARGO_TARGET_DIR)/tarpaulin --exclude-files 'rust_core/crates/*/benches/*' \
		--out Json --output-dir $(OUT_CI)
	python3 scripts/coverage_per_crate.py $(OUT_CI)/tarpaulin-report.json --min $(COVERAGE_MIN) \
		--expect $(notdir $(wildcard rust_core/crates/*)) $(COVERAGE_FLOORS)

golden: ## compare a fresh fixture run with tests/golden (contract rounding); check MANIFEST.json
	$(PY) scripts/golden_compare.py --out $(GOLDEN_OUT)
	$(PY) scripts/golden_check.py $(GOLDEN_CHECK_ARGS)
