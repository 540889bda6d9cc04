"""The answer-writer contract: numbered passages in, Markdown with [n] markers out."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from assistant.plan import Plan
from assistant.question import Reading
from assistant.rank import Ranking
from assistant.types import Passage
from assistant.units import UnitIndex


@dataclass(frozen=True)
class WriteRequest:
    """Everything a writer may use. Passage [n] is `passages[n - 1]`."""

    question: str
    passages: Sequence[Passage]
    history: Sequence[str] = ()
    audience: str = "practitioner"  # practitioner: lead with actions; policy: lead with findings
    reports_named: Sequence[str] = ()  # report ids the question names (comparisons are grouped by them)
    max_points: int = 5
    # Offline writers may score sentences by meaning; the chain passes its embedder's batch function.
    embed: Callable[[list[str]], list[list[float]]] | None = None
    question_vector: Sequence[float] | None = None
    term_weight: Callable[[str], float] | None = None  # idf of a stemmed term, from the lexical index
    report_labels: dict[str, str] | None = None  # report id -> short label, e.g. "SSDA (2008)"
    reading: Reading | None = None  # intent, premise and injected instructions, read once by the chain
    topic: str = ""  # what was searched for, without report names and asking words
    # The question read once (assistant/plan.py), and the answer ranker's units for it (assistant/rank/): the
    # offline writer quotes those; `answers_at` is the model's probability at which a unit answers.
    plan: Plan | None = None
    ranking: Ranking | None = None
    claim_ranking: Ranking | None = None  # units ranked for a premise's claim
    unit_vectors: UnitIndex | None = None
    answers_at: float = 0.5
    points_at: float = 0.5  # further points need this (lower: recall counts more for them)


@dataclass(frozen=True)
class Draft:
    """A writer's answer before verification: Markdown whose claims carry [n] markers."""

    text: str
    abstain: bool = False


@runtime_checkable
class AnswerWriter(Protocol):
    """Turns a question and numbered passages into a cited draft."""

    name: str

    def write(self, request: WriteRequest) -> Draft:
        """The whole draft at once."""
        ...

    def stream(self, request: WriteRequest) -> Iterator[str]:
        """The draft in pieces as it is produced (joined, they equal `write(request).text`)."""
        ...
