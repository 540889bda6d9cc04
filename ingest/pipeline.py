"""Files -> cleaned text -> chunks -> vectors -> a new generation of the index, switched to when whole.

Each run builds a complete generation beside the one serving (unchanged chunks are carried over with
their vectors, only new text is embedded) and moves the store's pointer to it only once it is
complete; readers switch to it before their next question. A run killed at any moment leaves the
last complete generation serving, and the next run does the work again from there. A file that
cannot be read is reported and skipped; its old chunks stay. Symbolic links, and anything resolving
outside the folder being scanned, are refused: the corpus folder is a boundary.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from assistant import integrity
from assistant.catalog import Catalog
from assistant.config import Settings
from assistant.embeddings import Embedder, get_embedder
from assistant.errors import AssistantError, IndexDamagedError
from assistant.late import TokenVectors
from assistant.lexical import LexicalIndex
from assistant.store import (
    ChunkStore,
    Generation,
    Record,
    chunker_version,
    is_write_failure,
    move_aside,
    write_failure,
)
from assistant.types import Chunk
from ingest import space
from ingest.corpus import FileFailure, discover, scanned
from ingest.estimate import CHARS_PER_CHUNK, Estimate, estimate_for, save_rate
from ingest.fastpath import derived_current, nothing_changed
from ingest.manifest import Manifest, file_fingerprint
from ingest.prepare import FileProgress, prepare_all, report_for
from ingest.summary import IngestSummary
from ingest.vectors import TokenSink, build_units, embed_fresh

# What callers (cli.py, pages/, bench/, tests) import from here; all but two live in the modules above.
__all__ = ["CHARS_PER_CHUNK", "Estimate", "IngestSummary", "estimate_for", "last_skipped", "report_for", "run_ingest"]

ProgressFactory = Callable[..., object]
# on_estimate(estimate): called once, before the first passage is embedded.
EstimateHook = Callable[[Estimate], None]


def run_ingest(
    settings: Settings,
    paths: Sequence[Path] | None = None,
    *,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: bool = True,
    on_file: FileProgress | None = None,
    on_estimate: EstimateHook | None = None,
    max_chunks: int | None = None,
) -> IngestSummary:
    """Bring the index in line with the files under `paths` (default: the corpus folder).

    `on_estimate` hears how many passages will be embedded and about how long that takes, before it
    starts. A file that makes more than `max_chunks` passages is refused (a failure naming the numbers)
    before it is embedded; the app sets it from `ASSISTANT_MAX_UPLOAD_CHUNKS`.
    A full disk, a read-only folder or a lost server stops the run with a clear `AssistantError`;
    the generation serving before the run keeps serving, untouched.
    """
    started = time.perf_counter()
    summary = IngestSummary(rebuilt=rebuild)
    catalog = Catalog.load(settings.catalog_path)
    files, refused, folders = discover(list(paths or [settings.corpus_dir]), settings.corpus_dir)
    summary.failures.extend(refused)
    summary.files = len(files) + len(refused)
    embedder = embedder or get_embedder(settings)  # cheap: the model loads only when something is embedded
    with _writing(settings.state_dir), _exclusive(settings.state_dir):
        if rebuild or refused or not nothing_changed(settings, embedder, catalog, files, folders, summary):
            store = _open_store(settings, embedder, summary, rebuild)
            hooks = _Hooks(progress, on_file, on_estimate, max_chunks)
            _run(settings, store, catalog, files, {f.source for f in refused}, folders, summary, hooks)
        try:
            _save_skipped(settings, summary.failures)
        except OSError as exc:  # only the app's list of skipped files is stale; the index is whole
            summary.warnings.append(f"Could not record the skipped files for the app ({exc.strerror}).")
    if on_file is not None:
        on_file(summary.files, summary.files, "")
    summary.seconds = time.perf_counter() - started
    return summary


@dataclass(frozen=True)
class _Hooks:
    """How a run reports (progress bars, per-file and estimate callbacks) and what it refuses."""

    progress: bool = True
    on_file: FileProgress | None = None
    on_estimate: EstimateHook | None = None
    max_chunks: int | None = None


def _save_skipped(settings: Settings, failures: list[FileFailure]) -> None:
    """Record which files the last run skipped, for the app to list (written atomically)."""
    target = settings.state_dir / "skipped.json"
    partial = target.with_name(".skipped.json.partial")
    partial.write_text(json.dumps([{"source": f.source, "reason": f.reason} for f in failures]), encoding="utf-8")
    os.replace(partial, target)


def last_skipped(settings: Settings) -> list[FileFailure]:
    """The files the last ingest of this index skipped, with their one-line reasons."""
    try:
        rows = json.loads((settings.state_dir / "skipped.json").read_text(encoding="utf-8"))
        return [FileFailure(str(r["source"]), str(r["reason"])) for r in rows]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _open_store(settings: Settings, embedder: Embedder, summary: IngestSummary, rebuild: bool) -> ChunkStore:
    """The store to write to; with `rebuild`, a damaged embedded store is moved aside for a fresh one."""
    try:
        store = ChunkStore(settings, embedder)
        store.pointer()  # reads the database: a damaged one shows here, before any work
        return store
    except IndexDamagedError:
        if not rebuild or settings.chroma_server is not None:
            raise
    aside = move_aside(settings)
    summary.warnings.append(f"The damaged index store was moved to {aside}; rebuilding the index from the corpus.")
    return ChunkStore(settings, embedder)


@contextmanager
def _exclusive(state_dir: Path) -> Iterator[None]:
    """One ingest at a time per index: a second one waits (the lock dies with its process)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / ".ingest.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(
    settings: Settings,
    store: ChunkStore,
    catalog: Catalog,
    files: list[tuple[Path, str]],
    refused: set[str],
    folders: list[Path],
    summary: IngestSummary,
    hooks: _Hooks,
) -> None:
    embedder = store.embedder
    versions = {"embedder": embedder.version, "chunker": chunker_version(settings)}
    current, previous = store.pointer()
    store.prune(keep=[g for g in (current, previous) if g])  # builds left by killed runs
    manifest = Manifest(path=Path("manifest.json"), versions=versions)
    counts: Counter[str] = Counter()
    if current is not None:
        found = store.metadata(current)
        if any(found.get(k) != v for k, v in versions.items()):
            summary.warnings.append(
                f"The index was built with { ({k: found.get(k) for k in versions}) }; rebuilding it for {versions}."
            )
            summary.rebuilt = True
        elif not summary.rebuilt:
            manifest = Manifest.load(current.state_dir / "manifest.json")
            counts = store.source_counts(current)
            _reconcile(manifest, counts, summary)
    damage = store.check(current) if current is not None and not summary.rebuilt else []
    damaged = integrity.parts(damage)
    for found_damage in damage:
        summary.warnings.append(f"{found_damage.describe()}: rebuilding it from the store.")
    repair = bool(damage)
    if current is not None and not repair and not summary.rebuilt:
        saved = LexicalIndex.load(current.state_dir / "bm25")
        repair = saved is None or saved.fingerprint != current.id  # whole, but saved by another version
    if damaged & {"manifest.json", "*"}:
        manifest = Manifest(path=Path("manifest.json"))  # every file is checked again (known chunks reused)
    manifest.versions = versions

    fingerprints: dict[str, str] = {}
    todo: list[tuple[Path, str]] = []
    for path, source in files:
        try:
            fingerprints[source] = file_fingerprint(path, repr(catalog.for_file(path.name)))
        except OSError as exc:
            summary.failures.append(FileFailure(source, f"{path.name}: cannot be read ({exc.strerror})."))
            continue
        if manifest.is_current(source, fingerprints[source]):
            summary.unchanged.append(source)
        else:
            todo.append((path, source))
    present = {source for _, source in files}
    removed = [
        s for s in manifest.files if s in refused or (s not in present and scanned(s, folders, settings.corpus_dir))
    ]
    stale = set(counts) - set(manifest.files)  # chunks no manifest entry accounts for
    # Derived files of an older code version (token vectors, units): a new generation makes them again.
    outdated = current is not None and not derived_current(current.state_dir)
    unchanged = not todo and not removed and not stale and not outdated and not summary.rebuilt and not repair
    if current is not None and unchanged:
        summary.total_chunks = sum(counts.values())
        summary.generation = current.id
        return

    # The model loads while the files are read and cleaned (even if every chunk turns out to be known:
    # a few seconds lost then, against a few seconds gained on every real change).
    warming = threading.Thread(target=embedder.warm, name="warm-embedder", daemon=True)
    if todo:
        warming.start()
    prepared = prepare_all(
        todo,
        catalog,
        settings,
        embedder,
        summary,
        progress=hooks.progress,
        on_file=hooks.on_file,
        max_chunks=hooks.max_chunks,
    )
    nothing = not prepared and not removed and not stale and not outdated and not summary.rebuilt and not repair
    if current is not None and nothing:
        warming.join()  # not left loading torch while the interpreter exits
        summary.total_chunks = sum(counts.values())  # every changed file failed: the index stays as it is
        summary.generation = current.id
        return

    pool: dict[str, Record] = {}
    if current is not None and not summary.rebuilt:
        pool = store.records(current, files_whole=not damaged & {"records", "*"})
    kept_sources = [s for s in manifest.files if s not in removed and s not in prepared]
    carried = [r for r in pool.values() if r.chunk.source in kept_sources]
    for source in removed:
        summary.chunks_deleted += counts.get(source, 0)
        manifest.forget(source)
        summary.removed.append(source)

    owners = {manifest.files[s]["report"]: s for s in kept_sources}
    new_chunks: list[Chunk] = []
    for source, chunks in prepared.items():
        report = chunks[0].report
        if owners.get(report, source) != source:
            summary.failures.append(
                FileFailure(
                    source,
                    f"{Path(source).name}: report id {report!r} is already used by {owners[report]}; "
                    "rename the file or give it its own `id` in catalog.toml.",
                )
            )
            carried.extend(r for r in pool.values() if r.chunk.source == source)
            continue
        owners[report] = source
        old_ids = {cid for cid, r in pool.items() if r.chunk.source == source}
        summary.chunks_deleted += len(old_ids - {c.chunk_id for c in chunks})
        manifest.record(source, fingerprints[source], report, len(chunks))
        summary.indexed.append(source)
        new_chunks.extend(chunks)

    everything = [r.chunk for r in carried] + new_chunks
    if not everything:
        summary.warnings.append("Nothing could be indexed, so the index was left as it was.")
        summary.total_chunks = sum(counts.values())
        summary.generation = current.id if current else None
        return
    if todo:
        warming.join()
    space.check_space(settings, len(everything), current, sum(counts.values()))
    generation = store.new_generation()
    tokens_from = None if damaged & {"tokens", "*"} else current  # damaged token vectors are embedded afresh
    try:
        _build(store, generation, carried, new_chunks, pool, tokens_from, settings, summary, hooks)
        manifest.path = generation.state_dir / "manifest.json"
        manifest.save()
        lexical = LexicalIndex.build(everything, generation.id)
        lexical.save(generation.state_dir / "bm25")
        # Damaged unit vectors may still load (zero-filled rows keep their size): none of them is reused.
        build_units(store, generation, everything, lexical, None if damaged & {"units", "*"} else current)
        store.publish(generation, expected=len(everything), previous=current)
    except BaseException:
        try:
            store.discard(generation)  # best effort: a half-built generation is never pointed at
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass
        raise
    store.prune(keep=[generation] + ([current] if current else []))
    summary.total_chunks = len(everything)
    summary.generation = generation.id


