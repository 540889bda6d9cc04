"""The tutorial RAG pipeline, scored beside the product: fixed-size chunks, dense top-5, no routing.

1,000-character chunks with 200 characters of overlap over the raw report text (LangChain's
RecursiveCharacterTextSplitter when `langchain-text-splitters` is installed, else a plain splitter that
breaks at white space), the same embedder held in memory with numpy cosine similarity, no abstention.
The "answer" is the text of the first passages, each passage cited whole.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.catalog import Catalog, report_id_for_file
from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.types import Answer, Chunk, Citation, Passage

CHUNK_CHARS = 1000
OVERLAP_CHARS = 200
TOP_K = 5
ANSWER_PASSAGES = 3  # the "answer" is the text of this many top passages
SUFFIXES = (".txt", ".md", ".markdown", ".pdf")
SPLITTER_VERSION = "baseline-chunks/1"


@dataclass(frozen=True)
class Piece:
    """A span of a report's raw text: [start, end) and the page it is on (PDFs)."""

    start: int
    end: int
    page: int | None = None


def split_text(text: str, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS) -> list[tuple[int, int]]:
    """Windows of at most `size` characters overlapping by about `overlap`, cut at white space."""
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        while start < len(text) and text[start].isspace():
            start += 1
        if start >= len(text):
            break
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            cut = max(cut, text.rfind("\n", start + size // 2, end))
            end = cut if cut > start else end
        while end > start and text[end - 1].isspace():
            end -= 1
        spans.append((start, end))
        if end >= len(text.rstrip()):
            break
        nxt = max(end - overlap, start + 1)
        # Start the overlap at a word boundary, as a reader would.
        boundary = text.find(" ", nxt, end)
        start = boundary + 1 if 0 <= boundary < end - 1 else nxt
    return spans


def _langchain_spans(text: str) -> list[tuple[int, int]] | None:
    """LangChain's RecursiveCharacterTextSplitter, if installed, as (start, end) spans."""
    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError:
        return None
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_CHARS, chunk_overlap=OVERLAP_CHARS, add_start_index=True)
    docs = splitter.create_documents([text])
    return [(d.metadata["start_index"], d.metadata["start_index"] + len(d.page_content)) for d in docs]


def _read_pages(path: Path) -> list[tuple[str, int | None]]:
    """A report's raw text, as (text, page) per PDF page or one (text, None) for a text file."""
    if path.suffix.lower() == ".pdf":
        from pypdf import PdfReader

        return [(page.extract_text() or "", n) for n, page in enumerate(PdfReader(str(path)).pages, start=1)]
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    return [(text.replace("\r\n", "\n").replace("\r", "\n"), None)]


def chunk_report(path: Path, report: str, title: str, year: int | None, source: str) -> list[Chunk]:
    """The baseline chunks of one report file, with lines or pages so that citations can be checked."""
    chunks: list[Chunk] = []
    for text, page in _read_pages(path):
        spans = _langchain_spans(text) or split_text(text)
        for start, end in spans:
            line_start = text.count("\n", 0, start) + 1
            line_end = line_start + text.count("\n", start, end)
            body = text[start:end]
            digest = hashlib.sha1(f"{source}:{page}:{start}:{body}".encode()).hexdigest()[:16]
            chunks.append(
                Chunk(
                    chunk_id=f"baseline:{report}:{digest}",
                    report=report,
                    title=title,
                    year=year,
                    section=(),
                    text=body,
                    char_start=start,
                    char_end=end,
                    line_start=line_start,
                    line_end=line_end,
                    page_start=page,
                    page_end=page,
                    source=source,
                    ordinal=len(chunks),
                )
            )
    return chunks


class BaselinePipeline:
    """Fixed-size chunks and dense top-k in memory; `ask` mirrors `Assistant.ask` closely enough to score."""

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings = settings
        self.embedder = embedder
        self.catalog = Catalog.load(settings.catalog_path)
        self.chunks = self._chunk_corpus()
        self.by_id = {c.chunk_id: c for c in self.chunks}
        self.vectors = self._vectors()

    def _chunk_corpus(self) -> list[Chunk]:
        chunks: list[Chunk] = []
        for path in sorted(p for p in self.settings.corpus_dir.iterdir() if p.suffix.lower() in SUFFIXES):
            info = self.catalog.for_file(path.name)
            report = info.id if info else report_id_for_file(path.name)
            title = info.title if info else path.stem
            chunks.extend(chunk_report(path, report, title, info.year if info else None, path.name))
        return chunks

    def corpus_key(self) -> str:
        """A hash of the chunk texts, splitter and embedder: the name of the vector cache."""
        digest = hashlib.sha256(f"{SPLITTER_VERSION}|{self.embedder.version}".encode())
        for chunk in self.chunks:
            digest.update(chunk.chunk_id.encode())
        return digest.hexdigest()[:20]

    @property
    def cache_path(self) -> Path:
        return self.settings.index_dir / "baseline" / f"{self.corpus_key()}.npy"

    def _vectors(self) -> np.ndarray:
        path = self.cache_path
        if path.is_file():
            vectors = np.load(path)
            if vectors.shape[0] == len(self.chunks):
                return vectors
        vectors = np.asarray(self.embedder.embed_documents([c.text for c in self.chunks]), dtype=np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        return vectors

    def retrieve(self, question: str, k: int = TOP_K) -> list[Passage]:
        """The `k` chunks nearest the question by cosine similarity."""
        query = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        norms = np.linalg.norm(self.vectors, axis=1) * (np.linalg.norm(query) or 1.0)
        scores = self.vectors @ query / np.where(norms == 0, 1.0, norms)
        order = np.argsort(-scores)[:k]
        return [Passage(chunk=self.chunks[i], score=float(scores[i]), rank=r) for r, i in enumerate(order, start=1)]

    def ask(self, question: str, history: Sequence[str] | None = None, reports: Sequence[str] | None = None) -> Answer:
        """Answer with the first passages' text, each cited; history and report filters are ignored."""
        started = time.perf_counter()
        passages = self.retrieve(question)
        shown = passages[:ANSWER_PASSAGES]
        citations = [self._citation(n, p.chunk) for n, p in enumerate(shown, start=1)]
        text = "\n\n".join(f"{p.chunk.text} [{n}]" for n, p in enumerate(shown, start=1))
        total = (time.perf_counter() - started) * 1000
        return Answer(
            question=question,
            answer=text,
            citations=citations,
            passages=passages,
            writer="baseline",
            timings_ms={"total": total},
        )

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        """Chunks by id, like `ChunkStore.get`."""
        return [self.by_id[i] for i in ids if i in self.by_id]

    def _citation(self, n: int, chunk: Chunk) -> Citation:
        return Citation.from_chunk(n, chunk, chunk.text, self.catalog.get(chunk.report))
