"""A generation readable without the store's engine: its records and the pointer, as plain files.

Each generation keeps its chunks with their vectors in its own folder (`records/`: the same float32
vectors as in Chroma, rows in chunk-id order, written before it is published so its file list covers
them), and the pointer is mirrored in `pointer.json` beside the generations. Readers serve from these:
importing chromadb and starting its client costs a fresh process ~0.65 s and 50 MB (issue 20), and
embedded Chroma writes to its database as it starts, so on a full disk or a read-only folder it cannot
open at all, even to read. Chroma is read only when a generation's files are missing or damaged;
writers still need the engine, and say why they cannot.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from assistant.snapshot import Generation, Record, Snapshot
from assistant.types import Chunk

FOLDER = "records"
POINTER = "pointer.json"


@contextmanager
def _atomic(path: Path) -> Iterator[BinaryIO]:
    """A file written in full, synced, then renamed into place (never seen half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write(path: Path, data: bytes) -> None:
    with _atomic(path) as out:
        out.write(data)


def save_records(state_dir: Path, metadata: dict[str, Any], records: Iterable[Record]) -> None:
    """Write a generation's records (chunk text, metadata, vector) and its collection metadata.

    `records` must come in chunk-id order, each id once; they are written as they come, so memory
    stays flat in the corpus size (holding them all cost ~17 KB a chunk at publish: issue 19). The
    vectors go to a scratch file first because the .npy header needs the row count.
    """
    folder = state_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rows, dims, last = 0, 0, None
    with tempfile.TemporaryFile(dir=folder, prefix=".vectors-raw-") as raw:
        with _atomic(folder / "chunks.jsonl") as lines:
            for record in records:
                cid = record.chunk.chunk_id
                if last is not None and cid <= last:
                    raise ValueError(f"records out of chunk-id order at {cid!r} (after {last!r})")
                vector = np.asarray(record.vector, dtype="<f4").ravel()
                if rows and vector.size != dims:
                    raise ValueError(f"record {cid!r} has {vector.size} dimensions, the others {dims}")
                last, dims = cid, vector.size
                lines.write(
                    (json.dumps({"text": record.chunk.text, "meta": record.chunk.to_metadata()}) + "\n").encode()
                )
                raw.write(vector.tobytes())
                rows += 1
        raw.seek(0)
        with _atomic(folder / "vectors.npy") as out:
            header = {"descr": "<f4", "fortran_order": False, "shape": (rows, dims)}
            np.lib.format.write_array_header_1_0(out, header)
            shutil.copyfileobj(raw, out, 1 << 20)
    _atomic_write(folder / "meta.json", json.dumps(metadata, sort_keys=True).encode("utf-8"))


def _read(generation: Generation) -> tuple[dict[str, Any], list[Chunk], np.ndarray] | None:
    """(collection metadata, chunks, memory-mapped vectors) from a generation's folder, or None."""
    folder = generation.state_dir / FOLDER
    try:
        metadata = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        with open(folder / "chunks.jsonl", encoding="utf-8") as lines:
            chunks = [Chunk.from_metadata(row["text"], row["meta"]) for row in map(json.loads, lines)]
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    except (OSError, ValueError, KeyError, EOFError, TypeError):
        return None
    if not isinstance(metadata, dict) or vectors.ndim != 2 or len(vectors) != len(chunks):
        return None
    ids = [c.chunk_id for c in chunks]
    if any(a >= b for a, b in zip(ids, ids[1:], strict=False)):  # written sorted and unique: anything else is not ours
        return None
    return metadata, chunks, vectors


def load_snapshot(generation: Generation) -> tuple[dict[str, Any], Snapshot] | None:
    """(collection metadata, snapshot) of a generation from its files, vectors memory-mapped; None when
    its folder holds none (or unreadable ones): the caller then reads the store."""
    found = _read(generation)
    if found is None:
        return None
    metadata, chunks, vectors = found
    # Mapped, not read: Snapshot copies the rows it keeps as float64, and none above EXACT_LIMIT.
    return metadata, Snapshot.from_rows(generation, chunks, vectors)


def load_records(generation: Generation) -> dict[str, Record] | None:
    """A generation's records by id from its files, each vector a row of the memory-mapped file (not a
    copy: read back from the store they cost ~17 KB a chunk, issue 19); None when the files cannot say."""
    found = _read(generation)
    if found is None:
        return None
    _, chunks, vectors = found
    return {chunk.chunk_id: Record(chunk, vectors[i]) for i, chunk in enumerate(chunks)}


def save_pointer(state_dir: Path, value: dict[str, Any]) -> None:
    """Mirror the store's pointer (current and previous generation, their file lists' checksums)."""
    _atomic_write(state_dir / POINTER, json.dumps(value, sort_keys=True).encode("utf-8"))


def load_pointer(state_dir: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((state_dir / POINTER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
