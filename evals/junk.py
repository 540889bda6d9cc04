"""Is a cited quote evidence at all? The eval's own detector of references, URLs, footnotes and other non-text.

Written independently of the product's sentence classifier (ingest/), so that the eval catches that
classifier's mistakes: plain regexes over the quote text, plus the name of the section it was quoted
from. Each rule was checked against every sentence of the five reports (see tests/unit/test_eval_junk.py
for real lines of each kind, and for body sentences that must pass). Where a rule would also catch a
real body sentence it is narrowed, at the price of missing some junk: a false alarm here would make the
"junk quotes = 0" target unreachable for a good answer.
"""

from __future__ import annotations

import re

# The kinds, in the order they are tested: the first that matches names the quote.
REFERENCE = "reference entry"
URL = "URL or e-mail"
FOOTNOTE = "footnote"
FRONT_MATTER = "front matter"
CONTENTS = "contents line"
TABLE = "table or figure residue"
LEAD_IN = "lead-in"
FRAGMENT = "fragment"

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_SUPERSCRIPT = "\u00b9\u00b2\u00b3\u2070-\u2079"
# What may trail a sentence: closing quotes and brackets, emphasis, footnote marks.
_TRAILING = re.compile(rf"[\s’”\"'»*_{_SUPERSCRIPT}]+$")
_WORD = re.compile(r"\b[A-Za-z]{2,}\b")

_URL = re.compile(r"https?://|\bwww\.[\w-]+\.|\b[\w-]+\.(?:org|gov|ac|co|nhs)\.uk\b|[\w.+-]+@[\w-]+\.\w", re.I)

# A footnote line starts with its number: "12 Colechin, J., ..." or "1 The Technical and ... Initiative".
# ("16 FE pathfinder CoVEs were established" is running text: the number counts something.)
_FOOTNOTE_NUMBER = re.compile(r"^\d{1,3}\s+(?=[A-Z][a-z]|https?://)")
# Superscript marks ("¹", "$^{12}$") also open a footnote, but the sentence splitter leaves a body
# sentence's own note mark at the start of the next sentence ("(1998).¹ In a chapter on ..."), so a
# superscript-led quote is a footnote only when what follows names a source.
_SUPERSCRIPT_MARK = re.compile(rf"^(?:[{_SUPERSCRIPT}]+|\$\^\{{\^?\{{?\d+\}}\}}?\$)\s*")
_NAMES_A_SOURCE = re.compile(
    r"\b[A-Z]{2,}(?:/[A-Z]+)?,?\s*\(\d{4}[a-z]?\)"  # LSDA (2003), LSDA/LSC (2004)
    r"|\b[A-Z][a-z]+ [A-Z]{1,2}(?:,|\s+and\b)"  # Hughes M, Smeaton B
    r"|\bet al\b|\b(?:19|20)\d{2}\)?\.?$"
)

# Bibliography entries. An author list (surnames, initials, "and", "et al", organisation names) then
# "(2004)" and a title; a body sentence citing an author goes on with a verb ("Keep (2016) reminds").
_NAME = r"(?:[A-Z][\w'’.&/-]*|and|&|et|al\.?|of|the|for|de|van|von)"
_AUTHOR_YEAR = re.compile(rf"^(?:{_NAME}[,.]?\s+){{1,14}}\(\d{{4}}[a-z]?\)[.,:]?(?:\s+(?:[A-Z*'‘\"“<]|in\s+\*)|\s*$)")
# Journal furniture: "32 (5): 704-722", "pp. 403-411", "Volume: 82", "Issue 2", "accessed May 2006".
_JOURNAL = re.compile(
    r"\b\d+\s*\(\d+\)\s*:?\s*\d+\s*[-–]\s*\d+"
    r"|(?:\b[A-Z][\w'’-]+,\s[A-Z]\.,?\s+){2,}"  # "Colechin, J., Bennett, L."
    r"|\bpp?\.\s?\d+\s*[-–]\s*\d+"
    r"|\bvol(?:ume)?\b\.?\s*:?\s*\d+|\bvol\.$"
    r"|\bissue\s*:?\s*\d+"
    r"|\bpages?\s*:?\s*\d+"
    rf"|\baccessed\s+(?:on\s+)?(?:\d{{1,2}}\s+)?{_MONTH}\s+\d{{4}}",
    re.I,
)
_ITALIC_TITLE = re.compile(r"^\*[^*]+\*[.,]?$")  # a journal or book title on its own
_ENDS_WITH_YEAR = re.compile(r"\(\d{4}[a-z]?\)\.?$")
# Words a title may hold in lower case; any other lower-case word means running text.
_TITLE_WORDS = frozenset("a an and as at by for from in into of on or the to with".split())
_REFERENCE_SECTION = re.compile(
    r"^(?:appendix\s+\w+\s*[–-]\s*)?(?:bibliography|references|reference list|works cited|endnotes|notes"
    r"|list of (?:previous |other )?[\w ]*publications)$",
    re.I,
)

