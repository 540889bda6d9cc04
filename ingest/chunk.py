"""Cut a cleaned report into sentence-aware chunks that keep their section and exact location."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from assistant.store import CHUNKER_VERSION
from assistant.types import Chunk, ReportInfo
from ingest.clean import Block, CleanDoc
from ingest.kinds import BlockInfo, analyse

__all__ = ["CHUNKER_VERSION", "chunk_document", "embedding_text"]


@dataclass(frozen=True)
class _Sentence:
    start: int  # offsets into CleanDoc.text
    end: int
    block: Block
    tokens: int
    kind: str  # see assistant.types.SENTENCE_KINDS
    paragraph: int  # 1-based paragraph of its section


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


# A sentence ends with a stop (maybe then a closing quote or bracket, and footnote marks).
_SENTENCE_END = re.compile(r"[.!?…:;][’”\"')\]*]*[¹²³⁴⁵⁶⁷⁸⁹⁰]*$")
_LEADING_MARKS = re.compile(r"^[¹²³⁴⁵⁶⁷⁸⁹⁰]+\s+(?=\S)")


# pysbd's time grows with the square of the text it is given: a long paragraph is handed to it in
# windows of about this many characters, each cut after a sentence's stop where there is one (the
# repair below joins the two halves of a sentence a window cut anyway). Real paragraphs are shorter.
_WINDOW = 4000
_WINDOW_CUT = re.compile(r"[.!?][’”\"')\]]*\s+")


def _windows(text: str) -> list[tuple[int, str]]:
    """(offset, piece) windows of `text`, each at most about _WINDOW characters."""
    pieces: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > _WINDOW:
        stops = [m.end() for m in _WINDOW_CUT.finditer(text, start + _WINDOW // 2, start + _WINDOW)]
        cut = stops[-1] if stops else text.rfind(" ", start + _WINDOW // 2, start + _WINDOW) + 1
        cut = cut if cut > start else start + _WINDOW
        pieces.append((start, text[start:cut]))
        start = cut
    pieces.append((start, text[start:]))
    return pieces


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets in `text`, trimmed of surrounding white space.

    Two repairs to pysbd's spans: a footnote mark it puts at the start of the next sentence ("⁶ Employer
    engagement ...", or "⁴¹" alone) goes back to the sentence it marks, and a cut where no sentence ended
    ("(case study" / "13) employs ...") is undone, so no quote starts with a stray mark or stops mid-clause.
    """
    spans: list[tuple[int, int]] = []
    found = [(at + s.start, at + s.end) for at, piece in _windows(text) for s in _segmenter().segment(piece)]
    for start, end in found:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end <= start:
            continue
        marks = _LEADING_MARKS.match(text[start:end])
        if spans and marks:
            spans[-1] = (spans[-1][0], start + len(marks.group().rstrip()))
            start += marks.end()
        only_marks = not text[start:end].strip("¹²³⁴⁵⁶⁷⁸⁹⁰ ")
        # Only the span's tail is searched: a span grown by many joins is not searched whole each time.
        tail = text[max(spans[-1][0], spans[-1][1] - 32) : spans[-1][1]] if spans else ""
        # A "sentence" past a window's length is no sentence (a line with no stops): left in pieces.
        if spans and (only_marks or not _SENTENCE_END.search(tail)) and end - spans[-1][0] <= _WINDOW:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans or ([(0, len(text))] if text.strip() else [])


def chunk_document(
    doc: CleanDoc,
    report: ReportInfo,
    source: str,
    count_tokens: Callable[[str], int],
    *,
    target_tokens: int = 180,
    overlap_sentences: int = 1,
) -> list[Chunk]:
    """Pack each section's sentences into chunks of about `target_tokens`, overlapping by sentences.

    A chunk never crosses a heading, so its section path is exact, and headings are never chunks. Front matter,
    reference lists and contents are left out (see ingest.kinds), and a chunk never spans such a block.
    """
    spans = [split_sentences(b.text) if b.kind != "heading" else [(0, len(b.text))] for b in doc.blocks]
    infos = dict(zip((id(b) for b in doc.blocks), analyse(doc.blocks, spans, report.title), strict=True))
    spans_of = dict(zip((id(b) for b in doc.blocks), spans, strict=True))
    chunks: list[Chunk] = []
    seen_ids: dict[str, int] = {}
    for group in _section_groups(doc.blocks):
        numbers = _paragraph_numbers(group, infos)
        for run in _body_runs(group, infos):
            sentences = [
                _Sentence(
                    b.start + a,
                    b.start + z,
                    b,
                    count_tokens(doc.text[b.start + a : b.start + z]),
                    kind,
                    numbers[id(b)],
                )
                for b in run
                for (a, z), kind in zip(spans_of[id(b)], infos[id(b)].kinds, strict=True)
            ]
            for window in _pack(sentences, target_tokens, overlap_sentences):
                chunks.append(_make_chunk(doc, report, source, group[0].section_path, window, len(chunks), seen_ids))
    return chunks


