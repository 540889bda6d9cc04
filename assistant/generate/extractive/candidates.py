"""The sentences an answer may quote: body text and list items (with their lead-in), never furniture.

Ingest marks each sentence's kind (body, heading, lead-in, list item, reference, footnote, URL, front
matter, contents, table). Only body sentences and list items are quoted; a second, textual check here
keeps junk out of answers from indexes built before kinds existed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from assistant.quotable import (
    MIN_QUOTE_WORDS,
    about_literature,
    body_ok,
    item_ok,
    junk,
    quotable_form,
    title_like,
    trim,
)
from assistant.types import Chunk, Passage

__all__ = ["Candidate", "about_literature", "candidates", "quotable_form", "title_like", "trim"]

MAX_ITEMS = 5

@dataclass
class Candidate:
    """A sentence (or a lead-in with its list items) that the answer may quote."""

    passage: int  # 1-based number of its passage in the request
    chunk: Chunk
    index: int  # sentence index within the chunk
    text: str  # quotable form: verbatim but for quotation-mark style and a dropped footnote mark
    items: tuple[str, ...] = ()  # list items quoted under a lead-in
    kind: str = "body"
    relevance: float = 0.0
    directness: float = 0.0  # how squarely the sentence itself answers (for choosing the lead)
    features: dict[str, float] = field(default_factory=dict)

    @property
    def report(self) -> str:
        return self.chunk.report

    @property
    def whole(self) -> str:
        """Everything the candidate would quote, for scoring."""
        return " ".join((self.text, *self.items)).strip()

    @property
    def scored_text(self) -> str:
        """What relevance is judged on: the sentence, or a lead-in with its first two items."""
        return " ".join((self.text, *self.items[:2])).strip()

    @property
    def complete(self) -> bool:
        """A sentence that stands alone: starts like a sentence, ends like one, is not a lead-in."""
        first = self.text[:1]
        return (first.isupper() or first.isdigit() or first in "‘'") and self.text.rstrip("’'").endswith(
            (".", "!", "…")
        )


def _kinds(chunk: Chunk) -> list[str]:
    """Each sentence's kind: from ingest when recorded, else guessed from the text (older indexes)."""
    recorded = tuple(getattr(chunk, "sentence_kinds", ()) or ())
    sentences = chunk.sentence_texts
    if len(recorded) == len(sentences):
        return list(recorded)
    guessed = []
    for i, s in enumerate(sentences):
        s = s.strip()
        if junk(s):
            guessed.append("reference")
        elif s.endswith(":"):
            guessed.append("lead_in")
        elif guessed and guessed[-1] in ("lead_in", "list_item") and len(s.split()) <= 30 and i > 0:
            guessed.append("list_item")
        else:
            guessed.append("body")
    return guessed


def candidates(passages: Sequence[Passage]) -> Iterator[Candidate]:
    """Every quotable sentence of the passages, once (overlapping chunks repeat sentences)."""
    seen: set[str] = set()
    for n, passage in enumerate(passages, start=1):
        chunk = passage.chunk
        sentences = [s.strip() for s in chunk.sentence_texts]
        kinds = _kinds(chunk)
        for i, (sentence, kind) in enumerate(zip(sentences, kinds, strict=True)):
            if kind == "lead_in":
                items: list[str] = []
                j = i + 1
                while j < len(sentences) and kinds[j] == "list_item" and len(items) < MAX_ITEMS:
                    if item_ok(sentences[j]):
                        items.append(quotable_form(sentences[j]))
                    j += 1
                if items and not junk(sentence):
                    key = _key(sentence)
                    if key not in seen:
                        seen.add(key)
                        yield Candidate(n, chunk, i, quotable_form(sentence), items=tuple(items), kind="lead_in")
                continue
            if kind == "list_item":
                if not item_ok(sentence) or len(sentence.split()) < MIN_QUOTE_WORDS or title_like(sentence):
                    continue
                lead = _lead_in(chunk, i, kinds)
                if lead is not None:
                    continue  # quoted with its lead-in, as one list (see above)
                key = _key(sentence)
                if key not in seen:
                    seen.add(key)
                    yield Candidate(n, chunk, i, quotable_form(sentence), kind="list_item")
                continue
            if kind != "body" or not body_ok(sentence):
                continue
            key = _key(sentence)
            if key not in seen:
                seen.add(key)
                yield Candidate(n, chunk, i, quotable_form(sentence))


def _lead_in(chunk: Chunk, i: int, kinds: list[str]) -> int | None:
    if chunk.sentence_kinds:
        return chunk.lead_in_for(i)
    j = i - 1
    while j >= 0 and kinds[j] == "list_item":
        j -= 1
    return j if j >= 0 and kinds[j] == "lead_in" else None


def _key(text: str) -> str:
    return " ".join(text.lower().split())
