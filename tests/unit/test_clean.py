"""Cleaning of the real reports: word repairs, reflow, dropped furniture, exact offsets and lines."""

from __future__ import annotations

import re
import time
from functools import cache
from pathlib import Path

import pytest

from ingest.clean import CleanDoc, PageText, Vocabulary, clean_document, join_hyphenated, repair_broken_words

_REPO = Path(__file__).resolve().parents[2]
# The lead copies the reports into corpus/; until then they are read from the shared folder beside the repo.
REPORTS = (
    _REPO / "corpus"
    if (_REPO / "corpus" / "ukces-2013-understanding-employer-networks-summary.txt").exists()
    else _REPO.parent / "shared" / "reports"
)
NAMES = [
    "hodgson-2019-beyond-employer-engagement.txt",
    "lsda-2005-working-with-employers.txt",
    "lw-2019-step-up-job-brokerage.txt",
    "ssda-2008-employer-engagement.txt",
    "ukces-2013-understanding-employer-networks-summary.txt",
]


def raw(name: str) -> str:
    return (REPORTS / name).read_text(encoding="utf-8")


@cache
def vocab() -> Vocabulary:
    return Vocabulary.from_texts(raw(n) for n in NAMES)


@cache
def doc(name: str) -> CleanDoc:
    return clean_document([PageText(raw(name), None)])


def block_with(name: str, needle: str, *, exact: bool = False):
    hits = [b for b in doc(name).blocks if (needle == b.text if exact else needle in b.text)]
    assert hits, f"no block in {name} contains {needle!r}"
    return hits[0]


@pytest.mark.parametrize(
    ("line", "repaired"),
    [  # real damaged lines from the UKCES summary
        (
            "Employer networks represent an i mportant potential lever for harnessing and i ncreasing ",
            "Employer networks represent an important potential lever for harnessing and increasing ",
        ),
        (
            "without previous histories of collaboration to solve common problems, and of fer mutual ",
            "without previous histories of collaboration to solve common problems, and offer mutual ",
        ),
        (
            "This research aims to develop a g reater understanding of the design, implementation and ",
            "This research aims to develop a greater understanding of the design, implementation and ",
        ),
        (
            "investment in skills. The study draws on a l iterature review, online mapping exercise, small ",
            "investment in skills. The study draws on a literature review, online mapping exercise, small ",
        ),
        (
            "Most networks in the mapping and onl ine survey phase of the project identified skills ",
            "Most networks in the mapping and online survey phase of the project identified skills ",
        ),
        (
            "Common success factors can be identified but these may be pu t into practice in different ",
            "Common success factors can be identified but these may be put into practice in different ",
        ),
        (
            "Choice of a s uitable learning provider partner with suitable capability and ex pertise, ",
            "Choice of a suitable learning provider partner with suitable capability and expertise, ",
        ),
        (
            "membership fees, payments for specific services and non -financial contributions from ",
            "membership fees, payments for specific services and non-financial contributions from ",
        ),
        (
            "layers of management and administration. One network adopted a not -for-profit focus for ",
            "layers of management and administration. One network adopted a not-for-profit focus for ",
        ),
        (
            "themselves as offering a service on t he open market to any employer for which it was ",
            "themselves as offering a service on the open market to any employer for which it was ",
        ),
        (
            "with higher expectations of the network members and a k eenness to see the benefits; ",
            "with higher expectations of the network members and a keenness to see the benefits; ",
        ),
        (
            "multiple qualifications in a num ber of sectors (Training 2000); and a sectoral specialist ",
            "multiple qualifications in a number of sectors (Training 2000); and a sectoral specialist ",
        ),
        (
            "provider of technical training for the oil and g as industry (OPITO). Subsidiary activities in ",
            "provider of technical training for the oil and gas industry (OPITO). Subsidiary activities in ",
        ),
        (
            "There is much policy interest in the potential of employer networks to act as a l ever to ",
            "There is much policy interest in the potential of employer networks to act as a lever to ",
        ),
        (
            "through network activity.  H owever, further work to understand how best to monitor and ",
            "through network activity.  However, further work to understand how best to monitor and ",
        ),
    ],
)
def test_repairs_real_broken_words(line: str, repaired: str) -> None:
    assert repair_broken_words(line, vocab()) == repaired


