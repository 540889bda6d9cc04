"""Check a draft against its passages: every [n] must name a passage given, every cited claim must be in it.

Quoted text (“…”) must occur verbatim in the cited passage (white space aside; an ellipsis separates
fragments that must each occur, in order). A paraphrase (from an LLM) must hold no number, name or rare
word that its passage lacks, and must reach a support score from lexical and embedding overlap with it.
A unit with no words of its own besides its markers is no claim. What fails is removed, counted and
given a reason (`Verified.removals`, `Verified.why`).

`strict=True` is for drafts a model wrote: there an uncited sentence is an unsupported claim, and the
words around a quote are checked like a paraphrase. The offline writer's own words are computed from the
evidence (labels, headings, the premise line), so its drafts are checked with `strict=False`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from assistant.lexical import tokenize
from assistant.types import Citation, Passage, ReportInfo

_MARKERS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_QUOTED = re.compile(r"“([^”]+)”|\"([^\"]+)\"")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"*-])")
_ELLIPSIS = re.compile(r"\s*(?:…|\.\.\.)\s*")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z][\w'’-]*[A-Za-z0-9]|[A-Za-z]")
# Words about citing are not a claim: "these points are supported by sources [1][3]" says nothing the
# passages could hold.
_META = re.compile(
    r"\b(?:sources?|cited|cites?|citations?|see|refs?|references?|passages?|supported|support|according|"
    r"based|evidence|also|and|or|points?|above|statements?|claims?|information|answer|findings)\b",
    re.IGNORECASE,
)
_SENTENCE_START = re.compile(r"(?:^|[.?!:;—-]|[\"“‘'(*])[\s*]*$")

# Paraphrase support: calibrated so that a passage's own sentences pass and sentences taken from
# unrelated passages fail (see bench/support_threshold.py for the run that chose it).
SUPPORT_THRESHOLD = 0.5
# A word rarer than this (Zipf frequency in general English, wordfreq: fewer than ten in a million words)
# carries the claim's content, so a paraphrase must take it from its passage, not add it. Chosen from the
# scale's meaning, not from eval scores: "workforce", "levy", "apprentices" are rare; "employers", "fees" are not.
RARE_ZIPF = 4.0

# Reasons, in the words shown to the reader ("3 claims were dropped: 2 …").
MARKERS_ONLY = "were only citation markers, with no words of their own"
NO_SUCH_SOURCE = "cited a source that was not given"
NO_CITATION = "cited no source"
NOT_VERBATIM = "quoted words that are not in the cited source"
MISSING_TERMS = "named figures, names or terms that the cited source does not contain"
NOT_SUPPORTED = "were not supported by the cited source"


@dataclass(frozen=True)
class Removal:
    """One unit taken out of a draft, and why."""

    text: str
    reason: str
    detail: str = ""  # e.g. the figure the passage lacks, or the marker that names no source


@dataclass(frozen=True)
class Verified:
    """The checked answer with [n] renumbered to the citations it keeps."""

    text: str
    citations: list[Citation]
    removed: int
    verified: bool
    removals: tuple[Removal, ...] = field(default=())

    @property
    def why(self) -> str:
        """One sentence saying how many claims were dropped and why, or '' when none were."""
        return removal_summary(self.removals)


def removal_summary(removals: Sequence[Removal]) -> str:
    """'3 claims were dropped: 2 were only citation markers…; 1 named figures… (73%).'"""
    if not removals:
        return ""
    groups: dict[str, list[Removal]] = {}
    for r in removals:
        groups.setdefault(r.reason, []).append(r)
    parts = []
    for reason, members in groups.items():
        details = list(dict.fromkeys(d for r in members if (d := r.detail)))
        shown = f" ({', '.join(details[:4])})" if details else ""
        parts.append(f"{len(members)} {reason}{shown}")
    count = len(removals)
    noun = "claim was" if count == 1 else "claims were"
    return f"{count} {noun} dropped: " + "; ".join(parts) + "."


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


@dataclass
class _Context:
    passages: Sequence[Passage]
    reports: dict[str, ReportInfo]
    embed: Callable[[list[str]], list[list[float]]] | None
    strict: bool
    citations: list[Citation] = field(default_factory=list)
    numbering: dict[tuple[int, str], int] = field(default_factory=dict)
    vocabularies: dict[int, _Vocabulary] = field(default_factory=dict)

    def vocabulary(self, n: int) -> _Vocabulary:
        """What passage [n] may be cited for: its text, and the names under which it is cited."""
        if n not in self.vocabularies:
            chunk = self.passages[n - 1].chunk
            info = self.reports.get(chunk.report)
            about = [chunk.title, str(chunk.year or ""), chunk.section_label, chunk.report]
            if info is not None:
                about += [info.label, info.title, *info.aliases, *info.authors, info.publisher, info.series]
            self.vocabularies[n] = _Vocabulary.of(chunk.text, " ".join(about))
        return self.vocabularies[n]


@dataclass(frozen=True)
class _Vocabulary:
    stems: frozenset[str]
    numbers: frozenset[str]

    @classmethod
    def of(cls, text: str, about: str) -> _Vocabulary:
        both = f"{text}\n{about}"
        return cls(frozenset(tokenize([both])[0]), frozenset(_numbers(both)))

    def lacks(self, terms: Sequence[str]) -> list[str]:
        """The terms (numbers, names, rare words) this passage does not hold."""
        missing = []
        for term in terms:
            if _NUMBER.fullmatch(term.rstrip("%")):
                if term.rstrip("%").replace(",", "") not in self.numbers:
                    missing.append(term)
            elif not set(_stems(term)) <= self.stems:
                missing.append(term)
        return missing


def verify(
    draft: str,
    passages: Sequence[Passage],
    reports: dict[str, ReportInfo],
    embed: Callable[[list[str]], list[list[float]]] | None = None,
    *,
    strict: bool = False,
) -> Verified:
    """Check every cited claim of `draft`; drop unsupported ones; renumber citations by first use."""
    ctx = _Context(passages, reports, embed, strict)
    removals: list[Removal] = []
    out_lines: list[str] = []
    for line in draft.splitlines():
        mark = _LIST_MARK.match(line)
        prefix = mark.group(0) if mark and _MARKERS.search(line) else ""
        units = _units(line[len(prefix) :])
        kept_units: list[str] = []
        claims = kept_claims = 0
        for unit in units:
            markers = [int(n) for group in _MARKERS.findall(unit) for n in re.split(r"[,;]\s*", group)]
            if not markers:
                if strict and _is_claim(unit, line):
                    claims += 1
                    removals.append(Removal(unit.strip(), NO_CITATION))
                else:
                    kept_units.append(unit)  # labels, lead-ins and headings carry no claim of their own
                continue
            claims += 1
            outcome = _check_unit(unit, markers, ctx)
            if isinstance(outcome, Removal):
                removals.append(outcome)
            else:
                kept_claims += 1
                kept_units.append(outcome)
        if claims and not kept_claims:
            continue  # every claim on the line failed: drop the whole line (e.g. a bullet)
        body = " ".join(u.strip() for u in kept_units) if len(kept_units) > 1 else "".join(kept_units)
        out_lines.append(prefix + body.lstrip() if prefix else body)
    text = "\n".join(_drop_empty_list_heads(out_lines)).strip()
    return Verified(
        text=text + "\n" if text else "",
        citations=ctx.citations,
        removed=len(removals),
        verified=not removals,
        removals=tuple(removals),
    )


def _units(line: str) -> list[str]:
    """A line split into sentences, keeping each sentence's markers with it."""
    if _QUOTED.search(line):
        return [line]  # a quoted point is one unit; quotes contain their own full stops
    parts = _SENTENCE_END.split(line)
    return parts if parts else [line]


