"""Evidence units: what an answer may quote, each embedded once at ingest, searchable over the whole corpus.

A unit is a body sentence, a lead-in with the list it introduces, or a sentence that leans on the one
before it ("These were…", "This may be compounded…") joined to that sentence. A sentence that leans
on one outside its passage stays alone and is marked `dangling`: it may be a point, never a lead.

The vectors are MiniLM's own sentence vectors, one row a unit, stored as int8 with a scale per row
(`assistant.matrices`: 388 bytes a unit instead of 768 as float16; cosines move by about 0.001),
written a window at a time while ingest embeds them (so its memory does not grow with the corpus),
saved with each generation and memory-mapped, so answering encodes only the question. No library keeps
sentence-level vectors beside Chroma's chunk vectors with their place in the chunk, so the units'
list is kept here, in units.json beside the matrix.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.atomic import replace_directory
from assistant.matrices import CompactMatrix, MatrixWriter, quantise
from assistant.quotable import body_ok, item_ok, junk, quotable_form, title_like, trim
from assistant.types import Chunk

UNITS_VERSION = "units-i8/2"  # 2: int8 rows with a scale each, streamed (1: float16 vectors.npy)
_MATRIX = "rows"
WINDOW = 2048  # units embedded and written together: sorted by length within it, so padding stays small
BATCH = 128  # units a model call embeds


def fingerprint(chunks: Sequence[Chunk]) -> str:
    """Which chunks a unit index was built from (their ids, which hash their text)."""
    return hashlib.sha1("\n".join(sorted(c.chunk_id for c in chunks)).encode()).hexdigest()


MIN_WORDS = 6
MAX_ITEMS = 8
MAX_JOINED = 3  # sentences in one joined unit

# A sentence whose subject is the one before it: it cannot be read, or quoted as a lead, alone.
ANAPHORIC = re.compile(
    r"^[\s‘'“\"]*(?:this|these|those|that|it|its|they|their|such|he|she|here|however|moreover|furthermore|also|"
    r"consequently|therefore|thus|in addition|additionally|similarly|likewise|again|finally|then|but|and|or|so)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Unit:
    """One evidence unit: sentences `start`..`end` (inclusive) of chunk `chunk_id`."""

    id: int
    chunk_id: str
    report: str
    start: int
    end: int
    kind: str  # body | list (a lead-in with its items) | joined (anaphoric + the sentence before) | dangling | item
    text: str  # the unit's text, white space folded (for embedding and scoring)
    section: tuple[str, ...] = ()
    position: int = 0  # index of the unit's core sentence among its chunk's sentences

    @property
    def can_lead(self) -> bool:
        """A unit that can open an answer: complete on its own (not a bare list item or dangling sentence)."""
        return self.kind in ("body", "joined", "list")


def _fold(text: str) -> str:
    return " ".join(text.split())


def units_of(chunks: Sequence[Chunk]) -> list[Unit]:
    """Every evidence unit of `chunks`, once: overlapping chunks repeat sentences, the fuller unit is kept."""
    best: dict[str, Unit] = {}
    rank = {"list": 0, "joined": 1, "body": 2, "item": 3, "dangling": 4}
    for chunk in sorted(chunks, key=lambda c: c.chunk_id):
        sentences = [s.strip() for s in chunk.sentence_texts]
        kinds = list(chunk.sentence_kinds) if len(chunk.sentence_kinds) == len(sentences) else ["body"] * len(sentences)
        for i, (sentence, kind) in enumerate(zip(sentences, kinds, strict=True)):
            found = _unit_at(chunk, sentences, kinds, i, sentence, kind)
            if found is None:
                continue
            key = _fold(sentence).casefold()
            held = best.get(key)
            if held is None or (rank[found.kind], found.chunk_id) < (rank[held.kind], held.chunk_id):
                best[key] = found
    ordered = sorted(best.values(), key=lambda u: (u.chunk_id, u.position))
    return [
        Unit(i, u.chunk_id, u.report, u.start, u.end, u.kind, u.text, u.section, u.position)
        for i, u in enumerate(ordered)
    ]


def _unit_at(chunk: Chunk, sentences: list[str], kinds: list[str], i: int, sentence: str, kind: str) -> Unit | None:
    def make(start: int, end: int, unit_kind: str, text: str) -> Unit:
        return Unit(-1, chunk.chunk_id, chunk.report, start, end, unit_kind, _fold(text), chunk.section, i)

    if kind == "lead_in":
        items, j = [], i + 1
        while j < len(sentences) and kinds[j] == "list_item" and len(items) < MAX_ITEMS:
            if item_ok(sentences[j]):
                items.append(sentences[j])
            j += 1
        if not items or junk(sentence):
            return None
        return make(i, j - 1, "list", " ".join([sentence, *items]))
    if kind == "list_item":
        if chunk.lead_in_for(i) is not None:
            return None  # quoted under its lead-in
        if not item_ok(sentence) or len(sentence.split()) < MIN_WORDS or title_like(sentence):
            return None
        return make(i, i, "item", sentence)
    if kind != "body" or not body_ok(sentence):
        return None
    following = i + 1 < len(sentences) and kinds[i + 1] == "body" and body_ok(sentences[i + 1])
    if following and ANAPHORIC.match(sentences[i + 1]):
        return None  # the sentence after it points back to it: quoted together, in that one's unit
    if ANAPHORIC.match(sentence):
        # Back to the sentence that says what "this" is (at most two before), within the chunk.
        start = i
        while start > 0 and i - start < MAX_JOINED - 1 and ANAPHORIC.match(sentences[start]):
            if kinds[start - 1] != "body" or not body_ok(sentences[start - 1]):
                break
            start -= 1
        if start == i or ANAPHORIC.match(sentences[start]):
            return make(i, i, "dangling", sentence)
        return make(start, i, "joined", " ".join(sentences[start : i + 1]))
    return make(i, i, "body", sentence)


def unit_sentences(chunk: Chunk, unit: Unit) -> list[str]:
    """The unit's sentences, verbatim from its chunk."""
    return [s.strip() for s in chunk.sentence_texts[unit.start : unit.end + 1]]