def _section_groups(blocks: Sequence[Block]) -> list[list[Block]]:
    """Runs of paragraphs under one heading (a heading, or a change of section, ends a run)."""
    groups: list[list[Block]] = []
    current: list[Block] = []
    for block in blocks:
        if block.kind == "heading" or (current and block.section_path != current[-1].section_path):
            if current:
                groups.append(current)
            current = []
        if block.kind != "heading" and block.text.strip():
            current.append(block)
    if current:
        groups.append(current)
    return groups


def _body_runs(group: list[Block], infos: dict[int, BlockInfo]) -> list[list[Block]]:
    """The group's body blocks, cut where a left-out block sits, so no chunk's text holds one."""
    runs: list[list[Block]] = [[]]
    for block in group:
        if infos[id(block)].role == "body":
            runs[-1].append(block)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _paragraph_numbers(group: list[Block], infos: dict[int, BlockInfo]) -> dict[int, int]:
    """1-based paragraph number of each block in its section, as a reader counts them.

    A list belongs to the paragraph that introduces it, a footnote to the paragraph it follows, and blocks left
    out of the index are not counted.
    """
    numbers: dict[int, int] = {}
    n = 0
    for block in group:
        info = infos[id(block)]
        if info.role == "body" and not info.footnote and not (info.list_item and n):
            n += 1
        numbers[id(block)] = max(n, 1)
    return numbers


def _pack(sentences: list[_Sentence], target: int, overlap: int) -> list[list[_Sentence]]:
    windows: list[list[_Sentence]] = []
    i = 0
    while i < len(sentences):
        window = [sentences[i]]
        used = sentences[i].tokens
        j = i + 1
        while j < len(sentences) and used + sentences[j].tokens <= target:
            window.append(sentences[j])
            used += sentences[j].tokens
            j += 1
        windows.append(window)
        if j >= len(sentences):
            break
        # Step back by the overlap, but always move forward by at least one sentence.
        i = max(j - overlap, i + 1)
    return windows


def _make_chunk(
    doc: CleanDoc,
    report: ReportInfo,
    source: str,
    section: tuple[str, ...],
    window: list[_Sentence],
    ordinal: int,
    seen_ids: dict[str, int],
) -> Chunk:
    start, end = window[0].start, window[-1].end
    text = doc.text[start:end]
    digest = hashlib.sha1(f"{report.id}\n{' > '.join(section)}\n{text}".encode()).hexdigest()[:16]
    # The same text twice in one report (a repeated boilerplate line) still needs distinct ids.
    seen_ids[digest] = seen_ids.get(digest, 0) + 1
    chunk_id = f"{report.id}:{digest}" + (f"-{seen_ids[digest]}" if seen_ids[digest] > 1 else "")
    pages = [s.block.page for s in window if s.block.page is not None]
    return Chunk(
        chunk_id=chunk_id,
        report=report.id,
        title=report.title,
        year=report.year,
        section=section,
        text=text,
        char_start=start,
        char_end=end,
        # A paragraph resumed after a page's footnotes ends below them in the file, so take the extremes.
        line_start=min(s.block.line_start for s in window),
        line_end=max(s.block.line_end for s in window),
        page_start=min(pages) if pages else None,
        page_end=max(pages) if pages else None,
        source=source,
        ordinal=ordinal,
        sentences=tuple((s.start - start, s.end - start) for s in window),
        sentence_kinds=tuple(s.kind for s in window),
        paragraph=window[0].paragraph,
        paragraph_end=window[-1].paragraph,
    )


def embedding_text(chunk: Chunk) -> str:
    """What the embedder sees (the recipe lives on `Chunk`, so retrieval can rebuild token vectors)."""
    return chunk.embedding_text()
