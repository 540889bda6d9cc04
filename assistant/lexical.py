"""The BM25 side of retrieval (bm25s with Snowball stemming and stop words), persisted next to the store.

It also keeps the chunks themselves, so a lexical hit needs no round trip to the vector store,
and the acronyms the corpus defines ("Sector Skills Councils (SSCs)"), so "SSC" and
"Sector Skills Council" find each other.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.atomic import replace_directory
from assistant.types import Chunk

# Bump when tokenising, acronym finding or the saved layout changes: saved indexes are then rebuilt.
LEXICAL_VERSION = "bm25s-stemmed/2"

_ACRONYM = re.compile(r"\(([A-Z][A-Za-z&]{1,9}?)(s?)\)")
_WORD = re.compile(r"[A-Za-z][\w'’-]*")
_JOINERS = {"of", "and", "for", "the", "in", "on", "&", "to"}
# A name in a question: a run of capitalised words (joined by "of", "for"...), an acronym, or a
# word with digits ("COVID-19"). The first word of a sentence counts only inside a longer run.
_NAME = re.compile(
    r"(?<![\w-])(?:[A-Z][\w’'-]*[A-Za-z0-9](?:\s+(?:(?:of|for|and|the|on|in)\s+)?[A-Z][\w’'-]*[A-Za-z0-9])*"
    r"|[A-Za-z]+-?\d[\w-]*)"
)
_SENTENCE_START = re.compile(r"(?:^|[.?!:;]\s+|[\"“‘'(]\s*)$")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


_IMPORTING = threading.Lock()


def import_bm25s() -> Any:
    """The bm25s module, imported without scipy.

    bm25s imports scipy.sparse only to offer it as one backend (and falls back when it is missing), but
    we use its default numpy backend: the arrays it builds and the scores are the same. scipy costs a
    fresh process about 0.3 s and 25 MB, so it is hidden while bm25s imports (a `None` entry in
    sys.modules makes `import scipy` raise ImportError) and made importable again straight after.
    """
    with _IMPORTING:
        if "bm25s" not in sys.modules:
            hide = "scipy" not in sys.modules
            if hide:
                sys.modules["scipy"] = None  # type: ignore[assignment]
            try:
                import bm25s  # noqa: F401 - imported for sys.modules
            finally:
                if hide and sys.modules.get("scipy", 0) is None:
                    del sys.modules["scipy"]
    return sys.modules["bm25s"]


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens for each text."""
    bm25s = import_bm25s()

    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


def find_acronyms(text: str) -> dict[str, str]:
    """Acronyms defined in `text` as 'Long Name (LN)', mapped (lower-case, singular) to their expansion.

    Capitalised names are matched by their capitals ("Centres of Vocational Excellence (CoVEs)");
    lower-case phrases by their words' initials ("small and medium-sized enterprises (SMEs)").
    """
    found: dict[str, str] = {}
    for match in _ACRONYM.finditer(text):
        acronym = match.group(1)
        words = [w.strip("'’") for w in _WORD.findall(text[max(0, match.start() - 120) : match.start()])]
        expansion = _spell(words, [c for c in acronym if c.isupper()], by_capitals=True) or _spell(
            words, list(acronym.lower()), by_capitals=False
        )
        if expansion:
            found.setdefault(acronym.lower(), expansion)
    return found


def _spell(words: list[str], letters: list[str], *, by_capitals: bool) -> str | None:
    """Walk back over `words` until their initials spell `letters`; the phrase, or None."""
    picked: list[str] = []
    needed = list(letters)
    for word in reversed(words):
        if not needed:
            break
        initials = [part[0] for part in word.split("-") if part] if not by_capitals else [word[0]]
        if by_capitals and not word[0].isupper() and word.lower() not in _JOINERS:
            break
        if word.lower() in _JOINERS and picked:
            picked.insert(0, word)
        elif (
            len(initials) <= len(needed)
            and [i.lower() for i in initials] == [n.lower() for n in needed[-len(initials) :]]
            and (not by_capitals or word[0] == needed[-1])
        ):
            picked.insert(0, word)
            del needed[-len(initials) :]
        elif not by_capitals and len(initials) > 1 and initials[0].lower() == needed[-1].lower():
            picked.insert(0, word)  # "medium-sized" may stand for one letter
            needed.pop()
        else:
            break
    while picked and picked[0].lower() in _JOINERS:
        picked.pop(0)
    return " ".join(picked) if not needed and len(picked) >= 2 else None


