"""Turn raw extracted report text into clean headings and paragraphs with exact source locations."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ingest import sections


@dataclass(frozen=True)
class PageText:
    """Raw text of one PDF page, or of a whole text file."""

    text: str  # raw text; for a PDF one page, for TXT/MD the whole file
    page: int | None  # 1-based PDF page number; None for text files
    first_line: int = 1  # 1-based line number (in the original file) of text's first line


@dataclass(frozen=True)
class Block:
    """A heading or a paragraph of cleaned text, with where it came from."""

    kind: str  # "heading" or "paragraph" (a bullet item is its own paragraph)
    text: str  # cleaned text
    start: int  # offset into CleanDoc.text
    end: int  # doc.text[start:end] == text, ALWAYS
    line_start: int  # 1-based line in the ORIGINAL file where this block's text begins
    line_end: int  # ... where it ends (inclusive)
    page: int | None  # PDF page, or the printed page when a text file shows page numbers
    level: int = 0  # heading level (1 = top), 0 for paragraphs
    section_path: tuple[str, ...] = ()  # headings above this block, outermost first
    bullet: bool = False  # the block began with a bullet glyph: an item of a list


@dataclass(frozen=True)
class CleanDoc:
    """A document's cleaned text and its blocks."""

    text: str  # blocks' texts joined by "\n\n"
    blocks: tuple[Block, ...]


WORD = re.compile(r"[A-Za-z]+")
# Anchored at a word's start and possessive: a long run of letters is read once, not once per letter
# (the unanchored form backtracked over the rest of the run at every position: quadratic).
COMPOUND = re.compile(r"(?<![A-Za-z])[A-Za-z]++(?:-[A-Za-z]++)+")
# No word, number or web address in a report is this long; a longer run of non-space characters (a
# PDF's lost spaces, a file of one repeated character) is cut with spaces before any pattern reads it,
# so no regex can spend more than this many steps at one position. Above the longest web address in
# the five reports (150 characters), so their text is unchanged; the model sees a word longer than
# 100 characters as one unknown token anyway.
MAX_RUN = 200
_LONG_RUN = re.compile(rf"\S{{{MAX_RUN}}}(?=\S)")
KNOWN_ZIPF = 3.0  # about once per million words: rarer "words" are as likely to be fragments
# A fragment that is a rare word in its own right ("fer", "pu", "ne") still counts as a fragment when
# the joined word is this many zipf units (powers of ten) more frequent.
RATIO_ZIPF = 1.0
# Prefixes that take a hyphen: "non -financial" is "non-financial", not two words.
HYPHEN_PREFIXES = frozenset("non co self pre post sub multi cross semi anti inter socio".split())


@lru_cache(maxsize=200_000)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency  # on first use: its import takes ~0.6 s a no-change ingest never needs

    return zipf_frequency(word, "en")


class Vocabulary:
    """Known words: the corpus's own word counts plus an English word-frequency list."""

    def __init__(self, counts: Counter[str], compounds: Counter[str]) -> None:
        self.counts = counts
        self.compounds = compounds  # hyphenated forms and their leading parts: "not-for-profit", "not-for"

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Vocabulary:
        """Count the words and hyphenated compounds of the given texts."""
        counts: Counter[str] = Counter()
        compounds: Counter[str] = Counter()
        for text in texts:
            counts.update(w.lower() for w in WORD.findall(text))
            for compound in COMPOUND.findall(text):
                parts = compound.lower().split("-")
                for n in range(2, len(parts) + 1):
                    compounds["-".join(parts[:n])] += 1
        return cls(counts, compounds)

    def zipf(self, word: str) -> float:
        """Zipf frequency of the lower-cased word in general English."""
        return _zipf(word.lower())

    def is_word(self, w: str) -> bool:
        """True if `w` is an English word or a word this corpus uses more than once."""
        if len(w) == 1:
            return w in {"a", "A", "I"}  # a lower-case "i" in prose is a fragment ("i mportant")
        lw = w.lower()
        return self.zipf(lw) >= KNOWN_ZIPF or self.counts[lw] >= 2

    def has_compound(self, compound: str) -> bool:
        """True if the corpus writes this hyphenated form (or a longer one starting with it)."""
        return self.compounds[compound.lower()] > 0


