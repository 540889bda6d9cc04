"""Start-up: the model loads beside the store and BM25, its errors are not lost, a missing index is told at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from assistant.chain import Assistant
from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.errors import BackendUnavailableError, IndexMissingError
from ingest.pipeline import run_ingest


@pytest.fixture
def slow(fake_embedder: Embedder) -> Callable[..., Embedder]:
    """Make the fake embedder with a model that takes `delay` seconds to load, or fails to."""

    class SlowWarmEmbedder(type(fake_embedder)):  # type: ignore[misc]
        def __init__(self, delay: float = 0.0, error: Exception | None = None) -> None:
            super().__init__()
            self.delay, self.error = delay, error
            self.warmed_on: str | None = None
            self.warm_done = threading.Event()

        def warm(self) -> None:
            self.warmed_on = threading.current_thread().name
            time.sleep(self.delay)
            self.warm_done.set()
            if self.error:
                raise self.error

    return SlowWarmEmbedder


@pytest.fixture
def indexed(settings: Settings) -> Settings:
    assert run_ingest(settings, progress=False).ok
    return settings


def test_model_loads_on_its_own_thread_while_the_index_opens(indexed: Settings, slow: Callable) -> None:
    embedder = slow(delay=0.5)
    started = time.perf_counter()
    assistant = Assistant.from_settings(indexed, embedder=embedder)
    elapsed = time.perf_counter() - started
    assert embedder.warmed_on not in (None, threading.main_thread().name)
    assert embedder.warm_done.is_set()  # from_settings returns a warm assistant
    assert elapsed >= 0.5
    assert assistant.ask("How were employer networks funded?").citations


def test_an_error_loading_the_model_reaches_the_caller(indexed: Settings, slow: Callable) -> None:
    error = BackendUnavailableError("The ONNX model is damaged. Reinstall it: `make install`.")
    with pytest.raises(BackendUnavailableError, match="Reinstall"):
        Assistant.from_settings(indexed, embedder=slow(error=error))


def test_a_missing_index_is_reported_without_waiting_for_the_model(settings: Settings, slow: Callable) -> None:
    embedder = slow(delay=3.0)
    started = time.perf_counter()
    with pytest.raises(IndexMissingError, match="assistant ingest"):
        Assistant.from_settings(settings, embedder=embedder)
    assert time.perf_counter() - started < 2.0
    assert not embedder.warm_done.is_set()
