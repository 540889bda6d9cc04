"""The default, offline answer writer: a lead sentence that answers, then grouped, quoted points.

No language model is involved, so nothing can be invented: every point is a verbatim quote from a
numbered passage, and the only words of our own are labels and sentences computed from the evidence.

- `candidates`: which sentences may be quoted (body text and list items, never furniture);
- `scoring`: how well each one answers the question, by intent (how-to, barriers, findings, definition…);
- `compose`: the layouts (answer-first, comparison, premise check, "not directly").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from assistant.config import Settings
from assistant.generate.base import Draft, WriteRequest
from assistant.generate.extractive import compose, ranked
from assistant.generate.extractive.candidates import Candidate, candidates
from assistant.generate.extractive.scoring import DIRECT, can_lead, claim_fit, score
from assistant.question import Reading, negated, read_question

MAX_PER_PASSAGE = 2
MAX_COMPARED = 3
# In a comparison, "this report addresses it" is a claim about the report: it needs a closer fit than the
# lead of an ordinary answer (at 0.30, a Train to Gain description "addressed" what stops small firms).
ADDRESSES = 0.42
FLOOR = 0.55  # a point must reach this share of the lead's relevance: no filler
# A claim counts as addressed by a sentence this close to it (shared rare words and meaning).
CLAIM_ADDRESSED = 0.45
CLAIM_CONTRADICTED = 0.55
CLAIM_SUPPORTED = 0.75


class ExtractiveWriter:
    """Answer-first extractive writer; see the package docstring."""

    name = "extractive"

    def __init__(self, settings: Settings):
        self.settings = settings

    def write(self, request: WriteRequest) -> Draft:
        """Compose the answer from the best sentences of the passages."""
        reading = request.reading or read_question(request.question)
        labels = request.report_labels or {}
        compared = list(request.reports_named)[:MAX_COMPARED]
        if request.ranking is not None:
            # The chain's path: the fitted ranker chose the units (assistant/rank/).
            if len(compared) > 1:
                lines = ranked.comparison_lines(request, compared, labels)
            else:
                lines = ranked.answer_lines(request, labels)
            if reading.override:
                lines += ["", compose.OVERRIDE_NOTE]
            return Draft(text="\n".join(lines).strip() + "\n")
        pool = list(candidates(request.passages))
        if not pool:
            return Draft(text="", abstain=True)
        vectors = score(request, reading, pool)
        by_relevance = sorted(pool, key=lambda c: (-c.relevance, c.passage, c.index))
        if len(compared) > 1:
            lines = self._comparison(compared, by_relevance, vectors, labels)
        else:
            lines = self._answer(request, reading, by_relevance, vectors, labels)
        if reading.override:
            lines += ["", compose.OVERRIDE_NOTE]
        return Draft(text="\n".join(lines).strip() + "\n")

    def stream(self, request: WriteRequest) -> Iterator[str]:
        """The answer line by line (it is composed at once; streaming keeps the interface uniform)."""
        yield from self.write(request).text.splitlines(keepends=True)

    # -- layouts ----------------------------------------------------------------------------------

    def _answer(
        self,
        request: WriteRequest,
        reading: Reading,
        ranked: list[Candidate],
        vectors: dict[int, np.ndarray],
        labels: dict[str, str],
    ) -> list[str]:
        limit = request.max_points
        lines: list[str] = []
        used: list[Candidate] = []
        if reading.premise:
            # Evidence on a claim is a whole sentence of body text, never a list's lead-in.
            fits = claim_fit(reading.premise, [c for c in ranked if c.kind == "body" and c.complete], request)
            best = fits[0] if fits and fits[0][0] >= CLAIM_ADDRESSED else None
            evidence = best[1] if best else None
            # Opposite wording is taken as contradiction only when the sentence is squarely about the claim.
            contradicts = (
                best is not None
                and best[0] >= CLAIM_CONTRADICTED
                and negated(reading.premise) != negated(best[1].whole)
            )
            supports = best is not None and not contradicts and best[0] >= CLAIM_SUPPORTED
            label = labels.get(evidence.report, evidence.report) if evidence else ""
            lines += compose.premise_lines(
                reading.premise, evidence, contradicts, supports, label, echo=not reading.override
            )
            if evidence is not None:
                used.append(evidence)
        leads = [c for c in ranked if can_lead(c) and c not in used]
        lead = leads[0] if leads else None
        direct = lead is not None and lead.directness >= DIRECT
        if lead is not None and direct and not reading.premise:
            lines.append(compose.lead_line(lead, labels.get(lead.report, lead.report)))
            used.append(lead)
        elif not reading.premise:
            lines.append(compose.NOT_DIRECT)
        points = _pick(ranked, vectors, limit, used)
        if points:
            lines += compose.grouped(points, labels, label_first=request.audience == "policy")
        return lines

    def _comparison(
        self,
        reports: Sequence[str],
        ranked: list[Candidate],
        vectors: dict[int, np.ndarray],
        labels: dict[str, str],
    ) -> list[str]:
        by_report: dict[str, list[Candidate]] = {}
        strong: dict[str, bool] = {}
        for report in reports:
            own = [c for c in ranked if c.report == report]
            by_report[report] = _pick(own, vectors, 2, [])
            strong[report] = bool(own) and max(c.directness for c in own) >= ADDRESSES
        return compose.comparison(reports, by_report, strong, labels)


def _pick(
    ranked: list[Candidate], vectors: dict[int, np.ndarray], limit: int, used: list[Candidate]
) -> list[Candidate]:
    """The best points after those already used: relevant, not repeating each other, at most two per passage,
    and drawing on every report whose evidence is nearly as strong as the best."""
    chosen: list[Candidate] = []
    if not ranked:
        return chosen
    top = ranked[0].relevance
    per_passage: dict[int, int] = {}
    for c in used:
        per_passage[c.passage] = per_passage.get(c.passage, 0) + 1
    for c in ranked:
        if len(chosen) >= limit:
            break
        if c in used or c.relevance < FLOOR * top or per_passage.get(c.passage, 0) >= MAX_PER_PASSAGE:
            continue
        if any(_redundant(c, other, vectors) for other in [*used, *chosen]):
            continue
        chosen.append(c)
        per_passage[c.passage] = per_passage.get(c.passage, 0) + 1
    present = {c.report for c in [*used, *chosen]}
    for report in dict.fromkeys(c.report for c in ranked):
        if report in present:
            continue
        best = next(c for c in ranked if c.report == report)
        if best.relevance >= 0.85 * top and not any(_redundant(best, o, vectors) for o in chosen):
            if len(chosen) >= limit and chosen:
                chosen.pop()
            chosen.append(best)
            present.add(report)
    return chosen


def _redundant(a: Candidate, b: Candidate, vectors: dict[int, np.ndarray]) -> bool:
    va, vb = vectors.get(id(a)), vectors.get(id(b))
    if va is not None and vb is not None and float(va @ vb) > 0.88:
        return True
    wa, wb = set(a.whole.lower().split()), set(b.whole.lower().split())
    return len(wa & wb) / max(1, min(len(wa), len(wb))) > 0.7
