"""The ingest pipeline on the fixture corpus: incremental updates, removal, rebuild, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

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
    run_ingest(settings, progress=False)
    before = _ids(settings)
    make(corpus_dir / name)
    summary = run_ingest(settings, progress=False)
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
