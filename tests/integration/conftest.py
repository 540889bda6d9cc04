"""Integration fixtures: the real corpus ingested once per session with the real model into a tmp index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT, Settings


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over corpus/ with a fresh index (real MiniLM, embedded Chroma) built for this session."""
    from ingest.pipeline import run_ingest

    with pytest.MonkeyPatch.context() as patch:
        # Session fixtures run before the per-test isolation: drop the developer's ASSISTANT_* here too.
        for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
            patch.delenv(key)
        settings = Settings.load(
            corpus_dir=PROJECT_ROOT / "corpus", index_dir=Path(tmp_path_factory.mktemp("real-index"))
        )
    summary = run_ingest(settings, progress=False)
    assert summary.ok, [f.reason for f in summary.failures]
    return settings
