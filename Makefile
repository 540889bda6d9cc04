# Two commands do everything on a fresh machine:
#   make run    set up, build the index if missing or stale, start the app on http://127.0.0.1:8501
#   make test   set up (with test tools and Debian's chromium), run the whole test suite and the eval gate

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install install-dev browser index app unit integration e2e eval lint bench clean

run: install index app

test: install-dev browser lint
	$(BIN)/pytest -q -p no:cacheprovider tests

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned: 2.13.0 is the CPU build on this machine's disk; anything else pulls CUDA.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[llm]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# Debian's chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Files that cannot be read are listed (and shown in the app's sidebar) but do not stop the app.
index: install
	$(BIN)/assistant ingest --allow-skipped

app: install
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT) \
	  --server.headless true --server.fileWatcherType none --browser.gatherUsageStats false

unit: install-dev
	$(BIN)/pytest -q tests/unit

integration: install-dev
	$(BIN)/pytest -q tests/integration

e2e: install-dev browser
	$(BIN)/pytest -q tests/e2e

eval: install
	$(BIN)/assistant eval --baseline --gate

lint: install-dev
	$(BIN)/ruff check assistant ingest evals tests bench app.py pages cli.py

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py

clean:
	rm -rf .index test-artifacts .pytest_cache
