"""The answer ranker: which evidence units of the whole corpus answer a question, and how likely each is to.

Candidates are the units of the best passages plus the units nearest the question over the whole corpus
(MiniLM cosine, and BM25 over units), so an answering sentence outside the top passages is still found.
Each candidate gets the features of `features.py`; the fitted model turns them into a probability.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.lexical import LexicalIndex, import_bm25s, tokenize
from assistant.plan import Plan
from assistant.rank.features import FEATURES, Context, UnitText, matrix, unit_text, words
from assistant.rank.model import MODEL_PATH, AnswerModel, load_model
from assistant.units import Unit, UnitIndex

if TYPE_CHECKING:  # retrieval builds rankers: importing it here at run time would be a cycle
    from assistant.retrieval import Retrieval

PASSAGE_UNITS = 12  # the units of this many of the best passages are candidates
NEAREST = 40  # and this many of the nearest units by meaning, and by words, over the whole corpus


@dataclass(frozen=True)
class Scored:
    """A candidate unit with the model's probability that it answers the question."""

    unit: Unit
    probability: float
    features: np.ndarray


@dataclass(frozen=True)
class Ranking:
    """A question's candidate units, most likely to answer first."""

    units: list[Scored]
    answerable: float = 0.0  # P(the reports answer the question at all), from the question-level model


class AnswerRanker:
    """Ranks the units of one generation for a question's plan and retrieval."""

    def __init__(
        self,
        index: UnitIndex,
        lexical: LexicalIndex,
        model: AnswerModel | Path | None = None,
        directory: Path | None = None,
    ):
        self.index = index
        self.lexical = lexical
        self._model = model
        loaded = _load_derived(index, directory) if directory is not None else None
        self.texts, self._bm25 = loaded or _derive(index, lexical)
        self.reports = np.array([u.report for u in index.units])
        self._neighbours = _neighbours(index)
        self._chunk_row = {c.chunk_id: i for i, c in enumerate(lexical.chunks)}
        self._report_year = {c.report: str(c.year) for c in lexical.chunks if c.year}

    @property
    def model(self) -> AnswerModel:
        """The fitted model (loaded on first use, so training can compute features without one)."""
        if not isinstance(self._model, AnswerModel):
            self._model = load_model(self._model or MODEL_PATH)
        return self._model

    def rank(self, plan: Plan, found: Retrieval) -> Ranking:
        """The candidates for `plan` and its retrieval, scored by the model, most likely to answer first."""
        units, features = self.candidates(plan, found)
        if not units:
            return Ranking([])
        probability = self.model.probability(features)
        order = sorted(range(len(units)), key=lambda i: (-probability[i], units[i].chunk_id, units[i].start))
        answerable = self.model.answerable(probability, features[order[0]])
        return Ranking([Scored(units[i], float(probability[i]), features[i]) for i in order], answerable)

    def candidates(self, plan: Plan, found: Retrieval) -> tuple[list[Unit], np.ndarray]:
        """The candidate units for `plan` and their features, within the reports the retrieval searched."""
        passages, vector, query = found.passages, found.vector, found.query
        scope = found.compared or found.scope
        empty = ([], np.zeros((0, len(FEATURES))))
        if not self.index.units or not len(vector):
            return empty
        allowed = np.isin(self.reports, list(scope)) if scope else np.ones(len(self.index.units), dtype=bool)
        cos = self.index.similarity(vector)
        bm25 = self._unit_bm25(query)
        rows: dict[int, None] = {}
        for passage in passages[:PASSAGE_UNITS]:
            rows.update(dict.fromkeys(r for r in self.index.of_chunk(passage.chunk.chunk_id) if allowed[r]))
        for scores in (cos, bm25):
            masked = np.where(allowed, scores, -np.inf)
            top = np.argsort(-masked, kind="stable")[:NEAREST]
            rows.update(
                dict.fromkeys(int(r) for r in top if np.isfinite(masked[r]) and (scores is cos or masked[r] > 0))
            )
        chosen = np.array(sorted(rows), dtype=np.int64)
        if not len(chosen):
            return empty
        units = [self.index.units[r] for r in chosen]
        topic_terms = frozenset(tokenize([plan.subject])[0])
        ctx = Context(
            plan=plan,
            topic_terms=topic_terms,
            weight=self.lexical.weight,
            passage_rank={p.chunk.chunk_id: i + 1 for i, p in enumerate(passages)},
            passage_late={p.chunk.chunk_id: float(p.late or 0.0) for p in passages},
            best_late=found.best_late,
            coverage=found.coverage,
            report_year=self._report_year,
        )
        neighbour = np.array([max((cos[n] for n in self._neighbours[r]), default=0.0) for r in chosen])
        # The chunk each unit sits in, judged for every candidate alike (retrieved or not): its BM25 score
        # and its best unit's cosine.
        chunk_words = self.lexical.scores(query)
        top_words = float(chunk_words.max()) if len(chunk_words) and chunk_words.max() > 0 else 1.0
        row_of = self._chunk_row
        chunk_bm25 = np.array(
            [chunk_words[row_of[u.chunk_id]] / top_words if u.chunk_id in row_of else 0.0 for u in units]
        )
        chunk_cos = np.array([max(cos[r] for r in self.index.of_chunk(u.chunk_id)) for u in units])
        texts = [self.texts[r] for r in chosen]
        return units, matrix(ctx, units, texts, cos[chosen], bm25[chosen], neighbour, chunk_bm25, chunk_cos)

    def _unit_bm25(self, query: str) -> np.ndarray:
        tokens = [t for t in tokenize([query])[0] if t in self._bm25.vocab_dict]
        if not tokens:
            return np.zeros(len(self.index.units), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)


