"""Connecting to Chroma (an embedded folder or a server) and making its failures actionable.

Split from store.py, which holds what is stored; this holds how the engine is reached: bounded
connects to a server, a fresh embedded engine after one refused a write, and the translation of an
engine's exception into the `AssistantError` the user reads.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

from assistant.config import Settings, prepare_runtime
from assistant.errors import AssistantError, IndexWriteError, StoreUnavailableError
from assistant.faults import (
    STORE_FILE,
    damaged_store,
    is_damaged_store,
    is_write_failure,
    looks_like_connection_error,
    looks_like_timeout,
    write_failure,
)

T = TypeVar("T")

_REFUSED_WRITES: set[str] = set()  # embedded index folders whose engine refused a write in this process
# How many times each folder's shared engine was replaced: a client of an older one must reconnect (the
# old engine may block for good after a refused write, even to read).
_ENGINE_EPOCH: dict[str, int] = {}


def chroma():
    prepare_runtime()
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb, ChromaSettings


def embedded_path(settings: Settings) -> str:
    return str(settings.index_dir / "chroma")


def store_file(settings: Settings) -> Path:
    """The embedded store's database file (named in messages when it is damaged)."""
    return Path(embedded_path(settings)) / STORE_FILE


def describe(settings: Settings) -> str:
    """Where the store lives, for messages."""
    return settings.chroma_display or f"{settings.index_dir}"


def forget_engine(path: str) -> None:
    """Drop this process's shared embedded engine for `path`: the next client starts a fresh one."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(path, None)
    _REFUSED_WRITES.discard(path)
    _ENGINE_EPOCH[path] = _ENGINE_EPOCH.get(path, 0) + 1


def epoch(settings: Settings) -> int:
    """The number of the embedded engine now shared for the settings' folder (0 for a server)."""
    return 0 if settings.chroma_server is not None else _ENGINE_EPOCH.get(embedded_path(settings), 0)


def refused(path: str) -> bool:
    """Whether the embedded engine for `path` refused a write earlier in this process."""
    return path in _REFUSED_WRITES


def connect(settings: Settings) -> Any:
    """A Chroma client for the settings' store, or an `AssistantError` saying why there is none."""
    chromadb, ChromaSettings = chroma()
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    server = settings.chroma_server
    if server is None:
        path = embedded_path(settings)
        if refused(path):  # that engine is stuck (see `Connection.fresh_engine_if_refused`): a fresh one
            forget_engine(path)
        try:
            settings.index_dir.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=path, settings=chroma_settings)
        except Exception as exc:  # Chroma writes on start: a full disk or read-only folder stops it here
            forget_engine(path)  # Chroma keeps the half-built engine of a failed start; never reuse it
            if is_damaged_store(exc):
                raise damaged_store(store_file(settings), exc) from exc
            if isinstance(exc, FileExistsError | NotADirectoryError):
                raise IndexWriteError(
                    f"The index folder {settings.index_dir} is not a folder (a file is in the way). "
                    "Name a folder with --index-dir or ASSISTANT_INDEX_DIR, or move the file."
                ) from exc
            if is_write_failure(exc):
                raise write_failure(describe(settings), exc) from exc
            if not os.access(settings.index_dir, os.W_OK):
                raise write_failure(describe(settings), OSError(errno.EROFS, "the folder is read-only")) from exc
            raise
    host, port = server
    timeout = settings.store_timeout_s
    try:
        # chromadb's client asks the server who we are while it is built, on an HTTP session with no
        # timeout: a hung server would hang here for ever. A bounded heartbeat first turns that into
        # an error; building the client in a worker bounds the rare hang between the two.
        import httpx

        httpx.get(f"{settings.chroma_base_url}/api/v2/heartbeat", timeout=timeout).raise_for_status()
        ssl = settings.chroma_ssl
        client = bounded(lambda: chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings), timeout)
        session = getattr(getattr(client, "_server", None), "_session", None)
        if session is not None:
            # The same limit for every later call: Chroma answers in milliseconds when it is well.
            session.timeout = httpx.Timeout(timeout)
    except Exception as exc:
        raise unavailable(settings, exc) from exc
    return client


def unavailable(settings: Settings, exc: BaseException) -> StoreUnavailableError:
    """The error for a server that cannot be reached, or that accepted the connection but never answered."""
    host, port = settings.chroma_server or ("?", 0)
    url = settings.chroma_base_url
    if looks_like_timeout(exc):
        return StoreUnavailableError(
            f"The Chroma server at {url} did not answer within {settings.store_timeout_s:g} s "
            f"(ASSISTANT_STORE_TIMEOUT_S). Check it with `curl {url}/api/v2/heartbeat`; restart it if it "
            "hangs, raise ASSISTANT_STORE_TIMEOUT_S if it is only slow, or unset ASSISTANT_CHROMA_URL "
            "to use the embedded store."
        )
    return StoreUnavailableError(
        f"Cannot reach the Chroma server at {url} ({type(exc).__name__}). "
        f"Start it with `chroma run --path .chroma-server --host {host} --port {port}`, "
        "or unset ASSISTANT_CHROMA_URL to use the embedded store."
    )


def guarded(settings: Settings, call: Callable[..., T], *args: Any, on_lost: Callable[[], None], **kwargs: Any) -> T:
    """Run a store call, turning a lost server, a damaged store or a refused write into a clear error.

    `on_lost` is called when the client must be rebuilt (the server was lost, or the engine is stuck).
    """
    try:
        return call(*args, **kwargs)
    except AssistantError:
        raise
    except Exception as exc:
        embedded = settings.chroma_server is None
        if not embedded and looks_like_connection_error(exc):
            on_lost()
            raise unavailable(settings, exc) from exc
        if embedded and is_damaged_store(exc):
            raise damaged_store(store_file(settings), exc) from exc
        # Only the engine's own internal errors may be a write in other words; "not found" never is.
        internal = type(exc).__name__ == "InternalError"
        local = settings.index_dir if embedded and internal and settings.index_dir.exists() else None
        if is_write_failure(exc, local):
            if embedded:
                _REFUSED_WRITES.add(embedded_path(settings))
            raise write_failure(describe(settings), exc) from exc
        if embedded and refused(embedded_path(settings)):
            # After a refused write the shared engine can fail in other words ("Could not connect to
            # tenant"): a fresh one for the next call, so a long-lived process recovers.
            forget_engine(embedded_path(settings))
            on_lost()
        raise


def bounded(call: Callable[[], T], timeout: float) -> T:
    """`call()` in a worker thread, or `TimeoutError` after `timeout` s (the worker is left to finish)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chroma-connect")
    try:
        return pool.submit(call).result(timeout=timeout)
    except FutureTimeout:
        raise TimeoutError(f"no answer within {timeout:g} s") from None
    finally:
        pool.shutdown(wait=False)


def move_aside(settings: Settings) -> Path:
    """Move a damaged embedded store out of the way (renamed, never deleted); returns where it went."""
    store = Path(embedded_path(settings))
    forget_engine(str(store))  # this process's engine lets it go
    aside = store.with_name(f"chroma.damaged-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}")
    os.replace(store, aside)
    return aside
