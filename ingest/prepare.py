"""Changed files -> chunks: each file loaded, cleaned and cut, its failure recorded and the others kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.catalog import Catalog, report_id_for_file
from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.errors import AssistantError, IngestError
from assistant.types import Chunk, ReportInfo
from ingest.chunk import chunk_document
from ingest.clean import CleanDoc, clean_document
from ingest.corpus import FileFailure
from ingest.estimate import CHARS_PER_CHUNK, too_many
from ingest.loaders import load_file
from ingest.summary import IngestSummary

# on_file(done, total, name): called before each file is prepared and once more at the end (done == total).
FileProgress = Callable[[int, int, str], None]


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


def prepare_all(
    todo: list[tuple[Path, str]],
    catalog: Catalog,
    settings: Settings,
    embedder: Embedder,
    summary: IngestSummary,
    *,
    progress: bool = True,
    on_file: FileProgress | None = None,
    max_chunks: int | None = None,
) -> dict[str, list[Chunk]]:
    """Load and clean every changed file, then chunk them all; failures are recorded and skipped.

    Chunking needs the tokenizer, which the embedder may hold while its model loads: cleaning every
    file first lets that load overlap the work that does not need it. Each cleaned text is dropped
    as soon as it is cut, and a file over `max_chunks` is refused before it is cut when its
    length already shows it (else once its passages are counted), never after embedding.
    """
    from tqdm import tqdm

    cleaned: list[tuple[Path, str, ReportInfo, CleanDoc]] = []
    for done, (path, source) in enumerate(tqdm(todo, desc="files", unit="file", disable=not progress, leave=False)):
        if on_file is not None:
            on_file(done, len(todo), path.name)
        with per_file(path, source, summary):
            loaded = load_file(path, max_bytes=settings.max_upload_mb * 1_000_000)
            if loaded.warning:
                summary.warnings.append(loaded.warning)
            if loaded.encoding:
                summary.encodings[source] = loaded.encoding
            report = report_for(path, catalog, loaded.title, loaded.year)
            doc = clean_document(loaded.pages, markdown=loaded.markdown)
            del loaded  # the raw pages: only the cleaned text is needed from here
            guess = len(doc.text) // CHARS_PER_CHUNK
            if max_chunks is not None and guess > 2 * max_chunks:  # clearly over: refused without cutting it
                raise IngestError(too_many(path, settings, guess, max_chunks, about=True))
            cleaned.append((path, source, report, doc))
    prepared: dict[str, list[Chunk]] = {}
    while cleaned:
        path, source, report, doc = cleaned.pop(0)  # each cleaned text goes once it is cut
        with per_file(path, source, summary):
            chunks = chunk_document(
                doc,
                report,
                source,
                embedder.count_tokens,
                target_tokens=settings.chunk_tokens,
                overlap_sentences=settings.chunk_overlap_sentences,
            )
            del doc
            if not chunks:
                raise IngestError(f"{path.name}: no text left after cleaning; is it a report?")
            if max_chunks is not None and len(chunks) > max_chunks:
                raise IngestError(too_many(path, settings, len(chunks), max_chunks, about=False))
            prepared[source] = chunks
    return prepared


@contextmanager
def per_file(path: Path, source: str, summary: IngestSummary) -> Iterator[None]:
    """Record a file's failure (one line naming it) and go on with the others."""
    try:
        yield
    except AssistantError as exc:
        summary.failures.append(FileFailure(source, str(exc)))
    except Exception as exc:  # a bug or an odd file must not lose the rest of the run
        summary.failures.append(
            FileFailure(source, f"{path.name}: could not be processed ({type(exc).__name__}: {exc}).")
        )
