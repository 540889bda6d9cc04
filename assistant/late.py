"""Late interaction over MiniLM's own token vectors: stored per chunk at ingest, MaxSim at query time.

ColBERT-style scoring (each question token takes its best match among a passage's tokens, averaged)
re-ranks the hybrid list and tells in-scope from out-of-scope questions better than one cosine,
with the model we already have. No library stores token vectors next to Chroma for a
sentence-transformers model, so they are kept here: every chunk's token rows in one compact matrix
(`assistant.matrices`: projected onto 192 directions fitted at ingest and re-normalised, see
TOKEN_DIMS, then residual-coded: a centroid id and 2 bits a dimension, 50 bytes a token instead of
196 as int8 or 768 as float16), and an index of row ranges by chunk id.
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
from assistant.matrices import fit_basis
from assistant.residual import Codebook, ResidualMatrix, ResidualWriter, fit_codebook
from assistant.types import Chunk

# 4: residual-coded (3: int8 projected to 192 directions, re-normalised; 2: int8 at 384; 1: float16)
TOKENS_VERSION = "maxsim-r2c256p192n/4"
# Directions the token rows are projected onto at ingest (None keeps all of the model's), re-normalised
# after projection so MaxSim stays a cosine. Chosen on the training questions only (evals/train.jsonl:
# bench/token_options.py for retrieval, evals/sets.py's train/dev splits after refitting the ranker):
# 192 re-normalised kept hit@5 and MRR of both splits within 0.01 of full-size int8 rows (train
# -0.002 / +0.007, dev -0.009 / +0.002) at 38 KB a chunk instead of 74 KB; 128 re-normalised (25 KB)
# lost 0.018 hit@5 on the dev split, and unnormalised projections lost MRR. The answer ranker, whose
# features include these scores, is refitted on vectors made this way (evals/train_ranker.py).
TOKEN_DIMS: int | None = 192
TOKEN_RENORMALISE = True
# Residual compression of the projected rows (issue 19, ColBERTv2's scheme; TOKENS_VERSION 4): each
# token is the id of its nearest of TOKEN_CENTROIDS k-means centroids (uint16) and its residual at
# TOKEN_BITS a dimension, fitted on the same spread sample as the basis; decoded rows re-normalised.
# Chosen on the training questions (bench/token_options.py, bench/results/token_options-residual-train.txt):
# 256 centroids, 2 bits, re-normalised kept train hit@5 / MRR within 0.01 of int8 (-0.002 / -0.005) and
# dev MRR (+0.006), dev hit@5 -0.025 (3 of 117 questions, as for every residual variant measured, even
# 4 bits at 160 dims), at 10.4 KB a chunk instead of 38; 1,024 or 4,096 centroids were no better
# beyond that noise (4,096: 13.7 KB), 1 bit lost 0.014 train MRR, un-normalised decoding lost MRR.
TOKEN_CENTROIDS = 256
TOKEN_BITS = 2
TOKEN_DECODED_RENORMALISE = True
_MATRIX = "rows"


class TokenVectors:
    """Token matrices (rows L2-normalised before projection) by chunk id, in one memory-mapped matrix."""

    def __init__(self, matrix: ResidualMatrix, ranges: dict[str, tuple[int, int]], embedder: str = ""):
        self._matrix = matrix
        self._ranges = ranges
        self.embedder = embedder

    @property
    def basis(self) -> np.ndarray | None:
        """The projection the rows were stored with (reused for chunks carried into a new generation)."""
        return self._matrix.basis

    @property
    def codebook(self) -> Codebook | None:
        """What the rows were encoded with (carried, with the basis, into a new generation)."""
        return self._matrix.codebook

    @property
    def normalised(self) -> bool:
        """Whether projected rows (and so projected queries) are re-normalised to unit length."""
        return self._matrix.normalised

    @property
    def source_dims(self) -> int:
        """The model's dimensions (before any projection)."""
        return self._matrix.source_dims

    def __len__(self) -> int:
        return len(self._ranges)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._ranges

    def span(self, chunk_id: str) -> tuple[int, int] | None:
        return self._ranges.get(chunk_id)

    def get(self, chunk_id: str) -> np.ndarray | None:
        """The chunk's token rows as stored (projected, dequantised float32), or None when it has none."""
        span = self._ranges.get(chunk_id)
        return None if span is None else self._matrix.rows(*span)

    def project(self, query: np.ndarray) -> np.ndarray:
        """Query token rows in the stored space (once per question)."""
        return self._matrix.project(query)

    def best(self, projected: np.ndarray, chunk_id: str) -> np.ndarray | None:
        """Each projected query token's best dot product with the chunk's tokens (None: no vectors)."""
        span = self._ranges.get(chunk_id)
        if span is None or span[1] <= span[0] or len(projected) == 0:
            return None
        return self._matrix.dot(projected, *span).max(axis=1)

    def copy_to(self, writer: TokenWriter, chunk_ids: Iterable[str], batch: int = 256) -> None:
        """Append these chunks' stored rows to `writer`, a bounded batch at a time.

        Rows go as they are stored when the writer has the same codebook; rows stored unprojected are
        decoded and encoded again with the writer's (a small first index, grown large enough to fit a
        basis). Projected rows only ever travel with their own codebook.
        """
        ids = [cid for cid in chunk_ids if cid in self._ranges]
        book = self.codebook
        same = book is None or (writer.codebook is not None and writer.codebook.same(book))
        if not same and self.basis is not None:
            raise ValueError("rows encoded with one codebook cannot be carried to another")
        for i in range(0, len(ids), batch):
            part = ids[i : i + batch]
            centroids, codes = self._matrix.spans(self._ranges[cid] for cid in part)
            at = 0
            for cid in part:
                a, b = self._ranges[cid]
                if book is None:  # an empty matrix: no rows to copy
                    writer.add(cid, np.zeros((0, writer.source_dims), dtype=np.float32))
                elif same:
                    writer.add_codes(cid, centroids[at : at + b - a], codes[at : at + b - a])
                else:
                    writer.add(cid, book.decode(centroids[at : at + b - a], codes[at : at + b - a]))
                at += b - a

    @classmethod
    def load(cls, directory: Path) -> TokenVectors | None:
        """The saved vectors (memory-mapped), or None when missing, unfinished, unreadable or of another version."""
        try:
            meta = json.loads((directory / "index.json").read_text(encoding="utf-8"))
            if meta.get("version") != TOKENS_VERSION:
                return None
            ranges = {k: (int(a), int(b)) for k, (a, b) in meta["ranges"].items()}
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            return None
        matrix = ResidualMatrix.load(directory, _MATRIX)
        if matrix is None or any(b > len(matrix) for _, b in ranges.values()):
            return None
        return cls(matrix, ranges, str(meta.get("embedder", "")))


