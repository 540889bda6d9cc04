"""New chunks embedded and written a batch at a time, with their token vectors; evidence units embedded once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.late import TokenVectors, TokenWriter, fit_tokens_codebook
from assistant.lexical import LexicalIndex
from assistant.rank import prepare as prepare_ranker
from assistant.residual import Codebook
from assistant.store import ChunkStore, Generation
from assistant.types import Chunk
from assistant.units import UnitIndex
from ingest.chunk import embedding_text

_BASIS_SAMPLE = 64  # chunks (about 12,000 token rows) the token vectors' projection and codebook are fitted on


def _embedding_order(fresh: list[Chunk], texts: dict[str, str], first: int) -> list[Chunk]:
    """The order new chunks are embedded in: a spread sample first, then the rest shortest first.

    The sample (every n-th chunk by id) is what the token vectors' codebook is fitted on, so it
    must cover the whole text, not its shortest passages; after it each batch holds texts of similar
    length (less padding).
    """
    by_id = sorted(fresh, key=lambda c: c.chunk_id)
    step = max(1, len(by_id) // first)
    sample = by_id[::step][:first]
    taken = {c.chunk_id for c in sample}
    rest = sorted((c for c in fresh if c.chunk_id not in taken), key=lambda c: (len(texts[c.chunk_id]), c.chunk_id))
    return sample + rest


def embed_fresh(
    store: ChunkStore,
    generation: Generation,
    fresh: list[Chunk],
    sink: TokenSink | None,
    settings: Settings,
    progress: bool,
) -> tuple[int, bool]:
    """Embed and write the new chunks a batch at a time: nothing of a batch is kept once it is written.

    Returns how many chunks were embedded and whether token vectors were written (False when the
    embedder turned out to give none).
    """
    from tqdm import tqdm

    embedder = store.embedder
    texts = {c.chunk_id: embedding_text(c) for c in fresh}
    batch_size = settings.embed_batch_size
    order = _embedding_order(fresh, texts, _BASIS_SAMPLE)
    with_tokens = sink is not None
    embedded = 0
    bar = tqdm(total=len(order), desc="embedding", unit="chunk", disable=not progress, leave=False)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        batch_texts = [texts.pop(c.chunk_id) for c in batch]
        if with_tokens:
            try:
                vectors, matrices = embedder.embed_with_tokens(batch_texts)
                assert sink is not None
                sink.add([c.chunk_id for c in batch], matrices)
            except NotImplementedError:
                with_tokens = False
                if sink is not None:
                    sink.abandon()
                vectors = embedder.embed_documents(batch_texts)
        else:
            vectors = embedder.embed_documents(batch_texts)
        store.write(generation, batch, list(vectors))
        embedded += len(batch)
        bar.update(len(batch))
    bar.close()
    return embedded, with_tokens


class TokenSink:
    """A generation's token vectors, written to disk as they come (never all held in memory).

    Carried chunks keep their stored rows (and the codebook they were encoded with: basis, centroids,
    buckets). A generation with no earlier rows to follow fits its codebook on the first _BASIS_SAMPLE
    new chunks (the spread sample), held until then (about 20 MB), then written like the rest.
    """

    def __init__(self, directory: Path, embedder: str, old: TokenVectors | None):
        self.directory, self.embedder, self.old = directory, embedder, old
        self.writer: TokenWriter | None = None
        self.carried: list[str] = []
        self.waiting: list[tuple[str, np.ndarray]] = []

    def carry(self, chunk_ids: list[str]) -> None:
        self.carried = chunk_ids
        if self.old is not None and self.old.basis is not None:
            self._open(self.old.codebook, self.old.source_dims)

    def _open(self, codebook: Codebook | None, dims: int) -> TokenWriter:
        self.writer = TokenWriter(self.directory, self.embedder, dims, codebook)
        if self.old is not None and self.carried:
            self.old.copy_to(self.writer, self.carried)
        return self.writer

    def add(self, chunk_ids: list[str], matrices: Sequence[np.ndarray]) -> None:
        if self.writer is None:
            self.waiting.extend(zip(chunk_ids, matrices, strict=True))
            if len(self.waiting) >= _BASIS_SAMPLE:
                self._flush()
            return
        for chunk_id, matrix in zip(chunk_ids, matrices, strict=True):
            self.writer.add(chunk_id, matrix)

    def _flush(self) -> None:
        """Fit the codebook on the chunks held, open the writer and write them."""
        rows = [np.asarray(m, dtype=np.float32) for _, m in self.waiting if len(m)]
        dims = rows[0].shape[1] if rows else (self.old.source_dims if self.old else 0)
        writer = self._open(fit_tokens_codebook(rows, self.old.codebook if self.old else None), dims)
        for chunk_id, matrix in self.waiting:
            writer.add(chunk_id, matrix)
        self.waiting = []

    def abandon(self) -> None:
        if self.writer is not None:
            self.writer.abandon()
        self.writer, self.waiting = None, []

    def close(self) -> None:
        if self.writer is None and self.waiting:
            self._flush()
        writer = self.writer
        if writer is None:  # nothing new was embedded: only carried rows (kept as they were stored)
            if self.old is None:
                return
            writer = self._open(self.old.codebook, self.old.source_dims)
        writer.close()


def build_units(
    store: ChunkStore, generation: Generation, chunks: list[Chunk], lexical: LexicalIndex, current: Generation | None
) -> None:
    """Embed every evidence unit once, so answering encodes only the question (unchanged units keep their vector).

    The vectors go to disk a window at a time as they are embedded (never all held)."""
    previous = UnitIndex.load(current.state_dir / "units") if current else None
    embedder = store.embedder
    version = getattr(embedder, "version", "")
    written = UnitIndex.write(generation.state_dir / "units", chunks, embedder.embed_documents, version, previous)
    prepare_ranker(written, lexical, generation.state_dir / "ranker")
