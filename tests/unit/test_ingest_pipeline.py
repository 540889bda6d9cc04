"""The ingest pipeline on the fixture corpus: incremental updates, removal, rebuild, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.embeddings import get_embedder
from assistant.store import ChunkStore
from ingest.pipeline import run_ingest


def _store(settings: Settings) -> ChunkStore:
    return ChunkStore(settings, get_embedder(settings)).open()


def _ids(settings: Settings) -> set[str]:
    return {c.chunk_id for c in _store(settings).all_chunks()}


def test_first_ingest_indexes_every_report(settings: Settings) -> None:
    summary = run_ingest(settings, progress=False)
    assert summary.ok, summary.failures
    assert sorted(summary.indexed) == ["alpha-2010-networks.txt", "beta-2015-colleges.md", "gamma-2020-brokerage.pdf"]
    chunks = _store(settings).all_chunks()
    assert {c.report for c in chunks} == {"alpha-2010", "beta-2015", "gamma-2020-brokerage"}
    assert summary.total_chunks == len(chunks) > 3


def test_report_without_catalog_entry_takes_title_and_year_from_the_file(settings: Settings) -> None:
    run_ingest(settings, progress=False)
    pdf_chunks = [c for c in _store(settings).all_chunks() if c.source.endswith(".pdf")]
    assert pdf_chunks and pdf_chunks[0].title == "Job Brokerage for Progression"
    assert pdf_chunks[0].year == 2020
    assert {c.page_start for c in pdf_chunks} == {1, 2}
    assert all(c.location.startswith("p. ") for c in pdf_chunks)


def test_reingest_with_nothing_changed_embeds_nothing(settings: Settings, monkeypatch) -> None:
    run_ingest(settings, progress=False)
    before = _ids(settings)
    summary = run_ingest(settings, progress=False)
    assert summary.chunks_embedded == 0
    assert len(summary.unchanged) == 3 and not summary.indexed
    assert _ids(settings) == before


def test_changed_file_has_its_chunks_replaced_without_duplicates(settings: Settings, corpus_dir: Path) -> None:
    run_ingest(settings, progress=False)
    md = corpus_dir / "beta-2015-colleges.md"
    md.write_text(md.read_text().replace("Building trust takes time.", "Building trust takes years."))
    summary = run_ingest(settings, progress=False)
    assert summary.indexed == ["beta-2015-colleges.md"]
    assert 0 < summary.chunks_embedded  # only the changed chunks are embedded again
    texts = [c.text for c in _store(settings).all_chunks() if c.report == "beta-2015"]
    assert any("takes years" in t for t in texts)
    assert not any("takes time" in t for t in texts)  # no stale chunk left
    assert len(texts) == len(set(texts))

    fresh = Settings.load(**{**settings.model_dump(), "index_dir": settings.index_dir.parent / "clean"})
    run_ingest(fresh, progress=False)
    assert _ids(fresh) == _ids(settings)  # same as a clean build


def test_removed_file_loses_its_chunks(settings: Settings, corpus_dir: Path) -> None:
    run_ingest(settings, progress=False)
    (corpus_dir / "alpha-2010-networks.txt").unlink()
    summary = run_ingest(settings, progress=False)
    assert summary.removed == ["alpha-2010-networks.txt"]
    assert "alpha-2010" not in {c.report for c in _store(settings).all_chunks()}


def test_rebuild_starts_from_empty_and_gives_the_same_ids(settings: Settings) -> None:
    run_ingest(settings, progress=False)
    before = _ids(settings)
    summary = run_ingest(settings, rebuild=True, progress=False)
    assert summary.rebuilt and summary.chunks_embedded == len(before)
    assert _ids(settings) == before


def _encrypted_pdf(path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(str(Path(__file__).parents[1] / "fixtures/corpus/gamma-2020-brokerage.pdf")).pages:
        writer.add_page(page)
    writer.encrypt("secret", algorithm="AES-128")
    with open(path, "wb") as out:
        writer.write(out)


def _image_only_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    pdf.output(str(path))


BAD_FILES = [
    ("corrupt.pdf", lambda p: p.write_bytes(b"%PDF-1.4\n this is not really a pdf \x00\x01"), "not a readable PDF"),
    ("locked.pdf", _encrypted_pdf, "encrypted"),
    ("scan.pdf", _image_only_pdf, "no text layer"),
    ("empty.txt", lambda p: p.write_bytes(b""), "empty"),
    ("image.txt", lambda p: p.write_bytes(bytes(range(256)) * 20), "binary"),
    ("notes.docx", lambda p: p.write_bytes(b"PK\x03\x04 fake docx"), "unsupported file type"),
]


@pytest.mark.parametrize(("name", "make", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_reported_and_skipped_and_the_index_stays_intact(
    settings: Settings, corpus_dir: Path, name: str, make, reason: str
) -> None:
    first = run_ingest(settings, progress=False)
    before = _ids(settings)
    make(corpus_dir / name)
    summary = run_ingest(settings, progress=False)
    assert summary.generation == first.generation  # nothing to change: no new generation
    assert len(summary.failures) == 1
    failure = summary.failures[0]
    assert name in failure.reason and reason in failure.reason
    assert "\n" not in failure.reason
    assert _ids(settings) == before  # nothing lost, nothing half-written


def test_missing_path_is_reported(settings: Settings, corpus_dir: Path) -> None:
    summary = run_ingest(settings, [corpus_dir, corpus_dir / "nope.pdf"], progress=False)
    assert [f.source for f in summary.failures] == [str(corpus_dir / "nope.pdf")]
    assert "not found" in summary.failures[0].reason
    assert len(summary.indexed) == 3


def test_non_utf8_text_is_indexed_with_a_warning(settings: Settings, corpus_dir: Path) -> None:
    text = "Café owners said employers’ training budgets were small and résumés were rarely read.\n" * 3
    (corpus_dir / "legacy.txt").write_bytes(text.encode("cp1252"))
    summary = run_ingest(settings, progress=False)
    assert summary.ok
    assert any("legacy.txt" in w and "UTF-8" in w for w in summary.warnings)
    legacy = [c for c in _store(settings).all_chunks() if c.source == "legacy.txt"]
    assert legacy and "Café" in legacy[0].text and "employers’" in legacy[0].text


def test_a_file_outside_the_corpus_is_refused_in_one_line(settings: Settings, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    shutil.copy(settings.corpus_dir / "beta-2015-colleges.md", extra / "delta-2021-notes.md")
    run_ingest(settings, progress=False)
    before = _ids(settings)
    summary = run_ingest(settings, [extra / "delta-2021-notes.md"], progress=False)
    assert not summary.indexed and len(summary.failures) == 1
    reason = summary.failures[0].reason
    assert "outside the corpus folder" in reason and "\n" not in reason
    assert _ids(settings) == before  # the corpus is still indexed, nothing added


# -- generations: a whole new index each run, one pointer switched, readers follow -------------------


def _generation(settings: Settings):
    return ChunkStore(settings, get_embedder(settings)).current_generation()


def test_each_change_publishes_a_new_generation_and_keeps_only_the_previous_one(
    settings: Settings, corpus_dir: Path
) -> None:
    seen = []
    for n in range(3):
        md = corpus_dir / "beta-2015-colleges.md"
        md.write_text(md.read_text() + f"\nEdition {n} of the notes added a sentence about employers.\n")
        summary = run_ingest(settings, progress=False)
        assert summary.ok and summary.generation == _generation(settings).id
        seen.append(summary.generation)
    assert len(set(seen)) == 3
    left = [g.id for g in ChunkStore(settings, get_embedder(settings)).generations()]
    assert left == seen[1:]  # the one serving and the one before it; older ones removed
    folders = sorted(p.name for p in (settings.state_dir / "generations").iterdir())
    assert folders == seen[1:]
    unchanged = run_ingest(settings, progress=False)
    assert unchanged.generation == seen[-1] and unchanged.chunks_embedded == 0  # nothing new: no new generation


def test_a_reader_follows_a_new_generation_before_its_next_question(settings: Settings, corpus_dir: Path) -> None:
    from assistant.chain import Assistant

    run_ingest(settings, progress=False)
    reader = Assistant.from_settings(settings)
    question = "Who paid the harbour pilots?"
    assert not any("harbour pilots" in p.chunk.text for p in reader.ask(question).passages)
    (corpus_dir / "delta-2022-harbour.txt").write_text(
        "Harbour Pilots Review 2022\n\nThe harbour pilots were paid by a levy on shipping employers. "
        "Employers in the port shared the costs of training harbour pilots.\n"
    )
    run_ingest(settings, progress=False)
    answer = reader.ask(question)  # the same Assistant: no restart, no stale collection
    assert any(c.report == "delta-2022-harbour" for c in answer.citations), answer.answer
    for _ in range(2):  # two more generations: the one the reader first opened is deleted
        run_ingest(settings, rebuild=True, progress=False)
    again = reader.ask(question)
    assert any(c.report == "delta-2022-harbour" for c in again.citations)
    assert reader.store.generation.id == _generation(settings).id


def test_a_build_that_fails_midway_leaves_the_serving_generation_untouched(
    settings: Settings, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.errors import StoreUnavailableError

    run_ingest(settings, progress=False)
    before, ids = _generation(settings), _ids(settings)
    calls = {"n": 0}
    original = ChunkStore.write

    def failing_write(self, generation, chunks, vectors):
        calls["n"] += 1
        if calls["n"] > 1:
            raise StoreUnavailableError("the store went away")
        return original(self, generation, chunks, vectors)

    monkeypatch.setattr(ChunkStore, "write", failing_write)
    with pytest.raises(StoreUnavailableError):
        run_ingest(settings, rebuild=True, progress=False)
    monkeypatch.undo()
    assert _generation(settings) == before and _ids(settings) == ids
    assert [g.id for g in ChunkStore(settings, get_embedder(settings)).generations()] == [before.id]  # discarded
    assert run_ingest(settings, progress=False).chunks_embedded == 0  # the serving generation is whole


def test_manifest_is_reconciled_against_the_store(settings: Settings) -> None:
    import json

    run_ingest(settings, progress=False)
    manifest = _generation(settings).state_dir / "manifest.json"
    data = json.loads(manifest.read_text())
    data["files"]["alpha-2010-networks.txt"]["chunks"] += 5  # says more than the store holds
    manifest.write_text(json.dumps(data))
    summary = run_ingest(settings, progress=False)
    # The edit no longer matches the generation's file list: the manifest is not trusted at all, every
    # file is checked again, and their known chunks keep their vectors.
    assert any(str(manifest) in w and "rebuilding it" in w for w in summary.warnings), summary.warnings
    assert len(summary.indexed) == 3 and not summary.unchanged and summary.chunks_embedded == 0
    fixed = json.loads((_generation(settings).state_dir / "manifest.json").read_text())
    assert fixed["files"]["alpha-2010-networks.txt"]["chunks"] == sum(
        c.source == "alpha-2010-networks.txt" for c in _store(settings).all_chunks()
    )


def test_token_vectors_cover_every_chunk_and_are_carried_over(settings: Settings, corpus_dir: Path) -> None:
    from assistant.late import TokenVectors

    run_ingest(settings, progress=False)
    first = TokenVectors.load(_generation(settings).state_dir / "tokens")
    ids = _ids(settings)
    assert first is not None and set(first._ranges) == ids
    md = corpus_dir / "beta-2015-colleges.md"
    md.write_text(md.read_text().replace("Building trust takes time.", "Building trust takes years."))
    summary = run_ingest(settings, progress=False)
    second = TokenVectors.load(_generation(settings).state_dir / "tokens")
    assert second is not None and set(second._ranges) == _ids(settings)
    kept = next(i for i in ids & _ids(settings) if i.startswith("alpha"))
    assert (first.get(kept) == second.get(kept)).all()
    assert 0 < summary.chunks_embedded < len(ids)  # carried over, not embedded again


def test_exact_search_breaks_ties_by_chunk_id(settings: Settings, corpus_dir: Path) -> None:
    same = "Employer levies paid for the shared apprenticeship scheme.\n"
    for name in ("tie-b.txt", "tie-a.txt", "tie-c.txt"):
        (corpus_dir / name).write_text(f"Tie Report {name}\n\n" + same)
    run_ingest(settings, progress=False)
    store = _store(settings)
    vector = store.embedder.embed_query("Employer levies paid for the shared apprenticeship scheme.")
    hits = [(c.chunk_id, s) for c, s in store.search(vector, 20) if c.report.startswith("tie")]
    tied = [h for h in hits if h[1] == hits[0][1]]
    assert len(tied) >= 2 and [h[0] for h in tied] == sorted(h[0] for h in tied)
    assert store.search(vector, 5) == _store(settings).search(vector, 5)


# -- the corpus folder is a boundary -------------------------------------------------------------------


def test_symlinks_are_refused_and_what_came_through_one_is_removed(
    settings: Settings, corpus_dir: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("Secret Ledger\n\nThe root password of the payroll server is hunter2 for employers.\n")
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "more.txt").write_text("More Secrets\n\nEmployers must never see this private text.\n")
    # First a plain file of the same name is indexed, then it becomes a link.
    (corpus_dir / "passwd.txt").write_text(secret.read_text())
    run_ingest(settings, progress=False)
    assert any(c.source == "passwd.txt" for c in _store(settings).all_chunks())
    (corpus_dir / "passwd.txt").unlink()
    (corpus_dir / "passwd.txt").symlink_to(secret)
    (corpus_dir / "linked").symlink_to(folder, target_is_directory=True)

    summary = run_ingest(settings, progress=False)
    reasons = {f.source: f.reason for f in summary.failures}
    assert set(reasons) == {"passwd.txt", "linked"}
    assert all("symbolic link" in r and "\n" not in r for r in reasons.values())
    assert summary.removed == ["passwd.txt"]
    texts = " ".join(c.text for c in _store(settings).all_chunks())
    assert "hunter2" not in texts and "private text" not in texts
    assert {c.report for c in _store(settings).all_chunks()} == {"alpha-2010", "beta-2015", "gamma-2020-brokerage"}


# -- encodings --------------------------------------------------------------------------------------------

ENCODED = [
    ("cp1252.txt", "cp1252", "The fee was £500 per café employer’s apprentice.", "cp1252"),
    ("latin1.txt", "latin-1", "The fee was £500 per café employer and apprentice.", None),
    ("utf16.txt", "utf-16", "The fee was £500 per café employer’s apprentice.", "utf-16"),
    ("utf8bom.txt", "utf-8-sig", "The fee was £500 per café employer’s apprentice.", "utf-8-sig"),
]


@pytest.mark.parametrize(("name", "codec", "sentence", "decision"), ENCODED, ids=[e[0] for e in ENCODED])
def test_text_in_other_encodings_is_read_exactly(
    settings: Settings, corpus_dir: Path, name: str, codec: str, sentence: str, decision: str | None
) -> None:
    body = f"Fees Review 2019\n\n{sentence} " + "Small firms said the training fee was too high for them. " * 12
    (corpus_dir / name).write_bytes(body.encode(codec))
    summary = run_ingest(settings, progress=False)
    assert summary.ok, summary.failures
    text = " ".join(c.text for c in _store(settings).all_chunks() if c.source == name)
    assert sentence in text
    assert "Ł" not in text and "\ufeff" not in text
    if decision is not None:
        assert summary.encodings[name] == decision
    else:  # Latin-1 and cp1252 agree on these characters; either is a correct reading
        assert summary.encodings[name] in {"latin_1", "iso8859_1", "cp1252", "iso8859_15"}


def test_a_corpus_folder_reached_through_a_link_is_still_indexed(settings: Settings, tmp_path: Path) -> None:
    link = tmp_path / "corpus-link"
    link.symlink_to(settings.corpus_dir, target_is_directory=True)
    linked = Settings.load(**{**settings.model_dump(), "corpus_dir": link})
    summary = run_ingest(linked, progress=False)
    assert summary.ok, summary.failures
    assert sorted(summary.indexed) == ["alpha-2010-networks.txt", "beta-2015-colleges.md", "gamma-2020-brokerage.pdf"]


def test_an_index_of_the_old_single_collection_layout_is_replaced_on_the_next_ingest(settings: Settings) -> None:
    from assistant.chain import Assistant
    from assistant.errors import IndexMissingError

    store = ChunkStore(settings, get_embedder(settings))
    store._client.create_collection(settings.collection)  # what the previous layout wrote
    (settings.state_dir / "bm25").mkdir(parents=True)
    (settings.state_dir / "manifest.json").write_text('{"files": {}}')
    with pytest.raises(IndexMissingError, match="older version.*assistant ingest"):
        Assistant.from_settings(settings)
    assert run_ingest(settings, progress=False).ok
    names = {getattr(c, "name", c) for c in store._client.list_collections()}
    assert settings.collection not in names and f"{settings.collection}.current" in names
    assert not (settings.state_dir / "manifest.json").exists() and not (settings.state_dir / "bm25").exists()
    assert Assistant.from_settings(settings).ask("How are employer networks funded?").citations


# -- the no-change fast path: decided from the files, before the store is opened or the model loaded --


def test_a_no_change_ingest_opens_neither_the_store_nor_the_model(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.pipeline as pipeline

    first = run_ingest(settings, progress=False)

    def refused(*args, **kwargs):
        raise AssertionError("the store was opened although nothing changed")

    monkeypatch.setattr(pipeline, "ChunkStore", refused)
    monkeypatch.setattr(type(get_embedder(settings)), "warm", refused)
    summary = run_ingest(settings, progress=False)
    assert summary.ok and not summary.indexed and not summary.removed and summary.chunks_embedded == 0
    assert sorted(summary.unchanged) == sorted(first.indexed)
    assert summary.total_chunks == first.total_chunks and summary.generation == first.generation


def test_the_store_files_say_what_chroma_says(settings: Settings, corpus_dir: Path) -> None:
    from assistant.peek import read_store

    run_ingest(settings, progress=False)
    (corpus_dir / "beta-2015-colleges.md").unlink()
    run_ingest(settings, progress=False)  # a second generation, so the pointer names a previous one too
    store = ChunkStore(settings, get_embedder(settings))
    current, previous = store.pointer()
    assert current is not None and previous is not None
    found = read_store(settings)
    assert found is not None
    pointer = found.metadata(f"{settings.collection}.current")
    assert pointer is not None and (pointer["generation"], pointer["previous"]) == (current.id, previous.id)
    for generation in (current, previous):
        assert found.metadata(generation.collection) == store.metadata(generation)
        assert found.source_counts(generation.collection) == store.source_counts(generation)
    assert found.source_counts(f"{settings.collection}.gone") == {}


def test_a_chunk_missing_from_the_store_is_noticed_without_the_manifest_changing(settings: Settings) -> None:
    run_ingest(settings, progress=False)
    store = ChunkStore(settings, get_embedder(settings)).open()
    victim = next(c for c in store.all_chunks() if c.source == "alpha-2010-networks.txt")
    store._client.get_collection(store.generation.collection).delete(ids=[victim.chunk_id])
    summary = run_ingest(settings, progress=False)
    assert summary.indexed == ["alpha-2010-networks.txt"]
    assert victim.chunk_id in _ids(settings)


def test_a_build_left_by_a_killed_run_is_pruned_by_the_next_no_change_ingest(settings: Settings) -> None:
    run_ingest(settings, progress=False)
    store = ChunkStore(settings, get_embedder(settings))
    serving = store.current_generation()
    abandoned = store.new_generation()  # what a run killed before publishing leaves
    summary = run_ingest(settings, progress=False)
    assert summary.ok and not summary.indexed and summary.generation == serving.id
    assert [g.id for g in ChunkStore(settings, get_embedder(settings)).generations()] == [serving.id]
    assert abandoned.id not in {g.id for g in store.generations()}


def test_a_changed_catalog_entry_is_not_taken_for_no_change(settings: Settings, corpus_dir: Path) -> None:
    run_ingest(settings, progress=False)
    catalog = corpus_dir / "catalog.toml"
    catalog.write_text(catalog.read_text().replace("Networks", "Employer networks", 1))
    assert run_ingest(settings, progress=False).indexed  # the fingerprint holds the catalog entry


def test_estimate_is_announced_before_embedding(settings: Settings) -> None:
    heard = []
    summary = run_ingest(settings, progress=False, on_estimate=heard.append)
    assert len(heard) == 1 and heard[0].chunks == summary.chunks_embedded == summary.total_chunks
    assert heard[0].seconds > 0 and "passages to embed" in heard[0].describe()


def test_a_file_over_the_passage_limit_is_refused_with_the_numbers_before_embedding(
    settings: Settings, corpus_dir: Path
) -> None:
    run_ingest(settings, progress=False)
    before = _ids(settings)
    big = corpus_dir / "big-2021.txt"
    big.write_text("Big Report\n\n" + "\n\n".join(f"Employers in area {i} trained staff." * 40 for i in range(60)))
    summary = run_ingest(settings, [big], progress=False, max_chunks=5)
    assert summary.chunks_embedded == 0 and not summary.indexed
    (failure,) = summary.failures
    assert "big-2021.txt: makes" in failure.reason and "limited to 5 passages" in failure.reason
    assert "ASSISTANT_MAX_UPLOAD_CHUNKS" in failure.reason
    assert _ids(settings) == before


def test_what_a_killed_build_left_is_removed_by_the_next_ingest(settings: Settings) -> None:
    run_ingest(settings, progress=False)
    orphan_segment = settings.index_dir / "chroma" / "0123abcd-0000-4000-8000-00000000beef"
    orphan_segment.mkdir()
    (orphan_segment / "data_level0.bin").write_bytes(b"\0" * 1000)
    orphan_generation = settings.state_dir / "generations" / "g20200101T000000000000-abcdef"
    (orphan_generation / "tokens").mkdir(parents=True)
    live = {p.name for p in (settings.index_dir / "chroma").iterdir()} - {orphan_segment.name}
    run_ingest(settings, progress=False)
    assert not orphan_segment.exists() and not orphan_generation.exists()
    assert live <= {p.name for p in (settings.index_dir / "chroma").iterdir()}  # the live segments stay
    assert _store(settings).count() > 0


def test_token_vectors_of_a_larger_model_are_projected_and_carried(
    settings: Settings, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import embeddings, late
    from assistant.late import TokenVectors
    from tests.conftest import FakeEmbedder

    TOKEN_DIMS = late.TOKEN_DIMS  # 192 directions, re-normalised (see assistant/late.py)
    assert TOKEN_DIMS is not None

    class Wide(FakeEmbedder):
        dims = 384

    monkeypatch.setitem(embeddings._REGISTRY, "fake", lambda s: Wide())
    run_ingest(settings, progress=False)
    first = TokenVectors.load(_generation(settings).state_dir / "tokens")
    assert first is not None and first.basis is not None and first.basis.shape == (384, TOKEN_DIMS)
    assert first.normalised
    md = corpus_dir / "beta-2015-colleges.md"
    md.write_text(md.read_text().replace("Building trust takes time.", "Building trust takes years."))
    run_ingest(settings, progress=False)
    second = TokenVectors.load(_generation(settings).state_dir / "tokens")
    assert second is not None and np.array_equal(second.basis, first.basis) and second.normalised
    kept = next(i for i in _ids(settings) if i.startswith("alpha"))
    assert np.array_equal(first.get(kept), second.get(kept))


def test_token_vectors_of_the_previous_version_are_made_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index of TOKENS_VERSION 3 (int8 rows on the basis) is rebuilt residual-coded by the next ingest."""
    from assistant import embeddings, late
    from assistant.late import TOKENS_VERSION, TokenVectors
    from tests.conftest import FakeEmbedder

    class Wide(FakeEmbedder):
        dims = 384

    monkeypatch.setitem(embeddings._REGISTRY, "fake", lambda s: Wide())
    first = run_ingest(settings, progress=False)
    index = settings.state_dir / "generations" / first.generation / "tokens" / "index.json"
    index.write_text(index.read_text(encoding="utf-8").replace(TOKENS_VERSION, "maxsim-i8p192n/3"), encoding="utf-8")
    assert TokenVectors.load(index.parent) is None  # an old version is not read
    again = run_ingest(settings, progress=False)
    assert again.ok and again.generation != first.generation
    rebuilt = TokenVectors.load(settings.state_dir / "generations" / again.generation / "tokens")
    assert rebuilt is not None and rebuilt.basis is not None and rebuilt.normalised
    assert rebuilt.codebook is not None and rebuilt.codebook.bits == late.TOKEN_BITS
    assert len(rebuilt) == _store(settings).count()


def test_derived_files_of_an_older_version_are_made_again(settings: Settings) -> None:
    first = run_ingest(settings, progress=False)
    units = settings.state_dir / "generations" / first.generation / "units" / "units.json"
    units.write_text(units.read_text(encoding="utf-8").replace('"units-', '"units-old-', 1), encoding="utf-8")
    again = run_ingest(settings, progress=False)
    assert again.ok and again.generation != first.generation  # not taken for "nothing changed"
    rebuilt = settings.state_dir / "generations" / again.generation
    assert (rebuilt / "units" / "units.json").is_file() and (rebuilt / "ranker" / "derived.json").is_file()
    assert run_ingest(settings, progress=False).generation == again.generation  # and then it is current
