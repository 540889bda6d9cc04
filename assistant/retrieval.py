"""Hybrid, report-aware retrieval: dense (Chroma) + BM25 (bm25s), fused by reciprocal rank.

Exposed as a LangChain retriever for composition (`ReportRetriever`, defined in assistant.lc and loaded
on first use), and to the chain as `HybridRetriever.plan` (the question read once) and
`HybridRetriever.search` (passages for that plan).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant import integrity
from assistant.catalog import Catalog
from assistant.config import Settings
from assistant.late import LateScorer
from assistant.lexical import LexicalIndex, tokenize
from assistant.plan import Plan, make_plan
from assistant.question import Reading, is_comparison
from assistant.rank import AnswerRanker
from assistant.routing import ReportRouter
from assistant.store import ChunkStore
from assistant.types import Chunk, Passage, ReportInfo
from assistant.units import UnitIndex

RRF_K = 60  # the usual constant: dampens the weight of top ranks so both lists contribute
# Hybrid candidates re-ranked by late interaction: the supporting passage is in the top 30 for over 90%
# of eval questions, in the top 5 for about 75%. Re-ranking them by a weighted RRF of the IDF-weighted
# MaxSim rank (0.7) and the hybrid rank (0.3) gave the best MRR and hit@1 of the weights tried (0.3, 0.5,
# 0.7) on evals/cases.jsonl, and on the held-out set too (README, "Answer quality").
POOL = 30
LATE_WEIGHT = 0.7

# Words that say "tell me what the reports say" rather than what about: they match methodology
# and foreword passages instead of the topic, so they leave the retrieval query.
_ASKING_WORDS = re.compile(
    r"\b(?:the|this|that|these|their|its)\s+(?:stud(?:y|ies)|reports?|research(?:ers)?|papers?|articles?|"
    r"authors?|findings?|evidence|literature|review|synthesis|roundtable)\b"
    r"|\b(?:did|does|do)\s+(?:\w+\s+)?(?:find|say|suggest|conclude|show|argue)\b|\baccording to\b",
    re.IGNORECASE,
)
_QUESTION_WORDS = re.compile(
    r"\b(?:what|which|who|how|why|when|where|is|are|was|were|do|does|did|can|could|should|would|the|a|an|and|"
    r"or|of|in|on|for|to|it|its|they|them|their|about|with|from|by|that|this|these|those)\b",
    re.IGNORECASE,
)


def _content_words(text: str) -> int:
    return len(re.findall(r"\w{3,}", _QUESTION_WORDS.sub(" ", text)))


MAX_COMPARED = 3  # more than three reports side by side stops being a short answer


def topic_of(question: str, stripped: str | None = None) -> str:
    """The question without report names and asking words, when enough is left to search with.

    `stripped` is the question without the names of the reports it is scoped to. There, a two-word topic
    ("employer networks") is still a topic, and the asking words left around a removed name go too ("did
    the SSDA study find" -> "did the study find" -> "did find" -> ""): falling back to the whole question
    would put the names and "the study found" back into the search, which match methodology passages.
    """
    if stripped is None:
        candidate = " ".join(_ASKING_WORDS.sub(" ", question).split())
        return candidate if _content_words(candidate) >= 3 else question
    candidate = stripped
    while (shorter := _ASKING_WORDS.sub(" ", candidate)) != candidate:
        candidate = shorter
    candidate = " ".join(candidate.split())
    if _content_words(candidate) >= 2:
        return candidate
    return " ".join(stripped.split()) if _content_words(stripped) >= 2 else question


@dataclass(frozen=True)
class Retrieval:
    """Passages for a question, plus what routing decided."""

    passages: list[Passage]
    reports_named: list[str]
    query: str
    best_dense: float
    vector: Sequence[float] = ()
    compared: tuple[str, ...] = ()  # reports whose evidence is set side by side
    unknown_names: tuple[str, ...] = ()  # names in the question that no report mentions
    best_late: float = 0.0  # the best IDF-weighted MaxSim among the passages (0 without token vectors)
    coverage: float = 1.0  # IDF-weighted share of the topic's terms found in the best passages
    topic: str = ""  # what was searched for, without report names and asking words
    scope: tuple[str, ...] = ()  # the reports searched (the filter, or those the question names)
    lexical: LexicalIndex | None = field(default=None, repr=False, compare=False)  # the generation searched
    plan: Plan | None = field(default=None, repr=False, compare=False)  # what was searched for, read once


class HybridRetriever:
    """Dense and lexical search over one store, steered to the reports a question names."""

    def __init__(self, settings: Settings, store: ChunkStore, catalog: Catalog):
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.router = ReportRouter(catalog)
        self._known_names = sorted(
            {name for r in catalog for name in (r.id, r.title, r.publisher, r.series, *r.aliases, *r.authors) if name}
            | {a.split()[-1] for r in catalog for a in r.authors}
        )
        self._lexical: LexicalIndex | None = None
        self._late: tuple[LexicalIndex, LateScorer | None] | None = None
        self._ranker: tuple[LexicalIndex, AnswerRanker] | None = None
        self._state_of: dict[str, Path] = {}  # generation id -> its state folder (BM25, token vectors)
        self._damaged: dict[str, set[str]] = {}  # generation id -> its damaged parts ("bm25", "tokens", "*")
        self.notices: list[str] = []  # one line per damaged file of the generation serving, for the edges
        self._lock = threading.Lock()

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index of the generation now serving; follows a newly published one (a cheap check)."""
        with self._lock:
            self.store.refresh()
            generation = self.store.generation
            if self._lexical is None or self._lexical.fingerprint != generation.id:
                damage = self.store.damage()
                parts = integrity.parts(damage)
                self._damaged[generation.id] = parts
                self.notices = [_notice(d) for d in damage]
                if parts & {"bm25", "*"}:
                    # Cheap (seconds at most): rebuilt in memory from the store; written only by ingest.
                    self._lexical = LexicalIndex.build(self.store.all_chunks(), generation.id)
                else:
                    # Saved only for a generation without a file list: a listed one is written by ingest alone.
                    self._lexical = self._load_lexical(
                        generation.state_dir / "bm25", generation.id, save=generation.files is None
                    )
                self._state_of[generation.id] = generation.state_dir
                for chunk in self._lexical.chunks:  # reports added since this process started
                    if self.catalog.get(chunk.report) is None:
                        self.catalog.add(
                            ReportInfo(id=chunk.report, file=chunk.source, title=chunk.title, year=chunk.year)
                        )
            return self._lexical

    @property
    def late(self) -> LateScorer | None:
        """Late-interaction scorer over the current chunks (None when the embedder gives no token vectors)."""
        return self._late_for(self.lexical)

    def _late_for(self, lexical: LexicalIndex) -> LateScorer | None:
        """The scorer of `lexical`'s own generation: a question never mixes two generations' chunks, even
        when a new one is published while it is being answered."""
        with self._lock:
            if self._late is None or self._late[0] is not lexical:
                state = self._state_of.get(lexical.fingerprint, self.store.generation.state_dir)
                scorer = None
                if not self._damaged.get(lexical.fingerprint, set()) & {"tokens", "*"}:
                    # Damaged token vectors are not rebuilt here: that takes a minute; ingest does it.
                    scorer = LateScorer.for_chunks(lexical.chunks, self.store.embedder, state / "tokens")
                self._late = (lexical, scorer)
            return self._late[1]

    @property
    def ranker(self) -> AnswerRanker:
        """The answer ranker over the current generation's evidence units."""
        return self.ranker_for(self.lexical)

    def ranker_for(self, lexical: LexicalIndex) -> AnswerRanker:
        """The ranker of `lexical`'s own generation (a question never mixes two generations)."""
        with self._lock:
            if self._ranker is None or self._ranker[0] is not lexical:
                state = self._state_of.get(lexical.fingerprint, self.store.generation.state_dir)
                damaged = self._damaged.get(lexical.fingerprint, set())
                # A listed generation's files are written by ingest alone; damaged ones are made again in
                # memory for this session (the notice says so and names `assistant ingest`).
                listed = self.store.generation.files is not None
                units = UnitIndex.for_chunks(
                    lexical.chunks,
                    self.store.embedder,
                    state / "units",
                    trust=not damaged & {"units", "*"},
                    save=not listed,
                )
                derived = None if damaged & {"ranker", "units", "*"} else state / "ranker"
                self._ranker = (lexical, AnswerRanker(units, lexical, self.settings.answer_model, derived))
            return self._ranker[1]

    def _load_lexical(self, directory: Path, fingerprint: str, *, save: bool = True) -> LexicalIndex:
        """The generation's saved BM25 index, or one built from its chunks (e.g. on another machine)."""
        loaded = LexicalIndex.load(directory)
        if loaded is None or loaded.fingerprint != fingerprint:
            loaded = LexicalIndex.build(self.store.all_chunks(), fingerprint)
            try:
                if save:
                    loaded.save(directory)
            except OSError:  # a read-only index still answers; the next process builds it again
                pass
        return loaded

    def reports_in_index(self) -> list[str]:
        return sorted({c.report for c in self.lexical.chunks})

    def plan(
        self,
        text: str,
        reports: Sequence[str] | None = None,
        *,
        question: str | None = None,
        reading: Reading | None = None,
        searched_as: str = "",
    ) -> Plan:
        """`text` read once into the plan that search, ranking and writing take.

        `text` is what is searched (the question, or it with the conversation's context); `question` is
        the user's own words (default `text`), read for intent and for names no report mentions;
        `reports` is the user's filter, which wins over the reports the text names.
        """
        question = question or text
        indexed = set(self.reports_in_index())
        named = tuple(r for r in self.router.named(text) if r in indexed)
        chosen = tuple(reports or ())
        scope = list(chosen or named)
        return make_plan(
            question,
            reading=reading,
            topic=topic_of(text, self.router.strip_names(text, scope) if scope else None),
            query=text,
            chosen=chosen,
            named=named,
            searched_as=searched_as,
            unknown_names=tuple(self.lexical.unknown_names(question, self._known_names)),
            comparison=not scope and is_comparison(text),
        )

    def retrieve(
        self, query: str, k: int | None = None, reports: Sequence[str] | None = None, names_from: str | None = None
    ) -> Retrieval:
        """Top `k` passages for `query`; `reports` filters explicitly, else the question's own naming steers.

        `names_from` is the text checked for names no report mentions (the user's own words, not a
        query built from the conversation). Shorthand for `search(plan(...))`.
        """
        return self.search(self.plan(query, reports, question=names_from), k)

    def search(self, plan: Plan, k: int | None = None) -> Retrieval:
        """Top `k` passages for `plan`: searched by its topic, within its scope, compared when it compares."""
        k = k or self.settings.top_k
        lexical = self.lexical
        late = self._late_for(lexical)
        scope, topic, chosen = list(plan.scope), plan.topic, bool(plan.chosen)
        expanded = lexical.expand(topic)
        query_tokens: tuple[np.ndarray, np.ndarray] | None = None
        if late is not None:
            vectors, tokens = self.store.embedder.embed_with_tokens([expanded])  # one pass: both kinds
            vector: Sequence[float] = vectors[0].tolist()
            query_tokens = (late.project(tokens[0]), late.weights(self.store.embedder.token_ids(expanded)))
        else:
            vector = self.store.embedder.embed_query(expanded)
        compared = scope if len(scope) > 1 and not chosen else []
        if plan.comparison:
            # "Across the reports…" names none: compare the reports that have the strongest evidence.
            leading = self._ranked(expanded, vector, query_tokens, None, 3 * k, lexical, late)
            compared = list(dict.fromkeys(p.chunk.report for p in leading))[:MAX_COMPARED]
            compared = compared if len(compared) > 1 else []
        if compared:
            # A comparison: evidence from each report, interleaved.
            share = max(2, k // len(compared))
            per_report = [self._ranked(expanded, vector, query_tokens, [r], share, lexical, late) for r in compared]
            passages = _interleave(per_report, k)
        else:
            passages = self._ranked(expanded, vector, query_tokens, scope or None, k, lexical, late)
        best = max((p.dense or 0.0 for p in passages), default=0.0)
        ranked = [Passage(p.chunk, p.score, i + 1, p.dense, p.lexical, p.late) for i, p in enumerate(passages)]
        return Retrieval(
            passages=ranked,
            reports_named=list(plan.named),
            query=expanded,
            best_dense=best,
            vector=vector,
            unknown_names=plan.unknown_names,
            compared=tuple(compared),
            best_late=max((p.late or 0.0 for p in passages), default=0.0),
            coverage=topic_coverage(topic, [p.chunk for p in ranked[:3]], lexical.weight),
            topic=topic,
            scope=tuple(scope),
            lexical=lexical,
            plan=plan,
        )

    def _ranked(
        self,
        query: str,
        vector: Sequence[float],
        query_tokens: tuple[np.ndarray, np.ndarray] | None,
        reports: Sequence[str] | None,
        k: int,
        lexical: LexicalIndex,
        late: LateScorer | None,
    ) -> list[Passage]:
        """The hybrid pool, re-ranked by late interaction when token vectors are available; the top `k`.

        `lexical` and `late` are the ones the question started with, so one answer uses one generation.
        """
        pool = self._search(query, vector, reports, max(k, POOL), lexical)
        if late is None or query_tokens is None:
            return pool[:k]
        scored = [(p, late.score(query_tokens[0], query_tokens[1], p.chunk.chunk_id)) for p in pool]
        by_late = sorted(range(len(scored)), key=lambda i: (-scored[i][1], scored[i][0].chunk.chunk_id))
        late_rank = {i: r for r, i in enumerate(by_late)}
        fused = [
            (LATE_WEIGHT / (RRF_K + late_rank[i] + 1) + (1 - LATE_WEIGHT) / (RRF_K + i + 1), p, late_score)
            for i, (p, late_score) in enumerate(scored)
        ]
        fused.sort(key=lambda x: (-x[0], x[1].chunk.chunk_id))
        return [Passage(p.chunk, score, 0, p.dense, p.lexical, late_score) for score, p, late_score in fused[:k]]

    def _search(
        self, query: str, vector: Sequence[float], reports: Sequence[str] | None, k: int, lexical: LexicalIndex
    ) -> list[Passage]:
        candidates = self.settings.candidates
        dense = self.store.search(vector, candidates, reports)
        scores = lexical.scores(query)
        if reports:
            allowed = np.array([c.report in reports for c in lexical.chunks])
            scores = np.where(allowed, scores, 0.0)
        top = np.argsort(-scores)[:candidates]
        lexical_hits = [(lexical.chunks[i], float(scores[i])) for i in top if scores[i] > 0]

        fused: dict[str, float] = {}
        by_id: dict[str, Chunk] = {}
        dense_score: dict[str, float] = {}
        lexical_score: dict[str, float] = {}
        max_lex = lexical_hits[0][1] if lexical_hits else 1.0
        for rank, (chunk, similarity) in enumerate(dense):
            fused[chunk.chunk_id] = fused.get(chunk.chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
            by_id[chunk.chunk_id] = chunk
            dense_score[chunk.chunk_id] = similarity
        for rank, (chunk, score) in enumerate(lexical_hits):
            fused[chunk.chunk_id] = fused.get(chunk.chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
            by_id.setdefault(chunk.chunk_id, chunk)
            lexical_score[chunk.chunk_id] = score / max_lex
        order = sorted(fused, key=lambda cid: (-fused[cid], cid))[:k]
        return [Passage(by_id[cid], fused[cid], 0, dense_score.get(cid), lexical_score.get(cid, 0.0)) for cid in order]


def _notice(damage: integrity.Damage) -> str:
    """One line for a damaged file of the generation serving: what answering does without it, and the fix."""
    if damage.part == "bm25":
        effect = "keyword search was rebuilt in memory for this session"
    elif damage.part == "tokens":
        effect = "answering without the token-vector re-ranking, so answers may differ"
    elif damage.part in ("units", "ranker"):
        effect = "the answer ranker's evidence units were made again in memory for this session (slower start)"
    elif damage.part == "*":
        effect = "its files cannot be checked, so keyword search was rebuilt in memory and token vectors are not used"
    else:
        return f"{damage.describe()}. Run `assistant ingest` to repair the index."
    return f"{damage.describe()}: {effect}. Run `assistant ingest` to repair the index."


def topic_coverage(topic: str, chunks: Sequence[Chunk], weight: Callable[[str], float]) -> float:
    """IDF-weighted share of the topic's terms that occur in `chunks` (1.0 for a topic without terms).

    A question about something the reports never discuss ("hybrid working policies") shares its common
    words with them but not its distinctive ones: they weigh most, and they are missing.
    """
    terms = set(tokenize([topic])[0])
    if not terms:
        return 1.0
    present: set[str] = set()
    for chunk in chunks:
        present.update(tokenize([" ".join(chunk.section) + " " + chunk.text])[0])
    total = sum(weight(t) for t in terms)
    return sum(weight(t) for t in terms & present) / total if total else 1.0


def _interleave(lists: list[list[Passage]], k: int) -> list[Passage]:
    out: list[Passage] = []
    seen: set[str] = set()
    for i in range(max((len(x) for x in lists), default=0)):
        for passages in lists:
            if i < len(passages) and passages[i].chunk.chunk_id not in seen:
                out.append(passages[i])
                seen.add(passages[i].chunk.chunk_id)
    return out[: max(k, len(lists) * 2)]


def __getattr__(name: str) -> Any:
    """`ReportRetriever` lives in assistant.lc: LangChain's retriever machinery loads only when it is used."""
    if name == "ReportRetriever":
        from assistant import lc

        return lc.ReportRetriever
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
