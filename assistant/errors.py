"""One small hierarchy of errors whose messages tell the user what to do.

Only the edges (CLI, app, eval runner) turn these into exit codes or UI messages.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: the message is written for the person running the assistant."""


class ConfigError(AssistantError):
    """A setting is missing, malformed or names something unknown."""


class UnknownBackendError(ConfigError):
    """A registry was asked for a name it does not know; the message lists the known names."""

    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name, self.known = kind, name, sorted(known)
        super().__init__(f"Unknown {kind} {name!r}. Available: {', '.join(self.known)}.")


class CatalogError(AssistantError):
    """The report catalog cannot be read."""


class IndexMissingError(AssistantError):
    """There is no index yet, or it is empty."""


class IndexMismatchError(AssistantError):
    """The index was built with a different embedder or chunker version."""


class IndexWriteError(AssistantError):
    """The index folder refused a write (disk full, read-only, no permission); nothing was half-written."""


class StoreUnavailableError(AssistantError):
    """The vector store (e.g. a Chroma server) cannot be reached."""


class IngestError(AssistantError):
    """A file could not be ingested; ingestion reports these per file and goes on."""


class BackendUnavailableError(AssistantError):
    """An optional backend (an LLM server, an API key) is not available."""


class InvalidQuestionError(AssistantError):
    """The question is empty, too long or otherwise unusable."""


class ModelFileError(AssistantError):
    """The fitted answer model (assistant/rank/model.json) is missing, damaged or out of date."""


class IndexDamagedError(AssistantError):
    """A file of the index is damaged (truncated, overwritten, deleted); the message names it and the way out."""
