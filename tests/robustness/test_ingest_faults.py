"""Ingest under faults: disk full, folder read-only. The old index must keep answering (kills: test_generations)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.chain import Assistant
from assistant.config import Settings
from assistant.embeddings import get_embedder
from assistant.store import ChunkStore
from ingest.pipeline import run_ingest

REPO = Path(__file__).resolve().parents[2]
QUESTION = "How do colleges work with small employers?"

def add_reports(corpus: Path, count: int = 4, sentences: int = 120) -> None:
    """New reports whose every sentence differs (so every chunk is new), plus a change to an old one."""
    for i in range(1, count + 1):
        lines = [
            f"In case study {i}.{j} the college worked with {7 * j + i} small employers on training plans, "
            f"and {j % 5 + 1} of them joined a local network for apprenticeships."
            for j in range(sentences)
        ]
        (corpus / f"new-{i}.txt").write_text(f"New evidence report {i}\n\n" + "\n".join(lines) + "\n")
    beta = corpus / "beta-2015-colleges.md"
    beta.write_text(beta.read_text().replace("Building trust takes time.", "Building trust takes several years."))


def store_state(settings: Settings) -> tuple[int, list[str], list[str]]:
    """(count, sorted ids, sorted texts) of the store; duplicates of a text would show in the texts."""
    store = ChunkStore(settings, get_embedder(settings)).open()
    chunks = store.all_chunks()
    return store.count(), sorted(c.chunk_id for c in chunks), sorted(c.text for c in chunks)


def manifest_of(settings: Settings) -> Path:
    """The manifest of the generation serving now."""
    return ChunkStore(settings, get_embedder(settings)).open().generation.state_dir / "manifest.json"


def clean_build(settings: Settings, tmp_path: Path) -> Settings:
    clean = Settings.load(**{**settings.model_dump(), "index_dir": tmp_path / "clean-index"})
    assert run_ingest(clean, progress=False).ok
    return clean


# -- a full disk or a read-only index folder ---------------------------------------------------------

ENOSPC = OSError(28, "No space left on device")
EACCES = PermissionError(13, "Permission denied")


class _RefusingJson:
    """Stands in for a module's `json`: reading works, writing fails as a full or read-only disk does."""

    def __init__(self, error: OSError):
        self.error = error

    def dump(self, *args, **kwargs):
        raise self.error

    def dumps(self, *args, **kwargs):
        raise self.error

    def __getattr__(self, name):
        return getattr(json, name)