@pytest.mark.parametrize(
    "line",
    [
        "The research identified a number of different network types including: ",  # "a number"
        "Employer engagement is one of the key components of the Skills for Business network",
        "The identification and recruitment of low paid workers has been particularly challenging",
        "(e.g. Flynn, Pilley, and Watters 2016; Polesel et. al. 2017; Rusten and Hermmelen 2017",
        "Two case studies in College B as a result of the programme",  # an initial before a word
        "- Curran, J et al (2000) Is there a local business community?",
        "Choice between in-house and out sourced training provision seems to depend",  # two real words
        "Information is available by telephone or e-mail from the office",
        "engagement, particularly in trying to broker roles for participants with",
    ],
)
def test_leaves_real_word_pairs_alone(line: str) -> None:
    assert repair_broken_words(line, vocab()) == line


@pytest.mark.parametrize(
    ("left", "right", "joined"),
    [
        ("the prospects of employ-", "ment in the sector", "the prospects of employment in the sector"),
        (
            "job brokerage for in-",
            "work progression programmes;",
            "job brokerage for in-work progression programmes;",
        ),
        ("through skills co-", "production approaches", "through skills co-production approaches"),
        (
            "can integrate solutions to skills-",
            "related and non-skills",
            "can integrate solutions to skills-related and non-skills",
        ),
    ],
)
def test_dehyphenates_only_known_words(left: str, right: str, joined: str) -> None:
    assert join_hyphenated(left, right, vocab()) == joined


@pytest.mark.parametrize("name", NAMES)
def test_offsets_and_blocks_are_exact(name: str) -> None:
    d = doc(name)
    assert d.blocks
    for b in d.blocks:
        assert d.text[b.start : b.end] == b.text
        assert b.text and b.text == b.text.strip() and "  " not in b.text
        assert b.kind in {"heading", "paragraph"}
        assert (b.level >= 1) == (b.kind == "heading")
    assert d.text == "\n\n".join(b.text for b in d.blocks)