@dataclass
class LexicalIndex:
    """BM25 over every chunk, the chunks by id, and the corpus's acronyms."""

    chunks: list[Chunk]
    fingerprint: str
    acronyms: dict[str, str] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    _bm25: object | None = None
    _text: str | None = None
    _by_id: dict[str, Chunk] | None = None

    @classmethod
    def build(cls, chunks: Sequence[Chunk], fingerprint: str) -> LexicalIndex:
        """Index `chunks` (the section path counts as text too, so headings are searchable)."""
        bm25s = import_bm25s()
        chunks = list(chunks)
        acronyms: dict[str, str] = {}
        for chunk in chunks:
            for key, value in find_acronyms(chunk.text).items():
                acronyms.setdefault(key, value)
        retriever = bm25s.BM25()
        corpus_tokens = tokenize([" ".join(c.section) + " " + c.text for c in chunks])
        retriever.index(corpus_tokens, show_progress=False)
        frequency: dict[str, int] = {}
        for tokens in corpus_tokens:
            for token in set(tokens):
                frequency[token] = frequency.get(token, 0) + 1
        total = max(1, len(chunks))
        idf = {t: round(math.log(1 + total / df), 4) for t, df in frequency.items()}
        return cls(chunks=chunks, fingerprint=fingerprint, acronyms=acronyms, idf=idf, _bm25=retriever)

    # -- persistence ------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write atomically: a crash leaves the previous index, never half of a new one."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".bm25-", dir=directory.parent))
        try:
            self._bm25.save(str(staging / "bm25"), show_progress=False)  # type: ignore[attr-defined]
            with open(staging / "chunks.jsonl", "w", encoding="utf-8") as out:
                for chunk in self.chunks:
                    out.write(json.dumps({"text": chunk.text, "meta": chunk.to_metadata()}) + "\n")
            meta = {
                "fingerprint": self.fingerprint,
                "version": LEXICAL_VERSION,
                "acronyms": self.acronyms,
                "idf": self.idf,
                "count": len(self.chunks),
            }
            (staging / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            replace_directory(staging, directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex | None:
        """The saved index, or None when there is none (or it is unreadable)."""
        bm25s = import_bm25s()
        try:
            meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
            if meta.get("version") != LEXICAL_VERSION:
                return None  # built by another version of this code: rebuild from the store
            with open(directory / "chunks.jsonl", encoding="utf-8") as lines:
                chunks = [Chunk.from_metadata(row["text"], row["meta"]) for row in map(json.loads, lines)]
            retriever = bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
        except (OSError, ValueError, KeyError, EOFError, TypeError):
            return None
        if len(chunks) != meta.get("count"):
            return None  # the chunk list lost whole lines: its rows would not match the BM25 matrix
        return cls(
            chunks=chunks,
            fingerprint=meta["fingerprint"],
            acronyms=meta.get("acronyms", {}),
            idf=meta.get("idf", {}),
            _bm25=retriever,
        )

    # -- querying ---------------------------------------------------------------------------------

    def expand(self, query: str) -> str:
        """The query plus the expansions of acronyms it uses and the acronyms of phrases it spells out."""
        extra: list[str] = []
        lowered = query.lower()
        for word in _WORD.findall(query):
            key = word.lower().rstrip("’'")
            for candidate in (key, key[:-1] if key.endswith("s") else None):
                if candidate and candidate in self.acronyms and sum(ch.isupper() for ch in word) >= 2:
                    extra.append(self.acronyms[candidate])
                    break
        for acronym, expansion in self.acronyms.items():
            stem = expansion.lower().rstrip("s")
            if stem and stem in lowered:
                extra.append(acronym.upper())
        return query if not extra else f"{query} ({'; '.join(dict.fromkeys(extra))})"

    def unknown_names(self, question: str, known: Sequence[str] = ()) -> list[str]:
        """Names in the question (e.g. "Kickstart Scheme", "COVID-19") that no report mentions.

        A question about something the corpus never names cannot be answered from it, however
        similar its other words are; `known` holds names to ignore (report names, authors).
        """
        haystack = self._haystack()
        known_lower = {k.casefold() for k in known}
        unknown = []
        for match in _NAME.finditer(question):
            name = match.group(0).strip("’'-")
            words = name.split()
            at_start = bool(_SENTENCE_START.search(question[: match.start()]))
            if at_start and len(words) == 1 and not any(ch.isdigit() for ch in name):
                continue  # "What", "How", "Employers" opening a sentence
            if all(w.isalpha() and w.isupper() for w in words) and len("".join(words)) > 5:
                continue  # shouting ("SYSTEM OVERRIDE"), not a name
            if at_start:
                words = words[1:]  # "Did Kickstart" -> "Kickstart"
                name = " ".join(words)
            if not name or name.casefold() in known_lower or any(w.casefold() in known_lower for w in words):
                continue
            folded = name.casefold().replace("’s", "").replace("'s", "")
            variants = {folded, folded.rstrip("s")}
            if not any(v and v in haystack for v in variants):
                unknown.append(name)
        return unknown

    def _haystack(self) -> str:
        if self._text is None:
            self._text = " ".join(" ".join(c.section) + " " + c.text for c in self.chunks).casefold()
            self._text = " ".join(self._text.split())
        return self._text

    @property
    def by_id(self) -> dict[str, Chunk]:
        """The chunks by id (built once)."""
        if self._by_id is None:
            self._by_id = {c.chunk_id: c for c in self.chunks}
        return self._by_id

    def weight(self, term: str) -> float:
        """Inverse document frequency of a stemmed term (unknown terms weigh as rare ones)."""
        return self.idf.get(term, math.log(1 + max(1, len(self.chunks))))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query` (already expanded)."""
        tokens = tokenize([query])[0]
        vocab = self._bm25.vocab_dict  # type: ignore[attr-defined]
        tokens = [t for t in tokens if t in vocab]
        if not tokens:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)  # type: ignore[attr-defined]
