"""Deterministic scoring of one answer against one case, and the averages over many. No LLM judge.

Everything here is a pure function of a case, an `Answer` and the source text it cites, so that the
unit tests can score hand-made answers. The runner does the I/O (index look-ups, report files).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.types import Answer, Chunk, Citation, Passage
from assistant.verify import quote_in
from evals.cases import EvalCase, normalise, span_in
from evals.junk import LEAD_IN, junk_kind

#: A passage holding this share of an evidence span's words, as one run from its start or end, holds
#: the span: the rest is in the neighbouring chunk.
PARTIAL_SPAN = 0.6
HIT_DEPTH = 5
#: The issue's rule for breadth: more quotes than this from one passage is anecdote, not a survey.
MAX_QUOTES_PER_PASSAGE = 2
#: A lead-in shorter than this says nothing even above its list ("It aimed to:", "For example:").
MIN_LEAD_IN_WORDS = 4

_ELLIPSIS = re.compile(r"\s*(?:…|\.\.\.)\s*")
# A word broken over two lines ("employ-" / "ment"): the cleaner joins it, so the comparison must too.
_LINE_END_HYPHEN = re.compile(r"(?<=[A-Za-z])-[ \t]*\n[ \t]*(?=[a-z])")
# Lines the cleaner drops from the running text: lone page numbers and a logo with a page number.
_FURNITURE = re.compile(r"^\s*(?:\d{1,3}|[A-Z][A-Z&' ]+ \d{1,3})\s*$", re.MULTILINE)
# Footnotes printed at a page foot (a superscript number, then the note): the cleaner lifts them out, so a
# paragraph interrupted by them reads on across them.
_FOOTNOTE_LINE = re.compile(r"^\s*(?:[⁰¹²³⁴⁵⁶⁷⁸⁹]+\s.*|[^\w\s]{1,3})$", re.MULTILINE)  # and a lone "~" page mark
_BULLET = re.compile(
    r"^[ \t]*[\u2022\u25aa\u25cf\u25a0\u25e6\u2023\u2043\u00b7\u25ba\uf0b7\uf0a7\uf076\uf0d8\uf0fc]", re.M
)

# A premise the answer names in order to reject it ("do not support the premise that *X*") is not an
# endorsement of X: forbidden wording is looked for in the rest of the answer.
_REJECTED_PREMISE = re.compile(r"\b(?:do not|does not|don't) support the premise that \*[^*\n]+\*", re.IGNORECASE)

#: Every metric in a report, in display order, with whether higher is better.
METRICS: dict[str, bool] = {
    "hit_at_1": True,
    "hit_at_5": True,
    "mrr": True,
    "citation_precision": True,
    "citation_recall": True,
    "coverage": True,
    "lead_answers": True,
    "junk_quotes": False,
    "junk_quote_rate": False,
    "max_quotes_per_passage": False,
    "max_quotes_per_passage_mean": False,
    "abstention": True,
    "false_abstention": False,
    "adversarial_pass": True,
    "premise_corrected": True,
    "latency_p50_ms": False,
    "latency_p95_ms": False,
}
#: Metrics that are counts (shown as integers), and metrics that are not shares of 1 (kept off the bar chart).
COUNT_METRICS = frozenset({"junk_quotes", "max_quotes_per_passage"})
NOT_SHARES = COUNT_METRICS | {"max_quotes_per_passage_mean"}

# A heading: "# …", a rule, or a line in bold alone that is not a sentence ("**LSDA (2005)**"),
# perhaps with an attribution in italics ("**Clustering** — *LSDA (2005)*").
_HEADING = re.compile(
    r"^(?:#{1,6}\s|[-*_]{3,}$"
    r"|(?:\*\*[^*]+(?<![.!?])\*\*|__[^_]+(?<![.!?])__):?(?:\s+[—–-]\s+\*[^*]+\*)?$)"
)
_LIST_MARK = re.compile(r"^(?:[-*+\u2022]|\d{1,2}[.)])\s+")
# "**In short:**", "**Answer**:", "*Summary:*" or a plain "In short:" before the lead sentence. A plain
# label is only stripped when it is a known one: "Public funding: …" may hold a fact.
_LABEL = re.compile(
    r"^(?:\*\*[^*]{1,40}?:\*\*|\*\*[^*]{1,40}?\*\*\s*:|\*[^*]{1,40}?:\*"
    r"|(?:In short|Short answer|Answer|Summary|Bottom line|In brief)\s*:)\s*",
    re.I,
)
_MARKER = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")


@dataclass
class CaseResult:
    """How one answer scored on one case; `reasons` says why it failed (empty when it passed)."""

    id: str
    kind: str
    question: str
    expect_abstain: bool
    abstained: bool = False
    error: str = ""
    has_evidence: bool = False
    evidence_rank: int | None = None
    citations: int = 0
    citations_ok: int = 0
    citation_problems: list[str] = field(default_factory=list)
    expected_reports: list[str] = field(default_factory=list)
    cited_reports: list[str] = field(default_factory=list)
    fact_groups: int = 0
    missing_facts: list[list[str]] = field(default_factory=list)
    forbidden_found: list[str] = field(default_factory=list)
    adversarial_pass: bool | None = None
    premise_corrected: bool | None = None
    lead: str = ""
    lead_answers: bool | None = None
    junk_quotes: list[str] = field(default_factory=list)
    quotes_per_passage: int = 0
    crowded_passage: str = ""
    latency_ms: float = 0.0
    answer: str = ""
    reasons: list[str] = field(default_factory=list)

    @property
    def in_scope(self) -> bool:
        """The reports answer this case: the assistant should not abstain."""
        return not self.expect_abstain

    @property
    def passed(self) -> bool:
        return not self.reasons

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready detail for the report."""
        return {**asdict(self), "passed": self.passed}


