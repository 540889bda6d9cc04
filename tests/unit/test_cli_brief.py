"""`assistant brief`: answers each question and writes one briefing note, in Word or Markdown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from docx import Document
from typer.testing import CliRunner

from assistant.config import Settings
from cli import app
from ingest.pipeline import run_ingest

runner = CliRunner()
QUESTIONS = ["What stops small firms training staff?", "How are employer networks funded?"]


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    assert run_ingest(settings, progress=False).ok
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "fake")
    monkeypatch.setenv("ASSISTANT_ABSTAIN_THRESHOLD", "0.1")
    return settings


def test_brief_writes_one_markdown_note_for_every_question(env: Settings, tmp_path: Path) -> None:
    out = tmp_path / "note.md"
    result = runner.invoke(app, ["brief", *QUESTIONS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    note = out.read_text(encoding="utf-8")
    assert f"## 1. {QUESTIONS[0]}" in note and f"## 2. {QUESTIONS[1]}" in note
    body, references = note.split("## References")
    used = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    listed = {int(n) for n in re.findall(r"^- \[(\d+)\] “", body, re.MULTILINE)}
    assert used and used == listed == set(range(1, max(used) + 1))  # numbered once across the note
    assert references.strip().startswith("- **")


def test_brief_writes_a_word_document(env: Settings, tmp_path: Path) -> None:
    out = tmp_path / "note.docx"
    result = runner.invoke(app, ["brief", QUESTIONS[0], "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = Document(str(out))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings[0] == f"1. {QUESTIONS[0]}" and "References" in headings
    assert [p for p in doc.paragraphs if p.style.name == "List Number"]  # the numbered reference list


@pytest.mark.parametrize(("name", "message"), [("note.pdf", "as .md or .docx"), ("no/such/note.md", "no such folder")])
def test_brief_refuses_a_bad_out_path_in_one_line(env: Settings, tmp_path: Path, name: str, message: str) -> None:
    result = runner.invoke(app, ["brief", QUESTIONS[0], "--out", str(tmp_path / name)])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
