"""The command line over the fixture index: ask (single, JSON, batch), chat, search, reports and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.config import Settings
from cli import app
from ingest.pipeline import run_ingest

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    assert run_ingest(settings, progress=False).ok
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "fake")
    monkeypatch.setenv("ASSISTANT_ABSTAIN_THRESHOLD", "0.1")
    return settings


def test_ask_json_follows_the_contract(env: Settings) -> None:
    result = runner.invoke(app, ["ask", "What stops small firms training staff?", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["citations"] and data["answer"] and data["abstained"] is False


def test_ask_batch_answers_each_line_and_reports_bad_lines(env: Settings, tmp_path: Path) -> None:
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        json.dumps({"id": "a", "question": "How are networks funded?"})
        + "\nnot json\n"
        + json.dumps({"id": "b", "question": "And how were they paid for?", "history": ["What are networks?"]})
        + "\n"
        + json.dumps({"id": "c", "question": ""})
        + "\n"
    )
    result = runner.invoke(app, ["ask", "--batch", str(batch), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r.get("id") for r in rows] == ["a", None, "b", "c"]
    assert rows[0]["citations"] and rows[2]["citations"]
    assert "bad input line" in rows[1]["error"] and "empty" in rows[3]["error"]


def test_chat_keeps_the_conversation(env: Settings) -> None:
    result = runner.invoke(app, ["chat"], input="What are employer networks?\nAnd how were they paid for?\n\n")
    assert result.exit_code == 0, result.output
    assert "membership fees" in result.output
    assert result.output.count("Sources") == 2


def test_search_filters_by_report(env: Settings) -> None:
    result = runner.invoke(app, ["search", "small firms", "--report", "beta-2015", "--json", "-k", "2"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert rows and {r["report"] for r in rows} == {"beta-2015"}


def test_reports_lists_the_library(env: Settings) -> None:
    result = runner.invoke(app, ["reports"])
    assert result.exit_code == 0
    assert "alpha-2010" in result.output and "beta-2015" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "Give a question"),
        (["ask", "x" * 2500], "limit is 2,000"),
        (["ask", "networks?", "--report", "nope"], "Unknown report nope"),
        (["ask", "networks?", "--writer", "gpt-9"], "Available: extractive"),
        (["ask", "--batch", "missing.jsonl"], "not found"),
        (["search", "networks", "--report", "nope"], "Unknown report"),
    ],
)
def test_errors_are_one_clear_line_and_exit_1(env: Settings, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_missing_index_says_how_to_build_it(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "fake")
    result = runner.invoke(app, ["ask", "How are networks funded?"])
    assert result.exit_code == 1
    assert "assistant ingest" in result.output


def test_index_built_with_another_chunker_asks_for_a_rebuild(env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_CHUNK_TOKENS", "100")
    result = runner.invoke(app, ["ask", "How are networks funded?"])
    assert result.exit_code == 1
    assert "--rebuild" in result.output


def test_chat_help_lists_the_commands_and_quit_ends_the_session(env: Settings) -> None:
    result = runner.invoke(app, ["chat"], input="/help\n/quit\nWhat are employer networks?\n")
    assert result.exit_code == 0, result.output
    assert all(command in result.output for command in ("/new", "/report ID", "/quit"))
    assert "Sources" not in result.output  # nothing after /quit was asked


def test_chat_empty_line_says_how_to_quit_and_keeps_going(env: Settings) -> None:
    result = runner.invoke(app, ["chat"], input="\nWhat are employer networks?\n")
    assert result.exit_code == 0, result.output
    assert "/quit to end the session" in result.output
    assert "Sources" in result.output  # the question after the empty line was answered


def test_chat_shows_what_a_follow_up_searched_and_new_forgets(env: Settings) -> None:
    lines = ["What are employer networks?", "And how were they paid for?", "/new", "And how were they paid for?"]
    result = runner.invoke(app, ["chat"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    before, after = result.output.split("New conversation", 1)
    assert "Searched as: And how were they paid for? (employer networks)" in before
    assert "Searched as" not in after


def test_chat_report_focus_and_bad_commands(env: Settings) -> None:
    lines = ["/report nope", "/report beta-2015", "What do employers value?", "/report", "/bogus", "/quit"]
    result = runner.invoke(app, ["chat"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Unknown report nope" in text and "Unknown command /bogus" in text
    focused = text.split("Focus: beta-2015", 1)[1].split("Report focus cleared", 1)[0]
    assert "Colleges and Small Employers" in focused and "Employer Networks in Practice" not in focused


def test_ask_json_has_searched_as(env: Settings, tmp_path: Path) -> None:
    batch = tmp_path / "q.jsonl"
    rows = [
        {"id": "f", "question": "And how were they paid for?", "history": ["What are employer networks?"]},
        {"id": "s", "question": "What stops small firms from training their staff?", "history": ["What are networks?"]},
    ]
    batch.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = runner.invoke(app, ["ask", "--batch", str(batch), "--json"])
    follow_up, standalone = (json.loads(line) for line in result.output.splitlines())
    assert follow_up["searched_as"].startswith("And how were they paid for? (")
    assert standalone["searched_as"] == ""
