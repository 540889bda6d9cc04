"""Residual-coded, memory-mapped matrices (token vectors, issue 19): a centroid id and a few bits a dimension per row.

Token vectors go one step further (`Codebook`, `ResidualWriter`, `ResidualMatrix`; issue 19): after
the projection each row is the id of its nearest k-means centroid and its residual at a few bits a
dimension, ColBERTv2's residual compression, 50 bytes a token at 2 bits x 192 instead of 196:

    <name>.ids     uint16, one centroid id per row (raw bytes)
    <name>.codes   uint8, rows x ceil(dims * bits / 8), packed bucket numbers (raw bytes)
    <name>.basis.npy  float32, source_dims x dims (only when projected)
    <name>.centroids.npy  float16, centroids x dims
    <name>.buckets.npy    float32, 2 x dims x 2**bits: bucket cutoffs, decoded values
    <name>.json    {"format", "rows", "source_dims", "coded", "dims", "projected", "normalised", "bits",
                    "centroids", "renormalise_decoded"}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from assistant.matrices import SAMPLE_ROWS, map_raw, project

RESIDUAL_FORMAT = "residual-rows/1"
_KMEANS_SEED = 0


class Codebook:
    """What a residual matrix is encoded with, fitted once on a sample and carried with the rows.

    A row (projected onto `basis` and re-normalised, as `project` does) is stored as the id of its
    nearest centroid (uint16) and its residual from that centroid at `bits` a dimension: each
    dimension's value falls in one of 2**bits buckets cut at quantiles of the sample's residuals, and
    is decoded to the mean of the sample's residuals in that bucket (ColBERTv2's residual compression).
    """

    def __init__(
        self,
        basis: np.ndarray | None,
        centroids: np.ndarray,
        buckets: np.ndarray,
        normalised: bool,
        bits: int,
        renormalise_decoded: bool = False,
    ):
        self.basis = None if basis is None else np.ascontiguousarray(basis, dtype=np.float32)
        # float16 centroids: half the bytes, their error far below a bucket's width.
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float16)
        # 2 x dims x 2**bits: each dimension's bucket cutoffs (the last one +inf), then its decoded values.
        self.buckets = np.ascontiguousarray(buckets, dtype=np.float32)
        self.normalised = normalised and self.basis is not None
        self.bits = int(bits)
        self.renormalise_decoded = renormalise_decoded
        self.dims = int(self.centroids.shape[1])
        if self.bits not in (1, 2, 4, 8) or self.buckets.shape != (2, self.dims, 2**self.bits):
            raise ValueError("a codebook's buckets do not match its bits and dimensions")
        if len(self.centroids) > 65536:
            raise ValueError("more centroids than a uint16 id can name")
        self._per_byte = 8 // self.bits
        self.code_bytes = -(-self.dims // self._per_byte)
        self._centres = self.centroids.astype(np.float32)
        self._table = self._byte_table()
        self._flat = self._table.reshape(-1, self._per_byte)
        self._offsets = (np.arange(self.code_bytes) * 256).astype(np.intp)

    def _byte_table(self) -> np.ndarray:
        """(code_bytes, 256, values a byte holds): each byte value's decoded residuals, per byte position."""
        per, bits = self._per_byte, self.bits
        values = np.zeros((self.code_bytes * per, 2**bits), dtype=np.float32)
        values[: self.dims] = self.buckets[1]
        byte = np.arange(256)
        # The first dimension of a byte sits in its highest bits.
        parts = np.stack([(byte >> (bits * (per - 1 - i))) & (2**bits - 1) for i in range(per)], axis=1)  # 256 x per
        values = values.reshape(self.code_bytes, per, 2**bits)
        return np.ascontiguousarray(
            np.stack([values[:, i, :][:, parts[:, i]] for i in range(per)], axis=2), dtype=np.float32
        )

    def same(self, other: Codebook | None) -> bool:
        """Whether rows encoded with `other` decode the same way with this one."""
        if other is None:
            return False
        if other is self:
            return True
        if (self.basis is None) != (other.basis is None) or (
            self.basis is not None and not np.array_equal(self.basis, other.basis)
        ):
            return False
        return (
            self.normalised == other.normalised
            and self.bits == other.bits
            and self.renormalise_decoded == other.renormalise_decoded
            and np.array_equal(self.centroids, other.centroids)
            and np.array_equal(self.buckets, other.buckets)
        )

    def project(self, rows: np.ndarray) -> np.ndarray:
        return project(rows, self.basis, self.normalised)

    def nearest(self, projected: np.ndarray) -> np.ndarray:
        """Each projected row's nearest centroid (L2, as k-means fits them), in bounded blocks."""
        half_norms = 0.5 * (self._centres**2).sum(axis=1)
        ids = np.empty(len(projected), dtype=np.uint16)
        for start in range(0, len(projected), 2048):
            block = projected[start : start + 2048]
            ids[start : start + len(block)] = (block @ self._centres.T - half_norms).argmax(axis=1)
        return ids

    def encode(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(centroid ids uint16, packed residual codes uint8 n x code_bytes) of source rows."""
        projected = self.project(np.asarray(rows, dtype=np.float32).reshape(-1, self.source_dims))
        return self.encode_projected(projected)

    @property
    def source_dims(self) -> int:
        return self.dims if self.basis is None else int(self.basis.shape[0])

    def encode_projected(self, projected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = self.nearest(projected)
        residuals = projected - self._centres[ids]
        levels = (residuals[:, :, None] > self.buckets[0][None, :, :-1]).sum(axis=2).astype(np.uint8)
        padded = np.zeros((len(levels), self.code_bytes * self._per_byte), dtype=np.uint8)
        padded[:, : self.dims] = levels
        padded = padded.reshape(len(levels), self.code_bytes, self._per_byte)
        codes = np.zeros((len(levels), self.code_bytes), dtype=np.uint8)
        for i in range(self._per_byte):
            codes |= padded[:, :, i] << (self.bits * (self._per_byte - 1 - i))
        return ids, codes

    def decode(self, ids: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Rows (n x dims float32) back from their centroid ids and codes: two table look-ups and a sum."""
        codes = np.asarray(codes)
        # take() on a flat table: about 2.5x faster than indexing the 3-d table with two index arrays.
        residuals = self._flat.take(codes.astype(np.intp) + self._offsets, axis=0).reshape(len(codes), -1)
        rows = self._centres.take(np.asarray(ids, dtype=np.intp), axis=0)
        rows += residuals[:, : self.dims]
        if self.renormalise_decoded and len(rows):
            rows /= np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)
        return rows

    def save(self, directory: Path, name: str) -> None:
        if self.basis is not None:
            np.save(directory / f"{name}.basis.npy", self.basis)
        np.save(directory / f"{name}.centroids.npy", self.centroids)
        np.save(directory / f"{name}.buckets.npy", self.buckets)

    @classmethod
    def load(cls, directory: Path, name: str, meta: dict) -> Codebook:
        basis = np.load(directory / f"{name}.basis.npy") if meta.get("projected") else None
        centroids = np.load(directory / f"{name}.centroids.npy")
        buckets = np.load(directory / f"{name}.buckets.npy")
        codebook = cls(
            basis, centroids, buckets, bool(meta["normalised"]), int(meta["bits"]), bool(meta["renormalise_decoded"])
        )
        if codebook.source_dims != int(meta["source_dims"]) or codebook.dims != int(meta["dims"]):
            raise ValueError("the codebook does not match the matrix's dimensions")
        if len(centroids) != int(meta["centroids"]) or not np.isfinite(centroids).all():
            raise ValueError("damaged centroids")
        if not np.isfinite(buckets[1]).all():
            raise ValueError("damaged buckets")
        return codebook


