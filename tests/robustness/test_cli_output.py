"""The CLI's output is inert: report text, file names and messages reach the terminal as plain text.

Also: batches that never abort, settings errors in one line, and `make run`'s ingest going on past
unreadable files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from assistant.config import Settings
from ingest.pipeline import last_skipped, run_ingest

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

HOSTILE = (
    "Hostile Markup Review 2021\n\n"
    "Employers trusted brokers who visited small firms \x1b[2J\x1b[H and cleared the screen. "
    "Brokers sent \x1b]8;;http://evil.example/\x1b\\a hidden link\x1b]8;;\x1b\\ to small firms about training. "
    "Small firms saw ![logo](http://tracker.example/pixel.png) and [click](http://evil.example) in the brief. "
    "Training brokers wrote :red[urgent] and $x^2$ and <script>alert(1)</script><img src=x> for small firms. "
    "The broker said [bold]small firms[/] and [/] \u202eevil\u202c need training support \x9b31m from employers.\n"
)
QUESTION = "What training support did the broker say small firms need from employers?"
# Only our own styling (SGR colour codes) may appear as escape sequences, and only on a terminal.
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "CORPUS_DIR": settings.corpus_dir,
        "INDEX_DIR": settings.index_dir,
        "EMBEDDER": "fake",
        "ABSTAIN_THRESHOLD": "0.1",
    }.items():
        monkeypatch.setenv(f"ASSISTANT_{key}", str(value))


@pytest.fixture
def hostile(settings: Settings, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    (corpus_dir / "hostile-2021-markup.txt").write_text(HOSTILE)
    assert run_ingest(settings, progress=False).ok
    _env(settings, monkeypatch)
    return settings


def _no_control(text: str) -> None:
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text and "\u202e" not in text, repr(text)


def test_answer_prints_report_text_literally_without_escapes(hostile: Settings) -> None:
    result = runner.invoke(cli.app, ["ask", QUESTION, "--report", "hostile-2021-markup"])
    assert result.exit_code == 0, result.output
    _no_control(result.output)
    data = json.loads(runner.invoke(cli.app, ["ask", QUESTION, "--report", "hostile-2021-markup", "--json"]).output)
    assert data["citations"]
    shown = " ".join(result.output.split())
    for citation in data["citations"]:  # every quote is printed whole, minus only the control characters
        assert " ".join(cli.clean(citation["quote"]).split()) in shown
    # Markup that a renderer would drop or act on was cited, and is printed as text.
    quotes = [c["quote"] for c in data["citations"]]
    planted = ("<script>alert(1)</script>", "[bold]small firms[/]", ":red[urgent]", "(http://tracker.example/pixel.png)")
    cited = [p for p in planted if any(p in q for q in quotes)]
    assert cited, quotes
    assert all(p in result.output for p in cited)


def test_search_and_json_output_carry_no_terminal_controls(hostile: Settings) -> None:
    result = runner.invoke(cli.app, ["search", "brokers small firms training", "-k", "10"])
    assert result.exit_code == 0, result.output
    _no_control(result.output)
    assert "<script>alert(1)</script>" in result.output and "[bold]small firms[/]" in result.output
    assert "![logo](http://tracker.example/pixel.png)" in result.output
    as_json = runner.invoke(cli.app, ["search", "brokers small firms training", "-k", "10", "--json"])
    raw = as_json.output
    assert "\x1b" not in raw and "\x9b" not in raw and "\u202e" not in raw  # escaped as \u001b etc.
    texts = [json.loads(line)["text"] for line in raw.splitlines()]
    assert any("\x1b[2J" in t for t in texts)  # the data itself is intact, for programs to handle


def test_on_a_terminal_only_our_own_colours_are_escape_sequences(hostile: Settings) -> None:
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    script = f"import sys; sys.path.insert(0, {str(REPO)!r}); import tests.conftest, cli; cli.app()"
    done = subprocess.run(
        [sys.executable, "-c", script, "search", "brokers small firms training", "-k", "10"],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    out = done.stdout.decode("utf-8")
    assert "\x1b[" in out  # it really was styled as for a terminal
    _no_control(_SGR.sub("", out))


def test_names_with_brackets_print_as_they_are(settings: Settings, corpus_dir: Path, monkeypatch) -> None:
    (corpus_dir / "empty [final].txt").write_bytes(b"")
    shutil.copy(corpus_dir / "alpha-2010-networks.txt", corpus_dir / "notes [red] 2011.txt")
    with open(corpus_dir / "catalog.toml", "a") as catalog:  # a title with Rich's closing tag in it
        catalog.write('\n[[report]]\nid = "notes-2011"\nfile = "notes [red] 2011.txt"\n')
        catalog.write('title = "Notes [red] [/] 2011"\n')
    _env(settings, monkeypatch)
    result = runner.invoke(cli.app, ["ingest", "--quiet"])
    assert result.exit_code == 1  # one file skipped
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Skipped: empty [final].txt: the file is empty." in " ".join(result.stderr.split())
    listed = runner.invoke(cli.app, ["reports"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    assert "Notes [red] [/] 2011" in listed.output


@pytest.mark.parametrize(
    ("variables", "setting"),
    [
        ({"ASSISTANT_CHROMA_URL": "http://127.0.0.1:99999"}, "ASSISTANT_CHROMA_URL"),
        ({"ASSISTANT_CHROMA_URL": "http://[::1"}, "ASSISTANT_CHROMA_URL"),
        ({"ASSISTANT_CHROMA_URL": "ftp://127.0.0.1:8000"}, "ASSISTANT_CHROMA_URL"),
        ({"ASSISTANT_CHROMA_HOST": "127.0.0.1", "ASSISTANT_CHROMA_PORT": "abc"}, "ASSISTANT_CHROMA_PORT"),
        ({"ASSISTANT_CHROMA_HOST": "127.0.0.1", "ASSISTANT_CHROMA_PORT": "70000"}, "ASSISTANT_CHROMA_PORT"),
    ],
)
def test_a_malformed_server_setting_is_one_line_naming_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], setting: str
) -> None:
    _env(settings, monkeypatch)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(cli.app, ["ask", "How are networks funded?"])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: Invalid setting") and setting in lines[0], result.stderr
    assert "Traceback" not in result.output


# -- batches ---------------------------------------------------------------------------------------------


def test_every_bad_batch_line_gets_its_error_and_the_rest_are_answered(
    indexed: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(indexed, monkeypatch)
    lines = [
        json.dumps({"id": "ok-1", "question": "How are networks funded?"}),
        json.dumps({"id": "hist", "question": "And how were they paid for?", "history": [1, 2]}),
        "[" * 100_000 + "]" * 100_000,
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "num", "question": 5}),
        json.dumps({"id": {"nested": True}, "question": "Networks?"}),
        "{not json",
        json.dumps({"id": "rep", "question": "Networks?", "reports": "alpha-2010"}),
        json.dumps({"id": "ok-2", "question": "What stops small firms training staff?", "history": ["Networks?"]}),
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    result = runner.invoke(cli.app, ["ask", "--batch", str(batch), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == len(lines)
    answered = [r for r in rows if "error" not in r]
    assert [r["id"] for r in answered] == ["ok-1", "ok-2"] and all(r["citations"] for r in answered)
    errors = {r["line"]: r for r in rows if "error" in r}
    assert sorted(errors) == [2, 3, 4, 5, 6, 7, 8]
    for row in errors.values():
        assert set(row) == {"id", "line", "error"} and "\n" not in row["error"]
    assert errors[2]["id"] == "hist" and "history" in errors[2]["error"]
    assert "nested too deeply" in errors[3]["error"]
    assert errors[5]["id"] == "num" and "question" in errors[5]["error"]
    assert errors[6]["id"] is None and "id must be" in errors[6]["error"]
    assert errors[8]["id"] == "rep" and "reports" in errors[8]["error"]


def test_a_batch_file_that_is_not_utf8_is_one_line(indexed: Settings, tmp_path: Path, monkeypatch) -> None:
    _env(indexed, monkeypatch)
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(json.dumps({"id": "a", "question": "Café networks?"}, ensure_ascii=False).encode("cp1252"))
    result = runner.invoke(cli.app, ["ask", "--batch", str(batch), "--json"])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not UTF-8" in lines[0] and "line 1" in lines[0]
    assert result.stdout == ""


# -- make run goes on past unreadable files ----------------------------------------------------------------


def test_make_index_goes_on_when_a_file_is_skipped_and_the_app_lists_it(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("make") is None:
        pytest.skip("no make")
    (corpus_dir / "empty.txt").write_bytes(b"")
    # The real model: `make` runs the installed command, which knows no test embedders.
    settings = Settings.load(corpus_dir=corpus_dir, index_dir=tmp_path / "index")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus_dir))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # `install` is left out (-o): the environment running the tests is already installed.
    done = subprocess.run(
        ["make", "-s", "-o", "install", "index", f"BIN={Path(sys.executable).parent}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Skipped: empty.txt: the file is empty." in done.stderr
    assert [f.source for f in last_skipped(settings)] == ["empty.txt"]

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_resource.clear()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert any("empty.txt: the file is empty." in t.value for t in at.sidebar.text), [t.value for t in at.text]
    assert any("1 file(s) skipped" in e.label for e in at.sidebar.expander)
    st.cache_resource.clear()
