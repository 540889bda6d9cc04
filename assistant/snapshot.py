"""One generation of the index as a reader holds it: its chunks and their unit vectors, in memory.

Search over it is exact cosine similarity with ties broken by chunk id, so the same question gives
the same passages in every process, thread and run (Chroma's HNSW is approximate, and its answers
can change with the order records were written in).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.types import Chunk

# Above this many chunks the in-memory matrix gets large; search then asks Chroma's HNSW instead.
EXACT_LIMIT = 50_000
ROUND = 9  # similarities equal to 9 places are ties, broken by chunk id (float noise must not reorder)


@dataclass(frozen=True)
class Generation:
    """One complete build of the index: a Chroma collection and a folder of derived files (BM25, tokens)."""

    id: str
    collection: str
    state_dir: Path
    files: str | None = None  # sha256 of its folder's list of files (integrity.py); None: published unlisted


@dataclass(frozen=True)
class Record:
    """A stored chunk with its vector (what an ingest carries over into the next generation)."""

    chunk: Chunk
    vector: np.ndarray


@dataclass(frozen=True)
class Snapshot:
    """A generation's chunks sorted by id, and (up to EXACT_LIMIT of them) their unit vectors as one matrix."""

    generation: Generation
    chunks: list[Chunk]
    by_id: dict[str, Chunk]
    reports: np.ndarray
    matrix: np.ndarray | None  # None above EXACT_LIMIT

    @classmethod
    def build(cls, generation: Generation, records: Iterable[Record]) -> Snapshot:
        """From a generation's records (any order)."""
        ordered = sorted(records, key=lambda r: r.chunk.chunk_id)
        vectors = np.vstack([r.vector for r in ordered]) if 0 < len(ordered) <= EXACT_LIMIT else None
        return cls.from_rows(generation, [r.chunk for r in ordered], vectors)

    @classmethod
    def from_rows(cls, generation: Generation, chunks: list[Chunk], vectors: np.ndarray | None) -> Snapshot:
        """From chunks sorted by id and their vectors row for row (float32, possibly memory-mapped).

        `vectors` is only read up to EXACT_LIMIT chunks; Snapshot.build and the generation's own files
        both come here, so a snapshot is the same bit for bit whichever way it was read.
        """
        matrix = None
        if vectors is not None and 0 < len(chunks) <= EXACT_LIMIT:
            matrix = np.asarray(vectors, dtype=np.float32).astype(np.float64)
            matrix /= np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)
        return cls(
            generation=generation,
            chunks=chunks,
            by_id={c.chunk_id: c for c in chunks},
            reports=np.array([c.report for c in chunks]),
            matrix=matrix,
        )

    def search(
        self, vector: Sequence[float], k: int, reports: Sequence[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The `k` chunks nearest to `vector` (cosine), optionally only from `reports`; needs the matrix."""
        assert self.matrix is not None, "no in-memory matrix above EXACT_LIMIT"
        query = np.asarray(vector, dtype=np.float64)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        similarity = np.round(self.matrix @ query, ROUND)
        rows = np.arange(len(self.chunks))
        if reports:
            rows = rows[np.isin(self.reports, list(reports))]
        # Rows are in chunk-id order, so a stable sort breaks ties by id.
        order = rows[np.argsort(-similarity[rows], kind="stable")][: max(1, k)]
        return [(self.chunks[i], float(similarity[i])) for i in order]
