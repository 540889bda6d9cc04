"""Question (+ history) -> passages -> draft -> verified, cited Answer. Also a LangChain Runnable."""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.catalog import Catalog
from assistant.config import Settings
from assistant.conversation import Resolution, resolve
from assistant.embeddings import Embedder, get_embedder
from assistant.errors import InvalidQuestionError
from assistant.generate import AnswerWriter, WriteRequest, get_writer
from assistant.generate.prompt import is_abstention
from assistant.lexical import import_bm25s
from assistant.plan import Plan
from assistant.question import read_question
from assistant.rank import AnswerRanker, Ranking, Scored
from assistant.retrieval import HybridRetriever, Retrieval
from assistant.store import ChunkStore
from assistant.types import Answer, Chunk, Passage
from assistant.units import unit_quote
from assistant.verify import Verified, best_sentence, verify

if TYPE_CHECKING:
    from assistant.lc import AnswerRunnable

NOT_COVERED = "The reports don't cover this question."
QUOTABLE = 12  # the writer chooses among the ranker's best 12 units (5 points and a lead are shown at most)
CLAIM_QUOTABLE = 3

T = TypeVar("T")
_log = logging.getLogger(__name__)


class Assistant:
    """The engine behind the CLI, the app and the evals. Safe to share between threads."""

    def __init__(self, settings: Settings, embedder: Embedder, store: ChunkStore, catalog: Catalog):
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.catalog = catalog
        self.retriever = HybridRetriever(settings, store, catalog)
        self._writers: dict[str, AnswerWriter] = {}

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, embedder: Embedder | None = None) -> Assistant:
        """Open the index named by `settings` (raises `IndexMissingError` if there is none)."""
        settings = settings or Settings.load()
        embedder = embedder or get_embedder(settings)
        # A cold start is mostly imports and loading: the model (ONNX Runtime) and the BM25 files (bm25s)
        # load on their own threads while this one opens the store (chromadb, langchain-chroma).
        warmed = _in_background(embedder.warm, "warm-embedder")
        # bm25s imports while the store opens; the retriever then loads the serving
        # generation's BM25 index and token vectors in milliseconds.
        imported = _in_background(import_bm25s, "import-bm25s")
        store = ChunkStore(settings, embedder).open()
        catalog = Catalog.load(settings.catalog_path)
        assistant = cls(settings, embedder, store, catalog)
        imported()
        assistant.retriever.ranker  # noqa: B018 - loads BM25, token vectors and units now, not on the first question
        warmed()
        return assistant

    # -- public API -----------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        history: Sequence[str] | None = None,
        reports: Sequence[str] | None = None,
        *,
        writer: str | None = None,
        audience: str | None = None,
        id: str | None = None,
    ) -> Answer:
        """Answer `question` from the reports, with verified citations (or an honest abstention)."""
        answer: Answer | None = None
        for event in self.stream(question, history, reports, writer=writer, audience=audience, id=id):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[str] | None = None,
        reports: Sequence[str] | None = None,
        *,
        writer: str | None = None,
        audience: str | None = None,
        id: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it is produced, then the final verified `Answer`.

        An LLM's raw text streams as it arrives; the final `Answer` is the verified version of it.
        """
        started = time.perf_counter()
        question = self.check_question(question)
        history = [self.check_question(h) for h in (history or []) if h and h.strip()]
        reports = self.check_reports(reports)
        writer_name = writer or self.settings.writer
        answer_writer = self.writer(writer_name)

        understood = self.understand(question, history, reports, condense=getattr(answer_writer, "condense", None))
        plan, found = understood.plan, understood.found
        retrieved = time.perf_counter()

        labels = {r.id: r.label for r in self.catalog}
        passages = list(found.passages)
        if writer_name == "extractive":
            # The offline writer quotes the units the ranker chose, wherever they are: their passages join
            # the list (after the retrieved ones), so every [n] still names a passage given.
            extra = [_chunk(found, u.unit.chunk_id) for u in understood.quotable]
            passages = _merged(passages, [Passage(c, 0.0) for c in extra if c is not None])
        request = WriteRequest(
            question=question,
            passages=passages if writer_name == "extractive" else passages[: self.settings.top_k],
            history=tuple(history),
            audience=audience or self.settings.audience,
            reports_named=plan.compared,
            max_points=self.settings.max_points,
            embed=self.embedder.embed_documents,
            question_vector=found.vector,
            term_weight=self.retriever.lexical.weight,
            report_labels=labels,
            reading=plan.reading,
            topic=plan.topic,
            plan=plan,
            ranking=understood.ranking,
            claim_ranking=understood.claim_ranking,
            unit_vectors=understood.ranker.index,
            answers_at=understood.ranker.model.answers_at,
            points_at=understood.ranker.model.points_at,
        )
        found = replace(found, passages=list(request.passages))
        wrote = not self._too_weak(found, understood.ranking)
        if not wrote:
            answer = self._abstain(question, found, request, writer_name, understood.ranking)
        else:
            pieces: list[str] = []
            for piece in answer_writer.stream(request):
                pieces.append(piece)
                if writer_name != "extractive":
                    yield piece
            draft = "".join(pieces)
            checked = self._check(draft, request, writer_name)
            answer = _answer(question, checked, found, writer_name, abstained=False)
            if not answer.citations:
                # Nothing supported is left: the same abstention as the offline writer's, saying what was dropped.
                answer = self._abstain(question, found, request, writer_name, understood.ranking, dropped=checked)
            elif writer_name == "extractive":
                yield from answer.answer.splitlines(keepends=True)
        done = time.perf_counter()
        answer.id = id
        answer.searched_as = understood.resolution.searched_as
        answer.timings_ms = {
            "retrieve": (retrieved - started) * 1000,
            "generate": (done - retrieved) * 1000,
            "total": (done - started) * 1000,
        }
        usage = getattr(answer_writer, "last_usage", None)
        answer.usage = dict(usage()) if callable(usage) and wrote else {}
        if answer.usage:
            _log.info(
                "%s writer: %d passages, prompt %s tokens, reply %s tokens; retrieve %.0f ms, generate %.0f ms",
                writer_name, len(request.passages), answer.usage.get("prompt_tokens", "?"),
                answer.usage.get("completion_tokens", "?"), answer.timings_ms["retrieve"],
                answer.timings_ms["generate"],
            )
        yield answer

    def understand(
        self,
        question: str,
        history: Sequence[str] = (),
        reports: Sequence[str] | None = None,
        *,
        condense: Callable[[Sequence[str], str], str] | None = None,
        rank: bool = True,
    ) -> Understood:
        """The question read once into a plan, its passages, and the ranked evidence units (and, for a
        premise, the units that speak to the claim). `question` and `history` are already checked."""
        reading = read_question(question)
        # Injected instructions are not searched for; the question under them is.
        query = reading.ask if reading.override else question
        read_once = self.retriever.plan(query, reports, question=question, reading=reading)
        # conversation.py decides whether the question stands alone (then searched exactly as if asked alone).
        pool = max(self.settings.top_k, self.settings.pool_k)
        resolution = resolve(read_once, history, self.retriever, pool, condense)
        found = resolution.found
        compared = found.compared if not reports else tuple(reports) if len(reports) > 1 else ()
        plan = replace(found.plan or read_once, compared=compared)
        ranker = self.retriever.ranker_for(found.lexical) if found.lexical is not None else self.retriever.ranker
        ranking = ranker.rank(plan, found) if rank else Ranking([])
        claim_ranking = claim_plan = claim = None
        if reading.premise:
            # The claim the question takes for granted is the query: the sentence that speaks to it is
            # searched over the whole corpus (of the reports the question names, "Why did the SSDA conclude…").
            scope = tuple(reports or read_once.named)
            claim_plan = self.retriever.plan(reading.premise, scope)
            claim = self.retriever.search(claim_plan, pool)
            claim_ranking = ranker.rank(claim_plan, claim) if rank else Ranking([])
        return Understood(plan, found, resolution, ranking, claim_ranking, ranker, claim_plan, claim)

    def writer(self, name: str) -> AnswerWriter:
        """The answer writer called `name`, created once."""
        if name not in self._writers:
            self._writers[name] = get_writer(name, self.settings)
        return self._writers[name]

    def as_runnable(self) -> AnswerRunnable:
        """This assistant as a LangChain Runnable (invoke, stream, batch)."""
        from assistant.lc import AnswerRunnable  # LangChain's Runnable machinery only when asked for

        return AnswerRunnable(self)

    # -- steps ----------------------------------------------------------------------------------

    def check_question(self, question: str) -> str:
        """Strip control characters; refuse empty or overlong questions with a clear message."""
        if not isinstance(question, str):
            raise InvalidQuestionError("The question must be text.")
        cleaned = "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in question)
        cleaned = " ".join(cleaned.split())
        if not cleaned:
            raise InvalidQuestionError("The question is empty: type a question about the reports.")
        limit = self.settings.max_question_chars
        if len(cleaned) > limit:
            raise InvalidQuestionError(
                f"The question is {len(cleaned):,} characters; the limit is {limit:,}. Shorten it."
            )
        return cleaned

    def check_reports(self, reports: Sequence[str] | None) -> list[str] | None:
        """The report filter without duplicates; an id not in the index is a clear error."""
        if not reports:
            return None
        known = set(self.retriever.reports_in_index())
        unknown = [r for r in reports if r not in known]
        if unknown:
            raise InvalidQuestionError(
                f"Unknown report {', '.join(unknown)}. Reports in the index: {', '.join(sorted(known))}."
            )
        return list(dict.fromkeys(reports))

    def _too_weak(self, found: Retrieval, ranking: Ranking) -> bool:
        """Too little evidence: the question names something no report mentions, or no unit is likely to answer.

        Deciding this is the same for every phrasing: "what do the reports say about…" goes through it too.
        The probability comes from the fitted answer model, its threshold chosen on training data (README).
        """
        if not found.passages or found.unknown_names or found.best_dense < self.settings.abstain_threshold:
            return True
        model = self.retriever.ranker_for(found.lexical).model
        # The question-level model weighs the best units' probabilities with the retrieval's signals.
        return not ranking.units or ranking.answerable < model.abstain_below

    def _check(self, draft: str, request: WriteRequest, writer_name: str) -> Verified:
        """The draft verified against the passages its writer was given; a model's draft strictly."""
        if writer_name != "extractive" and is_abstention(draft):
            return Verified(text="", citations=[], removed=0, verified=True)  # the model said it is not covered
        strict = writer_name != "extractive"
        return verify(draft, request.passages, self.catalog.reports, self.embedder.embed_documents, strict=strict)

    def _abstain(
        self,
        question: str,
        found: Retrieval,
        request: WriteRequest,
        writer_name: str,
        ranking: Ranking,
        dropped: Verified | None = None,
    ) -> Answer:
        """Say plainly that the reports do not cover it, with up to three nearest related sentences.

        They are the ranker's best units; the question-level model, which weighs them, judged that none
        answers the question. `dropped` is the writer's draft as verified, when every claim in it had to be
        removed: the answer then counts them and says why.
        """
        lines = [NOT_COVERED]
        passages: list[Passage] = []
        shown: list[tuple[int, str, str]] = []
        for scored in ranking.units:
            if len(shown) == 3:
                break
            chunk = _chunk(found, scored.unit.chunk_id)
            if chunk is None:
                continue
            text = unit_quote(chunk, scored.unit)
            if any(text == t for _, t, _ in shown) or sum(p.chunk.chunk_id == chunk.chunk_id for p in passages) >= 2:
                continue  # the same words, or a third quote from one passage
            passages.append(Passage(chunk, scored.probability, len(passages) + 1))
            shown.append((len(passages), text, chunk.report))
        if not shown:  # no units (an index without them): the passages' best sentences
            passages = list(found.passages[:3])
            shown = [(n, best_sentence(question, p), p.chunk.report) for n, p in enumerate(passages, start=1)]
        if shown:
            lines.append("")
            lines.append("The nearest related evidence, which may not answer it:")
            for n, text, report in shown:
                label = (request.report_labels or {}).get(report, report)
                lines.append(f"- “{text}” [{n}] — *{label}*")
        checked = verify("\n".join(lines), passages, self.catalog.reports)
        if dropped is not None and dropped.removals:
            checked = replace(checked, removed=dropped.removed, verified=False, removals=dropped.removals)
        return _answer(question, checked, replace(found, passages=passages or found.passages[:3]), writer_name,
                       abstained=True)


