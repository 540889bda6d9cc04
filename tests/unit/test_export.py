"""Briefing notes: numbering once across the note, whole-sentence quotes, references by label, Markdown and Word."""

from __future__ import annotations

from io import BytesIO

import pytest
from docx import Document

from assistant.errors import AssistantError
from assistant.export import (
    answer_lines,
    briefing_docx,
    briefing_markdown,
    number_sources,
    whole_quote,
    write_briefing,
)
from assistant.types import Answer, Citation, ReportInfo

SSDA = ReportInfo(
    id="ssda-2008",
    file="ssda.txt",
    title="Employer Engagement",
    year=2008,
    authors=("Chris Cooper", "Iain Mackinnon", "Peter Garside"),
    publisher="Sector Skills Development Agency (SSDA)",
    series="SSDA Research Report 29",
    aliases=("SSDA",),
    isbn="978-0-9553912-7-9",
    url="www.ssda.org.uk",
)
LSDA = ReportInfo(
    id="lsda-2005",
    file="lsda.txt",
    title="What we know about working with employers",
    year=2005,
    authors=("David Macleod", "Maria Hughes"),
    publisher="Learning and Skills Development Agency (LSDA)",
    aliases=("LSDA",),
)
CATALOG = [SSDA, LSDA]
PASSAGES = {
    "lsda-2005:a": "Colleges should appoint dedicated staff. They need time to build trust with employers.",
    "ssda-2008:b": "Employers value flexible delivery. Cost is the main barrier for small firms, the survey found.",
}


def cite(n: int, report: ReportInfo, quote: str, chunk: str) -> Citation:
    return Citation(
        n=n, report=report.id, title=report.title, byline=report.byline, year=report.year,
        section="Executive Summary › Findings", location="lines 10–12", quote=quote, chunk_id=chunk,
        passage=PASSAGES[chunk], label=report.label, place="§3.4 External influences, para 2",
    )


def answer(question: str, citations: list[Citation], abstained: bool = False) -> Answer:
    text = "**In short:**\n" + "\n".join(f"- “{c.quote}” [{c.n}] — *{c.label}*" for c in citations)
    return Answer(question=question, answer=text, citations=citations, abstained=abstained)


FIRST = answer("How can colleges engage small employers?", [
    cite(1, LSDA, "Colleges should appoint dedicated staff.", "lsda-2005:a"),
    cite(2, SSDA, "Employers value flexible delivery.", "ssda-2008:b"),
    cite(3, LSDA, "They need time to build trust with employers.", "lsda-2005:a"),
])
# The second answer cites the SSDA passage again (its own [1]) and a fragment of one of its sentences.
SECOND = answer("What stops small firms training?", [cite(1, SSDA, "Cost is the main barrier", "ssda-2008:b")])


def test_sources_are_numbered_once_across_the_note():
    sources, numbers = number_sources([FIRST, SECOND])
    assert [s.n for s in sources] == [1, 2]
    assert [len(s.citations) for s in sources] == [2, 2]  # every quote from a passage under its one number
    assert numbers == [{1: 1, 2: 2, 3: 1}, {1: 2}]


def test_markdown_note_renumbers_the_text_and_lists_each_quote_with_label_and_place():
    note = briefing_markdown([FIRST, SECOND], CATALOG, generated="2026-12-01")
    first, second = note.split("## 1. ")[1].split("## 2. ")
    assert "- “They need time to build trust with employers.” [1] — *LSDA (2005)*" in first
    assert "“Cost is the main barrier” [2] — *SSDA (2008)*" in second  # the SSDA passage keeps its number
    assert "[3]" not in note
    place = "§3.4 External influences, para 2 (lines 10–12)"
    assert f"- [1] “Colleges should appoint dedicated staff.” — LSDA (2005), {place}" in first
    # No fragments: the quote list gives the whole sentence the fragment was cut from.
    assert "- [2] “Cost is the main barrier for small firms, the survey found.” — SSDA (2008)" in second


def test_note_starts_with_one_line_of_questions_and_date():
    lines = briefing_markdown([FIRST, SECOND], CATALOG, generated="2026-12-01").splitlines()
    assert lines[0] == "# Briefing note: evidence on employer engagement"
    assert lines[2] == (
        "*Questions: How can colleges engage small employers?; What stops small firms training? "
        "· prepared 2026-12-01*"
    )


def test_references_use_the_labels_of_the_text_with_the_full_reference():
    references = briefing_markdown([FIRST, SECOND], CATALOG).split("## References", 1)[1]
    assert (
        "- **SSDA (2008)** — Chris Cooper, Iain Mackinnon, Peter Garside (2008). Employer Engagement. "
        "Sector Skills Development Agency (SSDA). SSDA Research Report 29. ISBN 978-0-9553912-7-9. "
        "Available from www.ssda.org.uk."
    ) in references
    lsda = "- **LSDA (2005)** — David Macleod, Maria Hughes (2005). What we know about working with employers."
    assert lsda in references
    assert references.count("Employer Engagement.") == 1
    assert references.index("LSDA (2005)") < references.index("SSDA (2008)")  # by label


