"""Features of a (question, evidence unit) pair, from what the index already holds.

Every feature holds for any report: meaning (cosine of MiniLM vectors), shared rare words (IDF from the
corpus), the report's own structure (section headings, summary and case-study sections, position), what
the question wants (a number, a cause, a list, a definition, advice, an obstacle) against what the
sentence offers, and how the passage it sits in was ranked. No word of a particular report appears here,
so a report added later is scored the same way.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.plan import YEAR, Plan
from assistant.quotable import about_literature
from assistant.units import Unit

# What a sentence offers (grammatical and typographic shapes, not topics).
OFFERS = {
    "number": re.compile(r"\d|\b(?:half|third|quarter|majority|minority|most|few|one in|twice|per ?cent)\b", re.I),
    "cause": re.compile(
        r"\b(?:because|due to|reasons?|motivat\w*|in order to|so that|as a result|led to|leads? to|driven by|"
        r"drivers?|to (?:address|meet|improve|gain|secure|access|help))\b",
        re.I,
    ),
    "definition": re.compile(
        r"\b(?:is defined as|defined as|defin\w+|refers? to|means|is any|are any|is the term|is used to describe|"
        r"can be described as|is understood as)\b",
        re.I,
    ),
    "advice": re.compile(
        r"\b(?:should|need(?:s|ed)? to|must|recommend\w*|effective\w*|success\w*|work(?:s|ed)? (?:best|well)|"
        r"good practice|key to|important (?:to|that)|ensure|consider|approach(?:es)?|enabl\w*|helps?|helped|"
        r"ways? (?:to|of)|can (?:be|help)|encourag\w*)\b",
        re.I,
    ),
    "obstacle": re.compile(
        r"\b(?:barriers?|lack\w*|difficult\w*|constrain\w*|reluctan\w*|costs?|pressures?|unable|obstacles?|"
        r"problems?|concerns?|risks?|limited|fail\w*|not (?:want|need|see|have|able)|too (?:busy|small|expensive))\b",
        re.I,
    ),
    "enumeration": re.compile(
        r"\b(?:two|three|four|five|six|seven|several|a number of|following|types?|categories|models|stages|steps|"
        r"includ\w*|such as|namely|first(?:ly)?|second(?:ly)?)\b|:",
        re.I,
    ),
}
_SUMMARY = re.compile(r"\b(?:summary|key findings|findings|conclusions?|recommendations|executive|overview)\b", re.I)
_CASE = re.compile(r"\bcase stud(?:y|ies)\b|\bexamples?\b|\bvignette", re.I)
_CITED = re.compile(r"\(\s*[^()]{0,40}(?:19|20)\d\d[a-z]?\s*\)|\bet al\b|\b[A-Z][a-z]+ \((?:19|20)\d\d\)")
_ABOUT_TEXT = re.compile(
    r"^(?:this|the following|the next|the present)\s+(?:section|chapter|paper|report|review|part|appendix|"
    r"publication|document|study)\b|\b(?:this|the) (?:report|paper|review|study|section|chapter) "
    r"(?:is|was|aims?|sets|describes|examines|looks|considers|presents|outlines|summari[sz]es|explores)\b",
    re.I,
)
_ONE_CASE = re.compile(
    r"\b(?:this|that|these|those)\s+(?:individual|person|employer|company|firm|interviewee|respondent|participant|"
    r"case|example)s?\b|\b(?:he|she|his|her)\b",
    re.I,
)

FEATURES: tuple[str, ...] = (
    "cos",
    "cos_gap",
    "cos_rank",
    "bm25",
    "words",
    "words_all",
    "heading",
    "passage_rank",
    "passage_late",
    "chunk_bm25",
    "chunk_cos",
    "named_report",
    "other_report",
    "kind_list",
    "kind_joined",
    "kind_dangling",
    "kind_item",
    "length",
    "short",
    "long",
    "first_in_section",
    "summary_section",
    "case_section",
    "cited",
    "about_text",
    "one_case",
    "neighbour_cos",
    "want_number",
    "want_cause",
    "want_list",
    "want_definition",
    "want_advice",
    "want_obstacle",
    "want_findings",
    "offer_number",
    "offer_cause",
    "offer_advice",
    "offer_obstacle",
    "year_met",
    "year_unmet",
    "q_best_cos",
    "q_late",
    "q_coverage",
    "q_year_unmet",
)


@dataclass(slots=True)
class UnitText:
    """What is known about a unit without the question (computed once per generation).

    Word sets are sorted tuples of interned strings, not frozensets: every unit of the corpus has one
    in memory at ingest and in a reader, and a frozenset of 20 terms costs 2.2 KB, a tuple 0.2 KB
    (issue 19: 17 KB a chunk in all); only a question's few hundred candidates are ever tested.
    """

    terms: tuple[str, ...]
    heading_terms: tuple[str, ...]
    offers: tuple[str, ...]
    length: int
    summary: bool
    case: bool
    cited: bool
    about_text: bool
    one_case: bool
    first_in_section: bool
    years: tuple[str, ...] = ()  # the years the unit's text names


def words(found: Iterable[str]) -> tuple[str, ...]:
    """A word set as UnitText keeps it: sorted, each string interned (shared by every unit using it)."""
    return tuple(sorted({sys.intern(w) for w in found}))


def unit_text(unit: Unit, terms: Sequence[str], heading_terms: Sequence[str], paragraph: int | None) -> UnitText:
    """The question-free description of `unit` (its stemmed terms and those of its section headings given)."""
    section = " ".join(unit.section)
    return UnitText(
        terms=words(terms),
        heading_terms=words(heading_terms),
        offers=words(k for k, p in OFFERS.items() if p.search(unit.text)),
        length=len(unit.text.split()),
        summary=bool(_SUMMARY.search(section)),
        case=bool(_CASE.search(section)),
        cited=bool(_CITED.search(unit.text)),
        # About the report or the literature, not the topic: "This chapter describes…", "A number of LSDA
        # publications are concerned with…" (the same test the quotable-sentence filter uses).
        about_text=bool(_ABOUT_TEXT.search(unit.text) or about_literature(unit.text)),
        one_case=bool(_ONE_CASE.search(unit.text)),
        first_in_section=paragraph in (None, 1) and unit.start == 0,
        years=words(YEAR.findall(unit.text)),
    )


@dataclass(frozen=True)
class Context:
    """What the features of one question's candidates share: the plan and the retrieval's results."""

    plan: Plan
    topic_terms: frozenset[str]
    weight: Callable[[str], float]
    passage_rank: dict[str, int]  # chunk id -> 1-based rank among the retrieved passages
    passage_late: dict[str, float]  # chunk id -> late-interaction score, for retrieved passages
    best_late: float
    coverage: float
    report_year: dict[str, str] = field(default_factory=dict)  # report id -> its year of publication


def _share(weights: dict[str, float], *have: tuple[str, ...]) -> float:
    """IDF-weighted share of the topic's terms (`weights`) that any of `have` holds.

    Summed in the order of `weights` (sorted terms), so the figure does not depend on string hashing
    (PYTHONHASHSEED): summed in a set's order, the last bits differed between runs."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if any(t in h for h in have)) / total if total else 0.0


