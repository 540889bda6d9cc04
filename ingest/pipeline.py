"""Files -> cleaned text -> chunks -> vectors -> the store, incrementally and without losing anything.

A file is written to the store completely (new chunks upserted, stale ones deleted) before the
manifest records it, so an interrupted run leaves every file either as before or as now, and the
next run finishes the job. A file that cannot be read is reported and skipped; its old chunks stay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from assistant.catalog import Catalog, report_id_for_file
from assistant.config import Settings
from assistant.embeddings import Embedder, get_embedder
from assistant.errors import AssistantError, IndexMismatchError, IndexWriteError, IngestError, StoreUnavailableError
from assistant.late import LateScorer
from assistant.lexical import LexicalIndex
from assistant.store import ChunkStore, chunker_version, is_write_failure, write_failure
from assistant.types import Chunk, ReportInfo
from ingest.chunk import chunk_document, embedding_text
from ingest.clean import clean_document
from ingest.loaders import load_file
from ingest.manifest import Manifest, file_fingerprint

IGNORED_NAMES = {"catalog.toml", "readme.md", ".gitkeep"}


@dataclass(frozen=True)
class FileFailure:
    """A file that was skipped, and why (one line, naming the file)."""

    source: str
    reason: str


@dataclass
class IngestSummary:
    """What an ingest run did."""

    files: int = 0
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    total_chunks: int = 0
    seconds: float = 0.0
    rebuilt: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures


ProgressFactory = Callable[..., object]
# on_file(done, total, name): called before each file is indexed and once more at the end (done == total).
FileProgress = Callable[[int, int, str], None]


def discover(paths: Sequence[Path], corpus_dir: Path) -> tuple[list[tuple[Path, str]], list[FileFailure], list[Path]]:
    """Files to ingest as (path, source key), failures for paths that do not exist, and folders scanned."""
    files: dict[str, Path] = {}
    failures: list[FileFailure] = []
    folders: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            folders.append(path.resolve())
            for child in sorted(path.rglob("*")):
                if child.is_file() and not _ignored(child, path):
                    files.setdefault(source_key(child, corpus_dir), child)
        elif path.is_file():
            files.setdefault(source_key(path, corpus_dir), path)
        else:
            failures.append(FileFailure(str(path), f"{path}: not found; check the path."))
    return sorted(((p, s) for s, p in files.items()), key=lambda x: x[1]), failures, folders


def _ignored(path: Path, root: Path) -> bool:
    relative = path.relative_to(root)
    return path.name.lower() in IGNORED_NAMES or any(part.startswith(".") for part in relative.parts)


def source_key(path: Path, corpus_dir: Path) -> str:
    """How a file is named in the index: relative to the corpus folder when inside it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(corpus_dir.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def report_for(path: Path, catalog: Catalog, title: str | None, year: int | None) -> ReportInfo:
    """The catalog entry for a file, or one built from the file's own metadata and first lines."""
    entry = catalog.for_file(path.name)
    if entry is not None:
        return entry
    return ReportInfo(
        id=report_id_for_file(path.name),
        file=path.name,
        title=title or path.stem.replace("-", " ").replace("_", " "),
        year=year,
    )


def run_ingest(
    settings: Settings,
    paths: Sequence[Path] | None = None,
    *,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: bool = True,
    on_file: FileProgress | None = None,
) -> IngestSummary:
    """Bring the index in line with the files under `paths` (default: the corpus folder).

    A full disk or a read-only index folder stops the run with `IndexWriteError`; every file indexed
    before it stays indexed and recorded, the file in progress is rolled back, the manifest stays whole.
    """
    started = time.perf_counter()
    summary = IngestSummary(rebuilt=rebuild)
    catalog = Catalog.load(settings.catalog_path)
    files, missing, folders = discover(list(paths or [settings.corpus_dir]), settings.corpus_dir)
    summary.failures.extend(missing)
    summary.files = len(files) + len(missing)

    manifest = Manifest.load(settings.state_dir / "manifest.json")
    embedder = embedder or get_embedder(settings)
    versions = {"embedder": embedder.version, "chunker": chunker_version(settings)}
    if manifest.files and manifest.versions != versions and not rebuild:
        summary.warnings.append(
            f"The index was built with {manifest.versions or 'unknown versions'}; rebuilding it for {versions}."
        )
        rebuild = summary.rebuilt = True
    if rebuild:
        manifest = Manifest(path=manifest.path)
    manifest.versions = versions

    fingerprints: dict[str, str] = {}
    todo: list[tuple[Path, str]] = []
    for path, source in files:
        entry = catalog.for_file(path.name)
        try:
            fingerprints[source] = file_fingerprint(path, repr(entry))
        except OSError as exc:
            summary.failures.append(FileFailure(source, f"{path.name}: cannot be read ({exc.strerror})."))
            continue
        if manifest.is_current(source, fingerprints[source]):
            summary.unchanged.append(source)
        else:
            todo.append((path, source))
    present = {source for _, source in files}
    removed = [s for s in manifest.files if s not in present and _under(s, folders, settings.corpus_dir)]

    store = ChunkStore(settings, embedder)
    try:
        if rebuild:
            store.reset()
        else:
            store.open(create=True)
    except IndexMismatchError as exc:
        summary.warnings.append(f"{exc} Rebuilding it now.")
        store.reset()
        manifest = Manifest(path=manifest.path, versions=versions)
        todo = list(files)
        summary.unchanged.clear()
        summary.rebuilt = True

    if todo:
        _index_files(todo, fingerprints, catalog, settings, store, manifest, summary, progress, on_file)
    for source in removed:
        stale = store.ids_for_source(source)
        store.delete(stale)
        summary.chunks_deleted += len(stale)
        manifest.forget(source)
        _save(manifest, settings)
        summary.removed.append(source)

    with _writing(settings.state_dir):
        _refresh_lexical(settings, store, manifest, force=bool(todo or removed or rebuild))
    if on_file is not None:
        on_file(len(todo), len(todo), "")
    summary.total_chunks = store.count()
    summary.seconds = time.perf_counter() - started
    return summary


@contextmanager
def _writing(where: Path) -> Iterator[None]:
    """Turn a refused write (disk full, read-only folder) into an `IndexWriteError` naming `where`."""
    try:
        yield
    except AssistantError:
        raise
    except OSError as exc:
        if is_write_failure(exc):
            raise write_failure(where, exc) from exc
        raise


def _save(manifest: Manifest, settings: Settings) -> None:
    """Save the manifest atomically; on a full disk the previous manifest stays as it was."""
    with _writing(manifest.path.parent):
        manifest.save()


def _under(source: str, folders: Iterable[Path], corpus_dir: Path) -> bool:
    path = Path(source) if Path(source).is_absolute() else (corpus_dir / source)
    return any(path.resolve().is_relative_to(folder) for folder in folders)


def _index_files(
    todo: list[tuple[Path, str]],
    fingerprints: dict[str, str],
    catalog: Catalog,
    settings: Settings,
    store: ChunkStore,
    manifest: Manifest,
    summary: IngestSummary,
    progress: bool,
    on_file: FileProgress | None = None,
) -> None:
    from tqdm import tqdm

    owners = {entry["report"]: source for source, entry in manifest.files.items()}
    file_bar = tqdm(total=len(todo), desc="files", unit="file", disable=not progress, leave=False)
    chunk_bar = tqdm(desc="embedding", unit="chunk", disable=not progress, leave=False)
    for done, (path, source) in enumerate(todo):
        if on_file is not None:
            on_file(done, len(todo), path.name)
        file_bar.set_postfix_str(path.name[:40])
        try:
            chunks = _prepare(path, source, catalog, settings, store.embedder, summary)
            report = chunks[0].report
            if owners.get(report, source) != source:
                raise IngestError(
                    f"{path.name}: report id {report!r} is already used by {owners[report]}; "
                    "rename the file or give it its own `id` in catalog.toml."
                )
            embedded, deleted = _write(store, source, chunks, settings.embed_batch_size, chunk_bar)
        except (StoreUnavailableError, IndexWriteError):
            raise  # every later file would fail the same way: stop and say how to fix it
        except AssistantError as exc:
            summary.failures.append(FileFailure(source, str(exc)))
        except Exception as exc:  # a bug or an odd file must not lose the rest of the run
            summary.failures.append(
                FileFailure(source, f"{path.name}: could not be processed ({type(exc).__name__}: {exc}).")
            )
        else:
            manifest.record(source, fingerprints[source], report, len(chunks))
            try:
                _save(manifest, settings)
            except IndexWriteError:
                manifest.forget(source)  # the file's chunks are in the store; the next run checks them again
                raise
            owners[report] = source
            summary.indexed.append(source)
            summary.chunks_embedded += embedded
            summary.chunks_deleted += deleted
        file_bar.update(1)
    chunk_bar.close()
    file_bar.close()


def _prepare(
    path: Path, source: str, catalog: Catalog, settings: Settings, embedder: Embedder, summary: IngestSummary
) -> list[Chunk]:
    loaded = load_file(path, max_bytes=settings.max_upload_mb * 1_000_000)
    if loaded.warning:
        summary.warnings.append(loaded.warning)
    report = report_for(path, catalog, loaded.title, loaded.year)
    doc = clean_document(loaded.pages, markdown=loaded.markdown)
    chunks = chunk_document(
        doc,
        report,
        source,
        embedder.count_tokens,
        target_tokens=settings.chunk_tokens,
        overlap_sentences=settings.chunk_overlap_sentences,
    )
    if not chunks:
        raise IngestError(f"{path.name}: no text left after cleaning; is it a report?")
    return chunks


def _write(store: ChunkStore, source: str, chunks: list[Chunk], batch_size: int, bar) -> tuple[int, int]:
    """Upsert the file's chunks, embedding only new ones, then delete its stale chunks."""
    existing = store.ids_for_source(source)
    fresh = [c for c in chunks if c.chunk_id not in existing]
    kept = [c for c in chunks if c.chunk_id in existing]
    bar.total = (bar.total or 0) + len(fresh)
    bar.refresh()
    written: list[str] = []
    try:
        for i in range(0, len(fresh), batch_size):
            batch = fresh[i : i + batch_size]
            vectors = store.embedder.embed_documents([embedding_text(c) for c in batch])
            store.upsert(batch, vectors)
            written.extend(c.chunk_id for c in batch)
            bar.update(len(batch))
        if kept:
            store.update_metadata(kept)
    except Exception as exc:
        # Leave the file as it was: its old chunks are untouched, the new ones go again.
        try:
            store.delete(written)
        except AssistantError as cleanup:
            # A full disk can refuse the clean-up too; the manifest does not list the file, so the next
            # run replaces these chunks. Say so rather than hide it.
            exc.add_note(f"Could not remove {len(written)} partly written chunk(s) yet: {cleanup}")
        raise
    stale = existing - {c.chunk_id for c in chunks}
    store.delete(stale)
    return len(fresh), len(stale)


def _refresh_lexical(settings: Settings, store: ChunkStore, manifest: Manifest, *, force: bool) -> None:
    """Rebuild the BM25 index when the corpus changed (or it is missing), and stamp the store."""
    directory = settings.state_dir / "bm25"
    fingerprint = manifest.corpus_fingerprint()
    if not force:
        existing = LexicalIndex.load(directory)
        if (
            existing is not None
            and existing.fingerprint == fingerprint
            and store.info().get("corpus_fingerprint") == fingerprint
        ):
            return
    chunks = store.all_chunks()
    LexicalIndex.build(chunks, fingerprint).save(directory)
    # Token vectors for late interaction: reused for unchanged chunks, computed for new ones.
    LateScorer.for_chunks(chunks, store.embedder, settings.state_dir / "tokens")
    store.set_info(corpus_fingerprint=fingerprint)
