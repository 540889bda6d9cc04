"""What an ingest run reports: the summary every stage of a run fills in."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.corpus import FileFailure
from ingest.estimate import Estimate


@dataclass
class IngestSummary:
    """What an ingest run did."""

    files: int = 0
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    encodings: dict[str, str] = field(default_factory=dict)  # source -> how a non-UTF-8 text file was decoded
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    total_chunks: int = 0
    seconds: float = 0.0
    rebuilt: bool = False
    generation: str | None = None  # the generation serving after the run
    estimate: Estimate | None = None  # what was announced before embedding

    @property
    def ok(self) -> bool:
        return not self.failures