def _is_fragment(piece: str, joined: str, vocab: Vocabulary) -> bool:
    """A piece is a fragment when it is no word, or a rare word far less likely than the joined word."""
    if not vocab.is_word(piece):
        return True
    return len(piece) > 1 and vocab.zipf(piece) + RATIO_ZIPF < vocab.zipf(joined)


# Whole words only: not the "s" of "1980s1", not the "s" after an apostrophe.
_TOKEN = re.compile(r"(?<![A-Za-z0-9’'-])[A-Za-z]+(?![A-Za-z0-9-])")
_SPACED_HYPHEN = re.compile(r"(?<![A-Za-z0-9-])([A-Za-z]+) -([a-z]{2,})")


def _best_join(line: str, vocab: Vocabulary) -> tuple[int, int] | None:
    """The span of the two fragments whose join is best supported, if any join is."""
    tokens = list(_TOKEN.finditer(line))
    best: tuple[tuple[int, float], tuple[int, int]] | None = None
    for left, right in zip(tokens, tokens[1:], strict=False):
        a, b = left.group(), right.group()
        if line[left.end() : right.start()] != " ":
            continue
        # Breaks fall inside lower-case words; "LSC sector" or "Ken Spours" are not broken words.
        if not b.islower() or not (a.islower() or (a[0].isupper() and (len(a) == 1 or a[1:].islower()))):
            continue
        joined = a + b
        # Long words are rarer, and a long chance match is unlikely: "k eenness" -> "keenness".
        if not (vocab.is_word(joined) or (len(joined) >= 8 and vocab.zipf(joined) >= 2.0)):
            continue
        frag_a, frag_b = _is_fragment(a, joined, vocab), _is_fragment(b, joined, vocab)
        if not (frag_a or frag_b):
            continue  # "a number", "of the", "out sourced": two words are two words
        if len(joined) <= 2 and not (frag_a and frag_b):
            continue  # "a t ransactional": the "t" belongs to the next word, not to "a"
        if a.isupper() and vocab.is_word(b):
            continue  # "College B as", "J et al": an initial before a word
        # Prefer the join that absorbs two fragments ("a s uitable" -> "a suitable", not "as uitable").
        score = (int(frag_a) + int(frag_b), vocab.zipf(joined))
        if best is None or score > best[0]:
            best = (score, (left.start(), right.end()))
    return best[1] if best else None


def repair_broken_words(line: str, vocabulary: Vocabulary) -> str:
    """Join words split by a stray space ("i mportant" -> "important") where the evidence is clear."""
    line = _SPACED_HYPHEN.sub(
        lambda m: (
            f"{m[1]}-{m[2]}" if m[1].lower() in HYPHEN_PREFIXES or vocabulary.has_compound(f"{m[1]}-{m[2]}") else m[0]
        ),
        line,
    )
    for _ in range(50):  # each pass joins one pair; a bound keeps a pathological line cheap
        span = _best_join(line, vocabulary)
        if span is None:
            break
        start, end = span
        line = line[:start] + line[start:end].replace(" ", "", 1) + line[end:]
    return line


def join_hyphenated(left: str, right: str, vocabulary: Vocabulary) -> str:
    """Join a line ending "employ-" to one starting "ment": drop the hyphen only for a known word."""
    head = re.search(r"([A-Za-z]+)-$", left[-MAX_RUN - 1 :])  # the last word only: `left` may be long
    tail = re.match(r"([a-z]+)", right)
    if not head or not tail:
        return f"{left} {right}"
    a, b = head.group(1), tail.group(1)
    if vocabulary.has_compound(f"{a}-{b}") or not vocabulary.is_word(a + b):
        return left + right  # "co-production", "in-work": the hyphen is part of the word
    return left[:-1] + right