def matrix(
    ctx: Context,
    units: Sequence[Unit],
    texts: Sequence[UnitText],
    cos: np.ndarray,
    bm25: np.ndarray,
    neighbour_cos: np.ndarray,
    chunk_bm25: np.ndarray | None = None,
    chunk_cos: np.ndarray | None = None,
) -> np.ndarray:
    """One row of FEATURES per candidate unit (arrays are parallel to `units`)."""
    n = len(units)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return out
    col = {name: i for i, name in enumerate(FEATURES)}
    best = float(cos.max())
    order = np.argsort(-cos, kind="stable")
    cos_rank = np.empty(n)
    cos_rank[order] = np.arange(n)
    top_bm25 = float(bm25.max()) if bm25.size and bm25.max() > 0 else 1.0
    wants = ctx.plan.wants
    named = set(ctx.plan.reports)
    weights = {t: ctx.weight(t) for t in sorted(ctx.topic_terms)}
    # A year the question asks about ("in 2022", "the 2008 study") is met by a unit that names it or sits in
    # a report of that year; when no candidate meets it the reports likely do not give what is asked.
    asked = ctx.plan.years
    met = [
        bool(asked) and bool(asked & {*text.years, ctx.report_year.get(unit.report, "")})
        for unit, text in zip(units, texts, strict=True)
    ]
    none_met = float(bool(asked) and not any(met))
    for i, (unit, text) in enumerate(zip(units, texts, strict=True)):
        row = out[i]
        row[col["cos"]] = cos[i]
        row[col["cos_gap"]] = cos[i] - best
        row[col["cos_rank"]] = 1.0 / math.sqrt(1.0 + cos_rank[i])
        row[col["bm25"]] = bm25[i] / top_bm25
        row[col["words"]] = _share(weights, text.terms)
        row[col["words_all"]] = _share(weights, text.terms, text.heading_terms)
        row[col["heading"]] = _share(weights, text.heading_terms)
        rank = ctx.passage_rank.get(unit.chunk_id)
        row[col["passage_rank"]] = 1.0 / math.sqrt(rank) if rank else 0.0
        row[col["passage_late"]] = ctx.passage_late.get(unit.chunk_id, 0.0)
        row[col["chunk_bm25"]] = chunk_bm25[i] if chunk_bm25 is not None else 0.0
        row[col["chunk_cos"]] = chunk_cos[i] if chunk_cos is not None else cos[i]
        row[col["named_report"]] = float(bool(named) and unit.report in named)
        row[col["other_report"]] = float(bool(named) and unit.report not in named)
        row[col["kind_list"]] = float(unit.kind == "list")
        row[col["kind_joined"]] = float(unit.kind == "joined")
        row[col["kind_dangling"]] = float(unit.kind == "dangling")
        row[col["kind_item"]] = float(unit.kind == "item")
        row[col["length"]] = math.log1p(text.length)
        row[col["short"]] = float(text.length < 10)
        row[col["long"]] = float(text.length > 50)
        row[col["first_in_section"]] = float(text.first_in_section)
        row[col["summary_section"]] = float(text.summary)
        row[col["case_section"]] = float(text.case)
        row[col["cited"]] = float(text.cited)
        row[col["about_text"]] = float(text.about_text)
        row[col["one_case"]] = float(text.one_case)
        row[col["neighbour_cos"]] = neighbour_cos[i]
        offers = text.offers
        row[col["want_number"]] = float("number" in wants and "number" in offers)
        row[col["want_cause"]] = float("cause" in wants and "cause" in offers)
        row[col["want_list"]] = float("list" in wants and (unit.kind == "list" or "enumeration" in offers))
        row[col["want_definition"]] = float("definition" in wants and "definition" in offers and not text.cited)
        row[col["want_advice"]] = float("advice" in wants and "advice" in offers)
        row[col["want_obstacle"]] = float("obstacle" in wants and "obstacle" in offers)
        row[col["want_findings"]] = float("findings" in wants and text.summary)
        row[col["offer_number"]] = float("number" in offers)
        row[col["offer_cause"]] = float("cause" in offers)
        row[col["offer_advice"]] = float("advice" in offers)
        row[col["offer_obstacle"]] = float("obstacle" in offers)
        row[col["q_best_cos"]] = best
        row[col["q_late"]] = ctx.best_late
        row[col["year_met"]] = float(met[i])
        row[col["year_unmet"]] = float(bool(asked) and not met[i])
        row[col["q_coverage"]] = ctx.coverage
        row[col["q_year_unmet"]] = none_met
    return out
