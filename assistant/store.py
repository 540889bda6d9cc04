"""The vector store: Chroma through langchain-chroma. The only module that imports chromadb.

Embedded (a persistent folder) by default; a Chroma server (`chroma run`) when the settings name one.
The collection records which embedder and chunker built it, so a mismatch is caught on open.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from assistant.config import Settings, prepare_runtime
from assistant.embeddings import Embedder
from assistant.errors import (
    AssistantError,
    IndexMismatchError,
    IndexMissingError,
    IndexWriteError,
    StoreUnavailableError,
)
from assistant.types import Chunk

T = TypeVar("T")

# Bump when ingest/chunk.py would cut the same text differently: old indexes must be rebuilt.
CHUNKER_VERSION = "sentence-chunks/3"  # 3: sentence kinds, paragraph numbers, no front or back matter

_WRITE_BATCH = 500  # Chroma caps a single add; well below its limit

# errno values that mean "the disk or folder will not take more writes", not a bug.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
# How SQLite (inside Chroma) words the same conditions.
_WRITE_MESSAGES = (
    "database or disk is full",
    "no space left",
    "readonly database",
    "read-only file system",
    "disk i/o error",
    "permission denied",
    "quota exceeded",
)


_WRITE_METHODS = {"upsert", "update", "delete", "modify"}
_REFUSED_WRITES: set[str] = set()  # embedded index folders whose engine refused a write in this process


def is_write_failure(exc: BaseException) -> bool:
    """Whether `exc` says the disk is full or the index folder cannot be written."""
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
        return True
    text = str(exc).lower()
    return any(s in text for s in _WRITE_MESSAGES)


def write_failure(where: object, exc: BaseException) -> IndexWriteError:
    """An actionable error for a refused write to the index at `where`."""
    lines = str(exc).strip().splitlines()
    reason = getattr(exc, "strerror", None) or (lines[0] if lines else type(exc).__name__)
    return IndexWriteError(
        f"Cannot write the index at {where} ({reason}). Free some disk space or make the folder writable, "
        "then run `assistant ingest` again: the index still answers from what it held before."
    )


def chunker_version(settings: Settings) -> str:
    """The chunker's version with the settings that change its output: a change means re-ingesting."""
    return f"{CHUNKER_VERSION}:{settings.chunk_tokens}t:{settings.chunk_overlap_sentences}o"


def _chroma():
    prepare_runtime()
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb, ChromaSettings


