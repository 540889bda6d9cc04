"""The conversation set (evals/conversations.jsonl): is a new question bent by the last one, is a follow-up understood?

Each line is one conversation: earlier questions (`history`) and the question under test.

- ``independent``: the question stands on its own. Asked after `history` it must get exactly the top 5
  passages it gets when asked alone (target: at least 95% of these cases identical).
- ``followup``: the question needs the conversation. It carries a hand-written ``standalone`` version
  and verbatim ``evidence``; hit@5 with the conversation must be at least the standalone version's.

This module loads and scores the set; the runner (`assistant eval`) calls `run_conversations`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from assistant.types import Answer
from evals.cases import Evidence, parse_evidence
from evals.metrics import HIT_DEPTH, evidence_rank

KINDS = ("independent", "followup")
_REQUIRED = ("id", "kind", "history", "question", "evidence")
_OPTIONAL = ("standalone",)

#: The conversation metrics, in display order, with whether higher is better.
METRICS: dict[str, bool] = {
    "conv_independent_identical_top5": True,
    "conv_independent_context_added": False,
    "conv_followup_hit_at_5": True,
    "conv_standalone_hit_at_5": True,
    "conv_followup_gap": True,
    "conv_followup_context_added": True,
}


@dataclass(frozen=True)
class Conversation:
    """One conversation of the set: earlier questions, the question under test, and what it should find."""

    id: str
    kind: str
    history: tuple[str, ...]
    question: str
    standalone: str
    evidence: tuple[Evidence, ...]


def _parse(obj: object) -> Conversation:
    if not isinstance(obj, dict):
        raise TypeError(f"expected a JSON object, got {type(obj).__name__}")
    missing = [f for f in _REQUIRED if f not in obj]
    if missing:
        raise TypeError(f"missing field(s): {', '.join(missing)}")
    unknown = sorted(set(obj) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise TypeError(f"unknown field(s): {', '.join(unknown)}")
    for name in ("id", "question"):
        if not isinstance(obj[name], str) or not obj[name].strip():
            raise TypeError(f"'{name}' must be a non-empty string")
    if obj["kind"] not in KINDS:
        raise TypeError(f"unknown kind {obj['kind']!r}; expected one of {', '.join(KINDS)}")
    history = obj["history"]
    if not isinstance(history, list) or not history or not all(isinstance(h, str) and h.strip() for h in history):
        raise TypeError("'history' must be a non-empty list of questions")
    standalone = obj.get("standalone", obj["question"] if obj["kind"] == "independent" else None)
    if not isinstance(standalone, str) or not standalone.strip():
        raise TypeError("a followup needs a 'standalone' version of its question")
    if not isinstance(obj["evidence"], list) or (obj["kind"] == "followup" and not obj["evidence"]):
        raise TypeError("'evidence' must be a list of {report, text} (non-empty for a followup)")
    evidence = parse_evidence(obj["evidence"])
    return Conversation(obj["id"], obj["kind"], tuple(history), obj["question"], standalone, tuple(evidence))


def load_conversations(path: str | Path) -> list[Conversation]:
    """Read and validate a conversation file; a `ValueError` names the file, line and problem."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the conversation file: {exc}") from exc
    found: list[Conversation] = []
    seen: set[str] = set()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            conversation = _parse(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
        except TypeError as exc:
            raise ValueError(f"{path}:{lineno}: {exc}") from exc
        if conversation.id in seen:
            raise ValueError(f"{path}:{lineno}: duplicate id {conversation.id!r}")
        seen.add(conversation.id)
        found.append(conversation)
    return found


class Asker(Protocol):
    """What scoring needs: the product's answers to a question with or without its history."""

    def ask(self, question: str, history: Sequence[str] | None = None) -> Answer: ...


@dataclass
class ConversationResult:
    """How one conversation scored."""

    id: str
    kind: str
    question: str
    searched_as: str = ""
    identical_top5: bool | None = None  # independent: same top 5 as when asked alone
    rank: int | None = None  # followup: evidence rank with the conversation
    standalone_rank: int | None = None  # followup: evidence rank of the hand-written standalone version
    top5: list[str] = field(default_factory=list)
    alone_top5: list[str] = field(default_factory=list)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _top5(answer: Answer) -> list[str]:
    return [p.chunk.chunk_id for p in answer.passages[:HIT_DEPTH]]


def score_conversation(conversation: Conversation, asker: Asker) -> ConversationResult:
    """Ask the question with its history and alone (or its standalone version); an error fails the case."""
    result = ConversationResult(conversation.id, conversation.kind, conversation.question)
    try:
        within = asker.ask(conversation.question, list(conversation.history))
        alone = asker.ask(conversation.standalone, [])
    except Exception as exc:  # the runner's edge: any failure is a failed case, reported with its type
        result.error = f"{type(exc).__name__}: {exc}"
        if conversation.kind == "independent":
            result.identical_top5 = False
        return result
    result.searched_as = within.searched_as
    result.top5, result.alone_top5 = _top5(within), _top5(alone)
    if conversation.kind == "independent":
        result.identical_top5 = result.top5 == result.alone_top5
    else:
        result.rank = evidence_rank(conversation, within.passages)  # type: ignore[arg-type]
        result.standalone_rank = evidence_rank(conversation, alone.passages)  # type: ignore[arg-type]
    return result


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _hit(rank: int | None) -> bool:
    return rank is not None and rank <= HIT_DEPTH


def aggregate_conversations(results: Sequence[ConversationResult]) -> dict[str, float]:
    """The conversation metrics over `results` (a metric with no eligible case is left out)."""
    independent = [r for r in results if r.kind == "independent"]
    followups = [r for r in results if r.kind == "followup"]
    within = _share([_hit(r.rank) for r in followups])
    standalone = _share([_hit(r.standalone_rank) for r in followups])
    values = {
        "conv_independent_identical_top5": _share([bool(r.identical_top5) for r in independent]),
        "conv_independent_context_added": _share([bool(r.searched_as) for r in independent]),
        "conv_followup_hit_at_5": within,
        "conv_standalone_hit_at_5": standalone,
        "conv_followup_gap": within - standalone if within is not None and standalone is not None else None,
        "conv_followup_context_added": _share([bool(r.searched_as) for r in followups]),
    }
    return {k: v for k, v in values.items() if v is not None}


def run_conversations(
    path: Path, asker: Asker, on_case: Callable[[ConversationResult], None] | None = None
) -> dict[str, Any]:
    """Score every conversation in `path`: metrics, counts per kind and each case, JSON-ready."""
    conversations = load_conversations(path)
    results = []
    for conversation in conversations:
        results.append(score_conversation(conversation, asker))
        if on_case:
            on_case(results[-1])
    metrics = aggregate_conversations(results)
    return {
        "file": str(path),
        "n": len(results),
        "by_kind": {kind: sum(r.kind == kind for r in results) for kind in KINDS},
        "errors": sum(bool(r.error) for r in results),
        "metrics": {k: round(v, 4) for k, v in metrics.items()},
        "cases": [r.to_dict() for r in results],
    }
