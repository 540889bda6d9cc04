"""What a user can add: names, types and sizes checked before anything touches the corpus folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import IngestError
from ingest.loaders import check_upload, safe_upload_name

# (name given by the browser, the name it is saved as, or None when refused) -> the refusal says this
NAMES = [
    ("report.pdf", "report.pdf", None),
    ("Annual Report 2020.PDF", "Annual-Report-2020.pdf", None),
    ("notes.Markdown", "notes.markdown", None),
    ("  café  & co (draft).md", "café-co-draft.md", None),
    ("a" * 300 + ".txt", "a" * 116 + ".txt", None),
    ("../evil.txt", None, "plain file name"),
    ("../../etc/cron.d/x.md", None, "plain file name"),
    ("/etc/passwd.txt", None, "plain file name"),
    ("sub/dir.txt", None, "plain file name"),
    ("..\\evil.txt", None, "plain file name"),
    ("C:evil.txt", None, "plain file name"),
    ("..", None, "plain file name"),
    (".hidden.md", None, "hidden"),
    (".bashrc", None, "hidden"),
    ("evil.txt\x00.pdf", None, "control characters"),
    ("line\nbreak.txt", None, "control characters"),
    ("", None, "no name"),
    ("   ", None, "no name"),
    ("report.exe", None, "unsupported file type '.exe'"),
    ("report.pdf.exe", None, "unsupported file type"),
    ("report.docx", None, "unsupported file type '.docx'"),
    ("noextension", None, "unsupported file type '(none)'"),
    ("catalog.toml", None, "unsupported file type"),
    ("README.md", None, "reserved"),
    ("---.txt", None, "letters or digits"),
]


@pytest.mark.parametrize(("name", "saved", "refusal"), NAMES, ids=[repr(n[0])[:40] for n in NAMES])
def test_safe_upload_name(name: str, saved: str | None, refusal: str | None) -> None:
    if refusal is None:
        assert safe_upload_name(name) == saved
        assert "/" not in saved and not saved.startswith(".")
    else:
        with pytest.raises(IngestError, match=refusal.replace("(", r"\(").replace(")", r"\)")):
            safe_upload_name(name)


CONTENTS = [
    ("ok.txt", b"Employer engagement in colleges.", None),
    ("ok.pdf", b"%PDF-1.7\n...", None),
    ("empty.txt", b"", "empty"),
    ("big.txt", b"x" * 1_000_001, "over the 1 MB limit"),
    ("fake.pdf", b"MZ\x90\x00 not a pdf", "not a PDF"),
    ("binary.txt", b"\x00\x01\x02\x03" * 100, "binary"),
]


@pytest.mark.parametrize(("name", "data", "refusal"), CONTENTS, ids=[c[0] for c in CONTENTS])
def test_check_upload_type_size_and_content(name: str, data: bytes, refusal: str | None) -> None:
    if refusal is None:
        assert check_upload(name, data, max_mb=1) == name
    else:
        with pytest.raises(IngestError, match=refusal):
            check_upload(name, data, max_mb=1)


def test_save_upload_never_writes_outside_the_corpus(tmp_path: Path) -> None:
    from ingest.loaders import save_upload

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with pytest.raises(IngestError):
        save_upload(corpus, "../outside.txt", b"text", 1)
    assert not (tmp_path / "outside.txt").exists()
    saved = save_upload(corpus, "My notes.txt", b"Employer engagement notes.", 1)
    assert saved == corpus / "My-notes.txt" and saved.read_bytes() == b"Employer engagement notes."
    with pytest.raises(IngestError, match="already in the library"):
        save_upload(corpus, "My notes.txt", b"other", 1)
    assert saved.read_bytes() == b"Employer engagement notes."
    assert sorted(p.name for p in corpus.iterdir()) == ["My-notes.txt"]  # no partial file left
