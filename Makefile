# Two commands for people: `make run` and `make test`. Both are idempotent and quick once set up.
# Packages install without byte-compiling every file (--no-compile): Python compiles what it
# imports, on first import; that saves the minute spent compiling all of torch.
# CPU-only machine? `make run TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu` (see README).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_INDEX_URL ?=

CHROMIUM := /usr/bin/chromium
# pytest-xdist workers: two, even on two cores, halve the suite (most tests wait on a child
# process, a browser or a socket); test files stay whole, so module fixtures are built once.
# xdist's own order (files with most tests first) measured faster than collection order
# (12 min 20 s against 14 min 43 s from nothing): it pairs the heavy app files with light ones.
TEST_WORKERS ?= 2
HAS_INDEX := from closp_core.settings import Settings; from closp_core.store import stored_model_id; \
	raise SystemExit(0 if stored_model_id(Settings.load()) else 1)

.PHONY: run test demo-index chromium

# Install, build the demo index when there is none yet, then serve the app on 127.0.0.1:8501.
run: $(VENV)/.installed-run demo-index
	$(BIN)/streamlit run app.py --server.address 127.0.0.1

demo-index: $(VENV)/.installed-run
	@$(BIN)/python -c '$(HAS_INDEX)' 2>/dev/null || $(BIN)/python -m ingest demo

test: $(VENV)/.installed-dev chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(wildcard closp_core ingest)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python >= 3.11 needed: set PYTHON=python3.11 (or newer)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-torch: | $(BIN)/python
	$(if $(TORCH_INDEX_URL),$(BIN)/pip install -q --no-compile --index-url $(TORCH_INDEX_URL) \
		torch==2.14.1 torchvision==0.29.1,@true)
	@touch $@

$(VENV)/.installed-run: requirements.txt $(VENV)/.installed-torch
	$(BIN)/pip install -q --no-compile -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed-run
	$(BIN)/pip install -q --no-compile -r requirements-dev.txt
	@touch $@

# Debian's chromium for the real-browser test (tests/app/test_browser.py); skipped when present.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing chromium for the browser test (apt-get)"; \
			(apt-get install -y -qq chromium >/dev/null 2>&1 || \
			 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)); \
		else echo "no $(CHROMIUM) and no root apt-get: the browser test skips (and fails in CI)"; fi; \
	fi