def test_uncited_reports_are_not_referenced():
    assert "Macleod" not in briefing_markdown([SECOND], CATALOG)


def test_abstention_is_marked_and_its_nearest_quotes_kept():
    quote = cite(1, SSDA, "Employers value flexible delivery.", "ssda-2008:b")
    nearest = answer("What is the capital of France?", [quote], abstained=True)
    note = briefing_markdown([nearest], CATALOG)
    assert "Not covered by the reports" in note and "“Employers value flexible delivery.”" in note


def test_report_markup_in_a_quote_is_escaped_in_the_markdown_note():
    text = "See ![pixel](http://tracker.example/p.png) and <b>this</b> now."
    PASSAGES["ssda-2008:x"] = text
    hostile = answer("Q?", [cite(1, SSDA, text, "ssda-2008:x")])
    note = briefing_markdown([hostile], CATALOG)
    assert "![pixel]" not in note and "<b>" not in note
    assert "\\!\\[pixel\\](http://tracker.example/p.png) and \\<b\\>this\\</b\\> now." in note


def test_answer_lines_keep_markers_inside_quotes_and_drop_repeats():
    [(prefix, pieces)] = answer_lines("- “as shown in [7] above” [1] [3] — *SSDA (2008)*", {1: 2, 3: 2})
    assert prefix == "- "
    assert pieces == [("quote", "“as shown in [7] above”"), ("text", " "), ("marker", "2"), ("text", " — "),
                      ("italic", "SSDA (2008)")]


def test_whole_quote_widens_a_fragment_but_never_leaves_the_passage():
    c = cite(1, SSDA, "the main barrier", "ssda-2008:b")
    assert whole_quote(c) == "Cost is the main barrier for small firms, the survey found."
    assert whole_quote(cite(1, SSDA, "not in the passage", "ssda-2008:b")) == "not in the passage"


def test_word_note_has_the_quotes_the_numbering_and_a_numbered_reference_list():
    doc = Document(BytesIO(briefing_docx([FIRST, SECOND], CATALOG, generated="2026-12-01")))
    paragraphs = [(p.style.name, p.text) for p in doc.paragraphs]
    texts = [t for _, t in paragraphs]
    assert texts[0] == "Briefing note: evidence on employer engagement"
    assert texts[1].startswith("Questions: How can colleges engage small employers?")
    assert ("Heading 1", "2. What stops small firms training?") in paragraphs
    assert "“Cost is the main barrier” [2] — SSDA (2008)" in texts  # renumbered, as in the Markdown
    place = "§3.4 External influences, para 2 (lines 10–12)"
    sources = [t for style, t in paragraphs if style == "List Bullet" and t.startswith("[")]
    assert sources == [  # each answer's quotes grouped under their source's one number
        f"[1] “Colleges should appoint dedicated staff.” — LSDA (2005), {place}",
        f"[1] “They need time to build trust with employers.” — LSDA (2005), {place}",
        f"[2] “Employers value flexible delivery.” — SSDA (2008), {place}",
        f"[2] “Cost is the main barrier for small firms, the survey found.” — SSDA (2008), {place}",
    ]
    references = [t for style, t in paragraphs if style == "List Number"]
    assert len(references) == 2
    assert references[0].startswith("LSDA (2005) — David Macleod, Maria Hughes (2005). What we know")
    assert references[1].endswith("ISBN 978-0-9553912-7-9. Available from www.ssda.org.uk.")
    bold = [r.text for p in doc.paragraphs for r in p.runs if r.bold]
    assert "In short:" in bold


def test_write_briefing_picks_the_format_by_suffix(tmp_path):
    md = write_briefing(tmp_path / "note.md", [FIRST], CATALOG)
    assert md.read_text(encoding="utf-8").startswith("# Briefing note")
    docx = write_briefing(tmp_path / "note.docx", [FIRST], CATALOG)
    assert docx.read_bytes()[:2] == b"PK"  # a Word document is a zip


@pytest.mark.parametrize(("name", "message"), [("note.pdf", "as .md or .docx"), ("missing/note.md", "no such folder")])
def test_write_briefing_refuses_a_bad_path(tmp_path, name, message):
    with pytest.raises(AssistantError, match=message):
        write_briefing(tmp_path / name, [FIRST], CATALOG)


def test_whole_quote_completes_a_quote_cut_with_an_ellipsis():
    PASSAGES["ssda-2008:e"] = "First point here. Brokers failed to follow up with firms, which cost them trust. Next."
    assert whole_quote(cite(1, SSDA, "Brokers failed to …", "ssda-2008:e")) == (
        "Brokers failed to follow up with firms, which cost them trust."
    )
    assert whole_quote(cite(1, SSDA, "First point … cost them trust.", "ssda-2008:e")) == (
        "First point here. Brokers failed to follow up with firms, which cost them trust."
    )
    long = "Start " + "word " * 200 + "end."
    PASSAGES["ssda-2008:l"] = long
    assert whole_quote(cite(1, SSDA, "Start word …", "ssda-2008:l")) == "Start word …"  # too long: as cut
