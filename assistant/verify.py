"""Check a draft against its passages: every [n] must name a passage given, every cited claim must be in it.

Quoted text (“…”) must occur verbatim in the cited passage (white space aside; an ellipsis separates
fragments that must each occur, in order). A paraphrase (from an LLM) must reach a support score
from lexical and embedding overlap with its passage. What fails is removed and counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.lexical import tokenize
from assistant.types import Citation, Passage, ReportInfo

_MARKERS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_QUOTED = re.compile(r"“([^”]+)”|\"([^\"]+)\"")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"*-])")
_ELLIPSIS = re.compile(r"\s*(?:…|\.\.\.)\s*")

# Paraphrase support: calibrated so that a passage's own sentences pass and sentences taken from
# unrelated passages fail (see bench/support_threshold.py for the run that chose it).
SUPPORT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Verified:
    """The checked answer with [n] renumbered to the citations it keeps."""

    text: str
    citations: list[Citation]
    removed: int
    verified: bool


def normalise(text: str) -> str:
    """Fold white space, dashes and quotation marks so that 'verbatim' ignores line wrapping and typography."""
    # Quotation-mark style is typography: a quote inside a quote is shown with single marks.
    text = text.replace("’", "'").replace("‘", "'").replace("“", "'").replace("”", "'").replace('"', "'")
    text = text.replace("–", "-").replace("—", "-")
    return " ".join(text.split()).casefold()


def quote_in(quote: str, passage: str) -> bool:
    """True when every ellipsis-separated fragment of `quote` occurs in `passage`, in order."""
    haystack = normalise(passage)
    position = 0
    fragments = [f for f in _ELLIPSIS.split(quote) if f.strip()]
    if not fragments:
        return False
    for fragment in fragments:
        found = haystack.find(normalise(fragment), position)
        if found < 0:
            return False
        position = found + len(normalise(fragment))
    return True


def verify(
    draft: str,
    passages: Sequence[Passage],
    reports: dict[str, ReportInfo],
    embed: Callable[[list[str]], list[list[float]]] | None = None,
) -> Verified:
    """Check every cited claim of `draft`; drop unsupported ones; renumber citations by first use."""
    citations: list[Citation] = []
    numbering: dict[tuple[int, str], int] = {}
    removed = 0
    out_lines: list[str] = []
    for line in draft.splitlines():
        kept_units: list[str] = []
        units = _units(line)
        for unit in units:
            markers = [int(n) for group in _MARKERS.findall(unit) for n in re.split(r"[,;]\s*", group)]
            if not markers:
                kept_units.append(unit)  # labels, lead-ins and headings carry no claim of their own
                continue
            rewritten = _check_unit(unit, markers, passages, reports, embed, citations, numbering)
            if rewritten is None:
                removed += 1
            else:
                kept_units.append(rewritten)
        if units and not any(_MARKERS.search(u) for u in kept_units) and any(_MARKERS.search(u) for u in units):
            continue  # every claim on the line failed: drop the whole line (e.g. a bullet)
        out_lines.append(" ".join(u.strip() for u in kept_units) if len(kept_units) > 1 else "".join(kept_units))
    text = "\n".join(_drop_empty_list_heads(out_lines)).strip()
    return Verified(text=text + "\n" if text else "", citations=citations, removed=removed, verified=removed == 0)


def _units(line: str) -> list[str]:
    """A line split into sentences, keeping each sentence's markers with it."""
    if _QUOTED.search(line):
        return [line]  # a quoted point is one unit; quotes contain their own full stops
    parts = _SENTENCE_END.split(line)
    return parts if parts else [line]


def _check_unit(
    unit: str,
    markers: list[int],
    passages: Sequence[Passage],
    reports: dict[str, ReportInfo],
    embed: Callable[[list[str]], list[list[float]]] | None,
    citations: list[Citation],
    numbering: dict[tuple[int, str], int],
) -> str | None:
    valid = [n for n in markers if 1 <= n <= len(passages)]
    if not valid:
        return None
    quotes = [a or b for a, b in _QUOTED.findall(unit)]
    if quotes:
        # Each quote must be in at least one of the passages cited for it.
        sources: list[int] = []
        for quote in quotes:
            source = next((n for n in valid if quote_in(quote, passages[n - 1].chunk.text)), None)
            if source is None:
                return None
            sources.append(source)
        pairs = list(zip(sources, quotes, strict=True))
    else:
        claim = _MARKERS.sub("", unit).strip(" -*")
        supported = [n for n in valid if support(claim, passages[n - 1].chunk.text, embed) >= SUPPORT_THRESHOLD]
        if not supported:
            return None
        pairs = [(n, best_sentence(claim, passages[n - 1])) for n in supported]
    new_numbers = []
    for n, quote in pairs:
        key = (n, normalise(quote))
        if key not in numbering:
            numbering[key] = len(citations) + 1
            citations.append(
                Citation.from_chunk(
                    numbering[key], passages[n - 1].chunk, quote, reports.get(passages[n - 1].chunk.report)
                )
            )
        new_numbers.append(numbering[key])
    if quotes and len(quotes) == len(new_numbers):
        # Put each quote's own number right after it.
        pieces = iter(new_numbers)
        body = _MARKERS.sub("", unit)
        return _QUOTED.sub(lambda m: f"{m.group(0)} [{next(pieces)}]", body)
    # A paraphrase keeps its markers where the writer put them, renumbered.
    replacement = "".join(f"[{n}]" for n in dict.fromkeys(new_numbers))
    first = True

    def renumber(match: re.Match[str]) -> str:
        nonlocal first
        if first:
            first = False
            return " " + replacement
        return ""

    return _MARKERS.sub(renumber, unit)


def support(claim: str, passage: str, embed: Callable[[list[str]], list[list[float]]] | None) -> float:
    """How well `passage` supports `claim`: share of the claim's terms it contains, blended with meaning."""
    claim_terms = set(tokenize([claim])[0])
    if not claim_terms:
        return 1.0  # nothing to check (e.g. a bare label)
    lexical = len(claim_terms & set(tokenize([passage])[0])) / len(claim_terms)
    if embed is None:
        return lexical
    a, b = (np.asarray(v, dtype=np.float32) for v in embed([claim, passage]))
    return 0.5 * lexical + 0.5 * float(a @ b)


def best_sentence(claim: str, passage: Passage) -> str:
    """The passage sentence sharing most terms with `claim`: the quote shown for a paraphrase."""
    claim_terms = set(tokenize([claim])[0])
    sentences = passage.chunk.sentence_texts
    scored = [(len(claim_terms & set(tokenize([s])[0])), -i, s) for i, s in enumerate(sentences)]
    return max(scored)[2].strip() if scored else passage.chunk.text


def _drop_empty_list_heads(lines: list[str]) -> list[str]:
    """Remove a heading or lead-in whose points were all removed."""
    out: list[str] = []
    for i, line in enumerate(lines):
        following = next((ln for ln in lines[i + 1 :] if ln.strip()), "")
        is_head = line.strip().endswith(":") or (line.startswith("**") and line.strip().endswith("**"))
        if is_head and not following.lstrip().startswith("-"):
            continue
        out.append(line)
    return out
