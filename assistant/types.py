"""Plain data passed between the layers: reports, chunks, passages, citations and answers."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReportInfo:
    """Bibliographic facts about one report, from the catalog or the file itself."""

    id: str
    file: str
    title: str
    year: int | None = None
    authors: tuple[str, ...] = ()
    publisher: str = ""
    series: str = ""
    kind: str = ""
    aliases: tuple[str, ...] = ()
    note: str = ""
    # Where the report can be found, only as the report's own text states it (a web address, an ISBN).
    url: str = ""
    isbn: str = ""

    @property
    def byline(self) -> str:
        """Authors (shortened past three) or, failing that, the publisher."""
        if not self.authors:
            return self.publisher
        if len(self.authors) > 3:
            return f"{self.authors[0]} et al."
        return ", ".join(self.authors)

    @property
    def label(self) -> str:
        """A short name for headings and attributions, e.g. 'SSDA (2008)' or 'Hodgson et al. (2019)'."""
        name = self.aliases[0] if self.aliases else self.id
        if self.authors and name == self.authors[0].split()[-1] and len(self.authors) > 1:
            name += " et al."
        return f"{name} ({self.year})" if self.year else name

    def reference(self) -> str:
        """A full reference: authors (year) title. Publisher. Series. ISBN. Available from url."""
        who = ", ".join(self.authors) or self.publisher
        if not who:
            parts = [f"{self.title} ({self.year or 'n.d.'})."]
        else:
            parts = [f"{who} ({self.year or 'n.d.'}). {self.title}."]
            if self.authors and self.publisher:
                parts.append(f"{self.publisher}.")
        if self.series:
            parts.append(f"{self.series}.")
        if self.isbn:
            parts.append(f"ISBN {self.isbn}.")
        if self.url:
            parts.append(f"Available from {self.url}.")
        return " ".join(parts)


# What each sentence of a chunk is, found at ingest. Only body sentences and list items may be quoted;
# a list item is quoted with its lead-in. One letter each in the store's metadata (see Chunk.to_metadata).
SENTENCE_KINDS: dict[str, str] = {
    "body": "b",
    "heading": "h",
    "lead_in": "l",
    "list_item": "i",
    "reference": "r",
    "footnote": "f",
    "url": "u",
    "front_matter": "m",
    "contents": "c",
    "table": "t",
}
QUOTABLE_KINDS = frozenset({"body", "list_item"})
_KIND_OF_CODE = {code: kind for kind, code in SENTENCE_KINDS.items()}


@dataclass(frozen=True)
class Chunk:
    """A piece of a report as indexed: plain text plus where exactly it came from."""

    chunk_id: str
    report: str
    title: str
    year: int | None
    section: tuple[str, ...]
    text: str
    char_start: int
    char_end: int
    line_start: int
    line_end: int
    page_start: int | None
    page_end: int | None
    source: str
    ordinal: int
    # Sentence boundaries as (start, end) offsets into `text`, found once at ingest time.
    sentences: tuple[tuple[int, int], ...] = ()
    # The kind of each sentence, parallel to `sentences` (names in SENTENCE_KINDS); empty for old indexes.
    sentence_kinds: tuple[str, ...] = ()
    # 1-based numbers of the chunk's first and last paragraph within its section (a list counts as part of
    # the paragraph that introduces it; footnotes are not counted); None for old indexes.
    paragraph: int | None = None
    paragraph_end: int | None = None

    def quotable(self, i: int) -> bool:
        """True if sentence `i` may be quoted: body text or a list item (True for all when kinds are unknown)."""
        if not self.sentence_kinds:
            return True  # a chunk from an index older than sentence kinds: nothing is known against it
        return self.sentence_kinds[i] in QUOTABLE_KINDS

    def lead_in_for(self, i: int) -> int | None:
        """Index of the lead-in sentence ("It aims to:") that list item `i` belongs to, if it is in this chunk."""
        if not self.sentence_kinds or self.sentence_kinds[i] != "list_item":
            return None
        j = i - 1
        while j >= 0 and self.sentence_kinds[j] == "list_item":
            j -= 1
        return j if j >= 0 and self.sentence_kinds[j] == "lead_in" else None

    @property
    def sentence_texts(self) -> list[str]:
        """The chunk's sentences, verbatim."""
        if not self.sentences:
            # Chunks from older indexes or hand-made ones: a plain split is good enough for display.
            return [s for s in re.split(r"(?<=[.!?])\s+", self.text) if s.strip()]
        return [self.text[a:b] for a, b in self.sentences]

    @property
    def location(self) -> str:
        """Where the text sits in the file: pages for PDFs, else lines (and printed pages if known)."""
        return format_location(self.page_start, self.page_end, self.line_start, self.line_end, self.source)

    def embedding_text(self) -> str:
        """What the embedder sees: a short context header (report, section) before the plain text."""
        section = " > ".join(self.section[-2:])
        header = f"{self.title} ({self.year})" if self.year else self.title
        return f"{header}. {section}.\n{self.text}" if section else f"{header}.\n{self.text}"

    @property
    def place(self) -> str:
        """Where a reader finds this text in the original: page, section number and title, paragraph."""
        # `paragraph` arrives with the ingest work on paragraphs; chunks without it still get a label.
        return format_place(
            self.section, self.page_start, self.page_end,
            getattr(self, "paragraph", None), getattr(self, "paragraph_end", None),
        )

    @property
    def lines(self) -> str:
        """The file lines ('lines 120–131'), a secondary detail; empty for PDFs, which have pages."""
        if self.source.lower().endswith(".pdf"):
            return ""
        return _span("line", "lines", self.line_start, self.line_end)

    @property
    def section_label(self) -> str:
        return " › ".join(self.section) if self.section else "(opening pages)"  # text before the first heading

    def to_metadata(self) -> dict[str, Any]:
        """Flat metadata for the vector store (scalar values only)."""
        return {
            "chunk_id": self.chunk_id,
            "report": self.report,
            "title": self.title,
            "year": self.year or 0,
            "section": "\x1f".join(self.section),
            "char_start": self.char_start,
            "char_end": self.char_end,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "page_start": self.page_start or 0,
            "page_end": self.page_end or 0,
            "source": self.source,
            "ordinal": self.ordinal,
            "sentences": ";".join(f"{a},{b}" for a, b in self.sentences),
            "sentence_kinds": "".join(SENTENCE_KINDS[k] for k in self.sentence_kinds),
            "paragraph": self.paragraph or 0,
            "paragraph_end": self.paragraph_end or 0,
        }

    @classmethod
    def from_metadata(cls, text: str, meta: dict[str, Any]) -> Chunk:
        """Inverse of `to_metadata`."""
        sentences = tuple(
            (int(a), int(b)) for a, b in (pair.split(",") for pair in str(meta.get("sentences", "")).split(";") if pair)
        )
        codes = str(meta.get("sentence_kinds", ""))
        # Kinds are only of use parallel to the sentences; anything else (an older or damaged entry) gives none.
        known = len(codes) == len(sentences) and all(c in _KIND_OF_CODE for c in codes)
        kinds = tuple(_KIND_OF_CODE[c] for c in codes) if known else ()
        return cls(
            chunk_id=str(meta["chunk_id"]),
            report=str(meta["report"]),
            title=str(meta["title"]),
            year=int(meta["year"]) or None,
            section=tuple(s for s in str(meta.get("section", "")).split("\x1f") if s),
            text=text,
            char_start=int(meta["char_start"]),
            char_end=int(meta["char_end"]),
            line_start=int(meta["line_start"]),
            line_end=int(meta["line_end"]),
            page_start=int(meta.get("page_start", 0)) or None,
            page_end=int(meta.get("page_end", 0)) or None,
            source=str(meta["source"]),
            ordinal=int(meta.get("ordinal", 0)),
            sentences=sentences,
            sentence_kinds=kinds,
            paragraph=int(meta.get("paragraph", 0)) or None,
            paragraph_end=int(meta.get("paragraph_end", 0)) or None,
        )