# -- matching ------------------------------------------------------------------------------------


def evidence_in(span: str, text: str) -> bool:
    """True when `span` is in `text`, or a run of >= 60% of its words from its start or its end is."""
    if span_in(span, text):
        return True
    words = normalise(span).split()
    need = math.ceil(len(words) * PARTIAL_SPAN)
    if need < 1 or need >= len(words):
        return False
    haystack = normalise(text)
    return " ".join(words[:need]) in haystack or " ".join(words[-need:]) in haystack


def evidence_rank(case: EvalCase, passages: Sequence[Passage]) -> int | None:
    """1-based position of the first passage holding any of the case's evidence spans (same report)."""
    for position, passage in enumerate(passages, start=1):
        if any(ev.report == passage.chunk.report and evidence_in(ev.text, passage.chunk.text) for ev in case.evidence):
            return position
    return None


def _compact(text: str) -> str:
    """Normalised text with ALL white space and emphasis marks removed: robust to repaired words.

    Double and single quotation marks are one mark here: a quote that holds a quotation shows it with
    single marks (“… ‘employer engagement’ …”), which changes typography, not a word.
    """
    return normalise(text).replace(" ", "").replace("*", "").replace("__", "").replace('"', "'")


def quote_fragments(quote: str) -> list[str]:
    """The ellipsis-separated pieces of a quote."""
    return [f for f in _ELLIPSIS.split(quote) if f.strip()]


def quote_in_source(quote: str, source: str) -> bool:
    """True when every fragment of `quote` is in the raw `source` text, ignoring all white space.

    The cleaner joins words broken by stray spaces or by a hyphen at a line end, and drops page
    numbers and bullet glyphs, so the raw text is compared in each of those forms.
    """
    fragments = [_compact(f) for f in quote_fragments(quote)]
    if not fragments or not all(fragments):
        return False
    joined = _LINE_END_HYPHEN.sub("", source)
    furniture_free = _BULLET.sub("", _FURNITURE.sub("", joined))
    variants = {_compact(v) for v in (source, joined, furniture_free, _FOOTNOTE_LINE.sub("", furniture_free))}
    return all(any(f in v for v in variants) for f in fragments)