def _letters(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", s)


@pytest.mark.parametrize("name", NAMES)
def test_line_numbers_point_at_the_first_and_last_words(name: str) -> None:
    lines = raw(name).split("\n")
    for b in doc(name).blocks:
        assert 1 <= b.line_start <= b.line_end <= len(lines)
        # Spaces may have been repaired away, so compare letters and digits only.
        first, last = _letters(b.text.split()[0]), _letters(b.text.split()[-1])
        assert first[:4] in _letters(lines[b.line_start - 1]), (b.line_start, b.text[:60])
        assert last[-4:] in _letters(lines[b.line_end - 1]), (b.line_end, b.text[-60:])


@pytest.mark.parametrize("name", NAMES)
def test_no_page_numbers_contents_or_footers_left(name: str) -> None:
    for b in doc(name).blocks:
        assert not re.fullmatch(r"\d{1,3}", b.text)
        assert not re.search(r"\.{4,}", b.text), b.text  # dot leaders of a contents list
        assert b.text not in {"1.1 Context\t1", "EXECUTIVE SUMMARY\ti", "Chapter\tPage", "Α\tIntroduction\t3"}
        assert "WORK INSTITUTE" not in b.text and "LEARNING AND 9" not in b.text


def test_contents_list_is_not_turned_into_headings() -> None:
    headings = [b.text for b in doc("ssda-2008-employer-engagement.txt").blocks if b.kind == "heading"]
    assert headings.count("1.1 Context") == 1
    assert "CONTENTS" not in headings and "EXECUTIVE SUMMARY" not in headings
    lsda = [b.text for b in doc("lsda-2005-working-with-employers.txt").blocks]
    assert not any(t.startswith("Contents") for t in lsda)
    assert lsda.count("A Introduction") == 1


def test_reflows_wrapped_lines_separated_by_blank_lines() -> None:
    b = block_with("hodgson-2019-beyond-employer-engagement.txt", "internationally accepted as a key factor")
    assert b.text.startswith("Education providers and employers working together")
    assert b.text.endswith("involving a wide range of social partners at the local and regional levels.")
    assert (b.line_start, b.line_end) == (44, 74)
    # A sentence ending inside a full-width line does not end the paragraph.
    b = block_with(
        "hodgson-2019-beyond-employer-engagement.txt", "burgeoned in the 1990s. From that time onwards"
    )
    assert b.kind == "paragraph"


def test_paragraph_resumes_after_a_pages_footnotes() -> None:
    b = block_with(
        "hodgson-2019-beyond-employer-engagement.txt", "The Brexit decision in June 2016, on the other hand"
    )
    assert "closer working relationships between providers of vocational education and employers." in b.text


def test_short_last_line_ends_a_paragraph() -> None:
    b = block_with(
        "ukces-2013-understanding-employer-networks-summary.txt", "Employer networks represent an important"
    )
    assert b.text.endswith("the existing literature on the subject.")
    assert "This research aims" not in b.text


def test_bullet_glyphs_are_stripped_and_items_kept_apart() -> None:
    name = "lw-2019-step-up-job-brokerage.txt"
    b = block_with(name, "How employer relationships can be established")
    assert b.text == "How employer relationships can be established and maintained; and"
    b = block_with(name, "Challenges and best practice in employer engagement")
    assert b.text.endswith("for in-work progression programmes;")  # dehyphenated across the wrap, hyphen kept
    b = block_with("ukces-2013-understanding-employer-networks-summary.txt", "Group Training Associations")
    assert b.text == "Group Training Associations"
    b = block_with("ssda-2008-employer-engagement.txt", "define and classify employer engagement;")
    assert b.text == "define and classify employer engagement;"


def test_emphasis_markers_are_stripped() -> None:
    assert not any("**" in b.text for b in doc("ssda-2008-employer-engagement.txt").blocks)
    b = block_with("ssda-2008-employer-engagement.txt", "Consumers. They simply use products")
    assert b.text.startswith("Consumers. They simply use")


def test_repairs_reach_the_cleaned_text() -> None:
    text = doc("ukces-2013-understanding-employer-networks-summary.txt").text
    for word in (
        "an important potential lever",
        "mutual support",
        "non-financial contributions",
        "put into practice",
    ):
        assert word in text.replace("offer mutual", "mutual")
    assert (
        "i mportant" not in text and "onl ine" not in text and "a number of different network types" in text
    )


def test_hodgson_pages_follow_the_printed_page_numbers() -> None:
    name = "hodgson-2019-beyond-employer-engagement.txt"
    assert block_with(name, "Abstract", exact=True).page == 2
    assert block_with(name, "The employer engagement orthodoxy", exact=True).page == 3
    assert block_with(name, "The New Low Skills Equilibrium", exact=True).page == 4
    assert block_with(name, "Digital Tech", exact=True).page == 18
    assert block_with(name, "None of this was easy given that").page == 19  # after the printed " 19 "
    assert block_with(name, "Health and Social Care", exact=True).page == 21
    assert block_with(name, "Three generic lessons for partnership working", exact=True).page == 22
    pages = [b.page for b in doc(name).blocks]
    assert None not in pages and pages[0] == 1 and max(pages) == 27


def test_text_without_page_numbers_has_no_pages() -> None:
    assert all(b.page is None for b in doc("ssda-2008-employer-engagement.txt").blocks)
    assert all(b.page is None for b in doc("lw-2019-step-up-job-brokerage.txt").blocks)


def test_pdf_pages_drop_running_headers_and_keep_page_numbers() -> None:
    body = "Employers value partnerships that last. They want clear contacts and fast responses."
    pages = [
        PageText(f"Employer Engagement\n{body} Page {n} adds detail.\n{n}\n", page=n, first_line=1)
        for n in range(1, 5)
    ]
    d = clean_document(pages)
    assert [b.page for b in d.blocks] == [1, 2, 3, 4]
    assert all("Employer Engagement" not in b.text for b in d.blocks)
    assert all(b.line_start == b.line_end == 2 for b in d.blocks)


def test_markdown_headings_and_emphasis() -> None:
    md = "# Working with employers\n\nIntro *text* here about **skills**.\n\n## Barriers\n\n- time\n- cost\n"
    d = clean_document([PageText(md, None)], markdown=True)
    assert [(b.kind, b.text, b.level) for b in d.blocks] == [
        ("heading", "Working with employers", 1),
        ("paragraph", "Intro text here about skills.", 0),
        ("heading", "Barriers", 2),
        ("paragraph", "time", 0),
        ("paragraph", "cost", 0),
    ]
    assert d.blocks[-1].section_path == ("Working with employers", "Barriers")
    assert d.blocks[-1].line_start == 8


def test_whole_corpus_cleans_quickly() -> None:
    t = time.perf_counter()
    for name in NAMES:
        clean_document([PageText(raw(name), None)])
    assert time.perf_counter() - t < 5


def test_blocks_know_whether_they_began_with_a_bullet() -> None:
    name = "ukces-2013-understanding-employer-networks-summary.txt"
    assert block_with(name, "Group Training Associations", exact=True).bullet
    assert not block_with(name, "The research identified a number of different network types including:").bullet
