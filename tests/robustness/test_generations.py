"""An index that is always whole: kills at every stage of a rebuild, readers across concurrent ingests.

The ingest runs in a child process (the fixture corpus, the fake embedder slowed down) that pauses at a
chosen stage so the kill lands exactly there; questions are asked in this process meanwhile.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from test_ingest_faults import add_reports, clean_build, store_state

from assistant.chain import Assistant
from assistant.config import Settings
from assistant.embeddings import get_embedder
from assistant.errors import IndexMissingError
from assistant.store import ChunkStore
from ingest.pipeline import run_ingest

REPO = Path(__file__).resolve().parents[2]
QUESTION = "How do colleges work with small employers?"
NEW_QUESTION = "What did the college agree with small employers on training plans in case study 3.7?"

CHILD = textwrap.dedent(
    """
    import pathlib, sys, time
    sys.path.insert(0, {repo!r})
    from tests.conftest import FakeEmbedder
    import ingest.pipeline as pipeline
    import ingest.prepare as prepare
    from assistant.config import Settings
    from assistant.store import ChunkStore

    marks, stop_at = pathlib.Path({marks!r}), {stop_at!r}

    def mark(stage):
        with open(marks, "a") as out:
            out.write(stage + "\\n")
        if stage == stop_at:
            time.sleep(120)  # held here until the test kills the process
        time.sleep({delay})

    class SlowFake(FakeEmbedder):
        def warm(self):
            pass

        def embed_documents(self, texts):
            mark("embedding")
            return super().embed_documents(texts)

    chunk_document = prepare.chunk_document
    prepare.chunk_document = lambda *a, **k: (mark("chunking"), chunk_document(*a, **k))[1]
    publish = ChunkStore.publish
    ChunkStore.publish = lambda self, *a, **k: (mark("publishing"), publish(self, *a, **k))[1]

    settings = Settings.load(corpus_dir={corpus!r}, index_dir={index!r}, embedder="fake", embed_batch_size=8)
    summary = pipeline.run_ingest(settings, rebuild={rebuild}, embedder=SlowFake(), progress=False)
    print("finished", summary.generation, flush=True)
    """
)


def start_child(settings: Settings, tmp_path: Path, *, stop_at: str = "", rebuild: bool, delay: float = 0.0):
    marks = tmp_path / f"marks-{time.monotonic_ns()}"
    marks.touch()
    script = CHILD.format(
        repo=str(REPO),
        marks=str(marks),
        stop_at=stop_at,
        delay=delay,
        corpus=str(settings.corpus_dir),
        index=str(settings.index_dir),
        rebuild=rebuild,
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return child, marks


def wait_for(child: subprocess.Popen, marks: Path, stage: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while stage not in marks.read_text().split():
        assert child.poll() is None, f"the ingest ended before {stage}: {child.stderr.read().decode()[-2000:]}"
        assert time.monotonic() < deadline, f"the ingest never reached {stage}"
        time.sleep(0.05)


def answers_from_the_old_index(assistant: Assistant) -> None:
    answer = assistant.ask(QUESTION)
    assert answer.citations and not answer.abstained, answer.answer
    assert not any(p.chunk.report.startswith("new-") for p in answer.passages)  # nothing half-built shows
    for citation in answer.citations:
        assert " ".join(citation.quote.split()) in " ".join(citation.passage.split())


def pointer(settings: Settings) -> str | None:
    generation = ChunkStore(settings, get_embedder(settings)).current_generation()
    return generation.id if generation else None


@pytest.mark.timeout(300)
@pytest.mark.parametrize("stage", ["chunking", "embedding", "publishing"])
def test_rebuild_killed_at_any_stage_leaves_the_index_answering(
    stage: str, indexed: Settings, corpus_dir: Path, tmp_path: Path
) -> None:
    reader = Assistant.from_settings(indexed)  # a long-running process (the app, `chat`, the API)
    before = pointer(indexed)
    before_state = store_state(indexed)
    add_reports(corpus_dir)
    child, marks = start_child(indexed, tmp_path, stop_at=stage, rebuild=True)
    try:
        wait_for(child, marks, stage)
        # While the rebuild is under way: the reader and a fresh process both answer from the old index.
        answers_from_the_old_index(reader)
        answers_from_the_old_index(Assistant.from_settings(indexed))
        assert pointer(indexed) == before
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"

    assert pointer(indexed) == before and store_state(indexed) == before_state
    answers_from_the_old_index(reader)
    answers_from_the_old_index(Assistant.from_settings(indexed))

    summary = run_ingest(indexed, progress=False)  # the next run completes the work, without a traceback
    assert summary.ok, summary.failures
    assert store_state(indexed) == store_state(clean_build(indexed, tmp_path))
    left = [g.id for g in ChunkStore(indexed, get_embedder(indexed)).generations()]
    assert left == [before, summary.generation]  # the killed build's collection was removed
    assert any(p.chunk.report.startswith("new-") for p in reader.ask(NEW_QUESTION).passages)  # reader followed


@pytest.mark.timeout(300)
def test_first_ingest_killed_midway_answers_nothing_rather_than_part(settings: Settings, tmp_path: Path) -> None:
    child, marks = start_child(settings, tmp_path, stop_at="publishing", rebuild=False)
    try:
        wait_for(child, marks, "publishing")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    with pytest.raises(IndexMissingError, match="assistant ingest"):
        Assistant.from_settings(settings)  # not an answer from part of the reports
    summary = run_ingest(settings, progress=False)
    assert summary.ok and summary.total_chunks == store_state(clean_build(settings, tmp_path))[0]
    assert Assistant.from_settings(settings).ask(QUESTION).citations


@pytest.mark.timeout(300)
def test_a_running_assistant_answers_across_a_concurrent_ingest_and_rebuild(
    indexed: Settings, corpus_dir: Path, tmp_path: Path
) -> None:
    reader = Assistant.from_settings(indexed)
    problems: list[str] = []
    asked = {"n": 0}
    done = threading.Event()

    def keep_asking() -> None:
        while not done.is_set():
            try:
                answer = reader.ask(QUESTION)
                if not answer.citations or answer.abstained:
                    problems.append(f"no cited answer: {answer.answer[:200]}")
                for citation in answer.citations:
                    if " ".join(citation.quote.split()) not in " ".join(citation.passage.split()):
                        problems.append(f"quote not in its passage: {citation.quote[:100]}")
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                problems.append(f"{type(exc).__name__}: {exc}")
            asked["n"] += 1

    asking = threading.Thread(target=keep_asking, daemon=True)
    asking.start()
    try:
        add_reports(corpus_dir)
        for rebuild in (False, True):
            child, _ = start_child(indexed, tmp_path, rebuild=rebuild, delay=0.05)
            out, err = child.communicate(timeout=200)
            assert child.returncode == 0, err.decode()[-2000:]
            published = out.decode().split()[-1]
            reader.ask(QUESTION)
            assert reader.store.generation.id == published  # switched on the next question
    finally:
        done.set()
        asking.join(timeout=60)
    assert asked["n"] > 5 and not problems, problems[:5]
    assert any(p.chunk.report.startswith("new-") for p in reader.ask(NEW_QUESTION).passages)


@pytest.fixture
def app_on_index(indexed: Settings, monkeypatch: pytest.MonkeyPatch):
    for key, value in {
        "CORPUS_DIR": indexed.corpus_dir,
        "INDEX_DIR": indexed.index_dir,
        "EMBEDDER": "fake",
        "ABSTAIN_THRESHOLD": "0.1",
    }.items():
        monkeypatch.setenv(f"ASSISTANT_{key}", str(value))
    st.cache_resource.clear()
    yield indexed
    st.cache_resource.clear()


@pytest.mark.timeout(300)
def test_the_app_keeps_answering_across_an_ingest_and_a_rebuild_in_another_process(
    app_on_index: Settings, corpus_dir: Path, tmp_path: Path
) -> None:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])

    add_reports(corpus_dir)
    for rebuild in (False, True):
        child, _ = start_child(app_on_index, tmp_path, rebuild=rebuild)
        _, err = child.communicate(timeout=200)
        assert child.returncode == 0, err.decode()[-2000:]
        at.chat_input[0].set_value(NEW_QUESTION).run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]  # no "Collection does not exist", no restart
    shown = "\n".join(m.value for m in at.markdown)
    assert "case study 3" in shown or "new-3" in shown.replace("\\", ""), shown[-2000:]