def _refuse_chroma_writes(monkeypatch: pytest.MonkeyPatch, after: int = 1) -> None:
    """Chroma's upsert fails as SQLite does on a full disk, after `after` batches of report new-1."""
    from chromadb.api.models.Collection import Collection
    from chromadb.errors import InternalError

    original = Collection.upsert
    calls = {"n": 0}

    def upsert(self, *args, **kwargs):
        if any(i.startswith("new-1:") for i in kwargs["ids"]):
            calls["n"] += 1
            if calls["n"] > after:
                raise InternalError("error returned from database: (code: 13) database or disk is full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "upsert", upsert)


FAULTS = {
    "chroma-disk-full": (_refuse_chroma_writes, "database or disk is full"),
    "manifest-disk-full": (
        lambda mp: mp.setattr("ingest.manifest.json", _RefusingJson(ENOSPC)),
        "No space left on device",
    ),
    "manifest-read-only": (
        lambda mp: mp.setattr("ingest.manifest.json", _RefusingJson(EACCES)),
        "Permission denied",
    ),
    "bm25-disk-full": (
        lambda mp: mp.setattr("assistant.lexical.json", _RefusingJson(ENOSPC)),
        "No space left on device",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_refused_write_is_a_clear_error_and_the_old_index_still_answers(
    fault: str, indexed: Settings, corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.errors import AssistantError, IndexWriteError

    inject, reason = FAULTS[fault]
    indexed = Settings.load(**{**indexed.model_dump(), "embed_batch_size": 2})  # several writes per file
    manifest = manifest_of(indexed)
    before = json.loads(manifest.read_text())
    before_ids = store_state(indexed)[1]
    add_reports(corpus_dir)

    with monkeypatch.context() as patch:
        inject(patch)
        with pytest.raises(IndexWriteError) as caught:
            run_ingest(indexed, progress=False)
    message = str(caught.value)
    assert isinstance(caught.value, AssistantError)
    assert reason in message and "assistant ingest" in message and "Free some disk space" in message
    assert str(indexed.index_dir) in message

    assert manifest_of(indexed) == manifest  # the generation serving before still serves
    assert json.loads(manifest.read_text()) == before  # whole and unchanged: the failed run published nothing
    assert store_state(indexed)[1] == before_ids
    generations = ChunkStore(indexed, get_embedder(indexed)).generations()
    assert [g.state_dir / "manifest.json" for g in generations] == [manifest]  # the half-built one is gone
    answer = Assistant.from_settings(indexed).ask(QUESTION)
    assert answer.citations and not answer.abstained

    # Space freed: the next run completes to exactly what a clean build holds.
    summary = run_ingest(indexed, progress=False)
    assert summary.ok
    assert store_state(indexed) == store_state(clean_build(indexed, tmp_path))


def test_cli_reports_a_full_disk_in_one_line(
    indexed: Settings, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import cli

    add_reports(corpus_dir, count=1)
    _refuse_chroma_writes(monkeypatch, after=0)
    for key, value in {"CORPUS_DIR": corpus_dir, "INDEX_DIR": indexed.index_dir, "EMBEDDER": "fake"}.items():
        monkeypatch.setenv(f"ASSISTANT_{key}", str(value))
    result = CliRunner().invoke(cli.app, ["ingest", "--quiet"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output + result.stderr
    # The estimate announced before embedding comes first; then the error, in one line.
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("Embedding: ")]
    assert lines[0].startswith("Error: Cannot write the index") and "assistant ingest" in result.stderr


# -- the same on a real, tiny disk (a tmpfs), where the machine allows mounting one --------------------


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 16 MB tmpfs at tmp_path/disk and a read-only view of it at tmp_path/disk-ro.

    Skipped where mounting is not allowed (not root, no CAP_SYS_ADMIN). Root ignores chmod, so this is
    the honest way to make a folder refuse writes.
    """
    disk, view = tmp_path / "disk", tmp_path / "disk-ro"
    disk.mkdir()
    view.mkdir()
    made = _mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk))
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    mounted = [disk]
    try:
        for args in (("--bind", str(disk), str(view)), ("-o", "remount,ro,bind", str(view))):
            done = _mount(*args)
            assert done.returncode == 0, done.stderr
            if args[0] == "--bind":
                mounted.insert(0, view)
        yield disk, view
    finally:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()  # let go of the files on the tmpfs
        for point in mounted:
            subprocess.run(["umount", "-l", str(point)], check=False)


def _fill(disk: Path) -> Path:
    """Fill the disk to the last byte; returns the filler file (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def real_disk_scenario(kind: str, corpus: str, disk: str, view: str, scratch: str) -> None:
    """Index onto the tiny disk, fill it (or use the read-only view), ingest, check, free it, ingest again.

    Runs in a child process: a write that blocks inside Chroma holds the GIL, so only a process
    timeout can turn that hang into a failure.
    """
    from assistant.errors import IndexWriteError

    base = Settings.load(corpus_dir=corpus, index_dir=Path(disk) / "index", embedder="fake", abstain_threshold=0.1)
    assert run_ingest(base, progress=False).ok
    manifest = manifest_of(base)
    before_manifest = manifest.read_bytes()
    # What the index holds now, read from a copy built elsewhere: opening this one more often than an
    # app would changes when Chroma's engine blocks, and the test must show the plain sequence.
    before_ids = store_state(clean_build(base, Path(scratch) / "before"))[1]
    add_reports(Path(corpus))

    target = base
    if kind == "full":
        filler = _fill(Path(disk))
    else:
        target = Settings.load(**{**base.model_dump(), "index_dir": Path(view) / "index"})
    try:
        run_ingest(target, progress=False)
    except IndexWriteError as exc:
        assert str(target.index_dir) in str(exc) and "assistant ingest" in str(exc), exc
    else:
        raise AssertionError("the ingest onto a full or read-only disk did not fail")

    assert manifest.read_bytes() == before_manifest
    if kind == "read-only":
        # Embedded Chroma writes as it opens, so it cannot open a read-only folder; answering needs no
        # write: the generation's own files answer (issue 18).
        assert Assistant.from_settings(target).ask(QUESTION).citations
    assert store_state(base)[1] == before_ids
    assert Assistant.from_settings(base).ask(QUESTION).citations  # the old index still answers

    if kind == "full":
        filler.unlink()
    assert run_ingest(base, progress=False).ok  # same process: the engine that refused a write is replaced
    assert store_state(base) == store_state(clean_build(base, Path(scratch)))
    print("scenario ok")


@pytest.mark.parametrize("kind", ["full", "read-only"])
def test_real_full_or_read_only_disk(kind: str, corpus_dir: Path, tiny_disk: tuple[Path, Path], tmp_path: Path) -> None:
    disk, view = tiny_disk
    here = Path(__file__).parent
    script = (
        f"import sys; sys.path[:0] = [{str(REPO)!r}, {str(here)!r}]; import tests.conftest; "
        f"from test_ingest_faults import real_disk_scenario; "
        f"real_disk_scenario({kind!r}, {str(corpus_dir)!r}, {str(disk)!r}, {str(view)!r}, {str(tmp_path)!r})"
    )
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the ingest hung on a full or read-only disk instead of failing")
    assert done.returncode == 0 and "scenario ok" in done.stdout, done.stderr[-3000:]
