"""The ingest manifest: which files are in the index, with the hash they had when indexed."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


def file_fingerprint(path: Path, extra: str = "") -> str:
    """SHA-256 of the file's bytes plus `extra` (its catalog entry, so catalog edits re-index it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(extra.encode("utf-8"))
    return digest.hexdigest()


@dataclass
class Manifest:
    """source (path relative to the corpus) -> {"sha256", "report", "chunks"}; saved atomically."""

    path: Path
    files: dict[str, dict] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """The saved manifest; a missing or unreadable one is empty (everything is re-checked)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(path=path, files=dict(data.get("files", {})), versions=dict(data.get("versions", {})))
        except (OSError, ValueError):
            return cls(path=path)

    def save(self) -> None:
        """Write to a temporary file and rename, so a crash never leaves half a manifest."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"versions": self.versions, "files": self.files}, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def is_current(self, source: str, sha256: str) -> bool:
        entry = self.files.get(source)
        return entry is not None and entry.get("sha256") == sha256

    def record(self, source: str, sha256: str, report: str, chunks: int) -> None:
        self.files[source] = {"sha256": sha256, "report": report, "chunks": chunks}

    def forget(self, source: str) -> None:
        self.files.pop(source, None)

    def corpus_fingerprint(self) -> str:
        """One hash for the whole indexed corpus: changes whenever any file is added, changed or removed."""
        joined = "\n".join(f"{s}={e['sha256']}" for s, e in sorted(self.files.items()))
        return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:24]
