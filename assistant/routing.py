"""Which reports a question names ("the 2008 SSDA study", "Hodgson and colleagues"), from the catalog."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.catalog import Catalog
from assistant.types import ReportInfo

_STUDY_WORDS = r"(?:study|report|research|review|paper|article|synthesis|roundtable|evidence|findings|survey|work)"
_GENERIC_ALIASES = {"work", "learning", "skills", "employer", "employers"}


@dataclass(frozen=True)
class _Cue:
    pattern: re.Pattern[str]
    report: str
    strong: bool  # names the report by itself (an alias, an author); a year only narrows


def _cues_for(report: ReportInfo) -> list[_Cue]:
    cues: list[_Cue] = []
    names = {report.id, *report.aliases}
    names.update(re.findall(r"\(([A-Z]{2,})\)", report.publisher))  # "(UKCES)", "(SSDA)"
    names.update(re.findall(r"\b([A-Z]{3,})\b", report.publisher))
    # Longest first, in a fixed order: set order changes from process to process (hash seeds), and
    # strip_names must remove "LSDA synthesis" before "LSDA" for retrieval to be deterministic.
    for name in sorted(names, key=lambda n: (-len(n), n)):
        if name.lower() in _GENERIC_ALIASES or len(name) < 2:
            continue
        # Acronyms match case-sensitively (so "IES" is not "ies"); phrases ignore case.
        flags = 0 if name.isupper() else re.IGNORECASE
        cues.append(_Cue(re.compile(rf"(?<![\w-]){re.escape(name)}s?(?![\w-])", flags), report.id, True))
    for author in report.authors:
        surname = author.split()[-1]
        if len(surname) > 2 and surname[0].isupper() and " " in author:
            cues.append(_Cue(re.compile(rf"\b{re.escape(surname)}\b"), report.id, True))
    if report.year:
        year = str(report.year)
        near = (
            rf"\b{year}\b(?:\W+\w+){{0,3}}?\W+{_STUDY_WORDS}"
            rf"|{_STUDY_WORDS}\W+(?:\w+\W+){{0,3}}?(?:in|from|of)\s+{year}\b"
        )
        cues.append(_Cue(re.compile(near, re.IGNORECASE), report.id, False))
        cues.append(_Cue(re.compile(rf"\b{year}\b"), report.id, False))
    return cues


class ReportRouter:
    """Finds the reports a question refers to by name, author, organisation, series or year."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._cues = [cue for report in catalog for cue in _cues_for(report)]

    def named(self, question: str) -> list[str]:
        """Report ids the question names, in the order it names them ([] when it names none)."""
        strong: dict[str, int] = {}
        years: dict[str, int] = {}
        for cue in self._cues:
            match = cue.pattern.search(question)
            if match is None:
                continue
            target = strong if cue.strong else years
            target[cue.report] = min(target.get(cue.report, 10**6), match.start())
        if strong:
            # A year next to a name narrows it ("the 2019 ... roundtable"), but never removes a named report.
            return sorted(strong, key=strong.get)
        # A year alone counts only when it picks exactly one report and sits beside a word like "study".
        year_only = [r for r in years if self._year_phrase(question, r)]
        return year_only if len(year_only) == 1 else []

    def strip_names(self, question: str, reports: list[str]) -> str:
        """The question without the words that name `reports` ("the 2008 SSDA study" -> "the study").

        Once retrieval is filtered to a report, its name only pulls in passages that mention the
        name (forewords, bibliographies) instead of passages about the topic.
        """
        stripped = question
        for cue in self._cues:
            if cue.report in reports:
                stripped = cue.pattern.sub(" ", stripped) if cue.strong else re.sub(
                    rf"\b{self.catalog.get(cue.report).year}\b", " ", stripped
                )
        stripped = re.sub(r"\s+", " ", stripped).strip()
        return stripped if len(stripped.split()) >= 2 else question

    def _year_phrase(self, question: str, report_id: str) -> bool:
        report = self.catalog.get(report_id)
        if report is None or not report.year:
            return False
        same_year = [r for r in self.catalog if r.year == report.year]
        if len(same_year) != 1:
            return False
        near = _cues_for(report)
        return any(c.pattern.search(question) for c in near if not c.strong and "study" in c.pattern.pattern)
