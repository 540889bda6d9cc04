"""The default, offline answer writer: picks the sentences that best answer the question and quotes them.

No language model is involved, so nothing can be invented: every point is a verbatim quote from a
numbered passage (or a quote trimmed with an ellipsis), and the only words of our own are labels.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.config import Settings
from assistant.generate.base import Draft, WriteRequest
from assistant.lexical import tokenize

MAX_QUOTE_WORDS = 55
MIN_QUOTE_WORDS = 6
SHORTLIST = 18  # sentences considered for the answer after the cheap scores
EMBED_CANDIDATES = 8  # sentences embedded per question: on the eval set more did not help, and each costs ~4 ms
# How a sentence's relevance is weighed: meaning, shared rare words, its passage's rank, actionability.
W_MEANING, W_WORDS, W_RANK, W_ACTION = 0.9, 0.55, 0.5, 0.1
_ACTION = re.compile(
    r"\b(should|need(?:s|ed)? to|must|can|could|recommend\w*|effective|success\w*|key|important|"
    r"helps?|enabl\w*|good practice|approach\w*|work(?:s|ed)? best|ensure|build\w*|develop\w*)\b",
    re.IGNORECASE,
)
_LIST_ITEM_MAX_WORDS = 30
_SIGNPOST = re.compile(
    r"^(?:this|the following|the next|the present)\s+(?:section|chapter|paper|report|review|part|appendix)\b"
    r"|^(?:in this|this)\s+(?:section|chapter)\b",
    re.IGNORECASE,
)
_HOW_TO = re.compile(
    r"^\s*(?:how (?:do|can|should|could|might|would)|what (?:should|can|could|works?|helps?)|should (?:i|we)|"
    r"is it worth|any tips|what(?:'s| is) the best way|how to)\b",
    re.IGNORECASE,
)


@dataclass
class _Candidate:
    passage: int  # 1-based passage number
    report: str
    text: str
    index: int  # sentence index within the passage
    relevance: float = 0.0
    items: tuple[str, ...] = ()  # list items quoted under a lead-in sentence ending with ':'


class ExtractiveWriter:
    """Lead sentence plus quoted points, each carrying its [n]; grouped by report for comparisons."""

    name = "extractive"

    def __init__(self, settings: Settings):
        self.settings = settings

    def write(self, request: WriteRequest) -> Draft:
        """Compose the answer from the best sentences of the passages."""
        chosen = self.select(request)
        if not chosen:
            return Draft(text="", abstain=True)
        return Draft(text=self._compose(request, chosen))

    def stream(self, request: WriteRequest) -> Iterator[str]:
        """The answer line by line (it is composed at once; streaming keeps the interface uniform)."""
        yield from self.write(request).text.splitlines(keepends=True)

    # -- choosing sentences -----------------------------------------------------------------------

    def select(self, request: WriteRequest) -> list[_Candidate]:
        """The best non-redundant sentences, at most `max_points`."""
        candidates = list(self._candidates(request.passages))
        if not candidates:
            return []
        question_terms = set(tokenize([request.question])[0])
        how_to = bool(_HOW_TO.match(request.question))
        weight = request.term_weight or (lambda _t: 1.0)
        total = sum(weight(t) for t in question_terms) or 1.0
        for c in candidates:
            terms = set(tokenize([c.text + " " + " ".join(c.items)])[0])
            lexical = sum(weight(t) for t in question_terms & terms) / total
            rank_prior = 1.0 / math.sqrt(c.passage)
            action = _actionable(c.text, request.audience, how_to)
            c.relevance = W_WORDS * lexical + W_RANK * rank_prior + W_ACTION * action
        candidates.sort(key=lambda c: -c.relevance)
        shortlist = candidates[:SHORTLIST]
        vectors: list[np.ndarray | None] = [None] * len(shortlist)
        refine = shortlist[:EMBED_CANDIDATES]
        if refine and request.embed is not None and request.question_vector is not None:
            embedded = np.asarray(request.embed([c.text for c in refine]), dtype=np.float32)
            similarity = embedded @ np.asarray(request.question_vector, dtype=np.float32)
            for i, (c, s) in enumerate(zip(refine, similarity, strict=True)):
                c.relevance += W_MEANING * float(s)
                vectors[i] = embedded[i]
        return _diverse(shortlist, vectors, request)

    def _candidates(self, passages: Sequence) -> Iterator[_Candidate]:
        seen: set[str] = set()
        for n, passage in enumerate(passages, start=1):
            sentences = passage.chunk.sentence_texts
            i = 0
            while i < len(sentences):
                text = sentences[i].strip()
                items: list[str] = []
                if text.endswith(":"):
                    j = i + 1
                    while j < len(sentences) and len(sentences[j].split()) <= _LIST_ITEM_MAX_WORDS and len(items) < 6:
                        if _item_quotable(sentences[j]):
                            items.append(sentences[j].strip())
                        j += 1
                    if items:
                        i = j - 1
                key = _normalise(text)
                if key not in seen and _quotable(text, bool(items)):
                    seen.add(key)
                    yield _Candidate(n, passage.chunk.report, text, i, items=tuple(items))
                i += 1

    # -- writing ----------------------------------------------------------------------------------

    def _compose(self, request: WriteRequest, chosen: list[_Candidate]) -> str:
        labels = request.report_labels or {}
        lines: list[str] = []
        lead, rest = chosen[0], chosen[1:]
        if len(request.reports_named) > 1:
            lines.append("The reports each speak to this; here is what each one says.")
            for report in request.reports_named:
                picked = [c for c in chosen if c.report == report]
                lines.append("")
                lines.append(f"**{labels.get(report, report)}**")
                if not picked:
                    lines.append("- This report's passages retrieved for the question do not address it directly.")
                lines.extend(_point(c, labels, with_label=False) for c in picked)
            return "\n".join(lines).strip() + "\n"
        how_to = request.audience == "practitioner" and bool(_HOW_TO.match(request.question))
        opener = "What the evidence suggests doing:" if how_to else "What the reports found:"
        lines.append(f"**In short:** {_quote(lead)}")
        if rest:
            lines.append("")
            lines.append(opener)
            lines.extend(_point(c, labels, with_label=True, label_first=request.audience == "policy") for c in rest)
        elif lead.items:
            lines.extend(f"  - {_wrap(item)} [{lead.passage}]" for item in lead.items)
        return "\n".join(lines).strip() + "\n"


def _quote(c: _Candidate) -> str:
    return f"{_wrap(_trim(c.text))} [{c.passage}]"


def _point(c: _Candidate, labels: dict[str, str], *, with_label: bool, label_first: bool = False) -> str:
    name = labels.get(c.report, c.report)
    if with_label and label_first:
        line = f"- *{name}*: {_quote(c)}"  # policy readers scan by source first
    else:
        line = f"- {_quote(c)}" + (f" — *{name}*" if with_label else "")
    if c.items:
        line += "".join(f"\n  - {_wrap(_trim(item))} [{c.passage}]" for item in c.items)
    return line


def _wrap(text: str) -> str:
    return f"“{text}”"


def _trim(text: str) -> str:
    """A long sentence cut at a word boundary, the cut marked with an ellipsis."""
    words = text.split()
    if len(words) <= MAX_QUOTE_WORDS:
        return text
    cut = " ".join(words[:MAX_QUOTE_WORDS]).rstrip(",;:")
    return f"{cut} …"


def _quotable(text: str, has_items: bool) -> bool:
    words = text.split()
    if len(words) < MIN_QUOTE_WORDS and not has_items:
        return False
    letters = sum(ch.isalpha() for ch in text)
    if letters < 0.6 * len(text.replace(" ", "")):
        return False  # table rows, figures, references
    if text.endswith("?") or (text.endswith(":") and not has_items):
        return False
    if text.isupper():
        return False
    if _SIGNPOST.match(text):
        return False  # "This section summarises…" says where the report goes, not what it found
    return True


def _item_quotable(text: str) -> bool:
    """A list item worth quoting: some words, not a stray footnote mark or number."""
    return sum(ch.isalpha() for ch in text) >= 6


def _actionable(text: str, audience: str, how_to: bool) -> float:
    hits = len(_ACTION.findall(text))
    score = min(1.0, hits / 2)
    if audience != "practitioner":
        return 0.3 * score
    return 1.5 * score if how_to else score  # "how do I…" wants what to do first


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _diverse(shortlist: list[_Candidate], vectors: list, request: WriteRequest) -> list[_Candidate]:
    """Maximal marginal relevance: relevant sentences that do not repeat each other."""
    limit = request.max_points + 1  # the lead and the points
    order = sorted(range(len(shortlist)), key=lambda i: -shortlist[i].relevance)
    picked: list[int] = []
    words = [set(_normalise(c.text).split()) for c in shortlist]
    for i in order:
        if len(picked) >= limit:
            break
        redundant = False
        for j in picked:
            if vectors[i] is not None and vectors[j] is not None and float(vectors[i] @ vectors[j]) > 0.88:
                redundant = True
            overlap = len(words[i] & words[j]) / max(1, min(len(words[i]), len(words[j])))
            if overlap > 0.7:
                redundant = True
        if not redundant:
            picked.append(i)
    chosen = [shortlist[i] for i in picked]
    if len(request.reports_named) > 1:
        chosen = _cover_reports(chosen, shortlist, request.reports_named, limit)
    return chosen


def _cover_reports(chosen: list[_Candidate], pool: list[_Candidate], reports: Sequence[str], limit: int):
    """In a comparison, make sure every named report with any evidence gets a point."""
    result = list(chosen)
    for report in reports:
        if not any(c.report == report for c in result):
            best = next((c for c in sorted(pool, key=lambda c: -c.relevance) if c.report == report), None)
            if best is not None:
                result.append(best)
    while len(result) > limit + len(reports) - 1:
        result.pop(len(result) - 2 if len(result) > 1 else 0)
    return result
