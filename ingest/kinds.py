"""What each block and sentence of a cleaned report is: body text, or furniture that must never be quoted.

Two decisions are made here, from the text's own form (no model):
- a block's role: "body" blocks are chunked; "front_matter" (cover, credits, addresses, publisher blurbs,
  back cover), "references" (a bibliography and what follows it) and "contents" blocks are not indexed at all;
- a sentence's kind (names in assistant.types.SENTENCE_KINDS): only "body" and "list_item" may be quoted.
The rules are hand-written because no packaged library classifies report furniture; each one is named for the
real lines of the corpus it was written against (see tests/unit/test_sentence_kinds.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest import sections
from ingest.clean import DOT_LEADER, Block

# -- sentences that are furniture on their own form -------------------------------------------------------

# "APPENDIX D – BIBLIOGRAPHY\t72", "Introduction ........ 3", "A\tIntroduction\t3".
CONTENTS_LINE = re.compile(
    r"(?:(?<!\.)\.{4,}+|(?<!…)…{2,}+)\s*\S{0,4}\s*$"
    # A heading's number, letter or capitals, a tab, then its page: "1.1 Context\t1", "EXECUTIVE SUMMARY\ti".
    r"|^(?:[^\W\d_]\t.*|\d{1,2}(?:\.\d{1,2})*\.?\s.*|[A-Z][A-Z ,&:’'“”–-]{3,})"
    r"\t\s*(?:[.\w]\s*)?(?:\d{1,3}|[ivxl]{1,5})\s*$"
)
# Figure and table residue: captions, "Figure 1 about here", HTML left by the extractor, cells joined by tabs.
# A caption has its number then a stop, a colon, a dash or nothing ("Figure 5.1: Drivers ..."); prose goes on
# with a verb ("Figure 5.3 has therefore been developed ...").
CAPTION = re.compile(
    r"^(?:figure|fig\.|table|chart|graph|diagram|exhibit|box)\s*\d+(?:\.\d+)*[a-z]?"
    r"(?:\s*[:–—-]|\.(?!\d)|\s+about here|\s*$)"
    r"|^source\s*:",
    re.IGNORECASE,
)
HTML = re.compile(r"</?(?:ul|ol|li|table|tr|td|th|div|span|p|br)\b[^>]*>", re.IGNORECASE)
FRONT_MATTER = re.compile(
    r"\bISBN\b|©|\bcopyright\b|all rights reserved|registered with the charity|registered charity (?:no|number)"
    r"|\b(?:tel|telephone|fax)\b\.?:?\s*\+?\(?\d|\be-?mail\s*:|^web\s*:"
    r"|^(?:copy ?editor|designer|printer|printed by|published by|editor|typeset|typesetter|photograph(?:y|s))\b"
    r"|^corresponding author|^article (?:for|submitted)|^key ?words\s*:"
    r"|you are welcome to copy|no part of this publication|to request additional copies|to obtain copies"
    r"|you may also be interested in|can be downloaded from our website|^for further information\b"
    r"|^this publication results from|^\d{5,}[A-Z]{1,3}/[\d/]+$",
    re.IGNORECASE,
)
# Publisher blurbs: "Walcot Foundation is Lambeth's principal independent grant-maker ...".
BLURB = re.compile(
    r"^(?:The )?[A-Z][\w&'’.\- ]{1,60}? (?:is|are) (?:an?|the|[A-Z][\w’']+)\b[^.]{0,40}?"
    r"\b(?:independent|charitable|not-for-profit|grant-maker|registered charity)\b"
)
# Each pattern below is anchored or possessive where a run could make it backtrack: at most one pass
# over a long run of letters, hyphens or "@"s, not one per character (see tests/unit/test_long_input.py).
EMAIL = re.compile(r"\S@[^\s.@]++\.\w")
# A UK postcode ("W1F 7LS", "S63 7ER"): in a short line, an address.
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s+\d[A-Z]{2}\b")
URL = re.compile(
    r"https?://|\bwww\.|<http|(?<![\w-])[\w-]++\.(?:org|gov|co|ac)\.uk\b|(?<![\w-])[\w-]++\.(?:com|org|net)/",
    re.IGNORECASE,
)
YEAR_IN_PARENS = re.compile(r"\((?:19|20)\d{2}[a-z]?(?:,[^)]{0,30})?\)")
CITATION_ONLY = re.compile(r"^\([^()]*\b(?:19|20)\d{2}[a-z]?\b[^()]*\)\.?$")
# Prose starts with these; a bibliography entry starts with its authors or its title.
PROSE_OPENERS = frozenset(
    "in by since from until during between this these as at on for over after before of according "
    "although while when where if it there we our their his her its".split()
)
CONNECTORS = frozenset("and & of for to the in on with a an at by from et al al. de van von".split())
# A footnote: its mark and then its text. "1 The Technical ...", "2Until 2011, ...", "⁶¹ Successful ...",
# "? The evaluation ..." (a superscript 9 the extractor read as "?").
FOOTNOTE = re.compile(r"^(?:\d{1,2} ?(?=[A-Z‘'“\"(])|\? (?=[A-Z])|\d{1,2} (?=https?:|www\.))")
# A report that marks its footnotes with superscripts starts no footnote with plain digits: there
# "16 FE pathfinder CoVEs were established ..." is prose.
SUPERSCRIPT_FOOTNOTE = re.compile(r"^(?:[¹²³⁴⁵⁶⁷⁸⁹⁰]{1,3}|\$\^\{\^?\{?\d{1,3}\}\}?\$)")  # "⁶¹", "$^{^{12}}$"
# What may stand before an entry: a bullet, an asterisk or a footnote's mark.
ENTRY_PREFIX = re.compile(r"^(?:[*•]+|\d{1,2}\s|[¹²³⁴⁵⁶⁷⁸⁹⁰]{1,3}|\$\^\{\^?\{?\d{1,3}\}\}?\$)\s*")
# "Working towards skills (2002)¹⁶", "A cut above (2004).": a short line that ends with its year is a citation.
ENDS_WITH_YEAR = re.compile(r"\((?:19|20)\d{2}[a-z]?\)[.;,]?[¹²³⁴⁵⁶⁷⁸⁹⁰]*\.?$")
CITING_WORDS = frozenset("by see according cited argued found noted showed suggested reported described".split())
SUPERSCRIPT_MARKS = "¹²³⁴⁵⁶⁷⁸⁹⁰"
# "1 Introduction Employer networks ...": a numbered heading run into its paragraph, not a footnote.
RUN_IN_HEADING = re.compile(
    r"^\d{1,2}\.? (?:Introduction|Summary|Executive summary|Background|Overview|Methodology|Method|Findings"
    r"|Conclusions?|Recommendations|Context)\b",
    re.IGNORECASE,
)
QUOTATION = re.compile(r"^[‘'“\"].*[’'”\"]$")
NUMBERED_ITEM = re.compile(r"^(?:\(?\d{1,2}[.)]|\(?[a-z][.)]|\([ivx]{1,4}\))\s+\S")


def form_kind(sentence: str) -> str | None:
    """The kind a sentence has on its own form: contents, table, front matter, reference or url; else None."""
    text = sentence.strip()
    if not any(ch.isalpha() for ch in text):
        # A footnote mark split off by the sentence splitter ("⁴⁴"), or a stray stop or digit.
        return "footnote" if text.strip(SUPERSCRIPT_MARKS + " .") == "" and text.strip(" .") else "table"
    if CONTENTS_LINE.search(text) or DOT_LEADER.search(text):
        return "contents"
    if FRONT_MATTER.search(text) or BLURB.match(text) or _address(text):
        return "front_matter"  # before tables: "Tel 020 7297 9144" is mostly numbers
    if "\t" in text or " • " in text or HTML.search(text) or CAPTION.match(text) or _mostly_numbers(text):
        return "table"
    if is_reference(text):
        return "reference"
    if URL.search(text):
        return "url"
    return None


def _mostly_numbers(text: str) -> bool:
    """A row of figures: at least three tokens, most of them numbers or percentages."""
    tokens = text.split()
    numbers = sum(bool(re.fullmatch(r"[£$€]?[\d.,]+%?|n/?a|-", t, re.IGNORECASE)) for t in tokens)
    return len(tokens) >= 3 and numbers >= 0.5 * len(tokens)


def _address(text: str) -> bool:
    """An address or contact line: short, with a postcode or an e-mail address."""
    return len(text.split()) <= 12 and bool(POSTCODE.search(text) or EMAIL.search(text))


def is_reference(text: str) -> bool:
    """True for a bibliography entry or a citation-only line; False for prose that cites ("X (2006) argues")."""
    text = ENTRY_PREFIX.sub("", text.strip()).lstrip("‘’'“”\" ")
    if CITATION_ONLY.match(text):
        return True
    words = text.split()
    if len(words) <= 15 and ENDS_WITH_YEAR.search(text) and not CITING_WORDS.intersection(w.lower() for w in words):
        return True
    m = YEAR_IN_PARENS.search(text[:200])
    if m is None:
        return False
    head, tail = text[: m.start()].strip(), text[m.end() :].lstrip(" .,:;)")
    words = head.replace(",", " ").split()
    if not words or not head[0].isupper() or words[0].lower() in PROSE_OPENERS or len(words) > 20:
        return False
    # Authors and titles are capitalised; prose has lower-case words before its citation.
    if any(w[0].islower() and w.lower() not in CONNECTORS for w in words):
        return False
    # After the year an entry goes on with its title or ends; prose goes on with its verb ("(2006) found").
    return not tail or not tail[0].islower()


# -- blocks: roles, lists, footnotes ------------------------------------------------------------------------

# Headings that open the report's own text; what comes before the first of them is front matter.
OPENING_TITLES = frozenset(
    "abstract|executive summary|summary|introduction|key findings|main findings|summary of findings|overview".split("|")
)
REFERENCE_HEADING = re.compile(
    r"^(?:appendix\s+\w{1,3}\s*[–—:.-]\s*)?(?:references|bibliography|works cited|reference list|list of references"
    r"|further reading|list of (?:previous |other )?[\w ]{0,30}publications)$",
    re.IGNORECASE,
)
BACK_COVER_SHARE = 0.15  # a title repeat or "you may also be interested in" this near the end opens the back cover


@dataclass(frozen=True)
class BlockInfo:
    """What one block is: its role, whether it is a list item or a footnote, and its sentences' kinds."""

    role: str  # "body", "front_matter", "references" or "contents"; only body blocks are chunked
    kinds: tuple[str, ...]  # one per sentence span given for the block
    list_item: bool = False
    footnote: bool = False