def _kmeans(rows: np.ndarray, k: int, seed: int, passes: int = 60) -> np.ndarray:
    """k centres of `rows`: k-means++ seeding, then Lloyd passes until none moves (an empty cluster keeps
    its centre). About 1.5 s for 256 centres on 11,000 rows.

    By hand rather than scikit-learn's KMeans (the same algorithm): importing scikit-learn and scipy
    costs an ingest 166 MB of resident memory (issue 19's 1.5 GB budget). k-means++ over random
    starting rows was chosen on the dev split (dev lead answers 0.504 against 0.479).
    """
    rows = np.asarray(rows, dtype=np.float32)
    rng = np.random.default_rng(seed)
    norms = np.einsum("ij,ij->i", rows, rows)
    # k-means++ seeding: each next centre drawn with probability proportional to its squared distance
    chosen = [int(rng.integers(len(rows)))]
    closest = np.maximum(norms - 2.0 * rows @ rows[chosen[0]] + norms[chosen[0]], 0.0)
    for _ in range(1, k):
        total = float(closest.sum())
        pick = int(rng.choice(len(rows), p=closest / total)) if total > 0 else int(rng.integers(len(rows)))
        chosen.append(pick)
        closest = np.minimum(closest, np.maximum(norms - 2.0 * rows @ rows[pick] + norms[pick], 0.0))
    centres = rows[chosen].copy()
    for _ in range(passes):
        distance = norms[:, None] - 2.0 * (rows @ centres.T) + np.einsum("ij,ij->i", centres, centres)[None, :]
        nearest = distance.argmin(axis=1)
        counts = np.bincount(nearest, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, nearest, rows)
        moved = centres.copy()
        filled = counts > 0
        moved[filled] = sums[filled] / counts[filled, None]
        if np.array_equal(moved, centres):
            break
        centres = moved
    return centres


