"""The question read once: one plan that retrieval, the answer ranker and the writer all take.

`make_plan` is the one place that turns what the user typed (and what the conversation added) into
intent, premise, injected instructions, named reports, topic and what kind of answer is wanted. The
retriever makes the plan (it knows the catalog's names: `HybridRetriever.plan`) before it searches, and
searches by the plan (`HybridRetriever.search`); conversation resolution, the ranker and the writers take
it too. Nothing downstream parses the question text again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.question import Reading, read_question

# What kind of sentence would answer, from the question's wording (each a grammatical shape, no topic words).
_WANTS = {
    "number": r"\bhow (?:many|much|often|long|large|big)\b|\bwhat (?:share|proportion|percentage|number|fraction|"
    r"size)\b|\bhow (?:high|low)\b|\bwhat (?:were|was|are|is) the (?:figures?|numbers?|rates?|scale)\b|\bper ?cent\b",
    "cause": r"^\s*why\b|\bwhy (?:do|did|does|are|is|were|was|would|should)\b|\breasons?\b|\bmotivat\w*|\bdrives?\b|"
    r"\bwhat (?:led|leads|prompts?|encourages?)\b",
    "list": r"\bwhat (?:are|were) the (?:\w+ )?(?:types|kinds|categories|forms|models|sources|stages|steps|factors|"
    r"roles|elements|components|principles|approaches|options|ways|organisations|groups|lessons|themes|features)\b"
    r"|\bwhich (?:organisations|bodies|groups|partners|types|models|factors)\b|\b(?:two|three|four|five|six) "
    r"(?:main |key )?\w+",
    "definition": r"\bdefin\w+|\bwhat is meant by\b|\bmean by\b|\bmeaning of\b|\bwhat counts as\b"
    r"|^\s*what (?:is|are) (?:an? |the )?[\w'‘’ -]{3,40}\?\s*$",
    "advice": r"^\s*how (?:do|can|should|could|might|would|to)\b|\bwhat (?:should|can|could|works?|helps?)\b|"
    r"\bbest way\b|\bways? to\b|\btips?\b|\bhow best\b|\bwhat (?:makes|made) .{0,40}(?:work|succe)",
    "obstacle": r"\b(?:stops?|stopping|prevents?|barriers?|obstacles?|hinders?|holds? (?:\w+ )?back|challenges?|"
    r"difficult\w*|discourag\w*|deters?|problems?|reluctan\w*|put (?:\w+ )?off)\b",
    "findings": r"\bwhat (?:did|does|do) .{0,80}?(?:find|found|conclude|show|say|report|recommend)|\bfindings?\b|"
    r"\bconclu\w+|\bkey (?:messages?|points?|lessons?)\b",
}
WANTS = tuple(_WANTS)
# Words that frame the question ("what did the study find about X") rather than say what it is about.
_FRAME = re.compile(
    r"\b(?:find|finds|found|findings?|say|says|said|show|shows|showed|suggest\w*|conclu\w+|reports?|stud(?:y|ies)|"
    r"research\w*|papers?|authors?|discuss\w*|mention\w*|tell|describe\w*|explain\w*|according)\b",
    re.IGNORECASE,
)
YEAR = re.compile(r"\b(?:19|20)\d\d\b")  # a year as the reports and questions write it
_WANT_PATTERNS = {k: re.compile(v, re.IGNORECASE) for k, v in _WANTS.items()}


@dataclass(frozen=True)
class Plan:
    """Everything the engine understood of one question (and its conversation)."""

    question: str  # as asked
    reading: Reading  # intent, premise, injected instructions, what to search for
    topic: str = ""  # what is searched for, without report names and asking words
    reports: tuple[str, ...] = ()  # reports the question (or the filter) names
    compared: tuple[str, ...] = ()  # reports set side by side
    searched_as: str = ""  # the query once the conversation added context ("" when it stood alone)
    wants: frozenset[str] = field(default_factory=frozenset)  # kinds of sentence that would answer (WANTS)
    query: str = ""  # the text searched (the question, without injected instructions, or with context)
    chosen: tuple[str, ...] = ()  # reports the user filtered to (the filter wins over the question's names)
    named: tuple[str, ...] = ()  # indexed reports the searched text names
    unknown_names: tuple[str, ...] = ()  # names in the user's words that no report mentions
    comparison: bool = False  # worded as a comparison ("across the reports…") without naming reports

    @property
    def scope(self) -> tuple[str, ...]:
        """The reports searched: the filter, else those the question names (empty: all)."""
        return self.chosen or self.named

    @property
    def years(self) -> frozenset[str]:
        """The years the user's question names ("in 2022", "the 2008 study")."""
        return frozenset(YEAR.findall(self.reading.ask))

    @property
    def searched(self) -> str:
        """The text retrieval searches with."""
        return self.query or self.question

    @property
    def subject(self) -> str:
        """The topic without the words that frame the question: what a sentence must be about."""
        return " ".join(_FRAME.sub(" ", self.topic).split()) or self.topic

    @property
    def intent(self) -> str:
        return self.reading.intent

    @property
    def premise(self) -> str:
        return self.reading.premise


def wants_of(text: str, reading: Reading) -> frozenset[str]:
    """The kinds of sentence that would answer `text` (a number, a cause, a list, advice…)."""
    found = {k for k, p in _WANT_PATTERNS.items() if p.search(text)}
    if reading.intent == "how_to":
        found.add("advice")
    if reading.intent == "barriers":
        found.add("obstacle")
    if reading.intent == "definition":
        found.add("definition")
    if reading.intent == "list":
        found.add("list")
    return frozenset(found)


def make_plan(
    question: str,
    *,
    reading: Reading | None = None,
    topic: str = "",
    reports: tuple[str, ...] = (),
    compared: tuple[str, ...] = (),
    searched_as: str = "",
    query: str = "",
    chosen: tuple[str, ...] = (),
    named: tuple[str, ...] = (),
    unknown_names: tuple[str, ...] = (),
    comparison: bool = False,
) -> Plan:
    """The plan of `question`; `reading` when the caller has already read it (a follow-up's plan keeps
    the reading of what the user typed)."""
    reading = reading or read_question(question)
    return Plan(
        question=question,
        reading=reading,
        topic=topic or reading.ask,
        reports=tuple(reports) or tuple(chosen) or tuple(named),
        compared=tuple(compared),
        searched_as=searched_as,
        wants=wants_of(reading.ask, reading),
        query=query,
        chosen=tuple(chosen),
        named=tuple(named),
        unknown_names=tuple(unknown_names),
        comparison=comparison,
    )
