"""Compact, memory-mapped matrices of unit vectors: int8 rows with one scale each, optionally projected.

Token vectors (late interaction) and sentence vectors are many rows of L2-normalised model outputs.
Stored as float16 they dominate the index; here each row is projected (optionally) onto a basis
fitted to the data (uncentred PCA: the directions that carry most of the rows' energy, so dot
products survive), then quantised to int8 with its own scale (max |value| / 127), the scheme of
ColBERTv2's compressed residuals without the centroids. Projected rows may be re-normalised (the
matrix's `normalised` flag; queries are then re-normalised the same way). Rows are appended in batches straight to
files on disk, so a writer holds one batch at a time, and read back memory-mapped, so a reader maps
the files and pages in only the rows it scores. numpy is all it needs; no library offers this
append-then-map layout for int8 codes with per-row scales, hence this small format:

    <name>.codes   int8, rows x dims, C order (raw bytes)
    <name>.scales  float32, one per row (raw bytes)
    <name>.basis.npy  float32, source_dims x dims (only when projected)
    <name>.json    {"format", "rows", "dims", "source_dims", "projected", "normalised"}

The JSON is written last, on `close()`: a matrix without it was never finished and does not load.

Token vectors go one step further: `assistant.residual` (centroid ids and residuals).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

FORMAT = "int8-rows/1"
SAMPLE_ROWS = 20_000  # rows a basis is fitted on: plenty for 384 dimensions, cheap to decompose


def fit_basis(sample: np.ndarray, dims: int) -> np.ndarray | None:
    """The `dims` directions that keep most of the sample rows' energy (source_dims x dims), or None.

    None when the rows have no more than `dims` dimensions (nothing to gain) or there are too few rows
    to fit them. Uncentred on purpose: dot products, not variances, are what must be kept.
    """
    sample = np.asarray(sample, dtype=np.float32)
    if sample.ndim != 2 or sample.shape[1] <= dims or len(sample) < dims:
        return None
    if len(sample) > SAMPLE_ROWS:  # an even stride: deterministic, and covers the whole sample
        sample = sample[np.linspace(0, len(sample) - 1, SAMPLE_ROWS).astype(int)]
    _, vectors = np.linalg.eigh(sample.T @ sample)
    basis = vectors[:, ::-1][:, :dims]  # eigh sorts ascending
    # A fixed sign per direction, so the same sample always gives the same basis.
    basis = basis * np.where(basis[np.abs(basis).argmax(axis=0), range(dims)] < 0, -1.0, 1.0)
    return np.ascontiguousarray(basis, dtype=np.float32)


def project(rows: np.ndarray, basis: np.ndarray | None, normalise: bool = False) -> np.ndarray:
    """`rows` on `basis` (unchanged without one), re-normalised to unit length when `normalise`.

    Without re-normalising, a projected dot product estimates the full one (it misses the part outside
    the basis), so scores keep their scale; re-normalised (ColBERT's way) every row is a unit vector
    again, so MaxSim stays a cosine and rows that lost much of their energy are not under-weighted.
    Which one ranks better is measured, not assumed (bench/token_options.py).
    """
    rows = np.asarray(rows, dtype=np.float32)
    if basis is None:
        return rows
    rows = rows @ basis
    if normalise and len(rows):
        rows = rows / np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)
    return rows


def quantise(
    rows: np.ndarray, basis: np.ndarray | None = None, normalise: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, float32 scales) of `rows`, projected onto `basis` first when one is given."""
    rows = project(rows, basis, normalise)
    peak = np.abs(rows).max(axis=1) if len(rows) else np.zeros(0, dtype=np.float32)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(rows / scales[:, None]), -127, 127).astype(np.int8)
    return codes, scales