def unit_quote(chunk: Chunk, unit: Unit) -> str:
    """The unit as one quote (a list's items after its lead-in, joined by ellipses), verbatim for the verifier."""
    sentences = [quotable_form(s) for s in unit_sentences(chunk, unit)]
    return trim(" … ".join(sentences) if unit.kind == "list" else " ".join(sentences))


class UnitIndex:
    """The units of one generation with their unit vectors (int8, memory-mapped when loaded)."""

    def __init__(self, units: list[Unit], matrix: CompactMatrix, embedder: str = "", chunks: str = ""):
        self.units = units
        self.chunks = chunks  # fingerprint() of the chunks it was built from
        self.matrix = matrix
        self._float32: np.ndarray | None = None
        self.embedder = embedder
        self._row_of_chunk: dict[str, list[int]] = {}
        for unit in units:
            self._row_of_chunk.setdefault(unit.chunk_id, []).append(unit.id)

    def __len__(self) -> int:
        return len(self.units)

    @property
    def vectors(self) -> np.ndarray:
        """The unit vectors (float32, one row a unit, in unit order)."""
        if self._float32 is None:
            # One float32 copy (1.5 KB a unit): int8 products would be converted on every question,
            # which costs more than the product itself.
            self._float32 = self.matrix.rows(0, len(self.matrix))
        return self._float32

    def of_chunk(self, chunk_id: str) -> list[int]:
        """Row numbers of the units of one chunk, in reading order."""
        return self._row_of_chunk.get(chunk_id, [])

    def similarity(self, vector: Sequence[float], rows: np.ndarray | None = None) -> np.ndarray:
        """Cosine of `vector` with the units' vectors (all of them, or `rows`)."""
        query = np.asarray(vector, dtype=np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        matrix = self.vectors if rows is None else self.vectors[rows]
        return matrix @ query

    @classmethod
    def write(
        cls,
        directory: Path,
        chunks: Sequence[Chunk],
        embed: Callable[[list[str]], list[list[float]]],
        embedder: str = "",
        previous: UnitIndex | None = None,
    ) -> UnitIndex:
        """Units of `chunks`, each embedded once, written to `directory` a window at a time; memory-mapped.

        Units whose text `previous` (the last generation, same embedder) already embedded keep its row as
        stored. Written atomically: a crash leaves the previous folder, never half of a new one.
        """
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".units-", dir=directory.parent))
        try:
            _write_units(staging, chunks, embed, embedder, previous)
            replace_directory(staging, directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        loaded = cls.load(directory)
        if loaded is None:
            raise OSError(f"the units just written to {directory} do not read back")
        return loaded

    @classmethod
    def build(
        cls,
        chunks: Sequence[Chunk],
        embed: Callable[[list[str]], list[list[float]]],
        embedder: str = "",
        previous: UnitIndex | None = None,
    ) -> UnitIndex:
        """Units of `chunks` held in memory, for an index whose own files are not to be written."""
        staging = Path(tempfile.mkdtemp(prefix="units-"))
        try:
            _write_units(staging, chunks, embed, embedder, previous)
            loaded = cls.load(staging)
            assert loaded is not None
            matrix = loaded.matrix
            held = CompactMatrix(np.array(matrix.codes), np.array(matrix.scales), None, matrix.source_dims)
            return cls(loaded.units, held, loaded.embedder, loaded.chunks)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> UnitIndex | None:
        """The saved units (vectors memory-mapped), or None when missing, unreadable or of another version."""
        try:
            meta = json.loads((directory / "units.json").read_text(encoding="utf-8"))
            if meta.get("version") != UNITS_VERSION:
                return None
            units = [
                Unit(i, cid, report, int(a), int(b), kind, text, tuple(section), int(pos))
                for i, (cid, report, a, b, kind, text, section, pos) in enumerate(meta["units"])
            ]
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            return None
        matrix = CompactMatrix.load(directory, _MATRIX)
        if matrix is None or len(units) != len(matrix):
            return None
        return cls(units, matrix, str(meta.get("embedder", "")), str(meta.get("chunks", "")))

    @classmethod
    def for_chunks(
        cls, chunks: Sequence[Chunk], embedder, directory: Path, *, trust: bool = True, save: bool = True
    ) -> UnitIndex:
        """The generation's saved units when they match `chunks` and the embedder; else built (and saved
        when `save`). `trust=False` (the files are known to be damaged) builds them without reading."""
        loaded = cls.load(directory) if trust else None
        version = getattr(embedder, "version", "")
        if loaded is not None and loaded.embedder == version and loaded.chunks == fingerprint(chunks):
            return loaded
        if save:
            try:
                return cls.write(directory, chunks, embedder.embed_documents, version)
            except OSError:
                pass  # a read-only index still answers; the units are built again next time
        return cls.build(chunks, embedder.embed_documents, version)


def _write_units(
    directory: Path,
    chunks: Sequence[Chunk],
    embed: Callable[[list[str]], list[list[float]]],
    embedder: str,
    previous: UnitIndex | None,
) -> None:
    """Embed the units of `chunks` into `directory`'s matrix a window at a time, then the units' list.

    Only one window's vectors are ever held. Within a window the units to embed go shortest first, in
    batches (less padding), and the window is written in unit order, so row i is unit i.
    """
    units = units_of(chunks)
    known: dict[str, int] = {}
    if previous is not None and previous.embedder == embedder and len(previous):
        known = {u.text: u.id for u in previous.units}
    old = previous.matrix if known else None
    writer: MatrixWriter | None = None
    try:
        for start in range(0, len(units), WINDOW):
            window = units[start : start + WINDOW]
            codes: list[np.ndarray | None] = [None] * len(window)
            scales: list[np.ndarray | None] = [None] * len(window)
            if old is not None:
                for i, unit in enumerate(window):
                    if unit.text in known:
                        row = known[unit.text]  # its stored row, copied as it is (not quantised again)
                        codes[i], scales[i] = np.asarray(old.codes[row : row + 1]), old.scales[row : row + 1]
            todo = sorted((i for i in range(len(window)) if codes[i] is None), key=lambda i: len(window[i].text))
            for at in range(0, len(todo), BATCH):
                batch = todo[at : at + BATCH]
                matrix = np.asarray(embed([window[i].text for i in batch]), dtype=np.float32).reshape(len(batch), -1)
                matrix /= np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)
                batch_codes, batch_scales = quantise(matrix)
                for j, i in enumerate(batch):
                    codes[i], scales[i] = batch_codes[j : j + 1], batch_scales[j : j + 1]
            if writer is None:
                writer = MatrixWriter(directory, _MATRIX, int(codes[0].shape[1]))  # type: ignore[union-attr]
            writer.append_codes(np.concatenate(codes), np.concatenate(scales))  # type: ignore[arg-type]
        if writer is None:
            writer = MatrixWriter(directory, _MATRIX, 0)
    except BaseException:
        if writer is not None:
            writer.abandon()
        raise
    writer.close()
    rows = [[u.chunk_id, u.report, u.start, u.end, u.kind, u.text, list(u.section), u.position] for u in units]
    meta = {"version": UNITS_VERSION, "embedder": embedder, "chunks": fingerprint(chunks), "units": rows}
    (directory / "units.json").write_text(json.dumps(meta), encoding="utf-8")
