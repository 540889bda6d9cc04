"""The no-change fast path: whether the index already holds exactly these files, decided without
opening the store or loading the model."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from assistant import integrity, lexical
from assistant.catalog import Catalog
from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.peek import read_store
from assistant.store import chunker_version
from ingest.corpus import scanned
from ingest.manifest import Manifest, file_fingerprint
from ingest.summary import IngestSummary


def nothing_changed(
    settings: Settings,
    embedder: Embedder,
    catalog: Catalog,
    files: list[tuple[Path, str]],
    folders: list[Path],
    summary: IngestSummary,
) -> bool:
    """True (and `summary` filled in) when the index already holds exactly these files: no work to do.

    Decided before the store is opened or the model loaded: a no-change `assistant ingest` then takes
    well under a second instead of ~1.5 s of chromadb's import and start. It asks what `pipeline._run`
    would check (the pointer, the serving generation's versions, its manifest against the store's chunks
    per file and against the files' hashes, nothing removed, nothing left over to prune), reading the
    embedded store's SQLite file directly (assistant.peek). Any doubt answers False and `_run` decides.
    """
    found = read_store(settings)
    pointer = found.metadata(f"{settings.collection}.current") if found else None
    if found is None or not pointer or not pointer.get("generation"):
        return False
    current = str(pointer["generation"])
    kept = {f"{settings.collection}.current", f"{settings.collection}.{current}"}
    if pointer.get("previous"):
        kept.add(f"{settings.collection}.{pointer['previous']}")
    if set(found.collections) - kept:
        return False  # a build left by a killed run, or the old single collection: `_run` prunes them
    generations = settings.state_dir / "generations"
    ids = {current, str(pointer.get("previous") or "")}
    if generations.is_dir() and any(p.name not in ids for p in generations.iterdir()):
        return False  # a killed build's folder: `_run` sweeps it
    if found.orphan_folders():
        return False
    if any((settings.state_dir / name).exists() for name in ("manifest.json", "bm25")):
        return False  # files of the old layout, which `_run` removes
    versions = {"embedder": embedder.version, "chunker": chunker_version(settings)}
    metadata = found.metadata(f"{settings.collection}.{current}") or {}
    if any(metadata.get(k) != v for k, v in versions.items()):
        return False
    folder = settings.state_dir / "generations" / current
    if not derived_current(folder):
        return False  # made by an older version of the code: `_run` makes them again
    files_sha = pointer.get("files")
    if integrity.verify(folder, str(files_sha) if files_sha else None):
        return False  # a damaged file of the generation: `_run` names it and rebuilds (issue 18)
    try:
        saved = json.loads((folder / "bm25" / "meta.json").read_text(encoding="utf-8"))
        if saved.get("version") != lexical.LEXICAL_VERSION or saved.get("fingerprint") != current:
            return False  # BM25 saved by another version of this code: `_run` makes it again
    except (OSError, ValueError, AttributeError):
        return False
    manifest = Manifest.load(folder / "manifest.json")
    counts = found.source_counts(f"{settings.collection}.{current}")
    if counts is None or counts != Counter({s: e.get("chunks") for s, e in manifest.files.items()}):
        return False  # includes stale chunks and an empty manifest
    present = {source for _, source in files}
    if any(s not in present and scanned(s, folders, settings.corpus_dir) for s in manifest.files):
        return False  # a file was removed
    for path, source in files:
        try:
            fingerprint = file_fingerprint(path, repr(catalog.for_file(path.name)))
        except OSError:
            return False  # `_run` reports it
        if not manifest.is_current(source, fingerprint):
            return False
    summary.unchanged.extend(source for _, source in files)
    summary.total_chunks = sum(counts.values())
    summary.generation = current
    return True


def derived_current(folder: Path) -> bool:
    """Whether the generation's derived files (token vectors, units, the ranker's derivation) are of this
    code's versions: reading their small headers, not the files."""
    from assistant.late import TOKENS_VERSION
    from assistant.rank import DERIVED_VERSION
    from assistant.units import UNITS_VERSION

    expected = {
        folder / "tokens" / "index.json": TOKENS_VERSION,
        folder / "units" / "units.json": UNITS_VERSION,
        folder / "ranker" / "derived.json": DERIVED_VERSION,
    }
    for path, version in expected.items():
        try:
            with open(path, encoding="utf-8") as handle:
                head = handle.read(200)
        except OSError:
            return False
        if f'"version": "{version}"' not in head:
            return False
    return True
