# 黔江区“专精特新”企业培育流程引擎
#   make run   — create .venv, install dependencies, create the SQLite database with demo data, serve on :5000
#   make test  — lint and the whole test suite (PostgreSQL tests run when TEST_DATABASE_URL is set)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ZJTX := $(BIN)/zjtx
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test lint clean-db browser bench

$(STAMP): setup.cfg pyproject.toml package.json package-lock.json
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "需要 Python 3.11 或更高版本")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; fi
	touch $(STAMP)

install: $(STAMP)

run: install
	$(ZJTX) init-db
	$(ZJTX) seed
	$(ZJTX) deploy processes/*.bpmn
	$(ZJTX) demo
	$(ZJTX) secret-key
	$(ZJTX) serve --host $(HOST) --port $(PORT)

# Style (ruff), types (mypy over engine/ and notifications/) and the dependency rule (import-linter
# contracts in setup.cfg, see docs/architecture.md).
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# Browser tests use Debian's chromium (never a downloaded browser) and CJK fonts for the screenshots.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	    echo "installing Debian chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; }

test: lint browser
	$(BIN)/python -m pytest

# Benchmarks on a fresh SQLite file (or BENCH_DATABASE_URL, e.g. PostgreSQL); not part of `make test`.
BENCH_DATABASE_URL ?= sqlite:///$(CURDIR)/instance/bench.sqlite3
BENCH_SIZES ?= 1000,10000,100000
bench: install
	DATABASE_URL=$(BENCH_DATABASE_URL) $(ZJTX) bench --fresh --sizes $(BENCH_SIZES) --output bench-results.json
