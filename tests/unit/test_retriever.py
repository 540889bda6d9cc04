"""The LangChain face of retrieval and the persisted BM25 index."""

from __future__ import annotations

from assistant.catalog import Catalog
from assistant.config import Settings
from assistant.embeddings import get_embedder
from assistant.lexical import LexicalIndex
from assistant.retrieval import HybridRetriever, ReportRetriever
from assistant.store import ChunkStore
from ingest.pipeline import run_ingest


def _hybrid(settings: Settings) -> HybridRetriever:
    store = ChunkStore(settings, get_embedder(settings)).open()
    return HybridRetriever(settings, store, Catalog.load(settings.catalog_path))


def test_langchain_retriever_returns_documents_with_locations(settings: Settings) -> None:
    run_ingest(settings, progress=False)
    retriever = ReportRetriever(hybrid=_hybrid(settings), k=3)
    documents = retriever.invoke("membership fees funding networks")
    assert 1 <= len(documents) <= 3
    top = documents[0]
    assert "membership fees" in top.page_content
    assert top.metadata["report"] == "alpha-2010" and top.metadata["location"].startswith("p. ")
    assert [d.metadata["rank"] for d in documents] == list(range(1, len(documents) + 1))


def test_bm25_is_loaded_from_disk_not_rebuilt(settings: Settings, monkeypatch) -> None:
    run_ingest(settings, progress=False)

    def no_build(*args, **kwargs):
        raise AssertionError("BM25 rebuilt although the corpus did not change")

    monkeypatch.setattr(LexicalIndex, "build", classmethod(no_build))
    found = _hybrid(settings).retrieve("small firms training")
    assert found.passages


def test_bm25_is_rebuilt_when_the_store_changed(settings: Settings) -> None:
    run_ingest(settings, progress=False)
    hybrid = _hybrid(settings)
    before = hybrid.lexical.fingerprint
    (settings.corpus_dir / "alpha-2010-networks.txt").unlink()
    run_ingest(settings, progress=False)
    assert hybrid.lexical.fingerprint != before
    assert "alpha-2010" not in hybrid.reports_in_index()


def test_acronym_and_expansion_find_each_other(settings: Settings) -> None:
    run_ingest(settings, progress=False)
    lexical = _hybrid(settings).lexical
    assert "small and medium-sized enterprises" in lexical.expand("What do SMEs need?").lower()
    assert "SME" in lexical.expand("What do small and medium-sized enterprises need?")


def test_bm25_saved_by_another_version_is_rebuilt(settings: Settings, monkeypatch) -> None:
    import assistant.lexical

    run_ingest(settings, progress=False)
    bm25 = ChunkStore(settings, get_embedder(settings)).open().generation.state_dir / "bm25"
    monkeypatch.setattr(assistant.lexical, "LEXICAL_VERSION", "newer")  # this code is a newer version
    assert LexicalIndex.load(bm25) is None
    assert _hybrid(settings).retrieve("small firms training").passages  # built in memory
    assert LexicalIndex.load(bm25) is None  # answering writes nothing
    summary = run_ingest(settings, progress=False)
    assert summary.chunks_embedded == 0
    rebuilt = ChunkStore(settings, get_embedder(settings)).open().generation.state_dir / "bm25"
    assert LexicalIndex.load(rebuilt) is not None  # ingest made it again


def test_the_topic_is_what_the_question_is_about_without_names_and_asking_words() -> None:
    from assistant.retrieval import topic_of

    # Scoped, the names already stripped: "the study" goes, then "did find", and a two-word topic is enough.
    assert topic_of(
        "What did the 2008 SSDA study find about employer networks?", "What did the study find about employer networks?"
    ) == "What about employer networks?"
    # Not scoped to a report: the asking words go once, and at least three content words must be left.
    research = "What does the research say about apprenticeships and SMEs?"
    assert topic_of(research) == "What does say about apprenticeships and SMEs?"
    # Nothing left to search with once the asking words go: the question without the names, else as asked.
    assert topic_of("What did the SSDA study find?", "What did the study find?") == "What did the study find?"
    assert topic_of("What did the study find?") == "What did the study find?"
