"""Recognise heading lines and give every block the path of headings it sits under."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # clean.py imports this module, so only import Block for the type checker
    from ingest.clean import Block

# "2.2 Defining employer engagement", "1. Introduction", "1.3.1 Literature review methodology".
NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)(\.?)\s+(\S.*)$")
# lsda's "A Introduction", "F Creating the conditions for employer engagement".
LETTERED = re.compile(r"^([A-Z])\s+([A-Z][a-z].*)$")
MARKDOWN = re.compile(r"^(#{1,6})\s+(\S.*?)\s*#*\s*$")
APPENDIX = re.compile(r"^appendix\b", re.IGNORECASE)
# Captions and labels look like titles but belong to a figure or table, not to the text's outline.
CAPTION = re.compile(r"^(figure|fig\.|table|box|chart|graph|diagram|source|note|exhibit)\s*\d", re.IGNORECASE)
# Sections that hold sub-sections: a title line after them is one level down.
PARENT_TITLES = {"executive summary", "summary of findings", "main findings"}
# Self-contained sections at the top: they never become the parent of what follows.
STANDALONE_TITLES = {
    "abstract",
    "foreword",
    "preface",
    "contents",
    "acknowledgements",
    "acknowledgments",
    "references",
    "bibliography",
    "glossary",
    "key words",
    "keywords",
}
# A title ends with a content word; a line ending with one of these is a fragment of a sentence.
FUNCTION_WORDS = frozenset(
    "a an the and or of to in on for with by at from as that which is are "
    "was were be but so than their its this these into whether who not such also has have will".split()
)
MAX_TITLE_WORDS = 14
MAX_TITLE_CHARS = 100


def looks_like_title(text: str) -> bool:
    """True if `text` could be a title line: short, capitalised, no final full stop, not a fragment."""
    text = text.strip()
    words = text.split()
    if not words or len(words) > MAX_TITLE_WORDS or len(text) > MAX_TITLE_CHARS:
        return False
    if "\t" in text or not text[0].isupper() or CAPTION.match(text):
        return False
    # Sentences end with a stop, fragments with a comma, a colon or a dangling connector.
    if not (text[-1].isalnum() or text[-1] in "?)’”\"'"):
        return False
    if words[-1].lower().strip("’”\"')") in FUNCTION_WORDS:
        return False
    if text.count(",") > 1 or re.search(r"https?:|www\.|@|\.\s+[A-Z]", text):
        return False
    # Addresses, phone numbers, ISBNs, dates: more than two digits make it data, not a title.
    if sum(ch.isdigit() for ch in text) > 2:
        return False
    letters = [w for w in words if re.search(r"[A-Za-z]{2,}", w)]
    return bool(letters)


def _is_caps_title(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 4 and all(ch.isupper() for ch in letters) and looks_like_title(text)


def heading_level(line: str, *, markdown: bool = False) -> int | None:
    """Level of a heading line: >= 1 when its form says so, 0 for a plain title line, None if no heading."""
    text = line.strip()
    if markdown:
        m = MARKDOWN.match(text)
        if m:
            return len(m.group(1))
    m = NUMBERED.match(text)
    if m:
        number, dot, rest = m.groups()
        parts = number.split(".")
        # A lone number needs its dot ("1. Introduction"); without it, it is a footnote ("7 For example").
        if len(parts) == 1 and not dot:
            return None
        if not rest[0].isupper() or not looks_like_title(rest):
            return None
        return len(parts)
    m = LETTERED.match(text)
    if m and looks_like_title(m.group(2)):
        return 1
    if not looks_like_title(text):
        return None
    key = text.lower().rstrip(":")
    if APPENDIX.match(text) or key in PARENT_TITLES or key in STANDALONE_TITLES or _is_caps_title(text):
        return 1
    return 0


def is_heading(line: str, *, markdown: bool = False) -> bool:
    """True if the line, on its own, has the form of a heading."""
    return heading_level(line, markdown=markdown) is not None


def heading_title(text: str, *, markdown: bool = False) -> str:
    """The heading text without Markdown hashes."""
    m = MARKDOWN.match(text.strip()) if markdown else None
    return m.group(2) if m else text.strip()


def assign_sections(blocks: Sequence[Block]) -> tuple[Block, ...]:
    """Resolve heading levels and fill each block's section_path with the headings above it."""
    stack: list[tuple[int, str]] = []
    base: int | None = None  # level of the last heading whose form fixed its level
    in_appendix = False
    seen_prose = False  # before the first real paragraph, title lines are cover and front matter
    out: list[Block] = []
    for block in blocks:
        if block.kind != "heading":
            seen_prose = seen_prose or len(block.text) >= 200
            out.append(replace(block, section_path=tuple(t for _, t in stack)))
            continue
        text, key = block.text, block.text.lower().rstrip(":")
        numbered = NUMBERED.match(text) is not None
        structural = numbered or bool(LETTERED.match(text)) or bool(APPENDIX.match(text)) or key in PARENT_TITLES
        if block.level == 0:
            # An unnumbered title line sits one level below the last heading whose form fixed its level.
            level = base + 1 if base is not None else 1
        else:
            level = block.level + (1 if numbered and in_appendix else 0)
            if key in STANDALONE_TITLES or not (seen_prose or structural):
                base = None  # an abstract or a cover line is nobody's parent
            else:
                base = level
            if APPENDIX.match(text):
                in_appendix = True
            elif level == 1 and not numbered:
                in_appendix = False
        while stack and stack[-1][0] >= level:
            stack.pop()
        out.append(replace(block, level=level, section_path=tuple(t for _, t in stack)))
        stack.append((level, text))
    return tuple(out)
