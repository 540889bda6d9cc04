"""The sentences an answer may quote: body text and list items (with their lead-in), never furniture.

Ingest marks each sentence's kind (body, heading, lead-in, list item, reference, footnote, URL, front
matter, contents, table). Only body sentences and list items are quoted; a second, textual check here
keeps junk out of answers from indexes built before kinds existed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from assistant.types import Chunk, Passage

MAX_QUOTE_WORDS = 55
MIN_QUOTE_WORDS = 6
MIN_ITEM_WORDS = 3
MAX_ITEMS = 5

_URL = re.compile(r"https?://|www\.|\.(?:org|com|gov|ac)\.uk\b|\.(?:com|org|net)\b|@\w+\.", re.IGNORECASE)
_REFERENCE = re.compile(
    r"^(?:[A-Z][A-Za-z'’-]+,?\s+(?:[A-Z]\.\s*)+(?:,|and|&)?\s*)+\(?(?:19|20)\d\d\)?"  # Smith, J. (2005)
    r"|^[A-Z][A-Za-z'’-]+(?: et al\.?| and [A-Z][A-Za-z'’-]+)?,? \(?(?:19|20)\d\d[a-z]?\)?[.,:]"  # Smith (2005).
    r"|^[A-Z][A-Za-z'’-]+,\s+[A-Z]{1,3}\b[^.]{0,60}\((?:19|20)\d\d[a-z]?\)"  # Polenske, KR (2004)
    r"|\bVol(?:ume)?\.? \d+\b|\bIssue \d+\b|\bpp?\. ?\d+|\bJournal of\b|\bQuarterly\b\W*,"
    r"|\bISBN\b|\bISSN\b|©|\bcopyright\b|\btel(?:ephone)?[.:]?\s*\+?\d|\bfax\b|\bregistered charity\b",
    re.IGNORECASE,
)
_FOOTNOTE = re.compile(r"^\d{1,3}\s+[A-Z]")
_SIGNPOST = re.compile(
    r"^(?:this|the following|the next|the present|the remainder of (?:this|the))\s+(?:section|chapter|paper|report|"
    r"review|part|appendix|publication|document)\b|^(?:in this|this)\s+(?:section|chapter)\b|"
    r"^(?:see|for (?:further|more) (?:information|details))\b",
    re.IGNORECASE,
)
# Sentences about the literature rather than about the topic ("A number of LSDA publications are concerned with…").
_ABOUT_LITERATURE = re.compile(
    r"\b(?:publications?|literature|this (?:report|paper|review|synthesis|study)|these (?:reports|papers|studies)|"
    r"the (?:report|paper|review|study) (?:is|was|aims?|sets|describes|examines|looks|considers))\b"
    r".{0,40}\b(?:concerned with|focus(?:es|ed)? on|deals? with|describes?|examines?|aims? to|sets? out|looks? at|"
    r"considers?|covers?|explores?|reviews?|summari[sz]es?|is structured)\b",
    re.IGNORECASE,
)
_INNER_QUOTES = str.maketrans({"“": "‘", "”": "’", '"': "’"})
_TRAILING_NOTE = re.compile(r"(?<=[.!?;:’”)])\s?\d{1,2}$|(?<=[a-z])\d{1,2}$")
_LEADING_MARK = re.compile(r"^[\s•▪●■◦‣⁃·►\-–—*]+")


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


def quotable_form(text: str) -> str:
    """A sentence ready to quote: inner double quotes made single (so the quote renders cleanly and no
    [n] lands inside it), a trailing footnote mark dropped, bullets stripped. Still verbatim for the verifier,
    which ignores quotation-mark style."""
    text = _LEADING_MARK.sub("", text.strip())
    text = _TRAILING_NOTE.sub("", text).rstrip()
    return text.translate(_INNER_QUOTES)


def trim(text: str) -> str:
    """A long sentence cut at a word boundary, the cut marked with an ellipsis."""
    words = text.split()
    if len(words) <= MAX_QUOTE_WORDS:
        return text
    return " ".join(words[:MAX_QUOTE_WORDS]).rstrip(",;:") + " …"


def junk(text: str) -> bool:
    """A textual check for what must never be quoted: references, URLs, footnotes, front matter, tables."""
    stripped = text.strip()
    if _URL.search(stripped) or _REFERENCE.search(stripped) or _FOOTNOTE.match(stripped):
        return True
    letters = sum(ch.isalpha() for ch in stripped)
    if letters < 0.6 * len(stripped.replace(" ", "")):
        return True  # table rows, figures, numbers
    return stripped.isupper() and len(stripped.split()) > 2


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
                    if _item_ok(sentences[j]):
                        items.append(quotable_form(sentences[j]))
                    j += 1
                if items and not junk(sentence):
                    key = _key(sentence)
                    if key not in seen:
                        seen.add(key)
                        yield Candidate(n, chunk, i, quotable_form(sentence), items=tuple(items), kind="lead_in")
                continue
            if kind == "list_item":
                if not _item_ok(sentence) or len(sentence.split()) < MIN_QUOTE_WORDS or title_like(sentence):
                    continue
                lead = _lead_in(chunk, i, kinds)
                if lead is not None:
                    continue  # quoted with its lead-in, as one list (see above)
                key = _key(sentence)
                if key not in seen:
                    seen.add(key)
                    yield Candidate(n, chunk, i, quotable_form(sentence), kind="list_item")
                continue
            if kind != "body" or not _body_ok(sentence):
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


def _body_ok(text: str) -> bool:
    words = text.split()
    if len(words) < MIN_QUOTE_WORDS or junk(text):
        return False
    ending = quotable_form(text).rstrip("’'”\")")
    if text.endswith(("?", ":")) or not ending.endswith((".", "!", ";", "…")):
        return False  # a question, a lead-in, or a title run into the text ("How Colleges are Working…(LSDA)")
    return not _SIGNPOST.match(text)


def _item_ok(text: str) -> bool:
    return len(text.split()) >= MIN_ITEM_WORDS and sum(ch.isalpha() for ch in text) >= 12 and not junk(text)


def title_like(text: str) -> bool:
    """A publication or section title run into the text ("How Colleges are Working with Small Businesses")."""
    words = [w for w in re.findall(r"[A-Za-z][\w'’-]*", text) if len(w) > 3]
    return bool(words) and sum(w[0].isupper() for w in words) >= 0.7 * len(words) and not text.rstrip().endswith(".")


def about_literature(text: str) -> bool:
    """A sentence describing publications or the report itself rather than the topic."""
    return bool(_ABOUT_LITERATURE.search(text) or _SIGNPOST.match(text))


def _key(text: str) -> str:
    return " ".join(text.lower().split())
