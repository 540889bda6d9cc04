"""The command line over the real index: search finds the definition; every command's help has an example."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assistant.config import Settings
from cli import app

pytestmark = pytest.mark.integration

QUESTION = "How did the 2008 SSDA study define employer engagement?"
DEFINITION = "any form of contact between any organisation and an employer"


def search_rows(result) -> list[dict]:
    """The JSON lines `assistant search --json` printed."""
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def holds_definition(row: dict) -> bool:
    return DEFINITION in " ".join(row["text"].split())


def test_search_json_finds_the_ssda_definition_in_the_top_three(real_settings: Settings) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--index-dir",
            str(real_settings.index_dir),
            "--corpus-dir",
            str(real_settings.corpus_dir),
            "search",
            QUESTION,
            "-k",
            "3",
            "--json",
        ],
    )
    rows = search_rows(result)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert any(holds_definition(r) and r["report"] == "ssda-2008" for r in rows), [r["text"][:80] for r in rows]


def test_search_reads_the_index_from_the_environment(real_settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(real_settings.index_dir))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(real_settings.corpus_dir))
    rows = search_rows(CliRunner().invoke(app, ["search", QUESTION, "-k", "3", "--json"]))
    assert any(holds_definition(r) for r in rows)


@pytest.mark.parametrize("command", ["ingest", "search", "ask"])
def test_help_shows_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"assistant {command}" in result.output