def check_citation(citation: Citation, chunk: Chunk | None, source: str | None) -> str | None:
    """Why `citation` cannot be verified, or None when its quote is at the cited place.

    `chunk` is the indexed chunk named by `citation.chunk_id` (None if the index lacks it); `source`
    is the original report's text at the chunk's location (its lines, or its PDF pages).
    """
    label = f"[{citation.n}] {citation.report} {citation.location}"
    if chunk is None:
        return f"{label}: chunk {citation.chunk_id} is not in the index"
    if chunk.report != citation.report:
        return f"{label}: chunk {citation.chunk_id} belongs to {chunk.report}"
    if chunk.location != citation.location:
        return f"{label}: the chunk is at {chunk.location}, not at the cited location"
    if not quote_in(citation.quote, chunk.text):
        return f"{label}: quote not in the cited chunk: “{_short(citation.quote)}”"
    if source is None:
        return f"{label}: the report file {chunk.source} cannot be read"
    if not quote_in_source(citation.quote, source):
        return f"{label}: quote not in the report file at that location: “{_short(citation.quote)}”"
    return None


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def term_in(term: str, text: str) -> bool:
    """Case-, space- and typography-insensitive containment of a required or forbidden term."""
    needle = normalise(term)
    return bool(needle) and needle in normalise(text.replace("*", ""))


def missing_fact_groups(groups: Iterable[Sequence[str]], text: str) -> list[list[str]]:
    """The required fact groups none of whose terms occur in `text`."""
    return [list(group) for group in groups if not any(term_in(t, text) for t in group)]


def answer_lead(answer: str) -> str:
    """The lead of an answer's Markdown: the sentence a reader takes as the answer.

    It is the first non-empty line that is not a heading (`# …`, a line in bold alone, a rule),
    without its list mark and without a leading label such as "**In short:**". A lead-in ending
    with ":" ("What the evidence suggests doing:") is still the lead, on its own: the list under
    it is not, so such a lead holds a fact only if the lead-in itself states one.
    """
    for raw in answer.splitlines():
        line = raw.strip().removeprefix(">").strip()
        if not line or _HEADING.match(line):
            continue
        line = _LIST_MARK.sub("", line)
        return _LABEL.sub("", line, count=1).strip()
    return ""


def is_lead_in(line: str) -> bool:
    """True when `line`, without its [n] markers and closing quotes, ends with ':'."""
    return _MARKER.sub("", line).rstrip(" ”\"'’*_").endswith(":")


def junk_quotes(citations: Iterable[Citation], answer: str = "") -> list[str]:
    """'[n] kind: “quote”' for every citation whose quote is not evidence (see `evals.junk`).

    A lead-in ending with ":" may stand in `answer` as the line that introduces its list items
    (quoted beneath it, indented): that is how the issue asks for list items to be quoted. On its
    own, or when it is too short to say anything ("It aimed to:", "or both:"), it is junk.
    """
    found = []
    for c in citations:
        kind = junk_kind(c.quote, c.section)
        if kind == LEAD_IN and len(c.quote.split()) >= MIN_LEAD_IN_WORDS and _introduces_list(answer, c.n):
            kind = None
        if kind:
            found.append(f"[{c.n}] {kind}: “{_short(c.quote)}”")
    return found


def _introduces_list(answer: str, n: int) -> bool:
    """True when the line citing [n] is followed by more deeply indented, cited list items."""
    lines = [line for line in answer.splitlines() if line.strip()]
    for i, line in enumerate(lines[:-1]):
        if re.search(rf"\[{n}\](?!\d)", line):
            below = lines[i + 1]
            indent = len(line) - len(line.lstrip())
            deeper = len(below) - len(below.lstrip()) > indent
            return deeper and bool(_LIST_MARK.match(below.strip())) and bool(_MARKER.search(below))
    return False


def crowded_passage(citations: Sequence[Citation]) -> tuple[str, int]:
    """The chunk id cited most often in one answer and how often (('', 0) with no citations)."""
    counts: dict[str, int] = {}
    for c in citations:
        counts[c.chunk_id] = counts.get(c.chunk_id, 0) + 1
    if not counts:
        return "", 0
    chunk_id = max(counts, key=lambda k: counts[k])
    return chunk_id, counts[chunk_id]


# -- one case --------------------------------------------------------------------------------------


