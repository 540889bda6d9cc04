"""One shared Assistant under load: 8 threads, 200 questions, the real model and the real corpus index."""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from assistant.chain import Assistant
from assistant.config import Settings
from assistant.embeddings import Embedder, get_embedder

pytestmark = pytest.mark.integration

CASES = Path(__file__).resolve().parents[2] / "evals" / "cases.jsonl"
DISTINCT = 50  # distinct questions; 8 rounds of them make the 200
THREADS = 8
TOTAL = 200


class RecordedEmbedder(Embedder):
    """The real model, with each exact call (the whole batch) remembered.

    MiniLM costs about a second a question here, so 200 fresh questions would take minutes. The
    first time a batch is seen in the threaded run the model runs, concurrently with the other
    threads; a repeat gets the vectors that same batch produced. Whole batches, because padding makes
    a text's vector depend slightly on its batch mates.
    """

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.name, self.version, self.max_tokens = inner.name, inner.version, inner.max_tokens
        self._seen: dict[tuple[str, ...], list[list[float]]] = {}
        self._lock = threading.Lock()
        self.model_calls = 0

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        key = tuple(texts)
        with self._lock:
            if key in self._seen:
                return self._seen[key]
        vectors = self.inner.embed_documents(list(texts))
        with self._lock:
            self.model_calls += 1
            return self._seen.setdefault(key, vectors)


def comparable(answer) -> dict[str, Any]:
    data = answer.to_dict()
    data.pop("timings_ms", None)
    data.pop("id", None)
    data["passages"] = [p.chunk.chunk_id for p in answer.passages]
    return data


@pytest.mark.timeout(300)
def test_shared_assistant_answers_identically_under_8_threads(real_settings: Settings) -> None:
    questions = [json.loads(line)["question"] for line in CASES.read_text().splitlines() if line.strip()]
    questions = list(dict.fromkeys(questions))[:DISTINCT]
    workload = [questions[i % len(questions)] for i in range(TOTAL)]
    random.Random(7).shuffle(workload)

    single = Assistant.from_settings(real_settings, embedder=RecordedEmbedder(get_embedder(real_settings)))
    expected = {q: comparable(single.ask(q)) for q in questions}

    shared_embedder = RecordedEmbedder(get_embedder(real_settings))  # its own model and memory: cold start
    shared = Assistant.from_settings(real_settings, embedder=shared_embedder)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(lambda q: (q, comparable(shared.ask(q))), workload))
    seconds = time.perf_counter() - started

    assert len(results) == TOTAL
    mismatches = [q for q, got in results if got != expected[q]]
    assert not mismatches, f"{len(mismatches)} answers differ from the single-threaded ones, e.g. {mismatches[0]!r}"
    assert shared_embedder.model_calls >= DISTINCT  # the model itself ran under the threads
    print(f"\n{TOTAL} answers from {THREADS} threads in {seconds:.1f}s, {shared_embedder.model_calls} model calls")
