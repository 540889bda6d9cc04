"""An embedded reader serves from the generation's own files, never starting Chroma, with the same scores."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import connection, offline
from assistant.chain import Assistant
from assistant.config import Settings
from assistant.embeddings import get_embedder
from assistant.store import ChunkStore
from ingest.pipeline import run_ingest

QUESTIONS = ["How can colleges engage small employers?", "How were employer networks funded?", "training costs"]


@pytest.fixture
def indexed(settings: Settings) -> Settings:
    assert run_ingest(settings, progress=False).ok
    return settings


@pytest.fixture
def no_chroma(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every connection to Chroma instead of making it (a reader should make none)."""
    made: list[str] = []

    def refuse(settings: Settings) -> None:
        made.append(str(settings.index_dir))
        raise AssertionError("the reader connected to Chroma")

    monkeypatch.setattr(connection, "connect", refuse)
    return made


def _answers(settings: Settings) -> list[tuple]:
    assistant = Assistant.from_settings(settings)
    found = []
    for question in QUESTIONS:
        answer = assistant.ask(question)
        passages = [(p.chunk.chunk_id, p.score, p.dense, p.lexical, p.late) for p in answer.passages]
        found.append((answer.answer, [(c.report, c.location) for c in answer.citations], passages))
    return found


def test_a_reader_answers_without_connecting_to_chroma(indexed: Settings, no_chroma: list[str]) -> None:
    store = ChunkStore(indexed, get_embedder(indexed)).open()
    assert store.count() > 0 and store.refresh() is False
    assert store.info()["chunker"] == store._expected_metadata()["chunker"]
    assert _answers(indexed)[0][1]  # cited
    assert no_chroma == []


def test_files_and_chroma_give_the_same_snapshot_and_answers(
    indexed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = get_embedder(indexed)
    from_files = ChunkStore(indexed, embedder).open()._current()
    answers = _answers(indexed)
    with monkeypatch.context() as patch:
        patch.setattr(offline, "load_snapshot", lambda generation: None)
        from_chroma = ChunkStore(indexed, embedder).open()._current()
        assert _answers(indexed) == answers  # passages, scores, answer text and citations, bit for bit

    assert from_files.chunks == from_chroma.chunks
    assert from_files.matrix is not None and from_chroma.matrix is not None
    assert from_files.matrix.dtype == from_chroma.matrix.dtype == np.float64
    assert from_files.matrix.tobytes() == from_chroma.matrix.tobytes()
    query = embedder.embed_query(QUESTIONS[0])
    assert from_files.search(query, 10) == from_chroma.search(query, 10)


def test_damaged_vectors_are_read_from_chroma_instead(indexed: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = get_embedder(indexed)
    whole = ChunkStore(indexed, embedder).open()._current()
    path = whole.generation.state_dir / offline.FOLDER / "vectors.npy"
    path.write_bytes(b"\0" * path.stat().st_size)
    connects: list[str] = []
    real = connection.connect
    monkeypatch.setattr(connection, "connect", lambda s: connects.append("chroma") or real(s))

    store = ChunkStore(indexed, embedder).open()
    assert connects == ["chroma"]
    assert [d.path for d in store.damage()] == [path]
    assert store._current().matrix.tobytes() == whole.matrix.tobytes()  # type: ignore[union-attr]


def _record(cid: str, dims: int = 4) -> offline.Record:
    from assistant.types import Chunk

    text = f"text of {cid}"
    chunk = Chunk(cid, "a", "A", 2008, ("1. Findings",), text, 0, len(text), 1, 1, None, None, "a.txt", 0)
    return offline.Record(chunk, np.arange(dims, dtype=np.float32) + len(cid))


def test_records_from_a_generator_are_written_in_order_and_read_back_the_same(tmp_path) -> None:
    from assistant.snapshot import Generation

    written: list[str] = []

    def one_at_a_time():  # a generator, as publish passes (that it is not held is bench/ingest_memory.py's to show)
        for cid in ("a1", "a2", "b10"):
            written.append(cid)
            yield _record(cid)

    offline.save_records(tmp_path, {"embedder": "x"}, one_at_a_time())
    assert written == ["a1", "a2", "b10"]
    assert sorted(f.name for f in (tmp_path / offline.FOLDER).iterdir()) == ["chunks.jsonl", "meta.json", "vectors.npy"]
    vectors = np.load(tmp_path / offline.FOLDER / "vectors.npy")
    assert vectors.dtype == np.float32 and vectors.shape == (3, 4)
    assert np.array_equal(vectors[2], _record("b10").vector)
    loaded = offline.load_snapshot(Generation("g1", "c", tmp_path))
    assert loaded is not None and loaded[0] == {"embedder": "x"}
    assert [c.chunk_id for c in loaded[1].chunks] == ["a1", "a2", "b10"]


def test_records_out_of_order_are_refused_and_no_half_file_is_left(tmp_path) -> None:
    with pytest.raises(ValueError, match="order"):
        offline.save_records(tmp_path, {}, [_record("b"), _record("a")])
    assert not (tmp_path / offline.FOLDER / "chunks.jsonl").exists()
    assert not (tmp_path / offline.FOLDER / "vectors.npy").exists()
    with pytest.raises(ValueError, match="dimensions"):
        offline.save_records(tmp_path, {}, [_record("a", 4), _record("b", 3)])
    assert list((tmp_path / offline.FOLDER).iterdir()) == []


def test_an_ingest_carries_unchanged_chunks_from_the_files_not_the_store(
    indexed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ChunkStore(indexed, get_embedder(indexed))
    current = store.current_generation()
    from_files, from_chroma = store.records(current, files_whole=True), store.records(current)
    assert sorted(from_files) == sorted(from_chroma)
    assert all(
        from_files[c].chunk == r.chunk and np.array_equal(from_files[c].vector, r.vector)
        for c, r in from_chroma.items()
    )

    asked: list[list[str]] = []
    pages = ChunkStore._pages

    def recording(self, generation, include):
        asked.append(list(include))
        return pages(self, generation, include)

    monkeypatch.setattr(ChunkStore, "_pages", recording)
    (indexed.corpus_dir / "added.txt").write_text(
        "Employers value short courses.\n\nMore text on apprenticeships here.\n"
    )
    summary = run_ingest(indexed, progress=False)
    assert summary.ok and summary.indexed == ["added.txt"]
    assert not any("embeddings" in include for include in asked)  # no read-back of every vector from Chroma
    after = ChunkStore(indexed, get_embedder(indexed))
    assert after.open().count() == summary.total_chunks > len(from_chroma)
    assert set(from_chroma) <= set(after.records(after.current_generation()))


def test_damaged_record_files_are_carried_from_the_store(indexed: Settings) -> None:
    store = ChunkStore(indexed, get_embedder(indexed))
    current = store.current_generation()
    (current.state_dir / offline.FOLDER / "vectors.npy").write_bytes(b"not a matrix")
    assert len(store.records(current, files_whole=True)) == len(store.records(current)) > 0
