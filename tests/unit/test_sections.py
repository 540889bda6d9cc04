"""Heading detection on real report lines, and section paths over blocks and the real reports."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from ingest.clean import Block, CleanDoc, PageText, clean_document
from ingest.sections import assign_sections, heading_level, is_heading

_REPO = Path(__file__).resolve().parents[2]
REPORTS = (
    _REPO / "corpus"
    if (_REPO / "corpus" / "ssda-2008-employer-engagement.txt").exists()
    else _REPO.parent / "shared" / "reports"
)


@cache
def doc(name: str) -> CleanDoc:
    return clean_document([PageText((REPORTS / name).read_text(encoding="utf-8"), None)])


def only(name: str, text: str) -> Block:
    hits = [b for b in doc(name).blocks if b.text == text]
    assert len(hits) == 1, (text, len(hits))
    return hits[0]


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("5.2 Identifying the drivers of employer engagement", 2),
        ("1.3.1 Literature review methodology", 3),
        ("2.2.1 Which organisations are involved?", 3),
        ("1. Introduction", 1),
        ("A Introduction", 1),
        ("F Creating the conditions for employer engagement", 1),
        ("EXECUTIVE SUMMARY", 1),
        ("Executive Summary ", 1),
        ("Appendix C – Case study summaries", 1),
        ("The New Low Skills Equilibrium  ", 0),
        ("Enabling factors", 0),
        ("Benefits", 0),
        ("How are networks structured, governed and funded? ", 0),
    ],
)
def test_heading_forms(line: str, level: int) -> None:
    assert heading_level(line) == level
    assert is_heading(line)


@pytest.mark.parametrize(
    "line",
    [
        "7 For example, in the ESFA In-Work Progression Programme and In Work Progression Pilot for the Care",
        "Figure 1: Example of an in-work progression programme delivery model",
        "Table 1.1: Case studies completed",
        "1. How relationships have been managed\t1. Amount of resources / time required",
        "Policy area: Skills\tType of engagement: Strategic",
        "Given this context, the ELVET Programme’s aims were to: ",
        "The research identified a number of different network types including: ",
        "work progression programmes;",
        "Jobs brokerage /",
        "By",
        "Tel 020 7297 9144",
        "“We don’t have that much to contribute so concentrate our activities elsewhere”",
        "The ELVET Programme: exploring education- employer partnership working (2016-",
        "Step Up was a pilot designed and commissioned by Trust for London and the Walcot",
    ],
)
def test_non_headings(line: str) -> None:
    assert heading_level(line) is None


def test_markdown_headings_only_in_markdown() -> None:
    assert heading_level("## Barriers", markdown=True) == 2
    assert heading_level("## Barriers") is None


def _b(kind: str, text: str, level: int = 0) -> Block:
    return Block(kind, text, 0, len(text), 1, 1, None, level)


def test_stack_by_level_and_unnumbered_titles_nest() -> None:
    prose = "x" * 250
    blocks = assign_sections(
        [
            _b("heading", "EMPLOYER ENGAGEMENT", 1),  # the cover title
            _b("heading", "Foreword", 1),
            _b("paragraph", prose),
            _b("heading", "1. Introduction", 1),
            _b("heading", "1.1 Context", 2),
            _b("paragraph", "a"),
            _b("heading", "Summary", 0),
            _b("paragraph", "b"),
            _b("heading", "2. Defining", 1),
            _b("paragraph", "c"),
        ]
    )
    paths = [(b.text, b.level, b.section_path) for b in blocks]
    assert paths[2] == (prose, 0, ("Foreword",))
    assert paths[5] == ("a", 0, ("1. Introduction", "1.1 Context"))
    assert paths[6] == ("Summary", 3, ("1. Introduction", "1.1 Context"))
    assert paths[7][2] == ("1. Introduction", "1.1 Context", "Summary")
    assert paths[9][2] == ("2. Defining",)


def test_ssda_numbered_sections() -> None:
    name = "ssda-2008-employer-engagement.txt"
    b = next(
        b
        for b in doc(name).blocks
        if b.text.startswith("The first factor to consider is which organisations")
    )
    assert b.section_path == (
        "2. Defining and classifying employer engagement",
        "2.2 Defining employer engagement",
        "2.2.1 Which organisations are involved?",
    )
    assert only(name, "5.2 Identifying the drivers of employer engagement").level == 2
    # A numbered list is not a run of headings.
    assert only(name, "1. Existing areas where engagement happens").kind == "paragraph"
    assert only(name, "1. East Midlands Train to Gain").kind == "paragraph"
    case = only(name, "1. East Midlands Train to Gain (Skills Brokerage Service)")
    assert case.kind == "heading" and case.section_path == ("Appendix C – Case study summaries",)
    # The cover title is not the section of the whole report.
    assert all(b.section_path[:1] != ("EMPLOYER ENGAGEMENT",) for b in doc(name).blocks[10:])


def test_lsda_lettered_sections() -> None:
    name = "lsda-2005-working-with-employers.txt"
    assert only(name, "F Creating the conditions for employer engagement").level == 1
    b = next(
        b
        for b in doc(name).blocks
        if b.text.startswith("Until relatively recently, 'employer engagement' has")
    )
    assert b.section_path == ("C The national policy context", "Overview")


def test_hodgson_title_lines() -> None:
    name = "hodgson-2019-beyond-employer-engagement.txt"
    assert only(name, "The New Low Skills Equilibrium").kind == "heading"
    b = next(
        b for b in doc(name).blocks if b.text.startswith("The ‘one-way streets’ of the twin orthodoxies")
    )
    assert b.section_path == ("The New Low Skills Equilibrium",)
    # A short sentence-opening line followed by "(e.g. ..." is not a title.
    assert not any(
        b.kind == "heading" and b.text.startswith("Recent international studies") for b in doc(name).blocks
    )
    assert only(name, "Abstract").kind == "heading"
    assert only(name, "The employer engagement orthodoxy").section_path == ()  # Abstract is nobody's parent


def test_lw_and_ukces_title_lines() -> None:
    lw = "lw-2019-step-up-job-brokerage.txt"
    assert only(lw, "Enabling factors").kind == "heading"
    assert all(b.kind == "paragraph" for b in doc(lw).blocks if b.text[0].isdigit())  # footnotes
    uk = "ukces-2013-understanding-employer-networks-summary.txt"
    b = next(b for b in doc(uk).blocks if b.text.startswith("Employer networks represent"))
    assert b.section_path == ("Executive Summary", "Introduction")
    assert only(uk, "How are networks structured, governed and funded?").kind == "heading"
    assert not any(b.kind == "heading" for b in doc(uk).blocks if b.text == "Group Training Associations")
