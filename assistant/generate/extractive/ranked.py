"""The answer from the ranker's units: the unit most likely to answer leads, the next likely ones follow.

Every choice here is the fitted model's probability against thresholds chosen with it on the dev split of
the training data: a lead, a point or a premise's evidence must reach `points_at` (best F2 of "answers"),
and a report "addresses" a comparison when one of its units reaches `answers_at` (best F1).
The layout (groups, comparison, premise) is `compose`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.generate.base import WriteRequest
from assistant.generate.extractive import compose
from assistant.generate.extractive.candidates import Candidate, about_literature, quotable_form
from assistant.generate.extractive.scoring import can_lead
from assistant.question import negated
from assistant.rank import Scored
from assistant.units import unit_sentences

MAX_PER_PASSAGE = 2
MAX_ITEMS = 5
NEAREST_POINTS = 3  # closest evidence shown when nothing answers directly
REDUNDANT_COSINE = 0.88  # two units this close in meaning say the same thing: one is enough


def candidate(scored: Scored, request: WriteRequest) -> Candidate | None:
    """The unit as a quotable candidate, numbered by its passage in the request (None if not given)."""
    unit = scored.unit
    number = next((n for n, p in enumerate(request.passages, 1) if p.chunk.chunk_id == unit.chunk_id), None)
    if number is None:
        return None
    chunk = request.passages[number - 1].chunk
    sentences = [quotable_form(s) for s in unit_sentences(chunk, unit)]
    if not sentences:
        return None
    if unit.kind == "list":
        text, items, kind = sentences[0], tuple(sentences[1 : 1 + MAX_ITEMS]), "lead_in"
    else:
        text, items, kind = " ".join(sentences), (), "list_item" if unit.kind == "item" else "body"
    made = Candidate(number, chunk, unit.start, text, items=items, kind=kind)
    made.relevance = made.directness = scored.probability
    made.features = {"unit": float(unit.id), "dangling": float(unit.kind == "dangling")}
    return made


def candidates_of(units: Sequence[Scored], request: WriteRequest) -> list[Candidate]:
    """The ranked units as candidates, best first."""
    return [c for s in units if (c := candidate(s, request)) is not None]


def _leads(c: Candidate) -> bool:
    """A unit that may open the answer: a sentence that stands alone (and is about the topic, not about
    publications), or a lead-in with its list."""
    return (c.kind == "lead_in" and bool(c.items)) or (can_lead(c) and not about_literature(c.text))


def lead_line(c: Candidate, label: str) -> str:
    """The first line: the answering sentence, or a lead-in with the list it introduces, attributed."""
    if c.items:
        return f"“{' … '.join((c.text, *c.items))}” [{c.passage}] — *{label}*"
    return compose.lead_line(c, label)


def answer_lines(request: WriteRequest, labels: dict[str, str]) -> list[str]:
    """The answer-first layout (or a premise check first) from the ranked units."""
    assert request.ranking is not None
    ranked = candidates_of(request.ranking.units, request)
    lines: list[str] = []
    used: list[Candidate] = []
    premise = request.plan.premise if request.plan else ""
    if premise:
        claimed = candidates_of(request.claim_ranking.units if request.claim_ranking else [], request)
        body = [c for c in claimed if c.kind == "body" and c.complete]
        best = body[0] if body else None
        answers = best is not None and best.relevance >= request.points_at
        contradicts = answers and negated(premise) != negated(best.whole)
        label = labels.get(best.report, best.report) if best else ""
        echo = not (request.plan and request.plan.reading.override)
        lines += compose.premise_lines(premise, best, contradicts, answers and not contradicts, label, echo=echo)
        if best is not None:
            used.append(best)
    leads = [c for c in ranked if _leads(c) and not _same(c, used)]
    lead = leads[0] if leads else None
    if not premise:
        if lead is not None and lead.relevance >= request.points_at:
            lines.append(lead_line(lead, labels.get(lead.report, lead.report)))
            used.append(lead)
        else:
            lines.append(compose.NOT_DIRECT)
    points = pick(ranked, request, request.max_points, used, request.points_at)
    if not points and len(used) <= (1 if premise else 0):
        # The question model judged it answerable, but no unit reaches the threshold: the closest
        # evidence, under the line that says it does not answer directly.
        points = pick(ranked, request, NEAREST_POINTS, used, 0.0)
    if points:
        lines += compose.grouped(points, labels, label_first=request.audience == "policy")
    return lines


def comparison_lines(request: WriteRequest, reports: Sequence[str], labels: dict[str, str]) -> list[str]:
    """Each compared report's likeliest answers; a report "addresses" it when one of its units answers."""
    assert request.ranking is not None
    ranked = candidates_of(request.ranking.units, request)
    by_report: dict[str, list[Candidate]] = {}
    strong: dict[str, bool] = {}
    for report in reports:
        own = [c for c in ranked if c.report == report]
        strong[report] = bool(own) and own[0].relevance >= request.answers_at
        by_report[report] = pick(own, request, 2, [], 0.0)
    return compose.comparison(reports, by_report, strong, labels)


def pick(
    ranked: list[Candidate], request: WriteRequest, limit: int, used: list[Candidate], threshold: float
) -> list[Candidate]:
    """The likeliest points after those used: each at least `threshold` likely to answer, not repeating
    another, at most two from one passage."""
    chosen: list[Candidate] = []
    per_passage: dict[int, int] = {}
    for c in used:
        per_passage[c.passage] = per_passage.get(c.passage, 0) + 1
    for c in ranked:
        if len(chosen) >= limit or c.relevance < threshold:
            break
        if _same(c, used) or per_passage.get(c.passage, 0) >= MAX_PER_PASSAGE:
            continue
        if c.kind == "body" and not c.complete:
            continue
        if c.features.get("dangling"):
            continue  # it points back to a sentence the answer does not show
        if about_literature(c.text):
            continue  # describes publications ("A number of LSDA publications are concerned with…"), not the topic
        if any(_redundant(c, other, request) for other in [*used, *chosen]):
            continue
        chosen.append(c)
        per_passage[c.passage] = per_passage.get(c.passage, 0) + 1
    return chosen


def _same(c: Candidate, others: Sequence[Candidate]) -> bool:
    return any(o.chunk.chunk_id == c.chunk.chunk_id and o.index == c.index for o in others)


def _redundant(a: Candidate, b: Candidate, request: WriteRequest) -> bool:
    """Two units that say the same: close in meaning, or mostly the same words (a sentence and its join)."""
    index = request.unit_vectors
    if index is not None and "unit" in a.features and "unit" in b.features:
        va = np.asarray(index.vectors[int(a.features["unit"])], dtype=np.float32)
        vb = np.asarray(index.vectors[int(b.features["unit"])], dtype=np.float32)
        if float(va @ vb) > REDUNDANT_COSINE:
            return True
    wa, wb = set(a.whole.lower().split()), set(b.whole.lower().split())
    return len(wa & wb) / max(1, min(len(wa), len(wb))) > 0.7