def fit_tokens_basis(rows: Sequence[np.ndarray]) -> np.ndarray | None:
    """The projection for new token vectors, fitted on `rows` (None: rows kept at the model's dimensions)."""
    rows = [r for r in rows if len(r)]
    return fit_basis(np.concatenate(rows), TOKEN_DIMS) if rows and TOKEN_DIMS else None


def fit_tokens_codebook(rows: Sequence[np.ndarray], carried: Codebook | None = None) -> Codebook | None:
    """The codebook new token rows are encoded with: `carried`'s when it has a basis, else fitted on `rows`.

    As the basis always was: a codebook on a basis travels from generation to generation, so carried
    rows are copied as stored. One without a basis (a model of few dimensions, or a first index too
    small to fit one) is kept too unless `rows` now fit a basis. None: no rows and nothing carried.
    """
    if carried is not None and carried.basis is not None:
        return carried
    rows = [np.asarray(r, dtype=np.float32) for r in rows if len(r)]
    if not rows:
        return carried
    sample = np.concatenate(rows)
    basis = fit_basis(sample, TOKEN_DIMS) if TOKEN_DIMS else None
    if carried is not None and basis is None:
        return carried
    return fit_codebook(sample, basis, TOKEN_CENTROIDS, TOKEN_BITS, TOKEN_RENORMALISE, TOKEN_DECODED_RENORMALISE)


