"""Ingesting the real corpus with the real model: exact locations, and incremental re-ingest."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from assistant.chain import Assistant
from assistant.config import Settings
from assistant.embeddings import Embedder, get_embedder
from assistant.store import ChunkStore
from assistant.types import Chunk
from ingest.clean import CleanDoc, clean_document
from ingest.loaders import load_file
from ingest.pipeline import run_ingest

pytestmark = pytest.mark.integration

REPORT_FILES = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "corpus").glob("*.txt"))
EDITED_FILE = "ukces-2013-understanding-employer-networks-summary.txt"
NEW_SENTENCE = "Network members in the pilot areas met every quarter in a borrowed marquee beside the canal."


def _compact(text: str) -> str:
    """Text without white space, hyphens or emphasis marks: what survives word repair and de-hyphenation."""
    return re.sub(r"[\s\-\u00ad*_#]", "", text)


def _clean(path: Path) -> CleanDoc:
    loaded = load_file(path)
    return clean_document(loaded.pages, markdown=loaded.markdown)


@pytest.fixture(scope="module")
def embedder(real_settings: Settings) -> Embedder:
    """One loaded MiniLM for the module's own store handles and re-ingests."""
    return get_embedder(real_settings)


@pytest.fixture(scope="module")
def real_chunks(real_settings: Settings, embedder: Embedder) -> list[Chunk]:
    return ChunkStore(real_settings, embedder).open().all_chunks()


