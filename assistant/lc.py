"""The engine's LangChain faces: `Assistant` as a Runnable, `HybridRetriever` as a retriever, embedders as Embeddings.

Kept apart from chain.py and retrieval.py because importing LangChain's Runnable and retriever classes
pulls in its tracers, callbacks and LangSmith's schemas (about 0.6 s and 35 MB in a fresh process),
which answering a question never uses: this module is imported only when one of these is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import ConfigDict

from assistant.embeddings import Embedder
from assistant.retrieval import HybridRetriever
from assistant.types import Answer

if TYPE_CHECKING:
    from assistant.chain import Assistant

# An Embedder has every method of LangChain's Embeddings without importing it (see assistant.embeddings).
Embeddings.register(Embedder)


class AnswerRunnable(Runnable[Any, Answer]):
    """`Assistant.ask` as a Runnable. Input: a question string or {"question", "history", "reports"}."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant

    @staticmethod
    def _arguments(value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            return {"question": value}
        allowed = {"question", "history", "reports", "writer", "audience", "id"}
        return {k: v for k, v in dict(value).items() if k in allowed}

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        return self.assistant.ask(**self._arguments(input))

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        yield from self.assistant.stream(**self._arguments(input))


class ReportRetriever(BaseRetriever):
    """LangChain retriever over `HybridRetriever`: Documents carry the chunk's metadata and score."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    hybrid: HybridRetriever
    k: int = 6
    reports: list[str] | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        found = self.hybrid.retrieve(query, self.k, self.reports)
        return [
            Document(
                page_content=p.chunk.text,
                id=p.chunk.chunk_id,
                metadata={**p.chunk.to_metadata(), "score": p.score, "rank": p.rank, "location": p.chunk.location},
            )
            for p in found.passages
        ]
