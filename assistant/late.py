"""Late interaction over MiniLM's own token vectors: stored per chunk at ingest, MaxSim at query time.

ColBERT-style scoring (each question token takes its best match among a passage's tokens, averaged)
re-ranks the hybrid list and tells in-scope from out-of-scope questions better than one cosine,
with the model we already have. No library stores token vectors next to Chroma for a
sentence-transformers model, so this small file format is written here: one float16 matrix of
every chunk's token rows, and an index of row ranges by chunk id.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

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
            old = directory.with_name(directory.name + ".old")
            if directory.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(directory, old)
            os.replace(staging, directory)
            shutil.rmtree(old, ignore_errors=True)
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
        except (OSError, ValueError, KeyError):
            return None
        ranges = {k: (int(a), int(b)) for k, (a, b) in meta["ranges"].items()}
        return cls(matrix, ranges, str(meta.get("embedder", "")))


def maxsim(query: np.ndarray, document: np.ndarray) -> float:
    """Mean over the query's tokens of their best cosine with any document token."""
    if len(query) == 0 or len(document) == 0:
        return 0.0
    similarity = np.asarray(query, dtype=np.float32) @ np.asarray(document, dtype=np.float32).T
    return float(similarity.max(axis=1).mean())