def analyse(blocks: Sequence[Block], spans: Sequence[Sequence[tuple[int, int]]], title: str = "") -> list[BlockInfo]:
    """Roles of the blocks and kinds of their sentences (`spans[i]` are block i's sentences, offsets in its text)."""
    infos: list[BlockInfo] = []
    prev: BlockInfo | None = None
    superscripts = sum(bool(SUPERSCRIPT_FOOTNOTE.match(b.text)) for b in blocks) >= 3
    for block, block_spans in zip(blocks, spans, strict=True):
        info = _block_info(block, [block.text[a:b] for a, b in block_spans], prev, superscripts)
        infos.append(info)
        prev = info if block.kind != "heading" else None
    roles = _roles(blocks, infos, title)
    return [
        BlockInfo(role, info.kinds, info.list_item, info.footnote) if role != info.role else info
        for role, info in zip(roles, infos, strict=True)
    ]


def _block_info(block: Block, sentences: list[str], prev: BlockInfo | None, superscripts: bool) -> BlockInfo:
    if block.kind == "heading":
        return BlockInfo("body", tuple("heading" for _ in sentences))
    text = block.text
    mark = SUPERSCRIPT_FOOTNOTE if superscripts else FOOTNOTE
    footnote = bool(mark.match(text)) and not NUMBERED_ITEM.match(text) and not RUN_IN_HEADING.match(text)
    after_list = prev is not None and bool(prev.kinds) and prev.kinds[-1] in ("lead_in", "list_item")
    list_item = not footnote and (
        block.bullet or bool(NUMBERED_ITEM.match(text)) or (after_list and text[:1].islower())
    )
    title_like = (
        not list_item
        and not after_list
        and len(sentences) == 1
        and sections.looks_like_title(sentences[0].lstrip("‘'“\"*"))
        and not QUOTATION.match(sentences[0])  # an interviewee's words: "Very flexible and understanding"
    )
    kinds = []
    for sentence in sentences:
        # In a report with numbered (not superscript) footnotes, one run into a paragraph starts a sentence.
        inner = (
            not superscripts and bool(re.match(r"\d{1,2} [A-Z][a-z]", sentence)) and not RUN_IN_HEADING.match(sentence)
        )
        kind = "footnote" if footnote or inner else form_kind(sentence)
        if kind is None:
            if sentence.rstrip(" ’”\"')*").endswith(":"):
                kind = "lead_in"
            elif list_item:
                kind = "list_item"
            elif title_like:
                kind = "heading"
            else:
                kind = "body"
        kinds.append(kind)
    role = "body"
    unquotable = {"front_matter": "front_matter", "reference": "references", "contents": "contents"}
    if kinds and not footnote and all(k == kinds[0] for k in kinds) and kinds[0] in unquotable:
        role = unquotable[kinds[0]]  # a block of nothing but an address, an entry or a contents line
    return BlockInfo(role, tuple(kinds), list_item, footnote)