class MatrixWriter:
    """Append rows to `directory/<name>.*` in batches; `close()` makes the matrix loadable.

    `basis` projects every row (see `fit_basis`), `normalise` re-normalises the projected rows; rows
    already quantised the same way (carried over from an earlier matrix) are appended as they are with
    `append_codes`.
    """

    def __init__(
        self, directory: Path, name: str, source_dims: int, basis: np.ndarray | None = None, normalise: bool = False
    ):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.name = directory, name
        self.source_dims = source_dims
        self.basis = None if basis is None else np.ascontiguousarray(basis, dtype=np.float32)
        self.dims = source_dims if self.basis is None else int(self.basis.shape[1])
        self.normalised = normalise and self.basis is not None
        self.rows = 0
        self._codes = open(directory / f"{name}.codes", "wb")
        self._scales = open(directory / f"{name}.scales", "wb")

    def append(self, rows: np.ndarray) -> tuple[int, int]:
        """Quantise and write `rows` (n x source_dims); their (start, end) row span."""
        rows = np.asarray(rows, dtype=np.float32).reshape(-1, self.source_dims)
        return self.append_codes(*quantise(rows, self.basis, self.normalised))

    def append_codes(self, codes: np.ndarray, scales: np.ndarray) -> tuple[int, int]:
        """Write rows quantised already (n x dims int8, n float32); their (start, end) row span."""
        codes = np.ascontiguousarray(codes, dtype=np.int8).reshape(-1, self.dims)
        self._codes.write(codes.tobytes())
        self._scales.write(np.ascontiguousarray(scales, dtype=np.float32).tobytes())
        start, self.rows = self.rows, self.rows + len(codes)
        return start, self.rows

    def close(self) -> None:
        """Flush the rows and write the header that makes them loadable."""
        self._codes.close()
        self._scales.close()
        if self.basis is not None:
            np.save(self.directory / f"{self.name}.basis.npy", self.basis)
        meta = {
            "format": FORMAT,
            "rows": self.rows,
            "dims": self.dims,
            "source_dims": self.source_dims,
            "projected": self.basis is not None,
            "normalised": self.normalised,
        }
        (self.directory / f"{self.name}.json").write_text(json.dumps(meta), encoding="utf-8")

    def abandon(self) -> None:
        """Close the files without the header: the rows written never load."""
        self._codes.close()
        self._scales.close()

    def __enter__(self) -> MatrixWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:  # an unfinished matrix gets no header, so it never loads
            self.abandon()


class CompactMatrix:
    """A finished matrix, memory-mapped: rows are read (and dequantised) only when asked for."""

    def __init__(
        self,
        codes: np.ndarray,
        scales: np.ndarray,
        basis: np.ndarray | None,
        source_dims: int,
        normalised: bool = False,
    ):
        self.codes, self.scales, self.basis = codes, scales, basis
        self.source_dims = source_dims
        self.normalised = normalised and basis is not None

    @property
    def dims(self) -> int:
        return int(self.codes.shape[1])

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def load(cls, directory: Path, name: str) -> CompactMatrix | None:
        """The matrix `directory/<name>.*`, memory-mapped; None when missing, unfinished or unreadable."""
        try:
            meta = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT:
                return None
            rows, dims = int(meta["rows"]), int(meta["dims"])
            codes = map_raw(directory / f"{name}.codes", np.int8, (rows, dims))
            scales = map_raw(directory / f"{name}.scales", np.float32, (rows,))
            basis = np.load(directory / f"{name}.basis.npy") if meta.get("projected") else None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if basis is not None and basis.shape != (int(meta["source_dims"]), dims):
            return None
        return cls(codes, scales, basis, int(meta["source_dims"]), bool(meta.get("normalised", False)))

    def project(self, queries: np.ndarray) -> np.ndarray:
        """Query rows (n x source_dims) in this matrix's space: do this once per question, not per row."""
        return project(queries, self.basis, self.normalised)

    def dot(self, projected: np.ndarray, start: int, end: int) -> np.ndarray:
        """Dot products (n x rows) of projected query rows with rows [start, end)."""
        codes = np.asarray(self.codes[start:end], dtype=np.float32)
        return (projected @ codes.T) * self.scales[start:end]

    def rows(self, start: int, end: int) -> np.ndarray:
        """Rows [start, end) dequantised (in the projected space when there is a basis)."""
        return np.asarray(self.codes[start:end], dtype=np.float32) * self.scales[start:end, None]

    def spans(self, spans: Iterable[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """(codes, scales) of the rows of several spans, concatenated (to copy them to a new matrix)."""
        spans = list(spans)
        if not spans:
            return np.zeros((0, self.dims), dtype=np.int8), np.zeros(0, dtype=np.float32)
        index = np.concatenate([np.arange(a, b) for a, b in spans])
        return np.asarray(self.codes[index]), np.asarray(self.scales[index])


def map_raw(path: Path, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    """A read-only map of a raw file that must hold exactly `shape` of `dtype` (an empty one is fine)."""
    expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if path.stat().st_size != expected:
        raise ValueError(f"{path.name} holds {path.stat().st_size} bytes, not {expected}")
    if expected == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape)
