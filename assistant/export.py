"""Briefing notes from answers, in Markdown and as a Word document, ready to paste into a briefing.

A note numbers its sources once across every answer (one number per cited passage, the same number
wherever that passage is cited again), lists each quote with its report label, place and section,
and ends with a references list that uses the same short labels as the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from assistant.errors import AssistantError
from assistant.types import Answer, Citation, ReportInfo

TITLE = "Briefing note: evidence on employer engagement"
FORMATS = (".md", ".docx")


@dataclass(frozen=True)
class Source:
    """One cited passage, numbered for display, with every citation (quote) taken from it."""

    n: int
    citations: tuple[Citation, ...]

    @property
    def first(self) -> Citation:
        return self.citations[0]


def number_sources(answers: Sequence[Answer]) -> tuple[list[Source], list[dict[int, int]]]:
    """Number the cited passages once across `answers`, in order of first citation.

    Returns the sources and, per answer, a map from its citations' own numbers to the source numbers.
    """
    by_passage: dict[str, list[Citation]] = {}
    numbers: list[dict[int, int]] = []
    for answer in answers:
        mapping: dict[int, int] = {}
        for c in sorted(answer.citations, key=lambda c: c.n):
            key = _key(c)
            if key not in by_passage:
                by_passage[key] = []
            if all(" ".join(c.quote.split()) != " ".join(q.quote.split()) for q in by_passage[key]):
                by_passage[key].append(c)
            mapping[c.n] = list(by_passage).index(key) + 1
        numbers.append(mapping)
    sources = [Source(n, tuple(cs)) for n, cs in enumerate(by_passage.values(), start=1)]
    return sources, numbers


# -- the answer text's structure --------------------------------------------------------------------
# The writers' Markdown is small: a list marker at the start of a line, quotes “…” followed by [n],
# **bold** headings, *italic* labels. Everything else, and every quote, is report text to keep inert.
_LIST_MARKER = re.compile(r"^(\s*)(?:([-*])|(\d{1,3})[.)])\s+")
_TOKEN = re.compile(
    r"(?P<quote>“[^”]*”)|\*\*(?P<bold>[^*\n]+?)\*\*|\*(?P<italic>[^*\s][^*\n]*?)\*|\[(?P<n>\d{1,3})\]"
)


def answer_lines(text: str, numbers: Mapping[int, int] | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The answer as (list prefix, pieces) per line; a piece is (kind, text) with kind one of
    text, quote, bold, italic, marker. Markers are renumbered by `numbers` (a repeat is dropped);
    markers inside a quote are report text and stay text.
    """
    numbers = numbers or {}
    lines = []
    for line in text.split("\n"):
        prefix = ""
        marker = _LIST_MARKER.match(line)
        if marker:
            indent, bullet, number = marker.groups()
            prefix = f"{indent}{'-' if bullet else number + '.'} "
            line = line[marker.end():]
        pieces: list[tuple[str, str]] = []
        last: str | None = None
        position = 0
        for match in _TOKEN.finditer(line):
            between = line[position:match.start()]
            position = match.end()
            if between.strip():
                last = None
            if between:
                pieces.append(("text", between))
            kind = match.lastgroup or "text"
            value = match[kind]
            if kind == "n":
                shown = str(numbers.get(int(value), int(value)))
                if shown == last:
                    if pieces and pieces[-1][0] == "text" and not pieces[-1][1].strip():
                        pieces.pop()  # the space before a repeated marker goes with it
                    continue
                last = shown
                pieces.append(("marker", shown))
                continue
            last = None
            pieces.append((kind, value))
        if line[position:]:
            pieces.append(("text", line[position:]))
        lines.append((prefix, pieces))
    return lines


# Characters that would start Markdown or HTML in a note's report text; the rest of the text stays
# readable when the note is pasted as plain text.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>!$#|~])")


