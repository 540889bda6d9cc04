"""Read a report file (PDF, TXT, Markdown) into raw pages, or say in one line why it cannot be read."""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import IngestError
from ingest.clean import PageText

SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md", ".markdown")
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
_UNSAFE_CHARS = re.compile(r"[^\w.\-]+")
_MAX_NAME = 120
# Names the ingest skips on purpose (see ingest.corpus.IGNORED_NAMES): an upload must not take them.
_RESERVED_NAMES = {"catalog.toml", "readme.md", ".gitkeep"}


@dataclass(frozen=True)
class LoadedFile:
    """A file's raw text by page, with what the file says about itself."""

    path: Path
    pages: tuple[PageText, ...]
    markdown: bool
    title: str | None = None
    year: int | None = None
    warning: str | None = None
    encoding: str | None = None  # how a text file that is not plain UTF-8 was decoded


def load_file(path: Path, *, max_bytes: int | None = None) -> LoadedFile:
    """Load `path`; raise `IngestError` with a one-line, actionable reason when it cannot be used."""
    if not path.exists():
        raise IngestError(f"{path}: not found; check the path.")
    if not path.is_file():
        raise IngestError(f"{path}: not a file.")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(
            f"{path.name}: unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}."
        )
    size = path.stat().st_size
    if size == 0:
        raise IngestError(f"{path.name}: the file is empty.")
    if max_bytes is not None and size > max_bytes:
        raise IngestError(f"{path.name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit.")
    if suffix == ".pdf":
        return _load_pdf(path)
    return _load_text(path, markdown=suffix in (".md", ".markdown"))


_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _load_text(path: Path, *, markdown: bool) -> LoadedFile:
    data = path.read_bytes()
    text, encoding = decode_text(data, path.name)
    warning = None
    if encoding not in (None, "utf-8-sig"):
        warning = f"{path.name}: not UTF-8; read as {encoding}. Save it as UTF-8 to silence this."
    if not text.strip():
        raise IngestError(f"{path.name}: has no text (only white space).")
    # Universal newlines keep line numbers identical to what an editor shows.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    title = _first_title_line(text)
    year_match = _YEAR.search(text[:3000])
    return LoadedFile(
        path=path,
        pages=(PageText(text=text, page=None, first_line=1),),
        markdown=markdown,
        title=title,
        year=int(year_match.group(1)) if year_match else None,
        warning=warning,
        encoding=encoding,
    )


