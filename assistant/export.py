"""Answers as a Markdown briefing note: each question, its cited answer, the quotes and a references list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from assistant.types import Answer, Citation, ReportInfo

TITLE = "Briefing note: evidence on employer engagement"


def briefing_markdown(
    turns: Sequence[Answer], catalog: Iterable[ReportInfo], *, title: str = TITLE, generated: str = ""
) -> str:
    """A self-contained Markdown note for `turns` (answers in order), with a full reference per cited report.

    `catalog` is any iterable of `ReportInfo` (an `assistant.catalog.Catalog` will do); `generated` is an
    optional date line, left to the caller so the output depends only on the arguments.
    """
    reports = {info.id: info for info in catalog}
    lines = [f"# {title}", ""]
    if generated:
        lines += [f"*Prepared {generated}.*", ""]
    lines += [
        "Every point below is quoted from the research reports listed under References; "
        "[n] marks refer to the quotes listed after each answer.",
        "",
    ]
    for number, answer in enumerate(turns, start=1):
        lines += [f"## {number}. {_one_line(answer.question)}", ""]
        if answer.abstained:
            lines += ["> **Not covered by the reports.** The quotes below are the nearest related evidence.", ""]
        lines += [answer.answer.strip(), ""]
        if answer.notice:
            lines += [f"*{answer.notice}*", ""]
        if answer.citations:
            lines += ["**Quotes**", ""]
            lines += [_quote_line(c, reports.get(c.report)) for c in answer.citations]
            lines.append("")
    cited = _cited_reports(turns, reports)
    lines += ["## References", ""]
    if cited:
        lines += [f"- {_reference(info)}" for info in cited]
    else:
        lines.append("No report was cited.")
    lines.append("")
    return "\n".join(lines)


def _reference(info: ReportInfo) -> str:
    """The catalog's full reference; a report with neither authors nor publisher leads with its title."""
    if info.authors or info.publisher:
        return info.reference()
    series = f" {info.series}." if info.series else ""
    return f"{info.title} ({info.year or 'n.d.'}).{series}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _quote_line(citation: Citation, info: ReportInfo | None) -> str:
    label = info.label if info else citation.report
    where = ", ".join(part for part in (citation.section, citation.location) if part)
    return f"- [{citation.n}] “{_one_line(citation.quote)}” — {label}, {where}"


def _cited_reports(turns: Sequence[Answer], reports: dict[str, ReportInfo]) -> list[ReportInfo]:
    """Each cited report once, by first author (or publisher) and year; unknown ids from the citation."""
    found: dict[str, ReportInfo] = {}
    for answer in turns:
        for c in answer.citations:
            if c.report not in found:
                found[c.report] = reports.get(c.report) or ReportInfo(
                    id=c.report, file="", title=c.title, year=c.year, publisher=c.byline
                )
    return sorted(found.values(), key=lambda r: (r.byline.lower(), r.year or 0, r.title.lower()))