def _roles(blocks: Sequence[Block], infos: list[BlockInfo], title: str) -> list[str]:
    roles = [info.role for info in infos]
    n = len(blocks)
    for i in range(_body_start(blocks, infos)):
        roles[i] = "front_matter"
    # A reference list runs from its heading to the next heading at its level or above (or to the end).
    ref_level: int | None = None
    for i, block in enumerate(blocks):
        if block.kind == "heading":
            if ref_level is not None and block.level <= ref_level:
                ref_level = None
            if REFERENCE_HEADING.match(block.text.strip().rstrip(":")):
                ref_level = block.level
        if ref_level is not None:
            roles[i] = "references"
    # The back cover: the title again, or an advertisement for other titles, near the end.
    key = _normal(title)
    for i in range(int(n * (1 - BACK_COVER_SHARE)), n):
        repeat = len(key.split()) >= 4 and _normal(blocks[i].text) == key
        advert = bool(infos[i].kinds) and infos[i].kinds[0] == "front_matter"
        if repeat or (advert and re.search(r"interested in|other titles|downloaded from", blocks[i].text, re.I)):
            for j in range(i, n):
                roles[j] = "front_matter"
            break
    return roles


def _body_start(blocks: Sequence[Block], infos: list[BlockInfo]) -> int:
    """Index of the first block of the report's own text."""
    for i, block in enumerate(blocks[: max(1, len(blocks) // 2)]):
        if block.kind == "heading" and _opens_text(block.text):
            return i
    # No opening heading: skip the cover's blurbs and credits, as far as they go.
    i = 0
    while i < len(blocks) and infos[i].kinds and infos[i].kinds[0] == "front_matter":
        i += 1
    return i


def _opens_text(heading: str) -> bool:
    text = heading.strip().rstrip(":")
    m = sections.NUMBERED.match(text)
    if m:
        return m.group(1) == "1"  # "1. Introduction", whatever its title
    m = sections.LETTERED.match(text)
    if m:
        return m.group(1) == "A" or m.group(2).lower() in OPENING_TITLES
    return text.lower() in OPENING_TITLES


def _normal(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))