def _by_report(chunks: list[Chunk]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = defaultdict(set)
    for chunk in chunks:
        ids[chunk.report].add(chunk.chunk_id)
    return dict(ids)


def test_every_report_has_chunks(real_settings: Settings, real_chunks: list[Chunk]) -> None:
    sources = {c.source for c in real_chunks}
    assert sources == set(REPORT_FILES)
    for name in REPORT_FILES:
        assert sum(c.source == name for c in real_chunks) >= 10, name


def test_chunk_text_is_the_cleaned_source_at_its_offsets(real_settings: Settings, real_chunks: list[Chunk]) -> None:
    docs = {name: _clean(real_settings.corpus_dir / name) for name in REPORT_FILES}
    wrong = [c.chunk_id for c in real_chunks if docs[c.source].text[c.char_start : c.char_end] != c.text]
    assert not wrong, f"{len(wrong)} chunks do not match their offsets, e.g. {wrong[:3]}"


def test_line_ranges_hold_the_chunks_first_and_last_words(real_settings: Settings, real_chunks: list[Chunk]) -> None:
    lines = {
        name: (real_settings.corpus_dir / name).read_text(encoding="utf-8-sig").split("\n") for name in REPORT_FILES
    }
    wrong = []
    for chunk in real_chunks:
        region = _compact("".join(lines[chunk.source][chunk.line_start - 1 : chunk.line_end]))
        words = chunk.text.split()
        if _compact(" ".join(words[:4])) not in region or _compact(" ".join(words[-4:])) not in region:
            wrong.append(f"{chunk.chunk_id} lines {chunk.line_start}-{chunk.line_end}: {' '.join(words[:4])!r}")
    assert not wrong, f"{len(wrong)} chunks point at the wrong lines, e.g. {wrong[:3]}"


def test_no_chunk_is_empty_or_only_a_heading(real_settings: Settings, real_chunks: list[Chunk]) -> None:
    headings = {
        " ".join(b.text.split())
        for name in REPORT_FILES
        for b in _clean(real_settings.corpus_dir / name).blocks
        if b.kind == "heading"
    }
    for chunk in real_chunks:
        text = " ".join(chunk.text.split())
        assert re.search(r"\w", text), chunk.chunk_id
        assert text not in headings, f"{chunk.chunk_id} is only the heading {text!r}"
        assert not chunk.section or text != " ".join(chunk.section[-1].split()), chunk.chunk_id


@pytest.fixture
def index_copy(real_settings: Settings, tmp_path: Path) -> Settings:
    """Settings over a private copy of the corpus and of the session's real index."""
    corpus = tmp_path / "corpus"
    shutil.copytree(real_settings.corpus_dir, corpus)
    shutil.copytree(real_settings.index_dir, tmp_path / "index")
    return Settings.load(corpus_dir=corpus, index_dir=tmp_path / "index")


def _sentence_to_replace(chunks: list[Chunk], raw: str) -> str:
    """A long sentence of the edited report that the raw file holds exactly once, on one line."""
    for chunk in sorted(chunks, key=lambda c: c.ordinal):
        for sentence in chunk.sentence_texts:
            if len(sentence) > 80 and "\n" not in sentence and raw.count(sentence) == 1 and chunk.ordinal > 2:
                return sentence
    raise AssertionError(f"no single-line sentence to edit in {EDITED_FILE}")


def test_reingest_unchanged_corpus_embeds_nothing(index_copy: Settings, embedder: Embedder) -> None:
    before = ChunkStore(index_copy, embedder).open().all_chunks()

    summary = run_ingest(index_copy, embedder=embedder, progress=False)

    assert summary.ok, summary.failures
    assert summary.chunks_embedded == 0
    assert summary.chunks_deleted == 0
    assert summary.indexed == []
    assert sorted(summary.unchanged) == REPORT_FILES
    assert summary.total_chunks == len(before)
    after = ChunkStore(index_copy, embedder).open().all_chunks()
    assert [c.chunk_id for c in after] == [c.chunk_id for c in before]


def test_reingest_after_editing_one_paragraph_reindexes_only_that_file(
    index_copy: Settings, embedder: Embedder
) -> None:
    before = ChunkStore(index_copy, embedder).open().all_chunks()
    edited = index_copy.corpus_dir / EDITED_FILE
    raw = edited.read_text(encoding="utf-8")
    report = next(c.report for c in before if c.source == EDITED_FILE)
    old_sentence = _sentence_to_replace([c for c in before if c.source == EDITED_FILE], raw)
    edited.write_text(raw.replace(old_sentence, NEW_SENTENCE), encoding="utf-8")

    summary = run_ingest(index_copy, embedder=embedder, progress=False)

    assert summary.ok, summary.failures
    assert summary.indexed == [EDITED_FILE]
    assert sorted(summary.unchanged) == sorted(set(REPORT_FILES) - {EDITED_FILE})
    report_chunks = sum(c.report == report for c in before)
    assert 0 < summary.chunks_embedded < report_chunks, "only the chunks around the edit are new"
    assert summary.chunks_deleted > 0

    after = ChunkStore(index_copy, embedder).open().all_chunks()
    assert summary.total_chunks == len(after)
    old_ids, new_ids = _by_report(before), _by_report(after)
    for other in set(old_ids) - {report}:
        assert new_ids[other] == old_ids[other], f"ids of {other} changed"
    # No stale chunks: the old sentence is gone, and every chunk of the edited file is the new text.
    assert not [c.chunk_id for c in after if old_sentence in c.text]
    assert [c for c in after if NEW_SENTENCE in c.text]
    doc = _clean(edited)
    assert all(doc.text[c.char_start : c.char_end] == c.text for c in after if c.report == report)

    assistant = Assistant.from_settings(index_copy, embedder=embedder)
    assert not [c for c in assistant.retriever.lexical.chunks if old_sentence in c.text], "BM25 kept a stale chunk"
    found = assistant.retriever.retrieve(NEW_SENTENCE, 3)
    assert any(NEW_SENTENCE in p.chunk.text for p in found.passages), [p.chunk.text[:80] for p in found.passages]


DETERMINISM_CHILD = """
import json, sys
sys.path.insert(0, {repo!r})
from assistant.chain import Assistant
from assistant.config import Settings
settings = Settings.load(corpus_dir={corpus!r}, index_dir={index!r})
assistant = Assistant.from_settings(settings)
for line in open({cases!r}, encoding="utf-8"):
    case = json.loads(line)
    answer = assistant.ask(case["question"], case.get("history") or None)
    print(json.dumps([case["id"], [p.chunk.chunk_id for p in answer.passages], answer.answer]), flush=True)
"""


@pytest.mark.timeout(900)
def test_the_eval_questions_get_the_same_passages_in_two_processes(real_settings: Settings) -> None:
    """Deterministic retrieval: the same generation gives the same passages in every process and run."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    script = DETERMINISM_CHILD.format(
        repo=str(repo),
        corpus=str(real_settings.corpus_dir),
        index=str(real_settings.index_dir),
        cases=str(repo / "evals" / "cases.jsonl"),
    )
    # Side by side, so the two compete for the cores as a busy server's workers would; different hash
    # seeds, so anything that depends on set or dict order of strings shows.
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        for seed in ("1", "2")
    ]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=850)
        assert child.returncode == 0, err[-3000:]
        outputs.append([tuple(json.loads(line)[:2]) for line in out.splitlines()])
    first, second = outputs
    assert len(first) == len((repo / "evals" / "cases.jsonl").read_text().splitlines()) > 50
    differing = [a[0] for a, b in zip(first, second, strict=True) if a != b]
    assert not differing, f"passages differ between processes for {differing}"
