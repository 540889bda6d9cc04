"""The corpus folder as a boundary: which files an ingest takes, and which it refuses (links, outside paths)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

IGNORED_NAMES = {"catalog.toml", "readme.md", ".gitkeep"}


@dataclass(frozen=True)
class FileFailure:
    """A file that was skipped, and why (one line, naming the file)."""

    source: str
    reason: str


def discover(
    paths: Sequence[Path], corpus_dir: Path
) -> tuple[list[tuple[Path, str]], list[FileFailure], list[Path]]:
    """Files to ingest as (path, source key), failures for paths missing or refused, and folders scanned.

    Symbolic links (to files or folders) and paths outside the corpus folder are refused with a reason.
    """
    corpus = corpus_dir.resolve()
    files: dict[str, Path] = {}
    failures: list[FileFailure] = []
    folders: list[Path] = []

    def take(path: Path) -> None:
        refusal = _refusal(path, corpus)
        if refusal:
            failures.append(FileFailure(_key(path, corpus), refusal))
        else:
            files.setdefault(_key(path, corpus), path)

    for raw in paths:
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            failures.append(FileFailure(str(path), f"{path}: not found; check the path."))
        elif path.is_dir():  # the folder named may itself be a link (a deployed corpus); links inside are refused
            if not path.resolve().is_relative_to(corpus):
                failures.append(FileFailure(str(path), _outside(path, corpus)))
                continue
            path = path.resolve()
            folders.append(path)
            # os.walk does not follow symlinked folders (Path.rglob in 3.11 does): each link is refused instead.
            for root, dirs, names in os.walk(path):
                base = Path(root)
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for entry in [base / d for d in dirs if (base / d).is_symlink()] + [base / n for n in sorted(names)]:
                    if not _ignored(entry, path):
                        take(entry)
        else:
            take(path)
    return sorted(((p, s) for s, p in files.items()), key=lambda x: x[1]), failures, folders


def _refusal(path: Path, corpus: Path) -> str | None:
    """Why a path may not be indexed, or None."""
    if path.is_symlink():
        return (
            f"{path.name}: a symbolic link (to {os.readlink(path)}); refused, only files inside the corpus "
            "folder are indexed. Copy the file into the folder instead."
        )
    if not path.resolve().is_relative_to(corpus):
        return _outside(path, corpus)
    return None


def _outside(path: Path, corpus: Path) -> str:
    return f"{path}: outside the corpus folder {corpus}; refused. Copy the file into the corpus folder first."


def _key(path: Path, corpus: Path) -> str:
    """How a file is named in the index: its path relative to the corpus folder (links are not resolved)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(corpus).as_posix()
    except ValueError:
        return absolute.as_posix()


def _ignored(path: Path, root: Path) -> bool:
    relative = path.relative_to(root)
    return path.name.lower() in IGNORED_NAMES or any(part.startswith(".") for part in relative.parts)


def source_key(path: Path, corpus_dir: Path) -> str:
    """How a file is named in the index: relative to the corpus folder."""
    return _key(path, corpus_dir.resolve())


def scanned(source: str, folders: Sequence[Path], corpus_dir: Path) -> bool:
    """Whether a source key lies under one of the folders a run scanned, so that its absence means removal."""
    path = Path(source) if Path(source).is_absolute() else (corpus_dir.resolve() / source)
    return any(Path(os.path.abspath(path)).is_relative_to(folder) for folder in folders)
