"""The vector store: Chroma, written in whole generations. With connection.py, the only code importing chromadb.

How the engine is reached, and what its failures mean, is connection.py's. Embedded (a persistent
folder) by default; a Chroma server (`chroma run`) when the settings name one.
Every ingest writes a complete new generation (its own collection, plus derived files under
`Generation.state_dir`) and only then moves one pointer (the metadata of the `<collection>.current`
collection) to it. Readers check the pointer before each question and switch whole generations, so a
reader never sees half an index and never holds a collection another process deleted. A reader keeps
its generation's chunks and vectors in memory: search is exact cosine with ties broken by chunk id, so
the same question gives the same passages in every process (Chroma's HNSW is approximate).
An embedded reader takes the pointer from the store's SQLite file (peek.py) and the generation from its
own files (offline.py), so answering never imports chromadb; it reads Chroma only when those fail.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from assistant import connection, integrity, offline, peek
from assistant.config import Settings
from assistant.connection import move_aside
from assistant.embeddings import Embedder
from assistant.errors import IndexDamagedError, IndexMismatchError, IndexMissingError, IndexWriteError
from assistant.faults import is_write_failure, write_failure
from assistant.integrity import Damage
from assistant.snapshot import ROUND, Generation, Record, Snapshot
from assistant.types import Chunk

__all__ = [
    "ChunkStore",
    "Damage",
    "Generation",
    "Record",
    "chunker_version",
    "is_write_failure",
    "move_aside",
    "write_failure",
]

T = TypeVar("T")

# Bump when ingest/chunk.py would cut the same text differently: old indexes must be rebuilt.
CHUNKER_VERSION = "sentence-chunks/3"  # 3: sentence kinds, paragraph numbers, no front or back matter

_WRITE_BATCH = 500  # Chroma caps a single add; well below its limit
_READ_BATCH = 5000
_SEGMENT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")  # a segment's folder


def chunker_version(settings: Settings) -> str:
    """The chunker's version with the settings that change its output: a change means re-ingesting."""
    return f"{CHUNKER_VERSION}:{settings.chunk_tokens}t:{settings.chunk_overlap_sentences}o"


