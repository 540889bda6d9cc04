"""Fixtures for the app tests: a real index of the three-report fixture corpus, built once per session."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import streamlit as st

from assistant.config import Settings

FIXTURE_CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
REPO = Path(__file__).resolve().parents[2]
# The app's `pages` helpers import as a package from the project root, as they do under `streamlit run`.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def fixture_index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The ASSISTANT_* variables of an index built from tests/fixtures/corpus with the real model."""
    from ingest.pipeline import run_ingest

    root = tmp_path_factory.mktemp("app-index")
    corpus = root / "corpus"
    shutil.copytree(FIXTURE_CORPUS, corpus)
    settings = Settings.load(corpus_dir=corpus, index_dir=root / "index", embedder="minilm")
    summary = run_ingest(settings, progress=False)
    assert summary.total_chunks > 0 and not summary.failures, summary
    return {"ASSISTANT_CORPUS_DIR": str(corpus), "ASSISTANT_INDEX_DIR": str(root / "index")}


@pytest.fixture
def app_env(fixture_index: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the app at the fixture index for one test (the root conftest clears ASSISTANT_* first)."""
    for key, value in fixture_index.items():
        monkeypatch.setenv(key, value)
    return fixture_index


@pytest.fixture
def fresh_cache():
    """Forget loaded assistants before and after a test that configures the app differently."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()
