"""The same corpus and search through a real `chroma run` server on loopback instead of the embedded store."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from assistant.config import Settings
from assistant.embeddings import Embedder, get_embedder
from assistant.store import ChunkStore
from assistant.types import Chunk
from cli import app
from ingest.chunk import embedding_text
from ingest.pipeline import run_ingest

pytestmark = pytest.mark.integration

CHROMA = Path(sys.executable).parent / "chroma"
QUESTION = "How did the 2008 SSDA study define employer engagement?"
DEFINITION = "any form of contact between any organisation and an employer"
START_TIMEOUT_S = 60


class ReplayEmbedder(Embedder):
    """The real MiniLM, but texts it has already embedded for the session index come from memory.

    The corpus is embedded once per session; the server test checks the store, not the model again.
    """

    def __init__(self, model: Embedder, known: dict[str, list[float]]):
        self.model = model
        self.known = known
        self.name, self.version, self.max_tokens = model.name, model.version, model.max_tokens
        self.replayed = 0

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in texts if t not in self.known]
        if missing:
            self.known.update(zip(missing, self.model.embed_documents(missing), strict=True))
        self.replayed += len(texts) - len(missing)
        return [self.known[t] for t in texts]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `chroma run` server on a free loopback port, stopped after the module."""
    folder = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"chroma run exited with {server.returncode}:\n{(folder / 'server.log').read_text()}")
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"chroma run did not answer within {START_TIMEOUT_S} s")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def server_settings(real_settings: Settings, chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The real corpus ingested into the server (vectors of the session index replayed, not recomputed)."""
    model = get_embedder(real_settings)
    stored = ChunkStore(real_settings, model).open().vectorstore.get(include=["documents", "metadatas", "embeddings"])
    known = {
        embedding_text(Chunk.from_metadata(doc, meta)): list(map(float, vector))
        for doc, meta, vector in zip(stored["documents"], stored["metadatas"], stored["embeddings"], strict=True)
    }
    settings = Settings.load(
        corpus_dir=real_settings.corpus_dir,
        index_dir=tmp_path_factory.mktemp("server-index"),
        chroma_url=chroma_url,
    )
    replay = ReplayEmbedder(model, known)
    expected = len(known)  # the ingest warms the model with a text of its own, which joins `known`
    summary = run_ingest(settings, embedder=replay, progress=False)
    assert summary.ok, [f.reason for f in summary.failures]
    assert summary.chunks_embedded == expected, "the chunker cut the corpus differently from the session index"
    assert replay.replayed == expected
    return settings


def test_ingest_writes_to_the_server_not_to_disk(server_settings: Settings, real_settings: Settings) -> None:
    embedder = get_embedder(server_settings)
    store = ChunkStore(server_settings, embedder).open()
    assert store.describe().startswith("Chroma server at http://127.0.0.1:")
    assert store.count() == ChunkStore(real_settings, embedder).open().count()
    assert not (server_settings.index_dir / "chroma").exists()


def test_search_through_the_server_finds_the_ssda_definition(server_settings: Settings) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--index-dir",
            str(server_settings.index_dir),
            "--corpus-dir",
            str(server_settings.corpus_dir),
            "--chroma-url",
            str(server_settings.chroma_url),
            "search",
            QUESTION,
            "-k",
            "3",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(rows) == 3
    assert any(DEFINITION in " ".join(r["text"].split()) for r in rows), [r["text"][:80] for r in rows]


def test_reingest_against_the_server_embeds_nothing(server_settings: Settings) -> None:
    summary = run_ingest(server_settings, progress=False)
    assert summary.ok, summary.failures
    assert summary.chunks_embedded == 0
    assert summary.indexed == []