def score_case(
    case: EvalCase,
    answer: Answer,
    citation_problems: Sequence[str | None],
) -> CaseResult:
    """Score `answer` on `case`; `citation_problems` holds `check_citation`'s verdict per citation."""
    result = CaseResult(id=case.id, kind=case.kind, question=case.question, expect_abstain=case.expect_abstain)
    result.abstained = answer.abstained
    result.answer = answer.answer
    result.latency_ms = float(answer.timings_ms.get("total", 0.0))
    result.has_evidence = bool(case.evidence) and case.expect_abstain is False
    result.evidence_rank = evidence_rank(case, answer.passages) if result.has_evidence else None
    result.citations = len(answer.citations)
    result.citation_problems = [p for p in citation_problems if p]
    result.citations_ok = result.citations - len(result.citation_problems)
    result.expected_reports = list(case.expected_reports)
    result.cited_reports = sorted({c.report for c in answer.citations})
    result.fact_groups = len(case.required_facts)
    result.missing_facts = missing_fact_groups(case.required_facts, answer.answer)
    endorsing = _REJECTED_PREMISE.sub(" ", answer.answer)
    result.forbidden_found = [t for t in case.must_not_contain if term_in(t, endorsing)]
    result.lead = answer_lead(answer.answer)
    if result.in_scope and case.required_facts:
        # An abstention on an answerable question has no lead that answers it.
        result.lead_answers = not answer.abstained and any(
            term_in(t, result.lead) for group in case.required_facts for t in group
        )
    result.junk_quotes = junk_quotes(answer.citations, answer.answer)
    result.crowded_passage, result.quotes_per_passage = crowded_passage(answer.citations)
    if case.kind == "adversarial":
        result.adversarial_pass = (
            answer.abstained == case.expect_abstain
            and not result.forbidden_found
            and (answer.abstained or result.citations > 0)
        )
        if not case.expect_abstain and case.required_facts:
            # A false premise or an injected instruction is only answered when the answer quotes the
            # evidence that contradicts it: related quotes without it leave the premise standing.
            result.premise_corrected = result.adversarial_pass and len(result.missing_facts) < len(case.required_facts)
    result.reasons = failure_reasons(result)
    return result


def error_case(case: EvalCase, error: str) -> CaseResult:
    """A case whose question raised an error: it fails every check it has."""
    result = CaseResult(id=case.id, kind=case.kind, question=case.question, expect_abstain=case.expect_abstain)
    result.error = error
    result.has_evidence = bool(case.evidence) and not case.expect_abstain
    result.expected_reports = list(case.expected_reports)
    result.fact_groups = len(case.required_facts)
    result.missing_facts = [list(g) for g in case.required_facts]
    result.adversarial_pass = False if case.kind == "adversarial" else None
    if case.kind == "adversarial" and not case.expect_abstain and case.required_facts:
        result.premise_corrected = False
    result.lead_answers = False if result.in_scope and case.required_facts else None
    result.reasons = [f"error: {error}"]
    return result


def failure_reasons(r: CaseResult) -> list[str]:
    """Readable reasons, each 'category: detail', so that they can be counted by category."""
    reasons: list[str] = []
    if r.in_scope and r.abstained:
        reasons.append("wrongly abstained: the reports cover this")
    if r.expect_abstain and not r.abstained:
        reasons.append("did not abstain: the reports do not cover this")
    if r.has_evidence and (r.evidence_rank is None or r.evidence_rank > HIT_DEPTH):
        where = "not in any passage" if r.evidence_rank is None else f"first at rank {r.evidence_rank}"
        reasons.append(f"evidence not retrieved in top {HIT_DEPTH}: {where}")
    reasons.extend(f"citation not verified: {p}" for p in r.citation_problems)
    if r.in_scope and not r.abstained:
        reasons.extend(f"report not cited: {rep}" for rep in r.expected_reports if rep not in r.cited_reports)
        if r.citations == 0:
            reasons.append("no citations: an in-scope answer cites nothing")
    if r.in_scope:
        reasons.extend(f"missing fact: {' | '.join(group)}" for group in r.missing_facts)
    if r.lead_answers is False and not r.abstained:
        what = "a lead-in" if is_lead_in(r.lead) else "no required fact"
        reasons.append(f"lead does not answer: {what} in “{_short(r.lead)}”")
    reasons.extend(f"junk quote: {j}" for j in r.junk_quotes)
    if r.quotes_per_passage > MAX_QUOTES_PER_PASSAGE:
        reasons.append(
            f"too many quotes from one passage: {r.quotes_per_passage} from {r.crowded_passage}"
            f" (at most {MAX_QUOTES_PER_PASSAGE})"
        )
    if r.premise_corrected is False and r.adversarial_pass:
        reasons.append("premise not corrected: the answer quotes none of the evidence that contradicts it")
    reasons.extend(f"forbidden text: “{t}”" for t in r.forbidden_found)
    return reasons


