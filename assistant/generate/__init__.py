"""Answer writers behind one interface, with a registry: `get_writer("extractive", settings)`."""

from __future__ import annotations

from collections.abc import Callable

from assistant.config import Settings
from assistant.errors import UnknownBackendError
from assistant.generate.base import AnswerWriter, Draft, WriteRequest

__all__ = ["AnswerWriter", "Draft", "WriteRequest", "available_writers", "get_writer", "register_writer"]

WriterFactory = Callable[[Settings], AnswerWriter]


def _extractive(settings: Settings) -> AnswerWriter:
    from assistant.generate.extractive import ExtractiveWriter

    return ExtractiveWriter(settings)


def _ollama(settings: Settings) -> AnswerWriter:
    from assistant.generate.llm import OllamaWriter

    return OllamaWriter(settings)


def _openai(settings: Settings) -> AnswerWriter:
    from assistant.generate.llm import OpenAIWriter

    return OpenAIWriter(settings)


_REGISTRY: dict[str, WriterFactory] = {"extractive": _extractive, "ollama": _ollama, "openai": _openai}

# What each writer needs, shown where it cannot be used.
REQUIREMENTS = {
    "extractive": "nothing: works offline",
    "ollama": "an Ollama server (ASSISTANT_OLLAMA_URL, ASSISTANT_OLLAMA_MODEL) and `pip install .[llm]`",
    "openai": "an OpenAI-compatible server or key (ASSISTANT_OPENAI_BASE_URL, ASSISTANT_OPENAI_API_KEY, "
    "ASSISTANT_OPENAI_MODEL) and `pip install .[llm]`",
}


def register_writer(name: str, factory: WriterFactory, requirement: str = "") -> None:
    """Make a writer available by name."""
    _REGISTRY[name] = factory
    REQUIREMENTS.setdefault(name, requirement)


def available_writers() -> list[str]:
    return sorted(_REGISTRY)


def get_writer(name: str, settings: Settings) -> AnswerWriter:
    """The writer registered as `name`; an unknown name lists the known ones."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownBackendError("answer writer", name, list(_REGISTRY)) from None
    return factory(settings)
