"""Inputs a tester tries: -k out of range, --index-dir naming a file, lone surrogates in a batch, an emptied
file read as Ctrl-D, a hung Chroma server, and an upload whose ingest fails with a foreign exception."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

import cli
from assistant.config import Settings
from assistant.errors import StoreUnavailableError
from assistant.store import ChunkStore
from tests.conftest import FakeEmbedder

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def env(indexed: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in {
        "CORPUS_DIR": indexed.corpus_dir,
        "INDEX_DIR": indexed.index_dir,
        "EMBEDDER": "fake",
        "ABSTAIN_THRESHOLD": "0.1",
    }.items():
        monkeypatch.setenv(f"ASSISTANT_{key}", str(value))
    return indexed


@pytest.mark.parametrize(("k", "accepted"), [("0", False), ("-1", False), ("-100000", False), ("51", False),
                                             ("1", True), ("50", True)])
def test_search_k_is_refused_outside_its_range(env: Settings, k: str, accepted: bool) -> None:
    result = runner.invoke(cli.app, ["search", "small employers", "-k", k, "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if accepted:
        assert result.exit_code == 0, result.output
        assert 1 <= len(result.stdout.splitlines()) <= int(k)
    else:
        assert result.exit_code == 1
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines == [f"Error: -k must be between 1 and 50 (got {k})."], result.stderr
        assert not result.stdout.strip()


@pytest.mark.parametrize("command", [["ask", "What are employer networks?"], ["search", "networks"], ["ingest", "-q"],
                                     ["reports"]])
@pytest.mark.parametrize("how", ["flag", "env"])
def test_index_dir_naming_a_file_is_one_line(
    env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], how: str
) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    if how == "env":
        monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(a_file))
        result = runner.invoke(cli.app, command)
    else:
        result = runner.invoke(cli.app, ["--index-dir", str(a_file), *command])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"{a_file} is a file, not a folder" in lines[0], result.stderr
    assert a_file.read_text() == "x"


def test_batch_lines_with_lone_surrogates_are_refused_one_by_one(env: Settings, tmp_path: Path) -> None:
    lines = [
        r'{"id": "\ud800", "question": "What are employer networks?"}',
        r'{"id": "q2", "question": "What are employer networks?", "reports": ["\udc00"]}',
        r'{"id": "q3", "question": "What are employer networks?", "history": ["\ud800 earlier"]}',
        r'{"id": "q4", "question": "What are \ud800 networks?"}',
        '{"id": "q5", "question": "What are employer networks?"}',
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(cli.app, ["ask", "--batch", str(batch), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r.get("line") for r in rows[:4]] == [1, 2, 3, 4]
    assert [r["id"] for r in rows] == [None, "q2", "q3", "q4", "q5"]
    assert all("lone surrogate" in r["error"] for r in rows[:4]), rows
    assert "error" not in rows[4] and rows[4]["answer"]


def test_an_eof_from_a_file_is_an_error_not_ctrl_d(env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.chain

    def emptied(*args, **kwargs):
        raise EOFError("No data left in file")

    monkeypatch.setattr(assistant.chain.Assistant, "from_settings", classmethod(emptied))
    result = runner.invoke(cli.app, ["ask", "What are employer networks?"])
    assert result.exit_code == 1
    assert "Aborted" not in result.output
    assert "ended too soon" in result.stderr and "assistant ingest" in result.stderr


@pytest.fixture
def hung_server() -> Iterator[str]:
    """A port that accepts connections and never answers (a Chroma server that hangs)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_hung_chroma_server_is_named_with_its_timeout(hung_server: str, tmp_path: Path) -> None:
    settings = Settings.load(
        corpus_dir=tmp_path, index_dir=tmp_path / "index", embedder="fake", chroma_url=hung_server, store_timeout_s=1
    )
    with pytest.raises(StoreUnavailableError) as raised:
        ChunkStore(settings, FakeEmbedder())
    message = str(raised.value)
    assert f"The Chroma server at {hung_server} did not answer within 1 s (ASSISTANT_STORE_TIMEOUT_S)" in message
    assert "Chroma server at Chroma server" not in message and "curl" in message


def test_an_upload_whose_ingest_fails_with_a_foreign_exception(env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.pipeline

    def lost(*args, **kwargs):
        raise ValueError("Could not connect to tenant default_tenant. Are you sure it exists?")

    monkeypatch.setattr(ingest.pipeline, "run_ingest", lost)
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(REPO / "pages" / "reports.py"), default_timeout=60)
        at.run()
        at.file_uploader(key="upload").set_value(("notes.txt", b"Notes\n\nEmployers and colleges.", "text/plain"))
        at.run()
        at.button(key="add-report").click().run()
    finally:
        st.cache_resource.clear()
    assert not at.exception, at.exception
    shown = " ".join(e.value for e in at.error)
    assert "could not be updated" in shown and "ValueError" in shown and "notes.txt" in shown.replace("\\", "")
    assert not (env.corpus_dir / "notes.txt").exists()  # taken back out: it was not indexed
