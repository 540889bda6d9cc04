"""The Reports page's reading logic, kept apart from the page so it can be tested: sections in reading
order, where a report starts, and which text of overlapping passages to show."""

from __future__ import annotations

import re
from itertools import groupby

from assistant.types import Chunk


def sections_of(chunks: list[Chunk]) -> list[tuple[str, list[Chunk]]]:
    """A report's chunks in reading order, grouped into runs that share a section."""
    ordered = sorted(chunks, key=lambda c: c.ordinal)
    return [(label, list(run)) for label, run in groupby(ordered, key=lambda c: c.section_label)]


# Headings where a report's own text begins, after its cover, credits and contents.
_OPENING = re.compile(
    r"^(?:\d{1,2}\.?|[A-Z])\s+\S|\b(?:abstract|introduction|executive summary|summary|overview|background)\b",
    re.IGNORECASE,
)


def first_real_section(sections: list[tuple[str, list[Chunk]]]) -> int:
    """The section a reader starts at: the first that opens the report's own text, not the front matter."""
    for i, (label, _) in enumerate(sections):
        if label != "(front matter)" and _OPENING.search(label):
            return i
    return 0


def visible_pieces(run: list[Chunk], target: str | None) -> list[tuple[Chunk, int, int]]:
    """(chunk, start, end) offsets into each chunk's text so that text shared by neighbouring passages
    (the chunks overlap by a sentence) is shown once; the target passage is always shown whole."""
    cited = next((c for c in run if c.chunk_id == target), None)
    pieces: list[tuple[Chunk, int, int]] = []
    shown_until = -1
    for chunk in run:
        start, end = chunk.char_start, chunk.char_end
        if chunk is not cited:
            start = max(start, shown_until)
            if cited is not None and chunk.ordinal < cited.ordinal:
                end = min(end, cited.char_start)
        if end > start:
            pieces.append((chunk, start - chunk.char_start, end - chunk.char_start))
        shown_until = max(shown_until, end)
    return pieces


def parse_span(value: str | None, text: str) -> tuple[int, int] | None:
    """The `at=start-end` query parameter as offsets into `text`; None if absent or not valid."""
    match = re.fullmatch(r"(\d{1,6})-(\d{1,6})", value or "")
    if not match:
        return None
    a, b = int(match[1]), int(match[2])
    return (a, b) if 0 <= a < b <= len(text) else None
