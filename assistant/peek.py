"""What an embedded Chroma store holds, read from its SQLite file without importing chromadb.

Importing chromadb and starting its client takes about 0.6 s of a fresh process idle (1.5 s under load)
and 50 MB; a no-change `assistant ingest` needs only the pointer, the generations' metadata and the
chunks per file, which are three small queries on the file chromadb itself keeps them in. This is a
shortcut, never the truth: anything unexpected (no file, another layout, a locked or damaged file)
gives None and the caller goes the ordinary way, through `assistant.store.ChunkStore`.

Written against chromadb 1.x's SQLite layout (tables collections, collection_metadata, segments,
embeddings, embedding_metadata); tests/unit/test_ingest_pipeline.py checks it against the real store.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config import Settings

_COLLECTIONS = """
SELECT c.name, m.key, m.str_value, m.int_value, m.float_value
FROM collections c JOIN databases d ON d.id = c.database_id
LEFT JOIN collection_metadata m ON m.collection_id = c.id
WHERE d.name = 'default_database'
"""
_SOURCES = """
SELECT em.string_value, COUNT(*)
FROM collections c
JOIN databases d ON d.id = c.database_id AND d.name = 'default_database'
JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA'
JOIN embeddings e ON e.segment_id = s.id
JOIN embedding_metadata em ON em.id = e.id AND em.key = 'source'
WHERE c.name = ?
GROUP BY em.string_value
"""


_SEGMENT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")  # a segment's folder


@dataclass(frozen=True)
class StoreFiles:
    """The collections of an embedded store with their metadata, and a way to count chunks per file."""

    path: Path
    collections: dict[str, dict[str, Any]]  # name -> metadata

    def metadata(self, name: str) -> dict[str, Any] | None:
        return self.collections.get(name)

    def orphan_folders(self) -> bool:
        """Whether the store's folder holds segment folders its database no longer lists (a killed build's)."""
        try:
            with _connect(self.path) as db:
                segments = {str(row[0]) for row in db.execute("SELECT id FROM segments")}
        except sqlite3.Error:
            return True  # cannot tell: the full path decides
        return any(
            folder.is_dir() and _SEGMENT.match(folder.name) and folder.name not in segments
            for folder in self.path.parent.iterdir()
        )

    def source_counts(self, name: str) -> Counter[str] | None:
        """Chunks per source file in collection `name` (None when they cannot be read here)."""
        try:
            with _connect(self.path) as db:
                return Counter({str(source): int(n) for source, n in db.execute(_SOURCES, (name,)) if source})
        except sqlite3.Error:
            return None


def read_store(settings: Settings) -> StoreFiles | None:
    """The embedded store's collections as its SQLite file has them now, or None (a server, or no file)."""
    if settings.chroma_server is not None:
        return None
    path = settings.index_dir / "chroma" / "chroma.sqlite3"
    if not path.is_file():
        return None
    collections: dict[str, dict[str, Any]] = {}
    try:
        with _connect(path) as db:
            for name, key, text, number, real in db.execute(_COLLECTIONS):
                found = collections.setdefault(str(name), {})
                if key is not None:
                    found[str(key)] = next((v for v in (text, number, real) if v is not None), None)
    except sqlite3.Error:
        return None
    return StoreFiles(path=path, collections=collections)


class _connect:
    """A read-only connection, closed on exit (sqlite3's own context manager only ends a transaction)."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()
