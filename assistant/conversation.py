"""Follow-up questions without an LLM: carry the previous question's topic and report focus forward."""

from __future__ import annotations

import re
from collections.abc import Sequence

_FOLLOW_UP_START = re.compile(r"^\s*(and|but|so|also|then|what about|how about|what else|why|how|were|was|did)\b", re.I)
_PRONOUN = re.compile(r"\b(they|them|their|those|these|it|its|this|that|such|there|he|she)\b", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_STOP = {
    "what",
    "which",
    "who",
    "whom",
    "how",
    "why",
    "when",
    "where",
    "does",
    "did",
    "do",
    "is",
    "are",
    "was",
    "were",
    "the",
    "a",
    "an",
    "and",
    "or",
    "but",
    "of",
    "in",
    "on",
    "for",
    "to",
    "with",
    "about",
    "from",
    "by",
    "say",
    "says",
    "said",
    "tell",
    "me",
    "us",
    "can",
    "could",
    "should",
    "would",
    "there",
    "they",
    "them",
    "their",
    "those",
    "these",
    "this",
    "that",
    "it",
    "its",
    "find",
    "found",
    "report",
    "reports",
}


def content_words(text: str) -> list[str]:
    """The words of `text` that carry its topic."""
    return [w for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 2]


def is_follow_up(question: str) -> bool:
    """A question that leans on the conversation: short, starting with 'and…', or pointing back with a pronoun."""
    words = content_words(question)
    return (
        bool(_FOLLOW_UP_START.match(question) and len(words) <= 6) or bool(_PRONOUN.search(question)) or len(words) <= 2
    )


def standalone_query(question: str, history: Sequence[str]) -> str:
    """The question, with the previous question's topic words added when it is a follow-up."""
    if not history or not is_follow_up(question):
        return question
    previous = history[-1]
    carried = [w for w in content_words(previous) if w.lower() not in question.lower()]
    return f"{question} ({' '.join(carried)})" if carried else question