BULLET = re.compile(
    r"^\s*(?:\*?=|[\u2022\u25aa\u25cf\u25a0\u25e6\u2023\u2043\u00b7\u25ba\uf0b7\uf0a7\uf076\uf0d8\uf0fc]|[-*](?=\s))\s*"
)
PAGE_NUMBER = re.compile(r"^\s*\d{1,3}\s*$")
DOT_LEADER = re.compile(r"(?<!\.)\.{4,}+\s*\S{0,4}\s*$")  # anchored, possessive: one try per run of dots
TOC_TITLES = {"contents", "table of contents", "list of tables", "list of figures"}
TOC_CELL = re.compile(r"^(?:[.\s\w]{0,3}?\d{1,3}|[ivxlc]{1,6}|page)$", re.IGNORECASE)
# A publisher's logo with the page number, e.g. "LEARNING AND 9" over "WORK INSTITUTE".
LOGO_FOOTER = re.compile(r"^[A-Z][A-Z&' ]+ \d{1,3}$")
CAPS_LINE = re.compile(r"^[A-Z][A-Z&' ]{2,40}$")
# A line that ends a sentence or a clause: a stop, maybe a closing quote/bracket, maybe a footnote mark.
TERMINAL = re.compile(r"[.!?:;][’”\"')\]]*\d{0,2}$")
MD_EMPHASIS = re.compile(r"(?<![\w*])\*(\S(?:[^*]*\S)?)\*(?![\w*])")
# A footnote's mark: "¹ The Learning Age ...", "7 For example ...".
FOOTNOTE_MARK = re.compile(r"^(?:[¹²³⁴⁵⁶⁷⁸⁹⁰]{1,3}|\d{1,2} ?[A-Z])")
MIN_PAGE_LINES = 10  # a page holds more lines than this, so two page starts closer than it are one


@dataclass
class _Line:
    text: str  # the line without its bullet glyph, emphasis markers and outer spaces
    raw: str
    lineno: int
    page: int | None
    blanks: int  # empty lines between the previous kept line and this one
    separator: bool  # a space-only line in that gap: the hard paragraph break of wrapped PDF text
    rule: bool  # a long space-only line in that gap: the rule above a page's footnotes
    bullet: bool
    page_start: bool  # first line of a PDF page, or of a text file's page (one leading space, see below)


@dataclass
class _Draft:
    kind: str
    level: int
    lines: list[_Line]


def _printed_pages(raw: list[str]) -> list[int | None]:
    """Printed page of each line of a text file, when lone page-number lines show it."""
    pages: list[int | None] = [None] * len(raw)
    # A lone number under a footnote rule (a long run of spaces) is a footnote mark, not a page number.
    anchors = {
        i
        for i, line in enumerate(raw)
        if PAGE_NUMBER.match(line) and not (i and len(raw[i - 1]) >= 20 and not raw[i - 1].strip())
    }
    if len(anchors) < 2:
        return pages
    page: int | None = None
    last_break = -MIN_PAGE_LINES
    for i, line in enumerate(raw):
        if i in anchors and (page is None or int(line) >= page):
            page, last_break = int(line), i
        elif (
            page is not None
            and re.match(r"^ \S", line)
            and i
            and raw[i - 1].strip()
            and i - last_break >= MIN_PAGE_LINES
        ):
            # The extractor starts each page's first line with one space, straight after the last line.
            page, last_break = page + 1, i
        pages[i] = page
    return pages


def _edge_repeats(pages: Sequence[PageText]) -> set[str]:
    """Running headers/footers: short lines at the top or bottom of many PDF pages."""
    if len(pages) < 3:
        return set()
    seen: Counter[str] = Counter()
    for page in pages:
        lines = [ln.strip() for ln in page.text.splitlines() if ln.strip()]
        seen.update({_edge_key(ln) for ln in lines[:2] + lines[-2:] if len(ln) <= 80})
    return {key for key, n in seen.items() if n >= max(3, 0.4 * len(pages))}


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())


def _is_toc_entry(line: str) -> bool:
    if DOT_LEADER.search(line):
        return True
    cells = [c.strip() for c in line.split("\t")]
    return len(cells) > 1 and bool(TOC_CELL.match(cells[-1]) or not cells[-1])


