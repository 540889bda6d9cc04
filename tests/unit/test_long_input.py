"""Input that made a stage super-linear (one huge line, a run of one character) now goes through ingest.

These assert the run finishes and what it produces; how long it takes is measured in bench/long_input.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from ingest.clean import MAX_RUN, PageText, clean_document
from ingest.pipeline import run_ingest


def _only(settings: Settings, corpus_dir: Path, name: str, text: str):
    for path in corpus_dir.iterdir():
        if path.suffix in {".txt", ".md", ".pdf"}:
            path.unlink()
    (corpus_dir / name).write_text(text, encoding="utf-8")
    return run_ingest(settings, progress=False)


def test_a_5mb_line_without_spaces_is_indexed(settings: Settings, corpus_dir: Path) -> None:
    line = "employerengagementnetworks" * (5_000_000 // 26)
    summary = _only(settings, corpus_dir, "one-line.txt", "One Line Report\n\n" + line)
    assert summary.ok, summary.failures
    assert summary.total_chunks > 1  # cut into passages, not one 5 MB chunk


def test_a_megabyte_of_one_letter_finishes(settings: Settings, corpus_dir: Path) -> None:
    summary = _only(settings, corpus_dir, "one-char.txt", "a" * 1_000_000)
    assert summary.ok, summary.failures
    assert summary.total_chunks > 1


@pytest.mark.parametrize("char", ["-", ".", "7", "@"])
def test_a_megabyte_of_one_mark_finishes_with_a_clear_refusal(settings: Settings, corpus_dir: Path, char: str) -> None:
    summary = _only(settings, corpus_dir, "one-char.txt", char * 1_000_000)
    if not summary.ok:  # a rule of dashes or dots is no text; a run of digits or "@"s may be kept
        assert [f.reason for f in summary.failures] == ["one-char.txt: no text left after cleaning; is it a report?"]


def test_long_runs_are_cut_but_real_words_and_addresses_are_not() -> None:
    url = "http://www.lsc.gov.uk/National/Documents/SubjectListing/ImprovingQuality/QualityImprovement/report.pdf"
    doc = clean_document([PageText(f"Title\n\nSee {url} and {'x' * 1000} here.", None)])
    body = doc.blocks[-1].text
    assert url in body
    assert max(len(word) for word in body.split()) == MAX_RUN
    assert body.replace(" ", "").count("x") == 1000  # cut with spaces, nothing lost
