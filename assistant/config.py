"""Settings: documented defaults, then ASSISTANT_* environment variables, then explicit arguments.

This is the only module that reads the environment. Everything else receives a `Settings`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Every knob of the assistant, with its default. Build with `Settings.load(**overrides)`."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", frozen=True, extra="forbid")

    # Where things live.
    corpus_dir: Path = Field(PROJECT_ROOT / "corpus", description="Folder of reports and catalog.toml.")
    index_dir: Path = Field(PROJECT_ROOT / ".index", description="Embedded Chroma store, manifest, BM25.")
    collection: str = Field("reports", description="Chroma collection name.")

    # Vector store: embedded by default; a Chroma server when a URL or host is given.
    chroma_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000 for `chroma run`.")
    chroma_host: str | None = Field(None, description="Chroma server host (alternative to chroma_url).")
    chroma_port: int = Field(8000, description="Chroma server port, used with chroma_host.")
    store_timeout_s: float = Field(5.0, description="Seconds to wait for a Chroma server before failing.")

    # Embedding and chunking.
    embedder: str = Field("minilm", description="Embedder name from the registry.")
    embed_batch_size: int = Field(32, ge=1)
    # 230 tokens plus the ~20-token context header fills MiniLM's 256-token window; measured on the
    # eval set, larger chunks retrieved the supporting passage more often than 110 or 180.
    chunk_tokens: int = Field(230, ge=32, le=250, description="Target chunk size in model tokens.")
    chunk_overlap_sentences: int = Field(1, ge=0, le=3)

    # Retrieval.
    top_k: int = Field(6, ge=1, le=20, description="Passages handed to the answer writer.")
    candidates: int = Field(40, ge=5, description="Candidates taken from each of dense and BM25.")
    # Sentences are scored from more passages than are shown: the supporting passage is in the top 12
    # far more often than in the top 6, and the writer keeps at most two quotes from any one of them.
    pool_k: int = Field(12, ge=1, le=40, description="Passages whose sentences the offline writer considers.")
    answer_model: Path | None = Field(
        None, description="The fitted answer ranker (JSON); default: the one shipped in assistant/rank/model.json."
    )
    # Calibrated on the eval set (see README): in-scope questions' best passage similarity falls
    # near 0.2 only for vague follow-ups, and out-of-scope ones are caught better by unknown names.
    abstain_threshold: float = Field(0.20, description="Best passage similarity below this: abstain.")

    # Answer writing.
    writer: str = Field("extractive", description="extractive (offline), ollama or openai.")
    audience: str = Field("practitioner", description="practitioner or policy.")
    max_points: int = Field(5, ge=1, le=10)
    ollama_url: str = Field("http://127.0.0.1:11434")
    ollama_model: str = Field("llama3.1")
    openai_base_url: str | None = Field(None, description="Any OpenAI-compatible server.")
    openai_api_key: str | None = Field(None)
    openai_model: str = Field("gpt-4o-mini")
    # Bounds on one model request. 400 tokens hold a lead sentence and five cited points; unbounded, a small
    # model once wrote 1,394 tokens (69 s on two cores) before the answer was thrown away.
    llm_max_tokens: int = Field(400, ge=16, le=8192, description="Most tokens a model may write per answer.")
    llm_timeout_s: float = Field(
        60.0, gt=0, description="Seconds a model request may take (connecting, and the whole streamed reply)."
    )

    # Limits on input.
    max_question_chars: int = Field(2000, ge=10)
    max_upload_mb: int = Field(50, ge=1)
    # About seven minutes of embedding at this machine's rate (10-16 passages/s); a longer ingest belongs
    # on the command line, where it can be watched, not behind an upload button.
    max_upload_chunks: int = Field(5000, ge=1, description="The app refuses an upload that makes more passages.")

    @field_validator("audience")
    @classmethod
    def _known_audience(cls, value: str) -> str:
        if value not in {"practitioner", "policy"}:
            raise ValueError("audience must be 'practitioner' or 'policy'")
        return value

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Defaults, then ASSISTANT_* environment, then `overrides` (None values are ignored)."""
        from pydantic import ValidationError

        explicit = {k: v for k, v in overrides.items() if v is not None}
        try:
            return cls(**explicit)
        except ValidationError as exc:
            # One line per bad setting, naming its flag and variable, without pydantic's URL and dump.
            problems = []
            for error in exc.errors(include_url=False):
                name = str(error["loc"][0]) if error["loc"] else "settings"
                given = error.get("input")
                shown = f" (got {given!r})" if given is not None and not isinstance(given, dict) else ""
                message = str(error["msg"]).removeprefix("Value error, ")
                problems.append(f"{name} (ASSISTANT_{name.upper()}): {message}{shown}")
            raise ConfigError("Invalid setting " + "; ".join(problems) + ".") from None
        except Exception as exc:  # anything else pydantic-settings raises while reading the environment
            raise ConfigError(f"Invalid settings: {exc}. Check your ASSISTANT_* variables and flags.") from exc

    @field_validator("chroma_url")
    @classmethod
    def _valid_chroma_url(cls, value: str | None) -> str | None:
        if value:
            _parse_chroma_url(value)
        return value

    @field_validator("chroma_port")
    @classmethod
    def _valid_port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError("a port is a number from 1 to 65535")
        return value

    @property
    def chroma_server(self) -> tuple[str, int] | None:
        """(host, port) of the Chroma server, or None for the embedded store."""
        if self.chroma_url:
            _, host, port = _parse_chroma_url(self.chroma_url)
            return host, port
        if self.chroma_host:
            return self.chroma_host, self.chroma_port
        return None

    @property
    def chroma_ssl(self) -> bool:
        """Whether the Chroma server is reached over TLS (an https:// URL)."""
        return bool(self.chroma_url) and _parse_chroma_url(self.chroma_url or "")[0] == "https"

    @property
    def chroma_base_url(self) -> str | None:
        """The server's base URL as used (scheme, host, port), or None for the embedded store."""
        server = self.chroma_server
        if server is None:
            return None
        host = f"[{server[0]}]" if ":" in server[0] else server[0]
        return f"{'https' if self.chroma_ssl else 'http'}://{host}:{server[1]}"

    @property
    def chroma_display(self) -> str | None:
        """'Chroma server at URL' for messages, or None for the embedded store."""
        base = self.chroma_base_url
        return f"Chroma server at {base}" if base else None

    @property
    def state_dir(self) -> Path:
        """Local files that belong to one collection in one store: manifest and BM25 index."""
        server = self.chroma_server
        where = f"server-{server[0]}-{server[1]}" if server else "embedded"
        return self.index_dir / "state" / f"{where}-{self.collection}"

    @property
    def catalog_path(self) -> Path:
        return self.corpus_dir / "catalog.toml"


def _parse_chroma_url(value: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a Chroma server URL; `ValueError` saying what is wrong otherwise."""
    from urllib.parse import urlsplit

    example = "give e.g. http://127.0.0.1:8000 or https://chroma.example.org"
    try:
        parts = urlsplit(value if "://" in value else f"http://{value}")
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc}); {example}") from None
    if parts.scheme not in {"http", "https"}:
        raise ValueError(f"the scheme must be http or https, not {parts.scheme!r}; {example}")
    if not parts.hostname:
        raise ValueError(f"the URL has no host; {example}")
    if port == 0:
        raise ValueError(f"a port is a number from 1 to 65535; {example}")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 8000)


def prepare_runtime() -> None:
    """Make the process offline-safe before any model or store library is imported.

    Set here, at the edge of configuration, because these libraries read the environment themselves.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