def decode_text(data: bytes, name: str) -> tuple[str, str | None]:
    """The text of a file and how it was decoded (None for plain UTF-8), or `IngestError`.

    A byte-order mark decides first (UTF-8, UTF-16: what Notepad saves as "Unicode"); then strict
    UTF-8; anything else goes to charset-normalizer, which tells cp1252 from cp1250 and Latin-1 by
    the text's language, where a fixed fallback list would turn "£500" into "Ł500".
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise IngestError(f"{name}: starts as {encoding} but is not valid; save it as UTF-8.") from exc
    if b"\x00" in data[:8192] or _control_ratio(data[:8192]) > 0.1:
        raise IngestError(f"{name}: looks like a binary file, not text; convert it to PDF, TXT or Markdown.")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise IngestError(f"{name}: the text encoding cannot be recognised; save it as UTF-8.")
    return str(best), best.encoding


def _control_ratio(sample: bytes) -> float:
    if not sample:
        return 0.0
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return control / len(sample)


def _first_title_line(text: str) -> str | None:
    for line in text.splitlines()[:40]:
        stripped = line.strip().lstrip("#").strip().strip("*").strip()
        if 4 <= len(stripped) <= 150 and any(ch.isalpha() for ch in stripped) and not stripped.isdigit():
            return stripped
    return None


def _load_pdf(path: Path) -> LoadedFile:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(f"{path.name}: the PDF is encrypted; save an unprotected copy and add that.")
        pages = []
        for number, page in enumerate(reader.pages, start=1):
            pages.append(PageText(text=page.extract_text() or "", page=number, first_line=1))
    except IngestError:
        raise
    except FileNotDecryptedError as exc:
        raise IngestError(f"{path.name}: the PDF is encrypted; save an unprotected copy and add that.") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AssertionError) as exc:
        raise IngestError(f"{path.name}: not a readable PDF ({type(exc).__name__}: {exc}); re-export it.") from exc
    if not any(p.text.strip() for p in pages):
        raise IngestError(f"{path.name}: the PDF has no text layer (a scan?); run OCR on it first (e.g. `ocrmypdf`).")
    meta = reader.metadata or {}
    title = (getattr(meta, "title", None) or "").strip() or _first_title_line(pages[0].text)
    year = None
    created = getattr(meta, "creation_date", None) if meta else None
    if created is not None:
        year = created.year
    else:
        match = _YEAR.search(" ".join(p.text for p in pages[:2]))
        year = int(match.group(1)) if match else None
    return LoadedFile(path=path, pages=tuple(pages), markdown=False, title=title, year=year)


def safe_upload_name(name: str) -> str:
    """The name to save an uploaded report under in the corpus folder, or `IngestError` saying why not.

    Only a plain file name is accepted: no folders, `..`, absolute or drive paths, hidden or reserved
    names, and only the supported types. Spaces and odd characters become `-`; the suffix is lower-cased.
    """
    shown = repr(name)[1:-1][:80] or "(no name)"
    if not name or not name.strip():
        raise IngestError("The file has no name; give it a name ending in .pdf, .txt or .md.")
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise IngestError(f"{shown}: the name contains control characters; rename the file.")
    if "/" in name or "\\" in name or ":" in name or name.strip() in {".", ".."}:
        raise IngestError(f"{shown}: give a plain file name, without folders, `..` or a drive.")
    name = unicodedata.normalize("NFKC", name).strip()
    if name.startswith("."):
        raise IngestError(f"{shown}: hidden files (names starting with '.') are not accepted; rename it.")
    stem, dot, suffix = name.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(
            f"{shown}: unsupported file type {suffix or '(none)'!r}; add a PDF, TXT or Markdown file "
            f"({', '.join(SUPPORTED_SUFFIXES)})."
        )
    stem = _UNSAFE_CHARS.sub("-", stem).strip("-.")
    if not any(ch.isalnum() for ch in stem):
        raise IngestError(f"{shown}: the name needs letters or digits before {suffix}; rename the file.")
    safe = f"{stem[: _MAX_NAME - len(suffix)].rstrip('-.')}{suffix}"
    if safe.lower() in _RESERVED_NAMES:
        raise IngestError(f"{shown}: that name is reserved for the corpus folder's own files; rename it.")
    return safe


def check_upload(name: str, data: bytes, *, max_mb: int) -> str:
    """Validate an uploaded report (name, type, size, content sniff); return the safe name to save it as."""
    safe = safe_upload_name(name)
    if not data:
        raise IngestError(f"{safe}: the file is empty.")
    if len(data) > max_mb * 1_000_000:
        raise IngestError(f"{safe}: {len(data) / 1e6:.1f} MB is over the {max_mb} MB limit (ASSISTANT_MAX_UPLOAD_MB).")
    if safe.endswith(".pdf") and not data.lstrip()[:5] == b"%PDF-":
        raise IngestError(f"{safe}: this is not a PDF (it does not start with %PDF-); export it as a PDF again.")
    if not safe.endswith(".pdf"):
        decode_text(data, safe)  # refuses binary data; UTF-16 with its byte-order mark is text
    return safe


def save_upload(corpus_dir: Path, name: str, data: bytes, max_mb: int) -> Path:
    """Write an uploaded report into the corpus folder under its checked, sanitised name.

    Raises `IngestError` for a refused name, type, size or content, or when the name is already taken.
    """
    safe = check_upload(name, data, max_mb=max_mb)
    target = corpus_dir / safe
    if target.resolve().parent != corpus_dir.resolve():  # belt and braces: never outside the corpus
        raise IngestError(f"{safe}: refused; the name points outside the corpus folder.")
    if target.exists():
        raise IngestError(f"{safe}: a report with this name is already in the library; rename the file first.")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    partial = corpus_dir / f".upload-{safe}"  # hidden, so an ingest running meanwhile ignores it
    partial.write_bytes(data)
    partial.replace(target)
    return target
