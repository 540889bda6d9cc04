"""Fixtures for the robustness tests: a fake-embedder index of the fixture corpus, a real Chroma server,
and the real corpus indexed with the real model (shared with tests/integration)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tests.integration` and the app's `pages` import from the project root
    sys.path.insert(0, str(REPO))

from assistant.config import Settings  # noqa: E402
from ingest.pipeline import run_ingest  # noqa: E402

# The integration suite's session index of the real corpus, built with the real model.
from tests.integration.conftest import real_settings  # noqa: E402, F401  (a fixture, used by name)

CHROMA = Path(sys.executable).parent / "chroma"


@pytest.fixture
def indexed(settings: Settings) -> Settings:
    """The fixture corpus ingested with the fake embedder into tmp_path."""
    summary = run_ingest(settings, progress=False)
    assert summary.ok and summary.total_chunks > 0, summary.failures
    return settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChromaServer:
    """A `chroma run` subprocess on loopback that a test can stop and start again on the same port and data."""

    def __init__(self, path: Path, port: int, log: Path):
        self.path, self.port, self.log = path, port, log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        if not CHROMA.exists():
            pytest.skip(f"no Chroma CLI at {CHROMA}")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"chroma run did not answer within {timeout}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def unused_url() -> str:
    """A loopback URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    """A real Chroma server on a free loopback port, stopped at the end of the test."""
    server = ChromaServer(tmp_path / "chroma-server", free_port(), tmp_path / "chroma.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