def _md(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def _md_answer(text: str, numbers: Mapping[int, int]) -> str:
    out = []
    for prefix, pieces in answer_lines(text, numbers):
        parts = []
        for kind, value in pieces:
            if kind == "marker":
                parts.append(f"[{value}]")
            elif kind == "bold":
                parts.append(f"**{_md(value)}**")
            elif kind == "italic":
                parts.append(f"*{_md(value)}*")
            else:
                parts.append(_md(value))
        out.append(prefix + "".join(parts))
    return "\n".join(out).strip()


# -- what a note says about each source ---------------------------------------------------------------

# A sentence ends at . ! ? or …, perhaps followed by closing quotes, brackets or a superscript footnote
# mark, then whitespace; a paragraph break ends one too. A small regex, because a Citation carries only
# its passage's text (not the sentence offsets found at ingest) and this runs on display, per quote.
_SENTENCE_END = re.compile(r"[.!?…][”’\"')\]⁰¹²³⁴⁵⁶⁷⁸⁹]*\s+|\n\s*\n")
_LINES = re.compile(r"lines? \d+(?:–\d+)?")


def find_quote(passage: str, quote: str) -> tuple[int, int] | None:
    """Where `quote` sits in `passage`, tolerating differences in whitespace; None if it does not."""
    if not quote.strip():
        return None
    start = passage.find(quote)
    if start >= 0:
        return start, start + len(quote)
    match = re.search(r"\s+".join(re.escape(word) for word in quote.split()), passage)
    return match.span() if match else None


def sentence_span(
    text: str, span: tuple[int, int], sentences: Sequence[tuple[int, int]] = ()
) -> tuple[int, int]:
    """`span` widened to the whole sentence(s) of `text` it touches (from `sentences` offsets if given)."""
    a, b = span
    touched = [(s, e) for s, e in sentences if s < b and e > a]
    if touched:
        return min(a, touched[0][0]), max(b, touched[-1][1])
    ends = [(m.end(), m.start() + len(m.group().rstrip())) for m in _SENTENCE_END.finditer(text)]
    start = max([0] + [after for after, _ in ends if after <= a])
    stop = min([len(text)] + [end for _, end in ends if end >= b])
    return start, stop


# A widened quote longer than this is not worth it in a note: the writer's own cut stays.
MAX_WHOLE_CHARS = 700


def whole_quote(citation: Citation) -> str:
    """The quote widened to the whole sentence(s) of its passage, so a note never shows a fragment.

    Still verbatim: the words are cut from the same passage the quote was verified against. A quote
    with an ellipsis ("… failing to …") is widened from its first piece to its last; if that would be
    very long, or a piece is not found, the quote stays as the writer cut it.
    """
    quote = " ".join(citation.quote.split())
    pieces = [piece for piece in re.split(r"\s*(?:…|\.\.\.)\s*", citation.quote) if piece.strip()]
    if not citation.passage or not pieces:
        return quote
    first = find_quote(citation.passage, pieces[0])
    last = find_quote(citation.passage[first[1]:], pieces[-1]) if first and len(pieces) > 1 else None
    if first is None or (len(pieces) > 1 and last is None):
        return quote
    span = (first[0], first[1] + last[1]) if last else first
    a, b = sentence_span(citation.passage, span)
    widened = " ".join(citation.passage[a:b].split())
    return widened if len(widened) <= max(MAX_WHOLE_CHARS, len(quote)) else quote


def where(citation: Citation) -> str:
    """'§3.4 External influences, para 2 (lines 120–131)': the readable place, file lines after it."""
    place = citation.place or citation.section
    lines = _LINES.search(citation.location or "")
    if not place:
        return citation.location
    return f"{place} ({lines.group()})" if lines else place


def label_of(citation: Citation, reports: Mapping[str, ReportInfo]) -> str:
    info = reports.get(citation.report)
    return info.label if info else (citation.label or citation.report)


def full_reference(info: ReportInfo) -> str:
    """The catalog's full reference: authors (year) title, publisher, series, ISBN, where to find it."""
    return info.reference()


def _cited_reports(sources: Sequence[Source], reports: Mapping[str, ReportInfo]) -> list[ReportInfo]:
    """Each cited report once, ordered by label; a report not in the catalog from its citation."""
    found: dict[str, ReportInfo] = {}
    for source in sources:
        c = source.first
        if c.report not in found:
            found[c.report] = reports.get(c.report) or ReportInfo(
                id=c.report, file="", title=c.title, year=c.year, publisher=c.byline,
                aliases=(c.label.rsplit(" (", 1)[0],) if c.label else (),
            )
    return sorted(found.values(), key=lambda r: (r.label.lower(), r.year or 0))


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class _Note:
    """What both formats write: the heading line, each answer with its sources, the references."""

    title: str
    context: str
    answers: list[tuple[Answer, dict[int, int], list[Source]]]
    references: list[ReportInfo]
    reports: Mapping[str, ReportInfo]


def _build(turns: Sequence[Answer], catalog: Iterable[ReportInfo], title: str, generated: str) -> _Note:
    reports = {info.id: info for info in catalog}
    sources, numbers = number_sources(turns)
    per_answer = []
    for answer, mapping in zip(turns, numbers, strict=True):
        wanted = sorted(set(mapping.values()))
        per_answer.append((answer, mapping, [sources[n - 1] for n in wanted]))
    questions = "; ".join(_one_line(a.question) for a in turns) or "no question"
    context = f"Question{'s' if len(turns) > 1 else ''}: {questions}"
    if generated:
        context += f" · prepared {generated}"
    return _Note(title, context, per_answer, _cited_reports(sources, reports), reports)


def _quotes_of(source: Source, answer: Answer) -> Iterator[Citation]:
    """The citations `answer` took from `source`'s passage, each whole sentence once."""
    seen: set[str] = set()
    for c in sorted(answer.citations, key=lambda c: c.n):
        text = whole_quote(c)
        if _key(c) == _key(source.first) and text not in seen:
            seen.add(text)
            yield c


def _key(c: Citation) -> str:
    return c.chunk_id or f"{c.report}:{c.location}"


INTRO = (
    "Every point is quoted verbatim from the research reports listed under References; "
    "[n] is the number of the source passage, the same throughout this note."
)


def briefing_markdown(
    turns: Sequence[Answer], catalog: Iterable[ReportInfo], *, title: str = TITLE, generated: str = ""
) -> str:
    """A self-contained Markdown note for `turns` (answers in order), with a full reference per cited report.

    `catalog` is any iterable of `ReportInfo` (an `assistant.catalog.Catalog` will do); `generated` is an
    optional date, left to the caller so the output depends only on the arguments.
    """
    note = _build(turns, catalog, title, generated)
    lines = [f"# {_md(note.title)}", "", f"*{_md(note.context)}*", "", INTRO, ""]
    for number, (answer, mapping, sources) in enumerate(note.answers, start=1):
        lines += [f"## {number}. {_md(_one_line(answer.question))}", ""]
        if answer.abstained:
            lines += ["> **Not covered by the reports.** The quotes below are the nearest related evidence.", ""]
        lines += [_md_answer(answer.answer, mapping), ""]
        if answer.notice:
            lines += [f"*{_md(answer.notice)}*", ""]
        if sources:
            lines += ["**Sources**", ""]
            for source in sources:
                for c in _quotes_of(source, answer):
                    lines.append(
                        f"- [{source.n}] “{_md(whole_quote(c))}” — {_md(label_of(c, note.reports))}, {_md(where(c))}"
                    )
            lines.append("")
    lines += ["## References", ""]
    if note.references:
        lines += [f"- **{_md(info.label)}** — {_md(full_reference(info))}" for info in note.references]
    else:
        lines.append("No report was cited.")
    lines.append("")
    return "\n".join(lines)


def briefing_docx(
    turns: Sequence[Answer], catalog: Iterable[ReportInfo], *, title: str = TITLE, generated: str = ""
) -> bytes:
    """The same note as a Word document (python-docx), with a numbered reference list; returns its bytes."""
    from docx import Document  # lazily: only briefings need it

    note = _build(turns, catalog, title, generated)
    doc = Document()
    doc.core_properties.title = note.title
    doc.add_heading(note.title, level=0)
    context = doc.add_paragraph()
    context.add_run(note.context).italic = True
    doc.add_paragraph(INTRO)
    for number, (answer, mapping, sources) in enumerate(note.answers, start=1):
        doc.add_heading(f"{number}. {_one_line(answer.question)}", level=1)
        if answer.abstained:
            p = doc.add_paragraph()
            p.add_run("Not covered by the reports. ").bold = True
            p.add_run("The quotes below are the nearest related evidence.")
        for prefix, pieces in answer_lines(answer.answer.strip(), mapping):
            if not pieces:
                continue
            style = "List Bullet" if prefix.strip() == "-" else "List Number" if prefix.strip() else None
            p = doc.add_paragraph(style=style)
            for kind, value in pieces:
                run = p.add_run(f"[{value}]" if kind == "marker" else value)
                run.bold = kind == "bold"
                run.italic = kind == "italic"
        if answer.notice:
            doc.add_paragraph().add_run(answer.notice).italic = True
        if sources:
            doc.add_heading("Sources", level=2)
            for source in sources:
                for c in _quotes_of(source, answer):
                    p = doc.add_paragraph(style="List Bullet")
                    p.add_run(f"[{source.n}] ").bold = True
                    p.add_run(f"“{whole_quote(c)}”")
                    p.add_run(f" — {label_of(c, note.reports)}, {where(c)}").italic = True
    doc.add_heading("References", level=1)
    if not note.references:
        doc.add_paragraph("No report was cited.")
    for info in note.references:
        p = doc.add_paragraph(style="List Number")
        p.add_run(f"{info.label} — ").bold = True
        p.add_run(full_reference(info))
    buffer = BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def write_briefing(
    path: Path, turns: Sequence[Answer], catalog: Iterable[ReportInfo], *, generated: str = ""
) -> Path:
    """Write the note as Markdown (.md) or Word (.docx), chosen by the file's suffix."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise AssistantError(f"{path.name}: a briefing is written as .md or .docx; give --out note.docx or note.md.")
    if not path.parent.is_dir():
        raise AssistantError(f"{path.parent}: no such folder; create it or choose another --out path.")
    catalog = list(catalog)
    if suffix == ".md":
        path.write_text(briefing_markdown(turns, catalog, generated=generated), encoding="utf-8")
    else:
        path.write_bytes(briefing_docx(turns, catalog, generated=generated))
    return path
