"""Sentence kinds and block roles on real lines of the five reports, both ways; the Chunk helpers that use them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from assistant.types import SENTENCE_KINDS, Chunk, ReportInfo
from ingest.chunk import chunk_document, split_sentences
from ingest.clean import CleanDoc, PageText, clean_document
from ingest.kinds import BlockInfo, analyse, form_kind, is_reference

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
HODGSON = "hodgson-2019-beyond-employer-engagement.txt"
LSDA = "lsda-2005-working-with-employers.txt"
LW = "lw-2019-step-up-job-brokerage.txt"
SSDA = "ssda-2008-employer-engagement.txt"
UKCES = "ukces-2013-understanding-employer-networks-summary.txt"


@cache
def doc(name: str) -> CleanDoc:
    return clean_document([PageText((CORPUS / name).read_text(encoding="utf-8"), None)])


@cache
def infos(name: str) -> tuple[BlockInfo, ...]:
    d = doc(name)
    return tuple(analyse(d.blocks, [split_sentences(b.text) for b in d.blocks]))


def info_of(name: str, start: str) -> BlockInfo:
    """The analysis of the one block of `name` whose text starts with `start`."""
    hits = [i for b, i in zip(doc(name).blocks, infos(name), strict=True) if b.text.startswith(start)]
    assert len(hits) == 1, (start, len(hits))
    return hits[0]


def kinds_of(name: str, sentence: str) -> str:
    """The kind given to `sentence`, a sentence of `name` as the chunker splits it."""
    for block, info in zip(doc(name).blocks, infos(name), strict=True):
        for (a, z), kind in zip(split_sentences(block.text), info.kinds, strict=True):
            if block.text[a:z] == sentence:
                return kind
    raise AssertionError(f"{sentence!r} is not a sentence of {name}")


# (report, a real line as cleaning leaves it, the kind its form gives; None = body text)
FORM_CASES = [
    # Bibliography entries and citation-only lines
    (
        SSDA,
        "Leitch Review of Skills (2006) Prosperity for all in the global economy - world class skills.",
        "reference",
    ),
    (SSDA, "Beer, M. (2004) How to have an honest conversation about your business strategy.", "reference"),
    (SSDA, "* Leitch Review of Skills (2006)", "reference"),
    (LSDA, "Working towards skills (2002)¹⁶", "reference"),
    (LSDA, "A cut above (2004).", "reference"),
    (LW, "3 Murphy, H., Bennett, L., Klenk, H., Ray, K., Stevens, C. (2018).", "reference"),
    (HODGSON, "” (Education and Employers Taskforce 2009, 4).", "reference"),
    # ... and prose that cites, which stays body
    (
        SSDA,
        "The Leitch Review of Skills (2006) re-emphasises the important role employer engagement plays in "
        "achieving these objectives.",
        None,
    ),
    (
        SSDA,
        "Cabrera (2006) undertook research with 372 employees from a large multinational to identify variables "
        "that may determine individual engagement in intra-organisational knowledge sharing.",
        None,
    ),
    (
        SSDA,
        "For example, Granovetter (2000) highlights the importance of informal local relationships including "
        "local civic engagement for small business development.",
        None,
    ),
    (
        HODGSON,
        "Keep (2016) reminds us that the powers devolved to local government are at best partial and that "
        "historical centralizing powers remain strong.",
        None,
    ),
    (
        LSDA,
        "The government's policies for vocational skills were set out initially in its Green Paper "
        "*The Learning Age* (1998).¹",
        None,
    ),
    # Front matter: ISBN, copyright, credits, addresses, phone numbers, publisher blurbs
    (LSDA, "ISBN 1845723155", "front_matter"),
    (SSDA, "ISBN: 978-0-9553912-7-9", "front_matter"),
    (LSDA, "©Learning and Skills Development Agency", "front_matter"),
    (LSDA, "Copyeditor: Nick Sweeney Designer: Tania Field", "front_matter"),
    (LSDA, "Printer: Blackmore Ltd, Shaftsbury, Dorset", "front_matter"),
    (LSDA, "052201RS/01/06/4000", "front_matter"),
    (LSDA, "Registered with the Charity Commissioners", "front_matter"),
    (LSDA, "London W1F 7LS", "front_matter"),
    (LSDA, "Tel 020 7297 9144", "front_matter"),
    (SSDA, "Tel: 020 8537 3240 Fax: 020 8537 3201 e-mail: research@themackinnonpartnership.co.uk", "front_matter"),
    (SSDA, "Email: info@ssda.org.uk", "front_matter"),
    (SSDA, "Web: www.skillsforbusiness.org.uk", "front_matter"),
    (SSDA, "Please note all publications can be downloaded from our website www.ssda.org.uk", "front_matter"),
    (
        LW,
        "Walcot Foundation is Lambeth's principal independent grant-maker that aims to tackle poverty by creating "
        "opportunity.",
        "front_matter",
    ),
    (LW, "Trust for London is an independent charitable foundation.", "front_matter"),
    (HODGSON, "Corresponding author: Professor Ken Spours", "front_matter"),
    (
        HODGSON,
        "Key words: education-employer partnerships, further education colleges, skills, employer engagement, England",
        "front_matter",
    ),
    (LSDA, "If this report is relevant to the work you do, you may also be interested in:", "front_matter"),
    # ... and body text that mentions a charity or a not-for-profit
    (
        UKCES,
        "One network adopted a not-for-profit focus for branding purposes, to reassure potential participants of "
        "its commercial focus through establishing a private company with not-for-profit status rather than a "
        "registered charity.",
        None,
    ),
    # URLs
    (LW, "1 https://www.learningandwork.org.uk/resource/step-up", "url"),
    (
        HODGSON,
        "3 This organisation is now called the Learning and Work Institute – see http://www.learningandwork.org.uk",
        "url",
    ),
    # Table and figure residue
    (SSDA, "Table 1.1: Case studies completed", "table"),
    (SSDA, "Figure 5.1: Drivers of employer engagement", "table"),
    (SSDA, "1-25 employees\t23", "table"),
    (SSDA, "Who\tWhy\tHow\tWhy Not", "table"),
    (HODGSON, "Figure 1.", "table"),
    (SSDA, "Figure 5.3 has therefore been developed based on the findings of this research.", None),
    # Footnote marks split off by the sentence splitter
    ("", "⁴⁴", "footnote"),
]

# Contents lines are dropped by cleaning, so they are checked against the raw file.
CONTENTS_CASES = [
    (SSDA, "1.1 Context\t1"),
    (SSDA, "EXECUTIVE SUMMARY\ti"),
    (SSDA, "APPENDIX D – BIBLIOGRAPHY\t72"),
    (SSDA, "3. INFLUENCES ON EMPLOYERS.....\t19"),
    (SSDA, "2.1 The use of the term “employer engagement”\t8"),
    (LSDA, "D\tOverview of LSDA literature\t.10"),
    (LSDA, "G\tExamples of effective practice in engaging employers: what works in engaging employers\tg 29"),
]


@pytest.mark.parametrize(("name", "line", "kind"), FORM_CASES)
def test_kind_from_the_form_of_a_real_line(name: str, line: str, kind: str | None) -> None:
    if name:
        assert line in doc(name).text, "not a real line of the report as cleaned"
    assert form_kind(line) == kind


@pytest.mark.parametrize(("name", "line"), CONTENTS_CASES)
def test_contents_lines(name: str, line: str) -> None:
    assert line in (CORPUS / name).read_text(encoding="utf-8").split("\n")
    assert form_kind(line) == "contents"


@pytest.mark.parametrize(
    "line",
    ["Total\t70", "Over 200 employees\t25", "Manufacturing and construction\t11"],  # table rows, not contents
)
def test_a_table_row_ending_in_a_number_is_not_a_contents_line(line: str) -> None:
    assert line in doc(SSDA).text
    assert form_kind(line) == "table"


def test_reference_needs_a_name_before_the_year() -> None:
    assert is_reference("Bachelor, LW (1997) Business participation in economic development programs")
    # "In 2002, ..." starts prose, however capitalised what follows.
    assert not is_reference("In 2002 (2002) Success for All set out a reform strategy")


# Kinds that depend on a sentence's block and neighbours.
@pytest.mark.parametrize(
    ("name", "sentence", "kind"),
    [
        (UKCES, "The research identified a number of different network types including:", "lead_in"),
        (UKCES, "Group Training Associations", "list_item"),
        (
            UKCES,
            "obtain a deeper picture of what employer network members feel they gain from participation in such "
            "networks.",
            "list_item",
        ),
        (SSDA, "define and classify employer engagement;", "list_item"),
        (
            HODGSON,
            "1 The Technical and Vocational Education Initiative (TVEI) was a government funded curriculum "
            "development programme that began in 1983 and ended in 1997.",
            "footnote",
        ),
        (
            HODGSON,
            "2Until 2011, Education Business Partnerships (EBPs) were government-funded agencies that supported "
            "partnership working between employers and education providers.",
            "footnote",
        ),
        (
            LSDA,
            "⁶¹ Successful Engagement: Guidance for Colleges for Providers on Effective Employment in Post-16 "
            "Learning, Hughes M, LSDA (2003)",
            "footnote",
        ),
        # A report with superscript footnote marks: a paragraph that starts with a number is prose.
        (
            LSDA,
            "16 FE pathfinder CoVEs were established in September 2001 with a commitment by government that half "
            "of all general FE colleges should have at least one CoVE by 2003/4.",
            "body",
        ),
        # A footnote numbered in the text, run into the paragraph it interrupts.
        (
            LW,
            "2 Individual focussed in-work progression models support individuals to progress their income by "
            "overcoming their personal barriers to progression.",
            "footnote",
        ),
        (LSDA, "Regular updates and feedback on the training and development of their staff", "heading"),
        (SSDA, '"Very flexible and understanding"', "body"),  # an employer's words, not a title
        (
            SSDA,
            "This report defines employer engagement as “any form of contact between any organisation and an "
            "employer, that attempts to effect a change in the knowledge, understanding or behaviour of either, or "
            "of a third party, for some purpose related to the wider public benefit.”",
            "body",
        ),
    ],
)
def test_kind_in_context(name: str, sentence: str, kind: str) -> None:
    assert kinds_of(name, sentence) == kind


def test_a_footnote_mark_stays_with_the_sentence_it_marks() -> None:
    text = "The government's policies were set out in its Green Paper (1998).¹ In a chapter on learning at work."
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == [
        "The government's policies were set out in its Green Paper (1998).¹",
        "In a chapter on learning at work.",
    ]


def test_a_cut_where_no_sentence_ended_is_undone() -> None:
    text = "For example Investors in People UK (case study 13) employs an Ambassador Co-ordinator."
    assert [text[a:b] for a, b in split_sentences(text)] == [text]


def test_a_lower_case_line_after_footnotes_goes_on_with_the_interrupted_paragraph() -> None:
    block = next(b for b in doc(LSDA).blocks if "develop staff working in the post-16 sector" in b.text)
    assert block.text.startswith("More recently, in 2002, Success for All set out a reform strategy")
    footnote = next(b for b in doc(LSDA).blocks if b.text.startswith("⁵ Colleges for Excellence"))
    assert footnote.text.endswith("Department for Education and Employment (2000)")


# Block roles: what is left out of the index.
@pytest.mark.parametrize(
    ("name", "first_body"),
    [
        (HODGSON, "Abstract"),
        (LSDA, "A Introduction"),
        (LW, "The Step Up pilot highlighted the importance of employer engagement"),
        (SSDA, "Executive Summary"),
        (UKCES, "Executive Summary"),
    ],
)
def test_front_matter_ends_where_the_report_text_starts(name: str, first_body: str) -> None:
    blocks, roles = doc(name).blocks, [i.role for i in infos(name)]
    first = roles.index("body")
    assert blocks[first].text.startswith(first_body)
    assert set(roles[:first]) <= {"front_matter"}


def test_reference_list_and_what_follows_it_are_left_out() -> None:
    blocks, roles = doc(SSDA).blocks, [i.role for i in infos(SSDA)]
    start = next(i for i, b in enumerate(blocks) if b.text == "Appendix D – Bibliography")
    # The entries, the list of SSDA publications, and the back cover after them (front matter too).
    assert set(roles[start:]) == {"references", "front_matter"}
    assert roles[start + 1] == "references"
    assert roles[start - 1] == "body"  # the last case study summary


def test_back_cover_is_left_out() -> None:
    blocks, roles = (
        doc(LSDA).blocks,
        analyse(
            doc(LSDA).blocks,
            [split_sentences(b.text) for b in doc(LSDA).blocks],
            "What we know about working with employers: a synthesis of LSDA work on employer engagement",
        ),
    )
    repeat = next(i for i, b in enumerate(blocks) if b.text.startswith("what we know about working with employers"))
    assert {r.role for r in roles[repeat:]} == {"front_matter"}
    assert roles[repeat - 1].role == "body"
    assert blocks[repeat - 1].text.startswith("Finally, we need more research into employer engagement")


def test_a_key_words_line_inside_the_abstract_is_left_out() -> None:
    assert info_of(HODGSON, "Key words:").role == "front_matter"
    assert info_of(HODGSON, "Education providers and employers working together").role == "body"


# The Chunk helpers and their storage.
def _chunk(kinds: tuple[str, ...]) -> Chunk:
    text = " ".join(f"S{i}." for i in range(len(kinds)))
    spans = tuple((text.index(f"S{i}."), text.index(f"S{i}.") + len(f"S{i}.")) for i in range(len(kinds)))
    return Chunk("r:1", "r", "T", 2000, ("Sec",), text, 0, len(text), 1, 1, None, None, "r.txt", 0, spans, kinds, 2, 3)


def test_quotable_only_body_and_list_items() -> None:
    chunk = _chunk(tuple(SENTENCE_KINDS))
    assert [k for i, k in enumerate(chunk.sentence_kinds) if chunk.quotable(i)] == ["body", "list_item"]


def test_lead_in_for_list_items() -> None:
    chunk = _chunk(("body", "lead_in", "list_item", "list_item", "body", "list_item"))
    assert [chunk.lead_in_for(i) for i in range(6)] == [None, None, 1, 1, None, None]


def test_lead_in_outside_the_chunk_gives_none() -> None:
    assert _chunk(("list_item", "list_item")).lead_in_for(1) is None


def test_metadata_round_trip_keeps_kinds_and_paragraphs() -> None:
    chunk = _chunk(("lead_in", "list_item", "footnote", "url"))
    meta = chunk.to_metadata()
    assert meta["sentence_kinds"] == "lifu"
    assert Chunk.from_metadata(chunk.text, meta) == chunk


@pytest.mark.parametrize(
    "change",
    [
        {"sentence_kinds": None, "paragraph": None, "paragraph_end": None},  # an index from before sentence kinds
        {"sentence_kinds": "bb"},  # not parallel to the sentences
        {"sentence_kinds": "bxbb"},  # a letter no kind has
    ],
)
def test_metadata_without_usable_kinds_gives_none(change: dict) -> None:
    chunk = _chunk(("body", "body", "body", "body"))
    meta = {k: v for k, v in chunk.to_metadata().items() if change.get(k, "") is not None}
    meta.update({k: v for k, v in change.items() if v is not None})
    restored = Chunk.from_metadata(chunk.text, meta)
    assert restored.sentence_kinds == ()
    assert restored.quotable(0)  # nothing is known against an old chunk's sentences
    if "paragraph" in change:
        assert (restored.paragraph, restored.paragraph_end) == (None, None)


def test_chunks_carry_kinds_and_paragraph_numbers() -> None:
    report = ReportInfo("ukces-2013", UKCES, "Understanding Employer Networks (executive summary)", 2013)
    chunks = chunk_document(doc(UKCES), report, UKCES, lambda t: len(t.split()))
    intro = [c for c in chunks if c.section == ("Executive Summary", "Introduction")]
    assert intro[0].paragraph == 1
    # The aims are a list under paragraph 2's lead-in; they belong to paragraph 2.
    aims = next(c for c in intro if any(s.startswith("obtain a deeper picture") for s in c.sentence_texts))
    assert aims.paragraph_end == 2
    i = next(i for i, s in enumerate(aims.sentence_texts) if s.startswith("obtain a deeper picture"))
    lead = aims.lead_in_for(i)
    assert lead is not None and aims.sentence_texts[lead].endswith("The objectives of the research were to:")
    assert aims.quotable(i) and not aims.quotable(lead)


def test_a_numbered_heading_run_into_its_paragraph_is_not_a_footnote() -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "corpus" / "alpha-2010-networks.txt"
    d = clean_document([PageText(fixture.read_text(encoding="utf-8"), None)])
    block = next(b for b in d.blocks if b.text.startswith("1 Introduction Employer networks"))
    info = analyse([block], [split_sentences(block.text)])[0]
    assert not info.footnote and info.kinds[0] == "body"


def test_a_lone_footnote_mark_joins_the_sentence_before() -> None:
    text = "Close contact with sector skills councils is vital. ⁴¹"
    assert [text[a:b] for a, b in split_sentences(text)] == [text]