def format_location(page_start: int | None, page_end: int | None, line_start: int, line_end: int, source: str) -> str:
    """'p. 4', 'pp. 4–5', 'lines 120–131' or 'p. 4, lines 120–131' for text showing page numbers."""
    pages = ""
    if page_start:
        pages = f"p. {page_start}" if page_end in (None, page_start) else f"pp. {page_start}–{page_end}"
    if source.lower().endswith(".pdf"):
        return pages or "page unknown"
    lines = f"line {line_start}" if line_start == line_end else f"lines {line_start}–{line_end}"
    return f"{pages}, {lines}" if pages else lines


def _span(one: str, many: str, start: int, end: int | None) -> str:
    return f"{one} {start}" if end in (None, start) else f"{many} {start}–{end}"


# A section heading that starts with its number: "3.4 External influences", "2. Findings".
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(\S.*)$")


def _numbered(heading: str) -> str:
    """'3.4 External influences' -> '§3.4 External influences'; other headings unchanged."""
    heading = " ".join(heading.split())
    match = _NUMBERED.match(heading)
    return f"§{match.group(1)} {match.group(2)}" if match else heading


def format_place(
    section: tuple[str, ...],
    page_start: int | None = None,
    page_end: int | None = None,
    paragraph: int | None = None,
    paragraph_end: int | None = None,
) -> str:
    """'p. 12, §3.4 External influences, para 2': page if known, the innermost section, paragraph if known."""
    parts = []
    if page_start:
        parts.append(_span("p.", "pp.", page_start, page_end))
    if section:
        headings = [_numbered(h) for h in section]
        # An unnumbered heading ("Summary", "Background") needs its parent to be found in the report.
        parts.append(headings[-1] if headings[-1].startswith("§") else " › ".join(headings[-2:]))
    else:
        parts.append("front matter")
    if paragraph:
        parts.append(_span("para", "paras", paragraph, paragraph_end))
    return ", ".join(parts)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused relevance and rank."""

    chunk: Chunk
    score: float
    rank: int = 0
    dense: float | None = None
    lexical: float | None = None
    late: float | None = None  # IDF-weighted MaxSim over token vectors, when the index has them


@dataclass(frozen=True)
class Citation:
    """One numbered citation: the exact quote and where it comes from."""

    n: int
    report: str
    title: str
    byline: str
    year: int | None
    section: str
    location: str
    quote: str
    chunk_id: str
    passage: str = ""
    # Added for briefings (the fields above keep their meaning): the report's short label, e.g.
    # "SSDA (2008)", and the location a reader can follow in the original ("p. 12, §3.4 Findings, para 2").
    label: str = ""
    place: str = ""

    @classmethod
    def from_chunk(cls, n: int, chunk: Chunk, quote: str, report: ReportInfo | None) -> Citation:
        """Citation number `n`, quoting `quote` from `chunk`, with the report's byline and label when known."""
        return cls(
            n=n,
            report=chunk.report,
            title=chunk.title,
            byline=report.byline if report else "",
            year=chunk.year,
            section=chunk.section_label,
            location=chunk.location,
            quote=quote,
            chunk_id=chunk.chunk_id,
            passage=chunk.text,
            label=report.label if report else chunk.report,
            place=chunk.place,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    """The assistant's answer: Markdown with [n] markers, its citations and the evidence behind it."""

    question: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    abstained: bool = False
    verified: bool = True
    removed: int = 0
    writer: str = "extractive"
    timings_ms: dict[str, float] = field(default_factory=dict)
    # A model writer's request: prompt_tokens, completion_tokens and max_tokens, as the server reported them.
    usage: dict[str, int] = field(default_factory=dict)
    id: str | None = None
    notice: str = ""
    searched_as: str = ""  # the query actually searched, when the conversation added context

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON contract documented in the README."""
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "verified": self.verified,
            "removed": self.removed,
            "writer": self.writer,
            "searched_as": self.searched_as,
            "citations": [
                {
                    "n": c.n,
                    "report": c.report,
                    "title": c.title,
                    "authors": c.byline,
                    "year": c.year,
                    "section": c.section,
                    "location": c.location,
                    "quote": c.quote,
                    "chunk_id": c.chunk_id,
                    "label": c.label,
                    "place": c.place,
                }
                for c in self.citations
            ],
            "passages": [
                {
                    "rank": p.rank,
                    "chunk_id": p.chunk.chunk_id,
                    "report": p.chunk.report,
                    "section": p.chunk.section_label,
                    "location": p.chunk.location,
                    "text": p.chunk.text,
                    "score": round(p.score, 4),
                }
                for p in self.passages
            ],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "usage": dict(self.usage),
        }
