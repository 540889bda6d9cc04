"""Late interaction over MiniLM's own token vectors: stored per chunk at ingest, MaxSim at query time.

ColBERT-style scoring (each question token takes its best match among a passage's tokens, averaged)
re-ranks the hybrid list and tells in-scope from out-of-scope questions better than one cosine,
with the model we already have. No library stores token vectors next to Chroma for a
sentence-transformers model, so this small file format is written here: one float16 matrix of
every chunk's token rows, and an index of row ranges by chunk id.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.atomic import replace_directory
from assistant.types import Chunk

TOKENS_VERSION = "maxsim-f16/1"


class TokenVectors:
    """Token matrices (rows L2-normalised) by chunk id, saved as one float16 array."""

    def __init__(self, matrix: np.ndarray, ranges: dict[str, tuple[int, int]], embedder: str = ""):
        self._matrix = matrix
        self._ranges = ranges
        self.embedder = embedder

    @classmethod
    def build(cls, mapping: Mapping[str, np.ndarray], embedder: str = "") -> TokenVectors:
        """From chunk id -> (tokens x dims) matrices."""
        ranges: dict[str, tuple[int, int]] = {}
        parts: list[np.ndarray] = []
        row = 0
        for chunk_id in sorted(mapping):
            rows = np.asarray(mapping[chunk_id], dtype=np.float16)
            ranges[chunk_id] = (row, row + len(rows))
            parts.append(rows)
            row += len(rows)
        dims = parts[0].shape[1] if parts else 0
        matrix = np.concatenate(parts) if parts else np.zeros((0, dims), dtype=np.float16)
        return cls(matrix, ranges, embedder)

    def __len__(self) -> int:
        return len(self._ranges)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._ranges

    def get(self, chunk_id: str) -> np.ndarray | None:
        """The chunk's token rows (float16), or None when it has none."""
        span = self._ranges.get(chunk_id)
        return None if span is None else self._matrix[span[0] : span[1]]

    def subset(self, chunk_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """The matrices of those chunks that have one (to carry unchanged chunks into a new index)."""
        return {cid: m for cid in chunk_ids if (m := self.get(cid)) is not None}

    def save(self, directory: Path) -> None:
        """Write atomically: a crash leaves the previous files, never half of new ones."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tokens-", dir=directory.parent))
        try:
            np.save(staging / "vectors.npy", self._matrix)
            meta = {"version": TOKENS_VERSION, "embedder": self.embedder, "ranges": self._ranges}
            (staging / "index.json").write_text(json.dumps(meta), encoding="utf-8")
            replace_directory(staging, directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> TokenVectors | None:
        """The saved vectors (memory-mapped), or None when missing, unreadable or of another version."""
        try:
            meta = json.loads((directory / "index.json").read_text(encoding="utf-8"))
            if meta.get("version") != TOKENS_VERSION:
                return None
            matrix = np.load(directory / "vectors.npy", mmap_mode="r")
        except (OSError, ValueError, KeyError, EOFError):  # an emptied .npy raises EOFError
            return None
        ranges = {k: (int(a), int(b)) for k, (a, b) in meta["ranges"].items()}
        return cls(matrix, ranges, str(meta.get("embedder", "")))


class LateScorer:
    """IDF-weighted MaxSim of a question against chunks, over stored token vectors.

    Each question token's best cosine with the chunk's tokens is weighted by that word piece's inverse
    document frequency in the corpus, so "hybrid" in "hybrid working policies" counts for more than
    "working". On the eval and held-out sets this beat plain MaxSim (see README).
    """

    def __init__(self, vectors: TokenVectors, idf: dict[int, float], unseen_idf: float):
        self.vectors = vectors
        self.idf = idf
        self.unseen_idf = unseen_idf

    @classmethod
    def for_chunks(cls, chunks: Sequence[Chunk], embedder: Any, directory: Path) -> LateScorer | None:
        """The scorer for `chunks`: token vectors loaded from `directory`, completed (and saved) if some are missing.

        None when the embedder gives no token vectors (retrieval then ranks by dense + BM25 alone).
        """
        loaded = TokenVectors.load(directory)
        if loaded is not None and loaded.embedder and loaded.embedder != getattr(embedder, "version", ""):
            loaded = None  # made by another model: its vectors do not compare with this one's
        missing = [c for c in chunks if loaded is None or c.chunk_id not in loaded]
        vectors = loaded
        try:
            if missing:
                have = loaded.subset(c.chunk_id for c in chunks) if loaded is not None else {}
                for start in range(0, len(missing), 64):
                    batch = missing[start : start + 64]
                    _, tokens = embedder.embed_with_tokens([c.embedding_text() for c in batch])
                    have.update({c.chunk_id: t for c, t in zip(batch, tokens, strict=True)})
                vectors = TokenVectors.build(have, getattr(embedder, "version", ""))
                try:
                    vectors.save(directory)
                except OSError:
                    pass  # a read-only index still answers; the vectors are rebuilt next time
            frequency: dict[int, int] = {}
            for chunk in chunks:
                for piece in set(embedder.token_ids(chunk.text)):
                    frequency[piece] = frequency.get(piece, 0) + 1
        except NotImplementedError:
            return None
        total = max(1, len(chunks))
        idf = {piece: math.log(1 + total / (df + 0.5)) for piece, df in frequency.items()}
        return cls(vectors, idf, math.log(1 + total / 0.5))

    def weights(self, ids: Sequence[int]) -> np.ndarray:
        """Each query word piece's weight: its IDF in the corpus (unseen pieces weigh the most)."""
        return np.asarray([self.idf.get(i, self.unseen_idf) for i in ids], dtype=np.float32)

    def score(self, query: np.ndarray, weights: np.ndarray, chunk_id: str) -> float:
        """IDF-weighted MaxSim of the query's tokens against one chunk (0 for a chunk without vectors)."""
        document = self.vectors.get(chunk_id)
        if document is None or len(query) == 0 or len(document) == 0:
            return 0.0
        best = (np.asarray(query, dtype=np.float32) @ np.asarray(document, dtype=np.float32).T).max(axis=1)
        total = float(weights.sum()) or 1.0
        return float((best * weights).sum() / total)