def _is_claim(unit: str, line: str) -> bool:
    """Whether an uncited unit of a model's draft states something (not a heading, label or lead-in)."""
    text = unit.strip()
    whole = line.strip()
    if not text or whole.startswith("#") or text.endswith(":"):
        return False
    bare = re.sub(r"\s+—\s+\*[^*]+\*$", "", whole)  # "**Heading** — *Report (2008)*"
    if bare.startswith("**") and bare.endswith("**") and bare.count("**") == 2:
        return False
    return bool(claim_words(text))


def claim_words(unit: str) -> list[str]:
    """The unit's own content words: markers, quote marks, emphasis and words about citing removed."""
    text = _MARKERS.sub(" ", unit)
    text = _META.sub(" ", text)
    return tokenize([text])[0] + [n for n in _numbers(text) if len(n) == 1]


def _check_unit(unit: str, markers: list[int], ctx: _Context) -> str | Removal:
    """The unit with its markers renumbered, or the Removal saying why it cannot stand."""
    if not claim_words(unit):
        return Removal(unit.strip(), MARKERS_ONLY)
    passages = ctx.passages
    valid = [n for n in dict.fromkeys(markers) if 1 <= n <= len(passages)]
    if not valid:
        shown = "".join(f"[{n}]" for n in dict.fromkeys(markers))
        return Removal(unit.strip(), NO_SUCH_SOURCE, f"{shown} of {len(passages)} given")
    quotes = [a or b for a, b in _QUOTED.findall(unit)]
    if quotes:
        # Each quote must be in at least one of the passages cited for it.
        sources: list[int] = []
        for quote in quotes:
            source = next((n for n in valid if quote_in(quote, passages[n - 1].chunk.text)), None)
            if source is None:
                return Removal(unit.strip(), NOT_VERBATIM)
            sources.append(source)
        if ctx.strict:
            # A model's words around its quotes ("In 2019, 80% of firms said …") are a claim too.
            around = _MARKERS.sub(" ", _QUOTED.sub(" … ", unit))
            terms = key_terms(around)
            missing = [t for t in terms if all(t in ctx.vocabulary(n).lacks([t]) for n in set(sources))]
            if missing:
                return Removal(unit.strip(), MISSING_TERMS, ", ".join(missing))
        pairs = list(zip(sources, quotes, strict=True))
    else:
        claim = _LIST_MARK.sub("", _MARKERS.sub("", unit)).strip(" -*")
        terms = key_terms(claim)
        lacking = {n: ctx.vocabulary(n).lacks(terms) for n in valid}
        supported = [
            n
            for n in valid
            if not lacking[n] and support(claim, passages[n - 1].chunk.text, ctx.embed) >= SUPPORT_THRESHOLD
        ]
        if not supported:
            fewest = min(lacking.values(), key=len)
            if fewest:
                return Removal(unit.strip(), MISSING_TERMS, ", ".join(fewest))
            return Removal(unit.strip(), NOT_SUPPORTED)
        pairs = [(n, best_sentence(claim, passages[n - 1])) for n in supported]
    new_numbers = [_number(ctx, n, quote) for n, quote in pairs]
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