class TokenWriter:
    """Token vectors written chunk by chunk straight to `directory` (a generation being built).

    Holds no rows: each chunk's matrix goes to disk as it is added. `close()` writes the index of row
    ranges last, so a folder whose writer never closed does not load.
    """

    def __init__(self, directory: Path, embedder: str, source_dims: int, codebook: Codebook | None):
        self.directory = directory
        self.embedder = embedder
        self.source_dims = source_dims
        self._matrix = ResidualWriter(directory, _MATRIX, source_dims, codebook)
        self._ranges: dict[str, tuple[int, int]] = {}

    @property
    def codebook(self) -> Codebook | None:
        return self._matrix.codebook

    @property
    def basis(self) -> np.ndarray | None:
        return self._matrix.basis

    @property
    def normalised(self) -> bool:
        return self._matrix.normalised

    def abandon(self) -> None:
        """Stop without a header: the folder's rows never load."""
        self._matrix.abandon()

    def add(self, chunk_id: str, rows: np.ndarray) -> None:
        self._ranges[chunk_id] = self._matrix.append(rows)

    def add_codes(self, chunk_id: str, centroids: np.ndarray, codes: np.ndarray) -> None:
        """Rows encoded already with this writer's codebook (centroid ids, packed residual codes)."""
        self._ranges[chunk_id] = self._matrix.append_codes(centroids, codes)

    def close(self) -> TokenVectors:
        """Finish the files; the vectors, memory-mapped."""
        self._matrix.close()
        meta = {"version": TOKENS_VERSION, "embedder": self.embedder, "ranges": self._ranges}
        (self.directory / "index.json").write_text(json.dumps(meta), encoding="utf-8")
        loaded = TokenVectors.load(self.directory)
        assert loaded is not None
        return loaded


def write_tokens(
    directory: Path,
    embedder: str,
    fresh: Mapping[str, np.ndarray],
    carried: TokenVectors | None = None,
    keep: Iterable[str] = (),
) -> TokenVectors:
    """Write a tokens folder atomically: `keep`'s rows copied from `carried`, `fresh`'s quantised.

    The codebook (basis, centroids, buckets) is `carried`'s (so copied rows stay comparable), else
    fitted to `fresh` (`fit_tokens_codebook`). A crash leaves the previous folder, never half of a new one.
    """
    rows = [np.asarray(m, dtype=np.float32) for m in fresh.values() if len(m)]
    dims = carried.source_dims if carried is not None else (rows[0].shape[1] if rows else 0)
    codebook = fit_tokens_codebook(rows, carried.codebook if carried is not None else None)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tokens-", dir=directory.parent))
    try:
        writer = TokenWriter(staging, embedder, dims, codebook)
        if carried is not None:
            carried.copy_to(writer, keep)
        for chunk_id in sorted(fresh):
            writer.add(chunk_id, fresh[chunk_id])
        writer.close()
        replace_directory(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    loaded = TokenVectors.load(directory)
    assert loaded is not None
    return loaded


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
                fresh: dict[str, np.ndarray] = {}
                for start in range(0, len(missing), 64):
                    batch = missing[start : start + 64]
                    _, tokens = embedder.embed_with_tokens([c.embedding_text() for c in batch])
                    fresh.update({c.chunk_id: t for c, t in zip(batch, tokens, strict=True)})
                keep = [c.chunk_id for c in chunks if loaded is not None and c.chunk_id in loaded]
                version = getattr(embedder, "version", "")
                try:
                    vectors = write_tokens(directory, version, fresh, loaded, keep)
                except OSError:  # a read-only index still answers; the vectors are rebuilt next time
                    elsewhere = Path(tempfile.mkdtemp(prefix="tokens-")) / "tokens"
                    vectors = write_tokens(elsewhere, version, fresh, loaded, keep)
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

    def project(self, query: np.ndarray) -> np.ndarray:
        """The question's token rows in the stored vectors' space: once per question, before `score`."""
        return self.vectors.project(query)

    def score(self, projected: np.ndarray, weights: np.ndarray, chunk_id: str) -> float:
        """IDF-weighted MaxSim of the (projected) query tokens against one chunk (0 without vectors)."""
        best = self.vectors.best(projected, chunk_id)
        if best is None:
            return 0.0
        total = float(weights.sum()) or 1.0
        return float((best * weights).sum() / total)
