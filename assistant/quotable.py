"""What may be quoted, judged from the text itself: never references, URLs, footnotes, titles or front matter.

Shared by the evidence units built at ingest (assistant/units.py) and the offline writer, so both refuse
the same furniture. A second, textual check beside the kinds ingest records, for indexes built before kinds.
"""

from __future__ import annotations

import re

MAX_QUOTE_WORDS = 55
MIN_QUOTE_WORDS = 6
MIN_ITEM_WORDS = 3

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


def title_like(text: str) -> bool:
    """A publication or section title run into the text ("How Colleges are Working with Small Businesses")."""
    words = [w for w in re.findall(r"[A-Za-z][\w'’-]*", text) if len(w) > 3]
    return bool(words) and sum(w[0].isupper() for w in words) >= 0.7 * len(words) and not text.rstrip().endswith(".")


def about_literature(text: str) -> bool:
    """A sentence describing publications or the report itself rather than the topic."""
    return bool(_ABOUT_LITERATURE.search(text) or _SIGNPOST.match(text))


def body_ok(text: str) -> bool:
    """A body sentence worth quoting: long enough, no furniture, ends like a sentence, not a signpost."""
    words = text.split()
    if len(words) < MIN_QUOTE_WORDS or junk(text):
        return False
    ending = quotable_form(text).rstrip("’'”\")")
    if text.endswith(("?", ":")) or not ending.endswith((".", "!", ";", "…")):
        return False  # a question, a lead-in, or a title run into the text ("How Colleges are Working…(LSDA)")
    return not _SIGNPOST.match(text)


def item_ok(text: str) -> bool:
    """A list item worth quoting under its lead-in."""
    return len(text.split()) >= MIN_ITEM_WORDS and sum(ch.isalpha() for ch in text) >= 12 and not junk(text)
