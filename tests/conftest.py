"""Shared fixtures: a tiny deterministic embedder and a three-report corpus, each test in its own tmp_path."""

from __future__ import annotations

import hashlib
import math
import re
import shutil
from pathlib import Path

import pytest

from assistant.config import Settings, prepare_runtime
from assistant.embeddings import Embedder, register_embedder

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
_WORD = re.compile(r"[a-z]{3,}")

prepare_runtime()


class FakeEmbedder(Embedder):
    """Bag of hashed words in 128 dimensions, normalised: similar wording gives similar vectors."""

    name = "fake"
    version = "fake/1"
    max_tokens = 256
    dims = 128

    def __init__(self) -> None:
        self.calls = 0
        self.embedded = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dims
        for word in _WORD.findall(text.lower()):
            word = word.rstrip("s")
            index = int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % self.dims
            vector[index] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        self.embedded += len(texts)
        return [self._vector(t) for t in texts]

    def token_ids(self, text: str) -> list[int]:
        words = _WORD.findall(text.lower()) or ["empty"]
        return [int(hashlib.md5(w.rstrip("s").encode()).hexdigest()[:8], 16) % 100_000 for w in words]

    def embed_with_tokens(self, texts: list[str]):
        """Sentence vectors, and one hashed one-hot vector per word as its 'token vectors'."""
        import numpy as np

        vectors = np.asarray(self.embed_documents(texts), dtype=np.float32).reshape(len(texts), self.dims)
        tokens = []
        for text in texts:
            words = _WORD.findall(text.lower()) or ["empty"]
            rows = np.zeros((len(words), self.dims), dtype=np.float32)
            for row, word in enumerate(words):
                rows[row, int(hashlib.md5(word.rstrip("s").encode()).hexdigest()[:8], 16) % self.dims] = 1.0
            tokens.append(rows)
        return vectors, tokens


register_embedder("fake", lambda settings: FakeEmbedder())


# Where the fake embedder answers questions (the rest use the real model and the shipped answer model).
FAKE_MODEL_FOLDERS = ("unit", "robustness")
FAKE_MODEL_FILES = ("test_app_logic.py",)


@pytest.fixture(scope="session")
def fake_answer_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped answer model with its thresholds off, for tests that use the fake embedder.

    The shipped model is calibrated on MiniLM's cosines; the fake embedder's bag-of-words vectors are far
    lower, so its thresholds would refuse everything. Units still rank by the model, and abstention by
    unknown names and by the similarity floor still applies.
    """
    import json

    from assistant.rank.model import MODEL_PATH

    model = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    model["abstain_below"] = model["answers_at"] = model["points_at"] = 0.0
    path = tmp_path_factory.mktemp("answer-model") / "model.json"
    path.write_text(json.dumps(model), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _isolate_environment(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, fake_answer_model: Path
) -> None:
    """No test sees the developer's ASSISTANT_* settings; fake-embedder tests get the answer model made for it."""
    import os

    for key in list(os.environ):
        if key.startswith("ASSISTANT_"):
            monkeypatch.delenv(key)
    where = Path(str(request.node.path))
    if where.parent.name in FAKE_MODEL_FOLDERS or where.name in FAKE_MODEL_FILES:
        monkeypatch.setenv("ASSISTANT_ANSWER_MODEL", str(fake_answer_model))


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A private copy of the three-report fixture corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus", target)
    return target


@pytest.fixture
def settings(tmp_path: Path, corpus_dir: Path) -> Settings:
    """Settings pointing every path at tmp_path, with the fake embedder (and the answer model made for it)."""
    return Settings.load(corpus_dir=corpus_dir, index_dir=tmp_path / "index", embedder="fake", abstain_threshold=0.1)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()