def _neighbours(index: UnitIndex) -> list[tuple[int, ...]]:
    """Each unit's neighbours in its chunk (the units before and after it)."""
    out: list[tuple[int, ...]] = [()] * len(index.units)
    for unit in index.units:
        rows = index.of_chunk(unit.chunk_id)
        at = rows.index(unit.id)
        out[unit.id] = tuple(rows[j] for j in (at - 1, at + 1) if 0 <= j < len(rows))
    return out


# What the ranker derives from the units without a question (their terms, what they offer, their BM25
# index) is saved beside them at ingest, so a fresh process does not redo it (about a second here).
DERIVED_VERSION = "ranker-text/2"  # 2: the years a unit names; about-literature sentences


def _derive(index: UnitIndex, lexical: LexicalIndex) -> tuple[list[UnitText], object]:
    bm25s = import_bm25s()
    units = index.units
    terms = tokenize([u.text for u in units]) if units else []
    sections = sorted({u.section for u in units})
    heading = dict(zip(sections, tokenize([" ".join(s) for s in sections]) if sections else [], strict=True))
    paragraph = {c.chunk_id: c.paragraph for c in lexical.chunks}
    texts = [unit_text(u, t, heading[u.section], paragraph.get(u.chunk_id)) for u, t in zip(units, terms, strict=True)]
    bm25 = bm25s.BM25()
    if units:
        bm25.index(terms, show_progress=False)
    return texts, bm25


def prepare(index: UnitIndex, lexical: LexicalIndex, directory: Path) -> None:
    """Derive and save what the ranker needs from the units (called by ingest when it writes a generation)."""
    texts, bm25 = _derive(index, lexical)
    directory.mkdir(parents=True, exist_ok=True)
    if index.units:
        bm25.save(str(directory / "bm25"), show_progress=False)  # type: ignore[attr-defined]
    # Written a unit at a time, the same bytes as one json.dumps of the whole: the list of every unit's
    # row cost ~4 KB a chunk at ingest's peak (issue 19).
    head = json.dumps({"version": DERIVED_VERSION, "chunks": index.chunks, "units": len(texts)})
    with open(directory / "derived.json", "w", encoding="utf-8") as out:
        out.write(head[:-1] + ', "texts": [')
        for i, t in enumerate(texts):
            row = [
                list(t.terms),
                list(t.heading_terms),
                list(t.offers),
                t.length,
                t.summary,
                t.case,
                t.cited,
                t.about_text,
                t.one_case,
                t.first_in_section,
                list(t.years),
            ]
            out.write((", " if i else "") + json.dumps(row))
        out.write("]}")


def _load_derived(index: UnitIndex, directory: Path) -> tuple[list[UnitText], object] | None:
    """The saved derivation when it belongs to these units and this code, else None (then derived anew)."""
    try:
        meta = json.loads((directory / "derived.json").read_text(encoding="utf-8"))
        if meta.get("version") != DERIVED_VERSION or meta.get("chunks") != index.chunks:
            return None
        if meta.get("units") != len(index.units) or not index.units:
            return None
        texts = [
            UnitText(
                words(a),
                words(b),
                words(c),
                int(d),
                bool(e),
                bool(f),
                bool(g),
                bool(h),
                bool(i),
                bool(j),
                words(y),
            )
            for a, b, c, d, e, f, g, h, i, j, y in meta["texts"]
        ]
        bm25 = import_bm25s().BM25.load(str(directory / "bm25"), show_progress=False)
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None
    return texts, bm25