def _content_lines(pages: Sequence[PageText], markdown: bool) -> list[_Line]:
    """Lines that carry text, without page numbers, running headers, footers and contents lists."""
    repeats = _edge_repeats(pages)
    out: list[_Line] = []
    blanks, separator, rule, in_toc = 0, False, False, False
    for page in pages:
        raw = page.text.split("\n")
        printed = _printed_pages(raw) if page.page is None else [page.page] * len(raw)
        first_on_page = True
        for i, line in enumerate(raw):
            stripped = line.strip()
            if not stripped:
                blanks += 1
                separator = separator or bool(line) or blanks >= 3
                rule = rule or len(line) >= 20
                continue
            if in_toc and (_is_toc_entry(line) or stripped.lower() == "page"):
                continue
            in_toc = stripped.lower().rstrip(":") in TOC_TITLES
            if in_toc or PAGE_NUMBER.match(line) or (DOT_LEADER.search(line) and not markdown):
                continue
            if repeats and _edge_key(line) in repeats:
                continue
            # A logo footer with its page number; not on the cover ("RESEARCH REPORT 29" over "FEBRUARY").
            if len(out) > 20 and LOGO_FOOTER.match(stripped) and i + 1 < len(raw):
                if CAPS_LINE.match(raw[i + 1].strip()):
                    raw[i + 1] = ""
                continue
            text = stripped.replace("**", "").replace("__", "")
            if markdown:
                text = MD_EMPHASIS.sub(r"\1", text)
            bullet = BULLET.match(text)
            if bullet and bullet.end() < len(text):
                text = text[bullet.end() :]
            if not any(ch.isalnum() for ch in text):
                continue  # rules, stray glyphs ("-", "_", "~") and emphasis markers left alone
            # The extractor starts a page's first line with one space, straight after the last page's line.
            page_start = (page.page is not None and first_on_page) or bool(
                re.match(r"^ \S", line) and i and raw[i - 1].strip()
            )
            out.append(
                _Line(
                    text,
                    line,
                    page.first_line + i,
                    printed[i],
                    blanks,
                    separator,
                    rule,
                    bool(bullet),
                    page_start,
                )
            )
            first_on_page = False
            blanks, separator, rule = 0, False, False
    return out


def _ends_sentence(line: _Line) -> bool:
    return bool(TERMINAL.search(line.text))


def _continues(prev: _Line, line: _Line, wrapped: bool, width: int) -> bool:
    """Whether `line` carries on the paragraph whose last line is `prev`."""
    if line.text[0].islower() or line.text[0] in "([":
        return wrapped or not re.search(r"[.!?][’”\"')\]]*$", prev.text)
    if not wrapped or line.separator or "\t" in line.text or "\t" in prev.text:
        return False
    if (
        line.page_start
        and line.text[0].isupper()
        and (re.search(r"https?:|www\.|/$", prev.text) or prev.text[0].isdigit())
    ):
        return False  # a page's first line after that page's footnotes or a URL
    if _ends_sentence(prev):
        # A sentence ending on a short line ends the paragraph; a page start or a lost bullet glyph
        # shows as one leading space before a capital.
        short = len(prev.raw.rstrip()) < 0.75 * width
        return not (short or line.page_start or re.match(r"^ \S", line.raw))
    return True


def _heading_level(lines: list[_Line], i: int, wrapped: bool, markdown: bool, after_heading: bool) -> int | None:
    """The line's heading level if both its form and its surroundings say it is a heading."""
    line = lines[i]
    if line.bullet or "\t" in line.text:
        return None
    level = sections.heading_level(line.text, markdown=markdown)
    if level is None or (markdown and line.text.startswith("#")):
        return level
    prev = lines[i - 1] if i else None
    nxt = lines[i + 1] if i + 1 < len(lines) else None
    if nxt is not None and not nxt.bullet and (nxt.text[0].islower() or nxt.text[0] == "("):
        return None  # the sentence goes on: a wrapped line, not a title
    numbered = sections.NUMBERED.match
    # "1. ... / 2. ... / 3. ..." with no gaps is a numbered list, not a run of headings.
    if numbered(line.text) and (
        (prev is not None and line.blanks == 0 and numbered(prev.text))
        or (nxt is not None and nxt.blanks == 0 and numbered(nxt.text))
    ):
        return None
    if wrapped:
        after = nxt is None or nxt.separator
        if prev is not None and not (after_heading or _ends_sentence(prev) or line.separator or after):
            return None  # mid-paragraph: a title starts after a finished sentence or a clear break
    elif level == 0 or sections.NUMBERED.match(line.text) is None:
        if prev is not None and line.blanks == 0 or nxt is not None and nxt.blanks == 0:
            return None  # one-paragraph-per-line text sets its headings apart with blank lines
    return level


