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
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from assistant.snapshot import Generation, Record, Snapshot
from assistant.types import Chunk

FOLDER = "records"
POINTER = "pointer.json"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_records(state_dir: Path, metadata: dict[str, Any], records: Iterable[Record]) -> None:
    """Write a generation's records (chunk text, metadata, vector) and its collection metadata."""
    ordered = sorted(records, key=lambda r: r.chunk.chunk_id)
    folder = state_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps({"text": r.chunk.text, "meta": r.chunk.to_metadata()}) + "\n" for r in ordered)
    _atomic_write(folder / "chunks.jsonl", lines.encode("utf-8"))
    dims = len(ordered[0].vector) if ordered else 0
    matrix = np.vstack([r.vector for r in ordered]).astype(np.float32) if ordered else np.zeros((0, dims), np.float32)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".vectors-", suffix=".npy", delete=False) as out:
        np.save(out, matrix)
    os.replace(out.name, folder / "vectors.npy")
    _atomic_write(folder / "meta.json", json.dumps(metadata, sort_keys=True).encode("utf-8"))


def load_snapshot(generation: Generation) -> tuple[dict[str, Any], Snapshot] | None:
    """(collection metadata, snapshot) of a generation from its files, vectors memory-mapped; None when
    its folder holds none (or unreadable ones): the caller then reads the store."""
    folder = generation.state_dir / FOLDER
    try:
        metadata = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        with open(folder / "chunks.jsonl", encoding="utf-8") as lines:
            chunks = [Chunk.from_metadata(row["text"], row["meta"]) for row in map(json.loads, lines)]
        # Mapped, not read: Snapshot copies the rows it keeps as float64, and none above EXACT_LIMIT.
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    except (OSError, ValueError, KeyError, EOFError, TypeError):
        return None
    if not isinstance(metadata, dict) or vectors.ndim != 2 or len(vectors) != len(chunks):
        return None
    ids = [c.chunk_id for c in chunks]
    if any(a >= b for a, b in zip(ids, ids[1:], strict=False)):  # written sorted and unique: anything else is not ours
        return None
    return metadata, Snapshot.from_rows(generation, chunks, vectors)


def save_pointer(state_dir: Path, value: dict[str, Any]) -> None:
    """Mirror the store's pointer (current and previous generation, their file lists' checksums)."""
    _atomic_write(state_dir / POINTER, json.dumps(value, sort_keys=True).encode("utf-8"))


def load_pointer(state_dir: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((state_dir / POINTER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