def fit_codebook(
    sample: np.ndarray,
    basis: np.ndarray | None,
    centroids: int,
    bits: int,
    normalise: bool = True,
    renormalise_decoded: bool = False,
) -> Codebook | None:
    """A codebook fitted on `sample` (source rows): k-means centroids, then residual buckets; None without rows.

    Seeded and on a fixed sample, so the same rows give the same bytes. At most one centroid per sample row.
    """
    sample = np.asarray(sample, dtype=np.float32)
    if sample.ndim != 2 or len(sample) == 0:
        return None
    if len(sample) > SAMPLE_ROWS:  # an even stride, as for the basis
        sample = sample[np.linspace(0, len(sample) - 1, SAMPLE_ROWS).astype(int)]
    projected = project(sample, basis, normalise and basis is not None)
    # Every tenth row is held out of k-means and sets the buckets (as ColBERTv2 does): residuals of rows
    # the centroids were fitted on are smaller than those of the rows to come, so buckets cut on them
    # would be too narrow.
    held = np.arange(len(projected)) % 10 == 9 if len(projected) >= 20 else np.ones(len(projected), dtype=bool)
    fitted = projected[~held] if (~held).any() else projected
    distinct = np.unique(fitted, axis=0)  # sorted: k-means needs no more centres than distinct rows
    k = max(1, min(int(centroids), len(distinct)))
    if k == len(distinct):
        centres = distinct
    else:
        centres = _kmeans(fitted, k, _KMEANS_SEED)
    levels = 2**bits
    dims = projected.shape[1]
    draft = Codebook(basis, centres, np.zeros((2, dims, levels), np.float32), normalise, bits)
    residuals = projected[held] - draft._centres[draft.nearest(projected[held])]
    buckets = np.empty((2, dims, levels), dtype=np.float32)
    buckets[0, :, :-1] = np.quantile(residuals, np.arange(1, levels) / levels, axis=0).T  # equal-count buckets
    buckets[0, :, -1] = np.inf
    # Each bucket decodes to the mean of its held-out residuals (least squared error; its median if empty).
    where = (residuals[:, :, None] > buckets[0][None, :, :-1]).sum(axis=2)
    buckets[1] = np.quantile(residuals, (np.arange(levels) + 0.5) / levels, axis=0).T
    for level in range(levels):
        inside = where == level
        count = inside.sum(axis=0)
        total = np.where(inside, residuals, 0.0).sum(axis=0)
        buckets[1, :, level] = np.where(count > 0, total / np.maximum(count, 1), buckets[1, :, level])
    return Codebook(basis, draft.centroids, buckets, normalise, bits, renormalise_decoded)