class ChunkStore:
    """Chunks and their vectors in one Chroma collection."""

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings = settings
        self.embedder = embedder
        # Re-entrant: opening the collection connects, and both happen under the lock.
        self._lock = threading.RLock()
        self._vectorstore: Any = None
        self._client_obj: Any = self._connect()

    # -- connection -----------------------------------------------------------------------------

    def describe(self) -> str:
        """Where the store lives, for messages."""
        server = self.settings.chroma_server
        return f"Chroma server at http://{server[0]}:{server[1]}" if server else f"{self.settings.index_dir}"

    @property
    def _client(self) -> Any:
        """The Chroma client, reconnected after the server was lost (so a restarted server just works)."""
        with self._lock:
            if self._client_obj is None:
                self._client_obj = self._connect()
            return self._client_obj

    def _forget_connection(self) -> None:
        """Drop the client and collection so the next call connects afresh."""
        with self._lock:
            self._client_obj = None
            self._vectorstore = None

    def _connect(self) -> Any:
        chromadb, ChromaSettings = _chroma()
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        server = self.settings.chroma_server
        if server is None:
            try:
                self.settings.index_dir.mkdir(parents=True, exist_ok=True)
                return chromadb.PersistentClient(path=self._embedded_path, settings=chroma_settings)
            except Exception as exc:  # Chroma writes on start: a full disk or read-only folder stops it here
                if is_write_failure(exc):
                    raise write_failure(self.describe(), exc) from exc
                if not os.access(self.settings.index_dir, os.W_OK):
                    raise write_failure(self.describe(), OSError(errno.EROFS, "the folder is read-only")) from exc
                raise
        host, port = server
        try:
            client = chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
            # chromadb's HTTP session has no timeout at all; a hung server would hang every question.
            session = getattr(getattr(client, "_server", None), "_session", None)
            if session is not None:
                import httpx

                # The same limit for reads: a hung (not dead) server must also fail in seconds. Chroma
                # answers a query in milliseconds and a 500-chunk write in well under a second.
                session.timeout = httpx.Timeout(self.settings.store_timeout_s)
            client.heartbeat()
        except Exception as exc:
            raise self._unavailable(exc) from exc
        return client

    def _unavailable(self, exc: BaseException) -> StoreUnavailableError:
        host, port = self.settings.chroma_server or ("?", 0)
        return StoreUnavailableError(
            f"Cannot reach the Chroma server at http://{host}:{port} ({type(exc).__name__}). "
            f"Start it with `chroma run --path .chroma-server --host {host} --port {port}`, "
            "or unset ASSISTANT_CHROMA_URL to use the embedded store."
        )

    def _guard(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call, turning a lost server or a refused write into a clear error.

        After a lost connection the client is dropped, so the next call reconnects by itself.
        """
        try:
            return call(*args, **kwargs)
        except AssistantError:
            raise
        except Exception as exc:
            if self.settings.chroma_server and _looks_like_connection_error(exc):
                self._forget_connection()
                raise self._unavailable(exc) from exc
            if is_write_failure(exc):
                if self.settings.chroma_server is None:
                    _REFUSED_WRITES.add(self._embedded_path)
                raise write_failure(self.describe(), exc) from exc
            raise

    @property
    def _embedded_path(self) -> str:
        return str(self.settings.index_dir / "chroma")

    def _fresh_engine_if_refused(self) -> None:
        """Before writing, replace an embedded engine that refused a write earlier in this process.

        Embedded Chroma shares one engine per folder in a process. After SQLite refused a write (disk
        full) that engine still reads, but blocks for good on the next write, even once space is
        freed: a long-lived process (the app) would hang on its next ingest. Readers keep the old one.
        """
        path = self._embedded_path
        if self.settings.chroma_server is not None or path not in _REFUSED_WRITES:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        with self._lock:
            SharedSystemClient._identifier_to_system.pop(path, None)
            _REFUSED_WRITES.discard(path)
            self._forget_connection()

    def _on_collection(self, method: str, **kwargs: Any) -> Any:
        """Call a method of the collection, (re)opening it inside the guard so a reconnect can happen."""
        if method in _WRITE_METHODS:
            self._fresh_engine_if_refused()
        return self._guard(lambda: getattr(self._collection, method)(**kwargs))

    # -- collection -----------------------------------------------------------------------------

    def _expected_metadata(self) -> dict[str, str]:
        return {"embedder": self.embedder.version, "chunker": chunker_version(self.settings)}

    def _collection_exists(self) -> bool:
        names = self._guard(lambda: self._client.list_collections())
        return self.settings.collection in {getattr(c, "name", c) for c in names}

    def open(self, *, create: bool = False) -> ChunkStore:
        """Open the collection; with `create`, make it if missing. Checks embedder/chunker versions."""
        exists = self._collection_exists()
        if not create and not exists:
            raise IndexMissingError(
                f"No index in {self.describe()}: run `assistant ingest` (or `make run`) to build it."
            )
        from langchain_chroma import Chroma

        self._vectorstore = self._guard(
            Chroma,
            collection_name=self.settings.collection,
            embedding_function=self.embedder,
            client=self._client,
            collection_metadata=self._expected_metadata(),
            collection_configuration={"hnsw": {"space": "cosine"}},
            # Opening an existing collection must not write: get_or_create is a write, and on a full
            # disk or after a refused write embedded Chroma can block on it for good.
            create_collection_if_not_exists=not exists,
        )
        found = self._collection.metadata or {}
        expected = self._expected_metadata()
        for key, want in expected.items():
            if found.get(key) != want:
                raise IndexMismatchError(
                    f"The index in {self.describe()} was built with {key} {found.get(key)!r}, "
                    f"but this version uses {want!r}. Re-ingest: `assistant ingest --rebuild`."
                )
        return self

    @property
    def vectorstore(self) -> Any:
        """The LangChain `Chroma` vector store over the collection."""
        vectorstore = self._vectorstore
        if vectorstore is None:
            with self._lock:
                if self._vectorstore is None:
                    self.open()
                vectorstore = self._vectorstore
        return vectorstore

    @property
    def _collection(self) -> Any:
        return self.vectorstore._collection

    def reset(self) -> None:
        """Drop the collection and start empty (for --rebuild)."""
        self._fresh_engine_if_refused()
        if self._collection_exists():
            self._guard(lambda: self._client.delete_collection(self.settings.collection))
        self._vectorstore = None
        self.open(create=True)

    # -- writing ----------------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Write chunks with their precomputed vectors (embedded with a context header, stored plain)."""
        for i in range(0, len(chunks), _WRITE_BATCH):
            part = chunks[i : i + _WRITE_BATCH]
            self._on_collection(
                "upsert",
                ids=[c.chunk_id for c in part],
                embeddings=[list(v) for v in vectors[i : i + _WRITE_BATCH]],
                documents=[c.text for c in part],
                metadatas=[c.to_metadata() for c in part],
            )

    def update_metadata(self, chunks: Sequence[Chunk]) -> None:
        """Refresh the metadata (offsets, ordinal) of chunks already stored, keeping text and vectors.

        Same id means same report, section and text, so only where the chunk sits can have changed.
        """
        for i in range(0, len(chunks), _WRITE_BATCH):
            part = chunks[i : i + _WRITE_BATCH]
            self._on_collection(
                "update",
                ids=[c.chunk_id for c in part],
                metadatas=[c.to_metadata() for c in part],
            )

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), _WRITE_BATCH):
            self._on_collection("delete", ids=ids[i : i + _WRITE_BATCH])

    def ids_for_source(self, source: str) -> set[str]:
        """Ids of every chunk that came from `source` (a path relative to the corpus)."""
        found = self._on_collection("get", where={"source": source}, include=[])
        return set(found["ids"])

    def sources(self) -> set[str]:
        """Every source file with chunks in the store."""
        found = self._on_collection("get", include=["metadatas"])
        return {m["source"] for m in found["metadatas"]}

    def set_info(self, **values: str | int) -> None:
        """Record facts about the index (e.g. the corpus fingerprint) in the collection metadata."""
        metadata = dict(self.info())
        metadata.update(values)
        self._on_collection("modify", metadata=metadata)

    # -- reading ----------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The collection's metadata as stored now (another process may have re-ingested since)."""
        name = self.settings.collection
        return dict(self._guard(lambda: self._client.get_collection(name).metadata or {}))

    def count(self) -> int:
        return int(self._on_collection("count"))

    def all_chunks(self) -> list[Chunk]:
        """Every chunk in the store, in report and reading order."""
        found = self._on_collection("get", include=["documents", "metadatas"])
        chunks = [Chunk.from_metadata(d, m) for d, m in zip(found["documents"], found["metadatas"], strict=True)]
        return sorted(chunks, key=lambda c: (c.report, c.ordinal))

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        found = self._on_collection("get", ids=list(ids), include=["documents", "metadatas"])
        by_id = {
            m["chunk_id"]: Chunk.from_metadata(d, m)
            for d, m in zip(found["documents"], found["metadatas"], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]

    def search(
        self, vector: Sequence[float], k: int, reports: Sequence[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """Nearest chunks to `vector` with cosine similarity, optionally only from some reports."""
        where: dict[str, Any] | None = None
        if reports:
            where = {"report": reports[0]} if len(reports) == 1 else {"report": {"$in": list(reports)}}
        k = max(1, min(k, self.count()))
        results = self._on_collection(
            "query",
            query_embeddings=[list(vector)],
            n_results=k,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        # After an ingest killed mid-write, Chroma's vector index can still hold records the database
        # deleted (their document and metadata come back as None); they are ghosts, not chunks.
        return [
            (Chunk.from_metadata(doc, meta), 1.0 - float(dist))
            for doc, meta, dist in zip(
                results["documents"][0], results["metadatas"][0], results["distances"][0], strict=True
            )
            if doc is not None and meta is not None
        ]


def _looks_like_connection_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(s in text for s in ("connect", "timeout", "timed out", "refused", "unreachable", "remoteprotocol"))
