"""What a failure of the store's engine means for the user: a refused write, a damaged file, a lost server.

Chroma and SQLite report these as exceptions of their own types whose only common ground is the
wording, so they are told apart here by errno and by message (one place, shared by store and ingest).
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from assistant.errors import IndexDamagedError, IndexWriteError

# errno values that mean "the disk or folder will not take more writes", not a bug.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
# How SQLite (inside Chroma), hnswlib and Chroma's Rust core word the same conditions.
_WRITE_MESSAGES = (
    "database or disk is full",
    "no space left",
    "not enough free space",
    "readonly database",
    "read-only file system",
    "disk i/o error",
    "permission denied",
    "quota exceeded",
    "(code: 13)",  # SQLITE_FULL
    "(code: 10)",  # SQLITE_IOERR
)
# SQLite's words for a database file that is not whole: SQLITE_CORRUPT (11) and SQLITE_NOTADB (26).
_DAMAGE_MESSAGES = ("database disk image is malformed", "file is not a database", "(code: 11)", "(code: 26)")

STORE_FILE = "chroma.sqlite3"
NEARLY_FULL = 4 * 1024 * 1024  # free bytes below which an unexplained engine error is taken for a full disk


def is_write_failure(exc: BaseException, where: Path | None = None) -> bool:
    """Whether `exc` says the disk is full or the index folder cannot be written.

    With `where`, an error in other words while that folder's disk is all but full counts too: Chroma's
    core reports a write it could not make as, e.g., "Error in compaction: Failed to apply logs".
    """
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
        return True
    text = str(exc).lower()
    if any(s in text for s in _WRITE_MESSAGES):
        return True
    if where is not None:
        try:
            return shutil.disk_usage(where).free < NEARLY_FULL
        except OSError:
            return False
    return False


def write_failure(where: object, exc: BaseException) -> IndexWriteError:
    """An actionable error for a refused write to the index at `where`."""
    lines = str(exc).strip().splitlines()
    reason = getattr(exc, "strerror", None) or (lines[0] if lines else type(exc).__name__)
    return IndexWriteError(
        f"Cannot write the index at {where} ({reason}). Free some disk space or make the folder writable, "
        "then run `assistant ingest` again: the index still answers from what it held before."
    )


def is_damaged_store(exc: BaseException) -> bool:
    """Whether `exc` says the store's database file is not whole (truncated, overwritten)."""
    text = str(exc).lower()
    return any(s in text for s in _DAMAGE_MESSAGES)


def damaged_store(path: Path, exc: BaseException) -> IndexDamagedError:
    """One line naming the damaged database file and the way out."""
    lines = str(exc).strip().splitlines()
    reason = lines[0].split(")")[-1].strip() if lines else type(exc).__name__
    return IndexDamagedError(
        f"The index store {path} is damaged ({reason}). Run `assistant ingest --rebuild`: it moves the "
        "damaged store aside (it is not deleted) and builds a fresh one from the corpus."
    )


def looks_like_connection_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(s in text for s in ("connect", "timeout", "timed out", "refused", "unreachable", "remoteprotocol"))


def looks_like_timeout(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(s in text for s in ("timeout", "timed out", "no answer within"))