class ResidualWriter:
    """Append rows to `directory/<name>.*` encoded with `codebook`; `close()` makes the matrix loadable.

    Files: <name>.ids (uint16 a row), <name>.codes (uint8, code_bytes a row), the codebook's
    <name>.basis.npy (when projected), <name>.centroids.npy and <name>.buckets.npy, and <name>.json last.
    A writer without a codebook writes only an empty matrix.
    """

    def __init__(self, directory: Path, name: str, source_dims: int, codebook: Codebook | None):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.name = directory, name
        self.source_dims = source_dims
        self.codebook = codebook
        self.rows = 0
        self._ids = open(directory / f"{name}.ids", "wb")
        self._codes = open(directory / f"{name}.codes", "wb")

    @property
    def basis(self) -> np.ndarray | None:
        return None if self.codebook is None else self.codebook.basis

    @property
    def normalised(self) -> bool:
        return self.codebook is not None and self.codebook.normalised

    def append(self, rows: np.ndarray) -> tuple[int, int]:
        """Encode and write `rows` (n x source_dims); their (start, end) row span."""
        rows = np.asarray(rows, dtype=np.float32).reshape(-1, self.source_dims)
        if self.codebook is None:
            if len(rows):
                raise ValueError("rows cannot be written without a codebook")
            return self.rows, self.rows
        return self.append_codes(*self.codebook.encode(rows))

    def append_codes(self, ids: np.ndarray, codes: np.ndarray) -> tuple[int, int]:
        """Write rows encoded already with this codebook; their (start, end) row span."""
        width = 0 if self.codebook is None else self.codebook.code_bytes
        codes = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, width)
        self._ids.write(np.ascontiguousarray(ids, dtype=np.uint16).tobytes())
        self._codes.write(codes.tobytes())
        start, self.rows = self.rows, self.rows + len(codes)
        return start, self.rows

    def close(self) -> None:
        self._ids.close()
        self._codes.close()
        book = self.codebook
        if book is not None:
            book.save(self.directory, self.name)
        meta = {
            "format": RESIDUAL_FORMAT,
            "rows": self.rows,
            "source_dims": self.source_dims,
            "coded": book is not None,
        }
        if book is not None:
            meta.update(
                dims=book.dims,
                projected=book.basis is not None,
                normalised=book.normalised,
                bits=book.bits,
                centroids=len(book.centroids),
                renormalise_decoded=book.renormalise_decoded,
            )
        (self.directory / f"{self.name}.json").write_text(json.dumps(meta), encoding="utf-8")

    def abandon(self) -> None:
        self._ids.close()
        self._codes.close()

    def __enter__(self) -> ResidualWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.abandon()


class ResidualMatrix:
    """A finished residual matrix, memory-mapped: rows are decoded only when asked for.

    The same reading interface as `CompactMatrix` (project, dot, rows), so token vectors use either.
    """

    def __init__(self, ids: np.ndarray, codes: np.ndarray, codebook: Codebook | None, source_dims: int):
        self.ids, self.codes, self.codebook = ids, codes, codebook
        self.source_dims = source_dims

    @property
    def basis(self) -> np.ndarray | None:
        return None if self.codebook is None else self.codebook.basis

    @property
    def normalised(self) -> bool:
        return self.codebook is not None and self.codebook.normalised

    @property
    def dims(self) -> int:
        return self.source_dims if self.codebook is None else self.codebook.dims

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """Bytes of the rows and the codebook as stored."""
        book = self.codebook
        rows = int(self.ids.nbytes + self.codes.nbytes)
        if book is None:
            return rows
        return rows + book.centroids.nbytes + book.buckets.nbytes + (0 if book.basis is None else book.basis.nbytes)

    @classmethod
    def load(cls, directory: Path, name: str) -> ResidualMatrix | None:
        """The matrix `directory/<name>.*`, memory-mapped; None when missing, unfinished or unreadable."""
        try:
            meta = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
            if meta.get("format") != RESIDUAL_FORMAT:
                return None
            rows, source_dims = int(meta["rows"]), int(meta["source_dims"])
            codebook = Codebook.load(directory, name, meta) if meta.get("coded") else None
            if codebook is None and rows:
                return None
            width = 0 if codebook is None else codebook.code_bytes
            ids = map_raw(directory / f"{name}.ids", np.uint16, (rows,))
            codes = map_raw(directory / f"{name}.codes", np.uint8, (rows, width))
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            return None
        return cls(ids, codes, codebook, source_dims)

    def project(self, queries: np.ndarray) -> np.ndarray:
        """Query rows (n x source_dims) in this matrix's space: once per question, not per row."""
        if self.codebook is None:
            return np.asarray(queries, dtype=np.float32)
        return self.codebook.project(queries)

    def rows(self, start: int, end: int) -> np.ndarray:
        """Rows [start, end) decoded (float32, in the projected space when there is a basis)."""
        if self.codebook is None or end <= start:
            return np.zeros((0, self.dims), dtype=np.float32)
        return self.codebook.decode(self.ids[start:end], self.codes[start:end])

    def dot(self, projected: np.ndarray, start: int, end: int) -> np.ndarray:
        """Dot products (n x rows) of projected query rows with rows [start, end)."""
        return projected @ self.rows(start, end).T

    def spans(self, spans: Iterable[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, codes) of the rows of several spans, concatenated (to copy them to a new matrix)."""
        spans = list(spans)
        width = 0 if self.codebook is None else self.codebook.code_bytes
        if not spans:
            return np.zeros(0, dtype=np.uint16), np.zeros((0, width), dtype=np.uint8)
        index = np.concatenate([np.arange(a, b) for a, b in spans])
        return np.asarray(self.ids[index]), np.asarray(self.codes[index])
