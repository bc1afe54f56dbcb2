# Two commands do all the set-up: `make demo` and `make test`.
# Both bootstrap from plain python3: a tools venv with a pinned uv, then
# `uv sync --locked` into .venv from uv.lock.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Test modules run on this many workers (pytest-xdist; a module stays on one worker).
TEST_WORKERS ?= 2
DEMO_ARGS ?=
BENCH_ARGS ?= --scale 1 --generate --rounds 3

.PHONY: setup demo test lint format unit integration e2e bench clean down

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: every Airflow task process imports Airflow and the providers;
# compiled once here, not again in each process (nor on every run where
# PYTHONDONTWRITEBYTECODE is set).
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --extra local --compile-bytecode --python $(PYTHON)
	touch $@

setup: $(VENV)/.synced

demo: setup
	$(BIN)/shopflow demo $(DEMO_ARGS)

test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/sqlfluff lint src --disable-progress-bar --nocolor

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix src --disable-progress-bar --nocolor

unit: setup
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

integration: setup
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

e2e: setup
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

bench: setup  # one SF1 day five ways (starts the stack when down); all benchmarks: bench/README.md
	$(BIN)/python bench/compare.py $(BENCH_ARGS)

down: setup
	$(BIN)/shopflow devstack down

clean: down
	rm -rf .shopflow
