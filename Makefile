# ncaforge: `make demo` and `make test` set up .venv themselves (idempotent).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of PyTorch; on a GPU machine: make TORCH="torch==2.13.0 --index-url ..." setup
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev,video]"
	touch $(STAMP)

demo: setup
	$(BIN)/nca demo

lint: setup
	$(BIN)/ruff check src tests benchmarks

test: lint
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/step_throughput.py --memory

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
