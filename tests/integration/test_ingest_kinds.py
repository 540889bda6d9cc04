"""The real corpus cleaned and chunked (no model: a word count stands in for tokens): only the reports' own text
is chunked, every sentence has a kind, and paragraph numbers are in order."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from assistant.catalog import Catalog
from assistant.types import SENTENCE_KINDS, Chunk
from ingest.chunk import chunk_document
from ingest.clean import CleanDoc, clean_document
from ingest.loaders import load_file
from ingest.pipeline import report_for

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
FILES = sorted(p.name for p in CORPUS.glob("*.txt"))


@cache
def cleaned(name: str) -> CleanDoc:
    loaded = load_file(CORPUS / name)
    return clean_document(loaded.pages, markdown=loaded.markdown)


@cache
def chunks(name: str) -> tuple[Chunk, ...]:
    loaded = load_file(CORPUS / name)
    report = report_for(CORPUS / name, Catalog.load(CORPUS / "catalog.toml"), loaded.title, loaded.year)
    return tuple(chunk_document(cleaned(name), report, name, lambda text: len(text.split())))


def all_chunks() -> list[Chunk]:
    return [c for name in FILES for c in chunks(name)]


def test_the_corpus_is_the_five_reports() -> None:
    assert len(FILES) == 5


@pytest.mark.parametrize("name", FILES)
def test_every_sentence_has_a_kind(name: str) -> None:
    for chunk in chunks(name):
        assert len(chunk.sentence_kinds) == len(chunk.sentences), chunk.chunk_id
        assert set(chunk.sentence_kinds) <= set(SENTENCE_KINDS), chunk.chunk_id
        # And the kinds survive the store's metadata.
        assert Chunk.from_metadata(chunk.text, chunk.to_metadata()).sentence_kinds == chunk.sentence_kinds


@pytest.mark.parametrize("name", FILES)
def test_offsets_stay_exact(name: str) -> None:
    text = cleaned(name).text
    for chunk in chunks(name):
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert all(chunk.text[a:b].strip() == chunk.text[a:b] and b > a for a, b in chunk.sentences)


@pytest.mark.parametrize("name", FILES)
def test_paragraph_numbers_run_in_reading_order(name: str) -> None:
    previous: Chunk | None = None
    for chunk in chunks(name):
        assert chunk.paragraph is not None and chunk.paragraph_end is not None
        assert 1 <= chunk.paragraph <= chunk.paragraph_end
        # A section (LW has three called "Benefits") is a run of chunks; its first chunk starts at paragraph 1.
        if previous is None or previous.section != chunk.section:
            assert chunk.paragraph == 1, chunk.chunk_id
        else:
            # Chunks overlap by a sentence, so one may start in the paragraph the previous one ended in.
            assert previous.paragraph <= chunk.paragraph <= previous.paragraph_end + 1, chunk.chunk_id
        previous = chunk


def test_no_chunk_comes_from_a_reference_list() -> None:
    assert not [
        c.chunk_id for c in all_chunks() if any(re.search(r"bibliography|references", s, re.I) for s in c.section)
    ]
    # Entries of the SSDA bibliography are nowhere in the index.
    for entry in ("Bachelor, LW (1997)", "Wooten KC, Timmerman TA, Folger R (1999)", "Research Report 27"):
        assert not [c.chunk_id for c in all_chunks() if entry in c.text], entry


@pytest.mark.parametrize(
    "section",
    [
        "EMPLOYER ENGAGEMENT",  # SSDA cover
        "Employer Engagement",  # SSDA title page
        "The Mackinnon Partnership",  # SSDA address
        "Sector Skills Development Agency: Research Series Foreword",
        "Copyeditor: Nick Sweeney Designer: Tania Field",  # LSDA credits
        "Further information",  # LSDA imprint page
        "Tomorrow's Workforce booklets",  # LSDA back cover
        "Corresponding author: Professor Ken Spours",  # Hodgson title page
        "Article for submission to Journal of Education and Work",
    ],
)
def test_no_chunk_is_in_a_front_matter_section(section: str) -> None:
    assert not [c.chunk_id for c in all_chunks() if section in c.section]


@pytest.mark.parametrize(
    "furniture",
    [
        "ISBN",
        "Copyeditor",
        "Tel ",
        "Tel:",
        "@",
        "Printer: Blackmore",
        "Registered with the Charity",
        "you may also be interested in",
        "Walcot Foundation is Lambeth's principal independent grant-maker",
        "Key words:",
        "Lesley Giles",
    ],
)
def test_no_front_matter_text_is_chunked(furniture: str) -> None:
    assert not [c.chunk_id for c in all_chunks() if furniture in c.text]


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("hodgson-2019-beyond-employer-engagement.txt", ("Abstract",), None),
        ("lsda-2005-working-with-employers.txt", ("A Introduction",), ("I Conclusions and recommendations",)),
        ("lw-2019-step-up-job-brokerage.txt", (), None),
        ("ssda-2008-employer-engagement.txt", ("Executive Summary", "Introduction"), None),
        ("ukces-2013-understanding-employer-networks-summary.txt", ("Executive Summary", "Introduction"), None),
    ],
)
def test_reading_starts_at_the_report_text(name: str, first: tuple[str, ...], last: tuple[str, ...] | None) -> None:
    ordered = chunks(name)
    assert ordered[0].section == first
    if last is not None:
        assert ordered[-1].section == last
        assert ordered[-1].text.rstrip().endswith(".")  # the conclusions' last sentence, not the back cover


def test_no_quotable_sentence_is_a_bibliography_entry_or_a_url() -> None:
    bad = [
        s
        for c in all_chunks()
        for i, s in enumerate(c.sentence_texts)
        if c.quotable(i) and (re.search(r"https?://|www\.", s) or re.match(r"^[A-Z][a-z]+, [A-Z]{1,2}\.? \(\d{4}\)", s))
    ]
    assert not bad, bad[:3]


def test_list_items_find_their_lead_in() -> None:
    found = 0
    for chunk in all_chunks():
        for i, kind in enumerate(chunk.sentence_kinds):
            j = chunk.lead_in_for(i)
            if j is not None:
                found += 1
                assert kind == "list_item" and chunk.sentence_kinds[j] == "lead_in"
                assert chunk.sentence_texts[j].rstrip(" ’”\"')*").endswith(":")
    assert found >= 100  # the reports are full of lists