_FRONT_MATTER = re.compile(
    r"\bISBN\b|©|\bcopyright\b|\ball rights reserved\b|\bno part of this publication\b|\bcopy this publication\b"
    r"|\bthis publication\b|\bregistered with the charity commission|\bregistered charity (?:no|number)\b"
    r"|\b(?:Copyeditor|Copy editor|Designer|Printer|Typesetter|Photography)\s*:"
    r"|^(?:Published|Printed|Designed|Edited) by\b"
    r"|\b(?:Tel|Telephone|Fax|Phone)\b\.?\s*:?\s*\+?\d"
    r"|\b0\d{2,4}\s\d{3,4}\s\d{3,4}\b"  # a UK phone number
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s+\d[A-Z]{2}\b"  # a UK postcode
    rf"|^{_MONTH}\s+\d{{4}}$|^research report\s+\d+\w?$"  # a title page's date or series number
    r"|^[\dA-Z]{4,}(?:/[\dA-Z]+){2,}$",  # a print code such as 052201RS/01/06/4000
    re.I,
)
_ADDRESS = re.compile(
    r"^(?:\d{1,4}(?:[-–]\d{1,4})?\s+)?(?:[A-Z][\w'’-]*\s+){0,4}"
    r"(?:Street|Road|Lane|Way|Avenue|House|Park|Place|Square|Close|Drive|Crescent)$"
)

# Without a lower-case word of running text, a line naming one of these is a title page's credit line.
# (A list item such as "Group Training Associations" names none of them, and stays evidence.)
_INSTITUTION = re.compile(
    r"\b(?:University|College|Centre|Center|Institute|Agency|Partnership|Services|Council|Department"
    r"|Commission|Foundation|Trust|Ltd|plc)\b|^(?:Dr|Professor|Prof\.)\s"
)

_CONTENTS = re.compile(
    r"\.{4,}\s*\S{0,4}$"  # dot leaders
    r"|\t\s*(?:\d{1,3}|[ivxlc]{1,6})$"  # a tab and a page number
    r"|^(?:\d+(?:\.\d+)*\.?|[A-Z]|Appendix\s+[A-Z]\s*[–-])\s+[^.!?:;]{3,90}?\s+(?:\d{1,3}|[ivx]{1,4})$"
    r"|^(?:contents|table of contents|list of (?:tables|figures))$",
    re.I,
)
_NUMBERED_HEADING = re.compile(r"^\d+\.\d+(?:\.\d+)*\s+[A-Z][^.!?;:]{0,90}$")

_TABLE = re.compile(
    r"\t"  # cells of a table row
    r"|^(?:Table|Figure|Chart|Box|Exhibit)\s+\d+(?:\.\d+)*(?:\s*:|\.(?=\s|$))"
    r"|\bFigure\s+\d+\s+about here\b"
    r"|<\s*/?\s*(?:ul|li|ol|table|tr|td|br)\b|\bstyle\s*=",
    re.I,
)


def _core(quote: str) -> str:
    """The quote with white space folded and trailing quotes, brackets, emphasis and note marks removed."""
    return _TRAILING.sub("", " ".join(quote.split()))


def _is_reference(text: str) -> bool:
    if _AUTHOR_YEAR.search(text) or _JOURNAL.search(text) or _ITALIC_TITLE.match(text):
        return True
    if _ENDS_WITH_YEAR.search(text):
        # "Successful Engagement: Guidance for Colleges, Hughes M, LSDA (2003)": a title and a year,
        # no running text. A sentence ending "... as Keep (2016)." has lower-case words of its own.
        # A short one ("Working towards skills (2002)") is a publication listed by its title.
        words = _WORD.findall(text)
        return len(words) <= 6 or all(w in _TITLE_WORDS for w in words if w.islower())
    return False


def _is_name_line(text: str) -> bool:
    """An organisation's or a person's name on a line of its own: 'Kingston University', 'Dr Peter Garside'."""
    words = text.split()
    if len(words) > 25 or text.endswith(":") or any(w.islower() and w not in _TITLE_WORDS for w in _WORD.findall(text)):
        return False
    return bool(_INSTITUTION.search(text))


def junk_kind(quote: str, section: str = "") -> str | None:
    """What kind of non-evidence `quote` is (one of the module's kinds), or None for a body sentence or list item.

    `section` is the cited section label ("Appendix D – Bibliography" or "A › B"): a quote from a
    bibliography or reference list is a reference entry whatever it looks like.
    """
    text = _core(quote)
    if any(_REFERENCE_SECTION.match(part.strip()) for part in section.split("›")):
        return REFERENCE
    mark = _SUPERSCRIPT_MARK.match(text)
    if mark:
        text = text[mark.end() :]
        if text and _NAMES_A_SOURCE.search(text):
            return FOOTNOTE
    elif _FOOTNOTE_NUMBER.search(text):
        return FOOTNOTE
    if _is_reference(text):
        return REFERENCE
    if _URL.search(text):
        return URL
    if _FRONT_MATTER.search(text) or _ADDRESS.match(text) or _is_name_line(text):
        return FRONT_MATTER
    if _CONTENTS.search(quote.strip()) or _CONTENTS.search(text) or _NUMBERED_HEADING.match(text):
        return CONTENTS
    if _TABLE.search(quote.strip()) or _TABLE.search(text):
        return TABLE
    if text.endswith(":"):
        return LEAD_IN
    if len(_WORD.findall(text)) < 2:
        return FRAGMENT
    return None
