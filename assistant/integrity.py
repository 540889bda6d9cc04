"""Every file of a generation, recorded when it is published and checked when it is opened.

A generation's folder (BM25, token vectors, the ingest manifest, any file a later version adds) is
listed in `files.json` with each file's size and sha256, written just before the generation is
published; the pointer records the sha256 of that list, so deleting or editing it shows too. Nothing
here knows the file types: a new kind of file is covered as soon as it is written before publishing.

Opening must stay fast, so the check is graded by size. A small file is hashed in full every time.
A large one (token vectors run to tens of MB) is checked by size and by the hashes of its first and
last 64 KiB (which catch truncation, zero-filling and a rewritten header); it is hashed in full only
when its modification time differs from the recorded one, i.e. when something wrote to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

FILES = "files.json"
SMALL = 1 << 20  # files up to 1 MiB are hashed in full at every check
SAMPLE = 1 << 16  # larger ones: their first and last 64 KiB, and the full hash only once touched
FORMAT = "generation-files/1"


@dataclass(frozen=True)
class Damage:
    """One damaged file of a generation: where it is, which part of the generation, and how."""

    path: Path
    part: str  # the top-level name in the generation folder ("bm25", "tokens", "manifest.json"); "*" = all
    reason: str

    def describe(self) -> str:
        return f"{self.path} is {self.reason}"


def _full(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _sample(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        digest.update(handle.read(SAMPLE))
        handle.seek(max(0, size - SAMPLE))
        digest.update(handle.read(SAMPLE))
    return digest.hexdigest()


def _files(state_dir: Path) -> list[Path]:
    """Every regular file of the generation except the list itself and hidden work files (".x.partial")."""
    found = []
    for path in sorted(state_dir.rglob("*")):
        relative = path.relative_to(state_dir)
        if path.is_file() and relative.as_posix() != FILES and not any(p.startswith(".") for p in relative.parts):
            found.append(path)
    return found


def record(state_dir: Path) -> str:
    """Write `files.json` for the generation in `state_dir` (atomically); returns its sha256."""
    entries: dict[str, dict[str, object]] = {}
    for path in _files(state_dir):
        stat = path.stat()
        entry: dict[str, object] = {"size": stat.st_size, "sha256": _full(path), "mtime_ns": stat.st_mtime_ns}
        if stat.st_size > SMALL:
            entry["sample"] = _sample(path, stat.st_size)
        entries[path.relative_to(state_dir).as_posix()] = entry
    text = json.dumps({"format": FORMAT, "files": entries}, indent=1, sort_keys=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".files-", dir=state_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, state_dir / FILES)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify(state_dir: Path, expected: str | None) -> list[Damage]:
    """The damaged files of a generation ([] when whole). `expected` is the list's sha256 from the pointer;
    None for a generation published before lists were kept (nothing to check it against)."""
    listing = state_dir / FILES
    if expected is None:
        return []
    try:
        raw = listing.read_bytes()
    except FileNotFoundError:
        return [Damage(listing, "*", "missing")]
    except OSError as exc:
        return [Damage(listing, "*", f"unreadable ({exc.strerror})")]
    if hashlib.sha256(raw).hexdigest() != expected:
        return [Damage(listing, "*", "damaged (its checksum differs from the one recorded)")]
    try:
        entries = json.loads(raw.decode("utf-8"))["files"]
    except (ValueError, KeyError, TypeError):
        return [Damage(listing, "*", "unreadable")]
    damaged = []
    for name, entry in sorted(entries.items()):
        path = state_dir / name
        reason = _check(path, entry)
        if reason:
            damaged.append(Damage(path, name.split("/", 1)[0], reason))
    return damaged


def _check(path: Path, entry: dict) -> str | None:
    """Why `path` does not match its entry, or None when it does."""
    try:
        stat = path.stat()
        if stat.st_size != entry["size"]:
            return f"damaged ({stat.st_size} bytes, {entry['size']} expected)"
        if stat.st_size <= SMALL or stat.st_mtime_ns != entry.get("mtime_ns"):
            ok = _full(path) == entry["sha256"]
        else:
            ok = _sample(path, stat.st_size) == entry.get("sample")
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    return None if ok else "damaged (its checksum differs from the one recorded)"


def parts(damage: list[Damage]) -> set[str]:
    """The damaged parts of a generation by their top-level name; "*" when the list itself is damaged."""
    return {d.part for d in damage}
