"""Whether the disk has room for a new generation, checked before anything is written."""

from __future__ import annotations

import shutil

from assistant.config import Settings
from assistant.errors import IndexWriteError
from assistant.store import Generation

# Bytes a new generation takes per chunk before there is one to measure: 62 KB measured on the real
# corpus with MiniLM (455 chunks: 48 KB of derived files, 38 KB of them the 192-d int8 token vectors,
# and 14 KB of Chroma), and half as much again for SQLite's journal and the margin a disk needs.
BYTES_PER_CHUNK = 100_000
CHROMA_PER_CHUNK = 16_000  # Chroma's share per chunk (rows and HNSW), measured on the same index
MIN_FREE = 2 * 1024 * 1024  # below this nothing is attempted, however small the generation


def check_space(settings: Settings, chunks: int, current: Generation | None, current_chunks: int) -> None:
    """Refuse, before writing anything, a new generation the disk has no room for."""
    # With a server, the store's disk is the server's own; only the derived files are written here.
    folder = settings.state_dir if settings.chroma_server is not None else settings.index_dir
    per_chunk = BYTES_PER_CHUNK
    if current is not None and current_chunks and current.state_dir.is_dir():
        # The generation serving is the better measure (its embedder, its chunk sizes), with the same margin.
        size = sum(f.stat().st_size for f in current.state_dir.rglob("*") if f.is_file())
        per_chunk = int(1.5 * (size / current_chunks + CHROMA_PER_CHUNK))
    need = MIN_FREE + chunks * per_chunk
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise IndexWriteError(
            f"Not enough free space for the index at {folder}: about {need / 1e6:.0f} MB are needed, "
            f"{free / 1e6:.0f} MB are free. Free some space (or choose another --index-dir), then run "
            "`assistant ingest` again; nothing was written, and the index answers as before."
        )