def _drafts(lines: list[_Line], markdown: bool) -> list[_Draft]:
    """Group lines into headings and paragraphs."""
    long_lines = sum(len(ln.text) > 140 for ln in lines)
    # Text with one paragraph per line (Markdown-ish exports) has many very long lines; PDF text none.
    wrapped = long_lines < 0.05 * max(len(lines), 1)
    lengths = sorted(len(ln.raw.rstrip()) for ln in lines)
    width = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
    drafts: list[_Draft] = []
    # A paragraph cut by a page's footnotes goes on after them, on the next page.
    in_footnotes, open_para = False, None
    prev: _Draft | None = None  # the draft the next line may continue
    for i, line in enumerate(lines):
        if line.rule:
            in_footnotes = True
            if prev is not None and prev.kind == "paragraph" and not _ends_sentence(prev.lines[-1]):
                open_para = prev
        elif in_footnotes and line.page_start:
            in_footnotes = False
            if open_para is not None and line.text[0].islower():
                open_para.lines.append(line)
                prev, open_para = open_para, None
                continue
            open_para = None
            prev = _Draft("paragraph", 0, [line])  # the footnotes end with the page
            drafts.append(prev)
            continue
        level = _heading_level(lines, i, wrapped, markdown, prev is not None and prev.kind == "heading")
        if level is not None:
            prev = _Draft("heading", level, [line])
            drafts.append(prev)
        elif (
            prev is not None
            and prev.kind == "paragraph"
            and not line.bullet
            and _continues(prev.lines[-1], line, wrapped, width)
        ):
            # In one-paragraph-per-line text, a lower-case line after a page's footnotes carries on the
            # paragraph the footnotes interrupted, not the last footnote.
            interrupted = (
                _interrupted(drafts)
                if not wrapped and line.blanks and FOOTNOTE_MARK.match(prev.lines[0].text)
                else None
            )
            prev = interrupted or prev
            prev.lines.append(line)
        else:
            prev = _Draft("paragraph", 0, [line])
            drafts.append(prev)
    return drafts


def _interrupted(drafts: list[_Draft]) -> _Draft | None:
    """The paragraph just before the trailing run of footnotes, if there is one."""
    for draft in reversed(drafts):
        if draft.kind == "paragraph" and FOOTNOTE_MARK.match(draft.lines[0].text):
            continue
        # Even after a full stop: the lower-case line shows the text goes on ("... practice." / "develop staff").
        return draft if draft.kind == "paragraph" else None
    return None


def cap_runs(text: str) -> str:
    """`text` with a space after every MAX_RUN characters of an unbroken run of non-space characters."""
    return _LONG_RUN.sub(lambda m: m.group() + " ", text)


def _draft_text(draft: _Draft, markdown: bool, vocabulary: Vocabulary) -> str:
    # Line texts joined once at the end, and only the last line's tail inspected: growing one string
    # line by line (and searching it whole for "-$") was quadratic in the paragraph's length.
    parts = [draft.lines[0].text]
    for line in draft.lines[1:]:
        last, right = parts[-1], line.text
        if re.search(r"[A-Za-z]-$", last[-2:]) and right[0].islower():
            tail = last[-(MAX_RUN + 1) :]
            joined = join_hyphenated(tail, right, vocabulary)
            if joined == f"{tail} {right}":
                parts.append(" ")
            elif joined != tail + right:
                parts[-1] = last[:-1]  # "employ-" + "ment": the hyphen goes
        elif not (re.search(r"\d-$", last[-2:]) and right[0].isdigit()):  # "(2016-" + "18)" stay joined
            parts.append(" ")
        parts.append(right)
    text = "".join(parts)
    if draft.kind == "heading":
        text = sections.heading_title(text, markdown=markdown)
    text = re.sub(r" {2,}", " ", repair_broken_words(text, vocabulary))
    return text.strip()


def clean_document(
    pages: Sequence[PageText], *, markdown: bool = False, vocabulary: Vocabulary | None = None
) -> CleanDoc:
    """Clean raw page texts into headings and paragraphs with offsets, source lines, pages and sections."""
    pages = [PageText(cap_runs(page.text), page.page, page.first_line) for page in pages]
    if vocabulary is None:
        vocabulary = Vocabulary.from_texts(page.text for page in pages)
    blocks: list[Block] = []
    offset = 0
    for draft in _drafts(_content_lines(pages, markdown), markdown):
        text = _draft_text(draft, markdown, vocabulary)
        if not text:
            continue
        start = offset + (2 if blocks else 0)
        first, last = draft.lines[0], draft.lines[-1]
        blocks.append(
            Block(
                draft.kind,
                text,
                start,
                start + len(text),
                first.lineno,
                last.lineno,
                first.page,
                draft.level,
                bullet=first.bullet,
            )
        )
        offset = start + len(text)
    resolved = sections.assign_sections(blocks)
    return CleanDoc("\n\n".join(b.text for b in resolved), resolved)