def _number(ctx: _Context, n: int, quote: str) -> int:
    """The answer's citation number for `quote` from passage [n], adding the citation on first use."""
    key = (n, normalise(quote))
    if key not in ctx.numbering:
        ctx.numbering[key] = len(ctx.citations) + 1
        chunk = ctx.passages[n - 1].chunk
        ctx.citations.append(Citation.from_chunk(ctx.numbering[key], chunk, quote, ctx.reports.get(chunk.report)))
    return ctx.numbering[key]


def key_terms(claim: str) -> list[str]:
    """What a passage must hold for `claim` to be its content: numbers, names and rare words.

    Hand-written rather than a tagger's output: a name here is any capitalised word that does not start
    a sentence, or a word with two capitals (SSDA, CoVEs); that is cheap and errs toward checking more.
    """
    text = _MARKERS.sub(" ", claim)
    terms: list[str] = []
    for match in _NUMBER.finditer(text):
        after = text[match.end() : match.end() + 1]
        terms.append(match.group(0) + ("%" if after == "%" else ""))
    for match in _WORD.finditer(text):
        word = match.group(0).strip("'’-")
        if not word or any(ch.isdigit() for ch in word):
            continue
        capitals = sum(ch.isupper() for ch in word)
        starts = bool(_SENTENCE_START.search(text[: match.start()]))
        name = capitals >= 2 or (word[0].isupper() and not starts and len(word) > 1)
        if name or (len(word) >= 4 and _zipf(word.lower()) < RARE_ZIPF):
            terms.append(word)
    return list(dict.fromkeys(terms))


@lru_cache(maxsize=8192)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


@lru_cache(maxsize=8192)
def _stems(term: str) -> tuple[str, ...]:
    return tuple(tokenize([term])[0])


def _numbers(text: str) -> list[str]:
    """The numbers in `text`, thousands separators removed ("1,200" -> "1200")."""
    return [m.group(0).replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)]


def support(claim: str, passage: str, embed: Callable[[list[str]], list[list[float]]] | None) -> float:
    """How well `passage` supports `claim`: share of the claim's terms it contains, blended with meaning."""
    claim_terms = set(tokenize([claim])[0])
    if not claim_terms:
        return 0.0  # a claim with no words of its own (a bare marker) is supported by nothing
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