# -- many cases ------------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def aggregate(results: Sequence[CaseResult]) -> dict[str, float]:
    """Every metric that applies to `results` (a metric with no eligible case is left out)."""
    retrieval = [r for r in results if r.has_evidence]
    ranks = [r.evidence_rank for r in retrieval]
    cited = sum(r.citations for r in results)
    junk = sum(len(r.junk_quotes) for r in results)
    crowding = [float(r.quotes_per_passage) for r in results if r.citations]
    values: dict[str, float | None] = {
        "hit_at_1": _mean([1.0 if k == 1 else 0.0 for k in ranks]),
        "hit_at_5": _mean([1.0 if k is not None and k <= HIT_DEPTH else 0.0 for k in ranks]),
        "mrr": _mean([1.0 / k if k else 0.0 for k in ranks]),
        "citation_precision": sum(r.citations_ok for r in results) / cited if cited else None,
        "citation_recall": _mean(
            [
                sum(rep in r.cited_reports for rep in r.expected_reports) / len(r.expected_reports)
                for r in results
                if r.in_scope and r.expected_reports
            ]
        ),
        "coverage": _mean([1 - len(r.missing_facts) / r.fact_groups for r in results if r.in_scope and r.fact_groups]),
        "lead_answers": _mean([float(bool(r.lead_answers)) for r in results if r.lead_answers is not None]),
        "junk_quotes": float(junk) if results else None,
        "junk_quote_rate": junk / cited if cited else None,
        "max_quotes_per_passage": float(max(crowding)) if crowding else None,
        "max_quotes_per_passage_mean": _mean(crowding),
        "abstention": _mean([float(r.abstained) for r in results if r.expect_abstain]),
        "false_abstention": _mean([float(r.abstained) for r in results if r.in_scope]),
        "adversarial_pass": _mean([float(bool(r.adversarial_pass)) for r in results if r.kind == "adversarial"]),
        "premise_corrected": _mean([float(r.premise_corrected) for r in results if r.premise_corrected is not None]),
        "latency_p50_ms": percentile([r.latency_ms for r in results if not r.error], 50),
        "latency_p95_ms": percentile([r.latency_ms for r in results if not r.error], 95),
    }
    return {k: v for k, v in values.items() if v is not None}


def by_kind(results: Sequence[CaseResult], kinds: Iterable[str]) -> dict[str, dict[str, float]]:
    """`aggregate` per case kind, with the number of cases as `n`."""
    table: dict[str, dict[str, float]] = {}
    for kind in kinds:
        subset = [r for r in results if r.kind == kind]
        if subset:
            table[kind] = {"n": len(subset), **aggregate(subset)}
    return table


def rounded(table: Mapping[str, Any], places: int = 4) -> dict[str, Any]:
    """`table` with every float (also in nested dicts) rounded, for the JSON report."""
    return {
        k: rounded(v, places) if isinstance(v, Mapping) else round(v, places) if isinstance(v, float) else v
        for k, v in table.items()
    }


def reason_counts(results: Iterable[CaseResult]) -> dict[str, int]:
    """How many failing cases show each reason category, most common first."""
    counts: dict[str, int] = {}
    for r in results:
        for category in dict.fromkeys(reason.split(":", 1)[0] for reason in r.reasons):
            counts[category] = counts.get(category, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def check_gate(metrics: Mapping[str, float], thresholds: Mapping[str, Mapping[str, float]]) -> list[dict[str, Any]]:
    """Each metric below its `min` floor or above its `max` ceiling (a missing metric fails too)."""
    failures: list[dict[str, Any]] = []
    for bound, limits in (("min", thresholds.get("min", {})), ("max", thresholds.get("max", {}))):
        for name, limit in limits.items():
            value = metrics.get(name)
            broken = value is None or (value < limit if bound == "min" else value > limit)
            if broken:
                failures.append({"metric": name, "value": value, "bound": bound, "limit": float(limit)})
    return failures
