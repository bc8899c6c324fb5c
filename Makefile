# Two commands for people: `make run` and `make test`. Both are idempotent and quick once set up.
# CPU-only machine? `make run TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu` (see README).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_INDEX_URL ?=

.PHONY: run test

run: $(VENV)/.installed-run
	@echo "CLOSP engine installed in $(VENV)."
	@if [ -f app.py ]; then $(BIN)/streamlit run app.py; \
	else echo "The web app arrives with its own issue; try: $(BIN)/python -m bench.encode"; fi

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(wildcard closp_core ingest)
	$(BIN)/pytest

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python >= 3.11 needed: set PYTHON=python3.11 (or newer)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-torch: | $(BIN)/python
	$(if $(TORCH_INDEX_URL),$(BIN)/pip install -q --index-url $(TORCH_INDEX_URL) \
		torch==2.14.1 torchvision==0.29.1,@true)
	@touch $@

$(VENV)/.installed-run: requirements.txt $(VENV)/.installed-torch
	$(BIN)/pip install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed-run
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@
