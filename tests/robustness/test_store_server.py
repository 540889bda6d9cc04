"""A Chroma server that is down, or dies between questions: a clear error in seconds, and recovery."""

from __future__ import annotations

import time

import pytest

from assistant.chain import Assistant
from assistant.config import Settings
from assistant.errors import StoreUnavailableError
from ingest.pipeline import run_ingest

QUESTION = "How do colleges work with small employers?"


def _server_settings(settings: Settings, url: str) -> Settings:
    return Settings.load(**{**settings.model_dump(), "chroma_url": url})


def _fails_fast(call, url: str, *, hung: bool = False) -> StoreUnavailableError:
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as caught:
        call()
    assert time.monotonic() - started < 5.0, "the error must come within the 5 s budget, not hang"
    message = str(caught.value)
    assert url in message and "Chroma server at Chroma server" not in message
    if hung:  # running but not answering: starting it is not the advice
        assert "did not answer within" in message and "ASSISTANT_STORE_TIMEOUT_S" in message, message
        assert "chroma run" not in message
    else:
        assert "chroma run" in message, message
    return caught.value


def test_server_down_at_start_is_a_clear_error_naming_the_url(settings: Settings, unused_url: str) -> None:
    _fails_fast(lambda: Assistant.from_settings(_server_settings(settings, unused_url)), unused_url)


def test_server_lost_between_questions_then_back(settings: Settings, chroma_server) -> None:
    server_settings = _server_settings(settings, chroma_server.url)
    summary = run_ingest(server_settings, progress=False)
    assert summary.ok and summary.total_chunks > 0
    assistant = Assistant.from_settings(server_settings)
    first = assistant.ask(QUESTION)
    assert first.citations

    chroma_server.stop()
    for _ in range(2):  # every question while it is down fails the same clear way
        _fails_fast(lambda: assistant.ask(QUESTION), chroma_server.url)
    for _ in range(2):  # and so does a new process
        _fails_fast(lambda: Assistant.from_settings(server_settings), chroma_server.url)
    # What the running one already loaded is its generation, in memory: reading it needs no server.
    assert assistant.store.count() == summary.total_chunks

    chroma_server.start()
    again = assistant.ask(QUESTION)  # the same Assistant, no restart of the app
    assert again.answer == first.answer
    assert assistant.store.count() == summary.total_chunks
    assert assistant.store.get([first.passages[0].chunk.chunk_id])


def test_hung_server_times_out_instead_of_hanging(settings: Settings, chroma_server) -> None:
    import os
    import signal

    server_settings = Settings.load(**{**settings.model_dump(), "chroma_url": chroma_server.url, "store_timeout_s": 3})
    run_ingest(server_settings, progress=False)
    assistant = Assistant.from_settings(server_settings)
    assert assistant.ask(QUESTION).citations
    os.kill(chroma_server.process.pid, signal.SIGSTOP)  # alive, accepts connections, never answers
    try:
        _fails_fast(lambda: assistant.ask(QUESTION), chroma_server.url, hung=True)
    finally:
        os.kill(chroma_server.process.pid, signal.SIGCONT)
    assert assistant.ask(QUESTION).citations


def test_hung_server_fails_fast_twice_for_a_running_and_a_new_client(settings: Settings, chroma_server) -> None:
    import os
    import signal

    server_settings = Settings.load(**{**settings.model_dump(), "chroma_url": chroma_server.url, "store_timeout_s": 2})
    run_ingest(server_settings, progress=False)
    running = Assistant.from_settings(server_settings)
    assert running.ask(QUESTION).citations
    os.kill(chroma_server.process.pid, signal.SIGSTOP)  # alive, accepts connections, never answers
    try:
        for _ in range(2):  # the second question reconnects: that must be bounded too
            _fails_fast(lambda: running.ask(QUESTION), chroma_server.url, hung=True)
        for _ in range(2):  # a new client used to hang for ever while asking the server who it is
            _fails_fast(lambda: Assistant.from_settings(server_settings), chroma_server.url, hung=True)
    finally:
        os.kill(chroma_server.process.pid, signal.SIGCONT)
    assert running.ask(QUESTION).citations


def test_https_url_speaks_tls(settings: Settings, chroma_server) -> None:
    """An https:// URL is never downgraded: against a plain-HTTP server the TLS handshake fails clearly."""
    import ssl

    url = chroma_server.url.replace("http://", "https://")
    https = Settings.load(**{**settings.model_dump(), "chroma_url": url})
    assert https.chroma_ssl and https.chroma_base_url == url
    error = _fails_fast(lambda: Assistant.from_settings(https), url)
    causes = []
    cause: BaseException | None = error
    while cause is not None:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    assert any(isinstance(c, ssl.SSLError) or "SSL" in str(c) for c in causes), causes


def test_a_store_that_is_queried_between_generations_follows_the_server_pointer(
    settings: Settings, chroma_server, corpus_dir
) -> None:
    server_settings = _server_settings(settings, chroma_server.url)
    run_ingest(server_settings, progress=False)
    reader = Assistant.from_settings(server_settings)
    first = reader.store.generation.id
    (corpus_dir / "delta-2022-harbour.txt").write_text(
        "Harbour Pilots Review 2022\n\nThe harbour pilots were paid by a levy on shipping employers.\n"
    )
    summary = run_ingest(server_settings, progress=False)
    answer = reader.ask("Who paid the harbour pilots?")
    assert reader.store.generation.id == summary.generation != first
    assert any(c.report == "delta-2022-harbour" for c in answer.citations), answer.answer