class ChunkStore:
    """Chunks and their vectors in Chroma, one collection per generation, read through a pointer."""

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings = settings
        self.embedder = embedder
        # Re-entrant: switching generations connects, and both happen under the lock.
        self._lock = threading.RLock()
        self._snapshot: Snapshot | None = None
        self._vectorstore: Any = None
        self._damage: dict[str, list[Damage]] = {}  # generation id -> its damaged files, found when opened
        # Chroma makes an empty database where there is none: remember whether one was there before.
        self._store_was_missing = self.settings.chroma_server is None and not self.store_file.exists()
        self._client_obj: Any = None
        self._epoch = connection.epoch(self.settings)
        if self.settings.chroma_server is not None:  # a server that is down or hung is named at once
            self._client_obj = self._connect()
            self._epoch = connection.epoch(self.settings)
        # Embedded: connected on first use. Readers seldom need the engine (see offline.py and peek.py),
        # and starting it costs a fresh process ~0.65 s; writers meet any failure to start when they write.

    # -- connection (connection.py) ------------------------------------------------------------------

    def describe(self) -> str:
        """Where the store lives, for messages."""
        return connection.describe(self.settings)

    @property
    def store_file(self) -> Path:
        """The embedded store's database file (named in messages when it is damaged)."""
        return connection.store_file(self.settings)

    @property
    def _client(self) -> Any:
        """The Chroma client, reconnected after the server was lost (so a restarted server just works),
        or after another store in this process replaced the shared embedded engine."""
        with self._lock:
            if self._client_obj is not None and self._epoch != connection.epoch(self.settings):
                self._forget_connection()
            if self._client_obj is None:
                self._client_obj = self._connect()
                self._epoch = connection.epoch(self.settings)  # after: connecting may replace a stuck engine
            return self._client_obj

    def _forget_connection(self) -> None:
        with self._lock:
            self._client_obj = None
            self._vectorstore = None

    def _connect(self) -> Any:
        return connection.connect(self.settings)

    def _guard(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call, turning a lost server, a damaged store or a refused write into a clear error."""
        return connection.guarded(self.settings, call, *args, on_lost=self._forget_connection, **kwargs)

    def _fresh_engine_if_refused(self) -> None:
        """Before writing, replace an embedded engine that refused a write earlier in this process.

        Embedded Chroma shares one engine per folder in a process. After SQLite refused a write (disk
        full) that engine still reads, but blocks for good on the next write, even once space is
        freed: a long-lived process (the app) would hang on its next ingest.
        """
        path = connection.embedded_path(self.settings)
        if self.settings.chroma_server is not None or not connection.refused(path):
            return
        with self._lock:
            connection.forget_engine(path)
            self._forget_connection()

    # -- the pointer and the generations ----------------------------------------------------------

    @property
    def _pointer_name(self) -> str:
        return f"{self.settings.collection}.current"

    def _generation(self, gen_id: str, files: str | None = None) -> Generation:
        return Generation(
            id=gen_id,
            collection=f"{self.settings.collection}.{gen_id}",
            state_dir=self.settings.state_dir / "generations" / gen_id,
            files=files,
        )

    def pointer(self) -> tuple[Generation | None, Generation | None]:
        """(current, previous) generation as the pointer names them now: one small read."""
        peeked = peek.read_store(self.settings)
        found = peeked.metadata(self._pointer_name) if peeked is not None else self._store_pointer()
        if found is None:
            return None, None
        current, previous = found.get("generation"), found.get("previous")
        files, previous_files = found.get("files"), found.get("previous_files")
        return (
            self._generation(str(current), str(files) if files else None) if current else None,
            self._generation(str(previous), str(previous_files) if previous_files else None) if previous else None,
        )

    def _store_pointer(self) -> dict[str, Any] | None:
        """The pointer's metadata from Chroma (None: no pointer), when the SQLite file could not say."""
        from chromadb.errors import NotFoundError

        try:
            return dict(self._get(self._pointer_name).metadata or {})
        except (NotFoundError, ValueError):
            return None
        except IndexWriteError:
            # The engine will not even start (a full disk): the pointer's copy among the files, if any.
            mirrored = offline.load_pointer(self.settings.state_dir) if self.settings.chroma_server is None else None
            if mirrored is None:
                raise
            return mirrored

    def check(self, generation: Generation) -> list[Damage]:
        """The damaged files of a generation's folder ([] when whole): sizes and checksums of its list."""
        if self.settings.chroma_server is not None and not generation.state_dir.exists():
            return []  # a server's index read from another machine: its derived files are made here afresh
        return integrity.verify(generation.state_dir, generation.files)

    def damage(self) -> list[Damage]:
        """The damaged files of the generation serving, as found when it was opened."""
        return self._damage.get(self.generation.id, [])

    def current_generation(self) -> Generation | None:
        """The generation readers should use now, or None before the first ingest."""
        return self.pointer()[0]

    def _get(self, name: str) -> Any:
        return self._guard(lambda: self._client.get_collection(name))

    def _names(self) -> set[str]:
        return {getattr(c, "name", c) for c in self._guard(lambda: self._client.list_collections())}

    def _pages(self, generation: Generation, include: list[str]) -> Iterator[dict[str, Any]]:
        """A generation's records, a page at a time (one `get` of everything can exceed Chroma's limits)."""
        collection = self._get(generation.collection)
        offset = 0
        while True:
            page = self._guard(collection.get, include=include, limit=_READ_BATCH, offset=offset)
            yield page
            if len(page["ids"]) < _READ_BATCH:
                return
            offset += len(page["ids"])

    def metadata(self, generation: Generation) -> dict[str, Any]:
        """A generation's collection metadata (the embedder and chunker that built it)."""
        found = self._peeked_metadata(generation)
        if found is not None:
            return found
        try:  # no file to read, or no such collection in it: the store itself says what is wrong
            return dict(self._get(generation.collection).metadata or {})
        except IndexWriteError:
            stored = self._from_files(generation, self.check(generation))
            if stored is None:
                raise
            return stored[0]

    def _from_files(self, generation: Generation, damage: list[Damage]) -> tuple[dict[str, Any], Snapshot] | None:
        """The generation's metadata and snapshot from its own folder, when it is whole (offline.py)."""
        if self.settings.chroma_server is not None or integrity.parts(damage) & {offline.FOLDER, "*"}:
            return None
        return offline.load_snapshot(generation)

    def source_counts(self, generation: Generation) -> Counter[str]:
        """Chunks per source file in a generation, read from the store itself (to check the manifest)."""
        pages = self._pages(generation, ["metadatas"])
        return Counter(str(m["source"]) for page in pages for m in page["metadatas"] if m)

    def generations(self) -> list[Generation]:
        """Every generation collection in the store, oldest first (complete or abandoned)."""
        pattern = re.compile(rf"^{re.escape(self.settings.collection)}\.(g\d{{8}}T\d{{12}}-[0-9a-f]{{6}})$")
        found = [self._generation(m.group(1)) for name in self._names() if (m := pattern.match(name))]
        return sorted(found, key=lambda g: g.id)

    def _expected_metadata(self) -> dict[str, str]:
        return {"embedder": self.embedder.version, "chunker": chunker_version(self.settings)}

    def new_generation(self) -> Generation:
        """Create an empty collection for a new generation (readers keep the current one meanwhile)."""
        self._fresh_engine_if_refused()
        now = time.time()  # to the microsecond, so names sort in the order the generations were made
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1e6):06d}"
        generation = self._generation(f"g{stamp}-{os.urandom(3).hex()}")
        self._guard(
            lambda: self._client.create_collection(
                generation.collection,
                metadata=self._expected_metadata(),
                configuration={"hnsw": {"space": "cosine"}},
            )
        )
        return generation

    def write(self, generation: Generation, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Add chunks with their precomputed vectors to a generation that is being built."""
        for i in range(0, len(chunks), _WRITE_BATCH):
            part = chunks[i : i + _WRITE_BATCH]
            self._fresh_engine_if_refused()
            collection = self._get(generation.collection)
            self._guard(
                collection.upsert,
                ids=[c.chunk_id for c in part],
                embeddings=[np.asarray(v, dtype=np.float32).tolist() for v in vectors[i : i + _WRITE_BATCH]],
                documents=[c.text for c in part],
                metadatas=[c.to_metadata() for c in part],
            )

    def publish(self, generation: Generation, expected: int, previous: Generation | None = None) -> None:
        """Point readers at `generation`, once it holds exactly `expected` chunks (`previous` is kept)."""
        collection = self._get(generation.collection)
        found = int(self._guard(collection.count))
        if found != expected:
            raise IndexWriteError(
                f"The new index in {self.describe()} holds {found} chunks, not {expected}; it was not switched "
                "to. Run `assistant ingest` again: the index still answers from what it held before."
            )
        # Every file now in the generation's folder is listed with its checksum; the pointer holds the
        # list's own checksum, so readers and the next ingest can tell a whole generation from a damaged one.
        try:
            records = self._sorted_records(generation)
            offline.save_records(generation.state_dir, dict(collection.metadata or {}), records)
            files = integrity.record(generation.state_dir)
        except OSError as exc:
            if is_write_failure(exc):
                raise write_failure(self.describe(), exc) from exc
            raise
        pointer = self._guard(lambda: self._client.get_or_create_collection(self._pointer_name))
        value: dict[str, Any] = {"generation": generation.id, "published": time.time(), "files": files}
        if previous is not None:
            value["previous"] = previous.id
            if previous.files:
                value["previous_files"] = previous.files
        self._guard(pointer.modify, metadata=value)
        try:
            offline.save_pointer(self.settings.state_dir, value)
        except OSError:
            pass  # only answering on a full disk needs it; a stale copy names a generation that is checked

    def discard(self, generation: Generation) -> None:
        """Delete a generation's collection and folder (abandoned builds, or old ones no reader uses)."""
        from chromadb.errors import NotFoundError

        try:
            self._guard(lambda: self._client.delete_collection(generation.collection))
        except (NotFoundError, ValueError):
            pass
        finally:  # the folder goes even when the store refuses the delete (a full disk)
            shutil.rmtree(generation.state_dir, ignore_errors=True)

    def prune(self, keep: Iterable[Generation]) -> list[Generation]:
        """Remove every generation not in `keep`, and the single collection of the old layout."""
        kept = {g.id for g in keep}
        removed = [g for g in self.generations() if g.id not in kept]
        for generation in removed:
            self.discard(generation)
        legacy = self.settings.collection
        if legacy in self._names():
            self._guard(lambda: self._client.delete_collection(legacy))
        for name in ("manifest.json", "bm25"):  # files of the old single-collection layout
            path = self.settings.state_dir / name
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        self._sweep_orphans()
        # Folders whose collection is gone (a store moved aside or deleted); only ingest prunes, under its lock.
        folders = self.settings.state_dir / "generations"
        if folders.is_dir():
            for folder in folders.iterdir():
                if folder.name not in kept:
                    shutil.rmtree(folder, ignore_errors=True)
        return removed

    def _sweep_orphans(self) -> None:
        """Reclaim what killed or failed builds left: folders of no generation, and (embedded) the
        segment folders of deleted collections and the database pages they freed.

        Chroma deletes a collection's rows but not always its segment folder, and SQLite keeps freed
        pages in the file: without this, every killed ingest grew the store for good. Called by
        `prune`, under the ingest lock, so no build of ours is under way.
        """
        live = {g.id for g in self.generations()}
        generations = self.settings.state_dir / "generations"
        if generations.is_dir():
            for folder in generations.iterdir():
                if folder.is_dir() and folder.name not in live:
                    shutil.rmtree(folder, ignore_errors=True)
        if self.settings.chroma_server is not None:
            return  # a server manages its own files
        import sqlite3
        from pathlib import Path

        root = Path(connection.embedded_path(self.settings))
        try:
            with sqlite3.connect(f"file:{root / 'chroma.sqlite3'}?mode=ro", uri=True, timeout=1) as db:
                segments = {str(row[0]) for row in db.execute("SELECT id FROM segments")}
                free, pages = (db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("freelist_count", "page_count"))
            for folder in root.iterdir():
                if folder.is_dir() and _SEGMENT.match(folder.name) and folder.name not in segments:
                    shutil.rmtree(folder, ignore_errors=True)
            if free > 256 and free > pages // 4:  # mostly what a deleted build left: give it back to the disk
                db = sqlite3.connect(root / "chroma.sqlite3", timeout=1)
                try:
                    # The full-text index keeps deleted documents' entries until it is merged.
                    table = "embedding_fulltext_search"
                    if db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
                        db.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
                        db.commit()
                    db.execute("VACUUM")  # outside any transaction, as SQLite requires
                finally:
                    db.close()
        except (sqlite3.Error, OSError):
            pass  # Chroma's schema changed or the file is busy: nothing is lost, only space is not reclaimed

    def records(self, generation: Generation, files_whole: bool = False) -> dict[str, Record]:
        """Every chunk of a generation with its vector, by id (to carry unchanged chunks forward).

        With `files_whole` (the caller has checked the generation's folder), they are read from its own
        files, vectors memory-mapped; otherwise, or when those cannot be read, from the store."""
        if files_whole and self.settings.chroma_server is None:
            from_files = offline.load_records(generation)
            if from_files is not None:
                return from_files
        found: dict[str, Record] = {}
        for page in self._pages(generation, ["documents", "metadatas", "embeddings"]):
            vectors = page["embeddings"] if page["embeddings"] is not None else []
            for doc, meta, vector in zip(page["documents"] or [], page["metadatas"] or [], vectors, strict=True):
                if doc is not None and meta is not None:  # a record Chroma half-deleted is not a chunk
                    chunk = Chunk.from_metadata(doc, meta)
                    found[chunk.chunk_id] = Record(chunk, np.asarray(vector, dtype=np.float32))
        return found

    def _sorted_records(self, generation: Generation) -> Iterator[Record]:
        """A generation's records in chunk-id order, a batch at a time (never all held: issue 19)."""
        ids = sorted(cid for page in self._pages(generation, []) for cid in page["ids"])
        collection = self._get(generation.collection)
        for i in range(0, len(ids), _WRITE_BATCH):
            page = self._guard(
                collection.get, ids=ids[i : i + _WRITE_BATCH], include=["documents", "metadatas", "embeddings"]
            )
            vectors = page["embeddings"] if page["embeddings"] is not None else []
            found = {
                cid: Record(Chunk.from_metadata(doc, meta), np.asarray(vector, dtype=np.float32))
                for cid, doc, meta, vector in zip(
                    page["ids"], page["documents"] or [], page["metadatas"] or [], vectors, strict=True
                )
                if doc is not None and meta is not None  # a record Chroma half-deleted is not a chunk
            }
            yield from (found[cid] for cid in ids[i : i + _WRITE_BATCH] if cid in found)

    # -- reading: a snapshot of the current generation ---------------------------------------------

    def open(self) -> ChunkStore:
        """Load the current generation (raises `IndexMissingError` before the first ingest)."""
        with self._lock:
            self._switch(self._pointed())
        return self

    def refresh(self) -> bool:
        """Follow the pointer: switch to a newer generation if one was published. True if it switched."""
        generation = self._pointed()
        with self._lock:
            if self._snapshot is not None and self._snapshot.generation.id == generation.id:
                return False
            self._switch(generation)
            return True

    @property
    def generation(self) -> Generation:
        """The generation this store is serving."""
        return self._current().generation

    def _pointed(self) -> Generation:
        generation = self.current_generation()
        if generation is None and self._store_was_missing and any((self.settings.state_dir / "generations").glob("g*")):
            raise IndexDamagedError(
                f"The index store {self.store_file} is missing, though the index was built. "
                "Run `assistant ingest` to build it again from the corpus."
            )
        if generation is None:
            legacy = self.settings.collection in self._names()
            hint = " It was built by an older version of the assistant." if legacy else ""
            raise IndexMissingError(
                f"No index in {self.describe()}.{hint} Run `assistant ingest` (or `make run`) to build it."
            )
        return generation

    def _switch(self, generation: Generation) -> None:
        damage = self.check(generation)
        # The generation's own files first: they spare a fresh process chromadb, and they stand in for
        # the collection's metadata when the engine cannot start.
        from_files = self._from_files(generation, damage)
        snapshot = from_files[1] if from_files is not None else None
        found = self._peeked_metadata(generation)
        if found is None:
            found = self._store_metadata(generation, from_files)
        for key, want in self._expected_metadata().items():
            if found.get(key) != want:
                raise IndexMismatchError(
                    f"The index in {self.describe()} was built with {key} {found.get(key)!r}, "
                    f"but this version uses {want!r}. Re-ingest: `assistant ingest --rebuild`."
                )
        if snapshot is None:  # no whole files (a server, an older or damaged generation): from the store
            snapshot = Snapshot.build(generation, self.records(generation).values())
        if not snapshot.chunks:
            raise IndexMissingError(f"The index in {self.describe()} is empty: run `assistant ingest`.")
        self._damage[generation.id] = damage
        self._snapshot = snapshot
        self._vectorstore = None

    def _peeked_metadata(self, generation: Generation) -> dict[str, Any] | None:
        """A generation's collection metadata read from the SQLite file without chromadb (None: it cannot say)."""
        peeked = peek.read_store(self.settings)
        found = peeked.metadata(generation.collection) if peeked is not None else None
        return dict(found) if found is not None else None

    def _store_metadata(
        self, generation: Generation, from_files: tuple[dict[str, Any], Snapshot] | None
    ) -> dict[str, Any]:
        """The generation's metadata from Chroma, when its SQLite file could not say."""
        from chromadb.errors import NotFoundError

        try:
            return dict(self._get(generation.collection).metadata or {})
        except (NotFoundError, ValueError) as exc:
            raise IndexMissingError(
                f"The index in {self.describe()} points at {generation.id}, which is gone: run `assistant ingest`."
            ) from exc
        except IndexWriteError:
            if from_files is None:
                raise
            return from_files[0]  # the engine cannot start (a full disk, a read-only folder): the files answer

    def _current(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            with self._lock:
                if self._snapshot is None:
                    self.open()
                snapshot = self._snapshot
        assert snapshot is not None
        return snapshot

    @property
    def vectorstore(self) -> Any:
        """The LangChain `Chroma` vector store over the current generation's collection."""
        with self._lock:
            if self._vectorstore is None:
                from langchain_chroma import Chroma

                self._vectorstore = self._guard(
                    Chroma,
                    collection_name=self.generation.collection,
                    embedding_function=self.embedder,
                    client=self._client,
                    create_collection_if_not_exists=False,
                )
            return self._vectorstore

    def info(self) -> dict[str, Any]:
        """The current generation's collection metadata (embedder and chunker versions)."""
        return self.metadata(self.generation)

    def count(self) -> int:
        return len(self._current().chunks)

    def all_chunks(self) -> list[Chunk]:
        """Every chunk in the current generation, in report and reading order."""
        return sorted(self._current().chunks, key=lambda c: (c.report, c.ordinal))

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in the order asked (unknown ids are left out)."""
        by_id = self._current().by_id
        return [by_id[i] for i in ids if i in by_id]

    def sources(self) -> set[str]:
        """Every source file with chunks in the current generation."""
        return {c.source for c in self._current().chunks}

    def ids_for_source(self, source: str) -> set[str]:
        """Ids of every chunk that came from `source` (a path relative to the corpus)."""
        return {c.chunk_id for c in self._current().chunks if c.source == source}

    def search(
        self, vector: Sequence[float], k: int, reports: Sequence[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """Nearest chunks to `vector` with cosine similarity, optionally only from some reports.

        Exact and deterministic: equal similarities (to 9 places) are ordered by chunk id.
        """
        snapshot = self._current()
        if snapshot.matrix is None:
            return self._search_chroma(snapshot, vector, k, reports)
        return snapshot.search(vector, k, reports)

    def _search_chroma(
        self, snapshot: Snapshot, vector: Sequence[float], k: int, reports: Sequence[str] | None
    ) -> list[tuple[Chunk, float]]:
        where: dict[str, Any] | None = None
        if reports:
            where = {"report": reports[0]} if len(reports) == 1 else {"report": {"$in": list(reports)}}
        collection = self._get(snapshot.generation.collection)
        results = self._guard(
            collection.query,
            query_embeddings=[list(vector)],
            n_results=max(1, min(k, len(snapshot.chunks))),
            where=where,
            include=["distances"],
        )
        hits = [
            (snapshot.by_id[i], round(1.0 - float(d), ROUND))
            for i, d in zip(results["ids"][0], results["distances"][0], strict=True)
            if i in snapshot.by_id
        ]
        return sorted(hits, key=lambda hit: (-hit[1], hit[0].chunk_id))
