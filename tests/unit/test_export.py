"""The Markdown briefing note: questions, answers, quotes and a full references list."""

from __future__ import annotations

from assistant.export import briefing_markdown
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


def cite(n: int, report: ReportInfo, quote: str) -> Citation:
    return Citation(
        n=n, report=report.id, title=report.title, byline=report.byline, year=report.year,
        section="Executive Summary › Findings", location="lines 10–12", quote=quote, chunk_id=f"{report.id}:{n}",
    )


def answer(question: str, citations: list[Citation], abstained: bool = False) -> Answer:
    text = " ".join(f"“{c.quote}” [{c.n}]" for c in citations)
    return Answer(question=question, answer=text, citations=citations, abstained=abstained)


FIRST = answer("How can colleges engage small employers?", [
    cite(1, LSDA, "Colleges should appoint dedicated staff."),
    cite(2, SSDA, "Employers value flexible delivery."),
])
SECOND = answer("What stops small firms training?", [cite(1, SSDA, "Cost is the main barrier.")])


def test_note_has_each_question_answer_and_quote():
    note = briefing_markdown([FIRST, SECOND], CATALOG)
    assert note.startswith("# Briefing note")
    assert "## 1. How can colleges engage small employers?" in note
    assert "## 2. What stops small firms training?" in note
    assert FIRST.answer in note and SECOND.answer in note
    quote = "- [1] “Colleges should appoint dedicated staff.” — LSDA (2005), Executive Summary › Findings, lines 10–12"
    assert quote in note


def test_references_give_the_full_citation_of_each_cited_report_once():
    note = briefing_markdown([FIRST, SECOND], CATALOG)
    references = note.split("## References", 1)[1]
    ssda = (
        "- Chris Cooper, Iain Mackinnon, Peter Garside (2008). Employer Engagement. "
        "Sector Skills Development Agency (SSDA). SSDA Research Report 29."
    )
    lsda = "- David Macleod, Maria Hughes (2005). What we know about working with employers. Learning and Skills"
    assert ssda in references and lsda in references
    assert references.count("Employer Engagement.") == 1
    assert references.index("Chris Cooper") < references.index("David Macleod")  # sorted by author


def test_uncited_reports_are_not_referenced():
    note = briefing_markdown([SECOND], CATALOG)
    assert "Macleod" not in note


def test_abstention_is_marked_and_its_nearest_quotes_kept():
    note = briefing_markdown([answer("What is the capital of France?", [cite(1, SSDA, "Cost.")], True)], CATALOG)
    assert "Not covered by the reports" in note and "“Cost.”" in note


def test_report_missing_from_the_catalog_falls_back_to_the_citation():
    stray = ReportInfo(id="gamma-2020", file="g.pdf", title="Job Brokerage", year=2020, publisher="Gamma Trust")
    note = briefing_markdown([answer("Q?", [cite(1, stray, "A quote.")])], CATALOG)
    assert "- Gamma Trust (2020). Job Brokerage." in note


def test_report_without_authors_or_publisher_leads_with_its_title():
    bare = ReportInfo(id="gamma-2020", file="g.pdf", title="Job Brokerage", year=2020)
    note = briefing_markdown([answer("Q?", [cite(1, bare, "A quote.")])], CATALOG)
    assert "- Job Brokerage (2020)." in note and "-  (" not in note


def test_no_answers_gives_an_empty_references_list():
    note = briefing_markdown([], CATALOG)
    assert "## References" in note and "No report was cited." in note


def test_output_depends_only_on_the_arguments():
    assert briefing_markdown([FIRST], CATALOG) == briefing_markdown([FIRST], CATALOG)
    assert "*Prepared 2026-01-31.*" in briefing_markdown([FIRST], CATALOG, generated="2026-01-31")