def _reconcile(manifest: Manifest, counts: Counter[str], summary: IngestSummary) -> None:
    """Trust no manifest entry the store does not bear out: a file whose chunk count differs is redone."""
    for source, entry in list(manifest.files.items()):
        if counts.get(source, 0) != entry.get("chunks"):
            summary.warnings.append(
                f"{source}: the manifest lists {entry.get('chunks')} chunks but the index holds "
                f"{counts.get(source, 0)}; indexing it again."
            )
            manifest.forget(source)


def _build(
    store: ChunkStore,
    generation: Generation,
    carried: list[Record],
    new_chunks: list[Chunk],
    pool: dict[str, Record],
    current: Generation | None,
    settings: Settings,
    summary: IngestSummary,
    hooks: _Hooks,
) -> None:
    """Fill the new generation: carried-over chunks with their vectors, then new text in one sorted pass."""
    embedder = store.embedder
    old_tokens = TokenVectors.load(current.state_dir / "tokens") if current and pool else None
    if old_tokens is not None and old_tokens.embedder and old_tokens.embedder != embedder.version:
        old_tokens = None
    with_tokens = type(embedder).embed_with_tokens is not Embedder.embed_with_tokens

    def reusable(chunk_id: str) -> bool:
        return chunk_id in pool and (not with_tokens or (old_tokens is not None and chunk_id in old_tokens))

    # A changed file's chunk with a known id has the same text, but may sit elsewhere: new metadata, old vector.
    reused = [Record(c, pool[c.chunk_id].vector) for c in new_chunks if reusable(c.chunk_id)]
    ready = [r for r in carried if reusable(r.chunk.chunk_id)] + reused
    fresh = [r.chunk for r in carried if not reusable(r.chunk.chunk_id)]
    fresh += [c for c in new_chunks if not reusable(c.chunk_id)]
    store.write(generation, [r.chunk for r in ready], [r.vector for r in ready])
    sink = TokenSink(generation.state_dir / "tokens", embedder.version, old_tokens) if with_tokens else None
    if sink is not None:
        sink.carry([r.chunk.chunk_id for r in ready])
    del ready, reused

    summary.estimate = estimate_for(settings, len(fresh))
    if hooks.on_estimate is not None and fresh:
        hooks.on_estimate(summary.estimate)
    started = time.perf_counter()
    embedded, with_tokens = embed_fresh(store, generation, fresh, sink, settings, hooks.progress)
    summary.chunks_embedded += embedded
    save_rate(settings, summary.chunks_embedded, time.perf_counter() - started)
    if sink is not None and with_tokens:
        sink.close()


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