@dataclass(frozen=True)
class Understood:
    """What `Assistant.understand` found: the plan, the retrieval, and the ranked units."""

    plan: Plan
    found: Retrieval
    resolution: Resolution
    ranking: Ranking
    claim_ranking: Ranking | None
    ranker: AnswerRanker
    claim_plan: Plan | None = None  # the premise's claim, read as a question of its own
    claim_found: Retrieval | None = None

    @property
    def quotable(self) -> list[Scored]:
        """The units the writer may quote: the best of the ranking and of the claim's."""
        best = self.ranking.units[:QUOTABLE]
        return best + (self.claim_ranking.units[:CLAIM_QUOTABLE] if self.claim_ranking else [])


def _chunk(found: Retrieval, chunk_id: str) -> Chunk | None:
    """A chunk of the generation the question was answered from."""
    if found.lexical is None:
        return None
    return found.lexical.by_id.get(chunk_id)


def _merged(first: Sequence[Passage], extra: Sequence[Passage]) -> list[Passage]:
    """`first`, then the passages of `extra` not already in it, ranked anew."""
    seen = {p.chunk.chunk_id for p in first}
    out = list(first) + [p for p in extra if p.chunk.chunk_id not in seen]
    return [replace(p, rank=i + 1) for i, p in enumerate(out)]


def _in_background(task: Callable[[], T], name: str) -> Callable[[], T]:
    """Run `task` on a daemon thread; the returned function waits for it and re-raises its error.

    A daemon thread rather than an executor, so an error on the main thread (no index) is reported at
    once instead of after the model has finished loading.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = task()
        except BaseException as exc:  # handed to the caller by `wait`, never lost
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()

    def wait() -> T:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return wait


def _answer(question: str, checked: Verified, found: Retrieval, writer_name: str, *, abstained: bool) -> Answer:
    """The Answer for a verified text, with a notice when unsupported statements were removed."""
    notice = checked.why or (
        f"{checked.removed} statement(s) not supported by the cited passages were removed." if checked.removed else ""
    )
    return Answer(
        question=question,
        answer=checked.text,
        citations=checked.citations,
        passages=found.passages,
        abstained=abstained,
        verified=checked.verified,
        removed=checked.removed,
        writer=writer_name,
        notice=notice,
    )


def __getattr__(name: str) -> Any:
    """`assistant.chain.AnswerRunnable` still works; it lives in assistant.lc, imported on first use."""
    if name == "AnswerRunnable":
        from assistant import lc

        return lc.AnswerRunnable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
