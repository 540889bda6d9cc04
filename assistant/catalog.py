"""Report metadata: the catalog in corpus/catalog.toml, and fallbacks for reports not listed in it."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import CatalogError
from assistant.types import ReportInfo

_ID_UNSAFE = re.compile(r"[^a-z0-9]+")


def report_id_for_file(filename: str) -> str:
    """The id of a report with no catalog entry: its file name, lower-cased and slugged."""
    return _ID_UNSAFE.sub("-", Path(filename).stem.lower()).strip("-") or "report"


@dataclass
class Catalog:
    """The reports the assistant knows about, by id and by file name."""

    reports: dict[str, ReportInfo] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Catalog:
        """Read catalog.toml; a missing file is an empty catalog, a malformed one an error."""
        if not path.exists():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CatalogError(f"{path} is not valid TOML ({exc}); fix it or remove it.") from exc
        reports: dict[str, ReportInfo] = {}
        for i, entry in enumerate(data.get("report", []), start=1):
            if "file" not in entry or "title" not in entry:
                raise CatalogError(f"{path}: report entry {i} needs at least `file` and `title`.")
            info = ReportInfo(
                id=entry.get("id") or report_id_for_file(entry["file"]),
                file=entry["file"],
                title=entry["title"],
                year=entry.get("year"),
                authors=tuple(entry.get("authors", ())),
                publisher=entry.get("publisher", ""),
                series=entry.get("series", ""),
                kind=entry.get("kind", ""),
                aliases=tuple(entry.get("aliases", ())),
                note=entry.get("note", ""),
                url=entry.get("url", ""),
                isbn=str(entry.get("isbn", "")),
            )
            if info.id in reports:
                raise CatalogError(f"{path}: report id {info.id!r} is used twice; ids must be unique.")
            reports[info.id] = info
        return cls(reports)

    def __iter__(self) -> Iterator[ReportInfo]:
        return iter(sorted(self.reports.values(), key=lambda r: r.id))

    def __len__(self) -> int:
        return len(self.reports)

    def get(self, report_id: str) -> ReportInfo | None:
        return self.reports.get(report_id)

    def for_file(self, filename: str) -> ReportInfo | None:
        """The catalog entry whose `file` is this file's name, if any."""
        name = Path(filename).name
        return next((r for r in self.reports.values() if r.file == name), None)

    def add(self, info: ReportInfo) -> None:
        """Add a report learned elsewhere (e.g. from the index) unless the catalog already has it."""
        self.reports.setdefault(info.id, info)
