"""LLM answer writers: a LangChain chat model (Ollama or any OpenAI-compatible server) behind `AnswerWriter`.

The SDKs are optional (`pip install '.[llm]'`), so they are imported only when a model is first needed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from assistant.config import Settings
from assistant.errors import AssistantError, BackendUnavailableError, ConfigError
from assistant.generate.base import Draft, WriteRequest
from assistant.generate.prompt import (
    ABSTAIN_SENTENCE,
    build_messages,
    condense_question_messages,
    is_abstention,
)

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["ChatWriter", "OllamaWriter", "OpenAIWriter"]

INSTALL_HINT = "pip install '.[llm]'"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
# Local OpenAI-compatible servers (llama.cpp, vLLM, LM Studio) ignore the key, but the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"
# Ollama's default context window is small enough to silently cut off the sources; this fits them all.
OLLAMA_NUM_CTX = 8192
# Without a usage report (llama.cpp's server sends none when streaming), the prompt's size is estimated
# at four characters a token, the usual figure for English with BPE vocabularies.
CHARS_PER_TOKEN = 4

_log = logging.getLogger(__name__)


def _check_url(url: str, setting: str) -> str:
    """`url` if it is an http(s) URL with a host; otherwise a ConfigError naming the setting."""
    parsed = urlparse(url if "://" in url else f"http://{url}")
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ConfigError(f"{setting}={url!r} is not an http(s) URL: set it to e.g. http://127.0.0.1:11434.")
    return url


def _detail(exc: BaseException) -> str:
    """A short one-line description of an SDK error."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


class ChatWriter:
    """An answer writer backed by a LangChain chat model, built on first use."""

    name = "chat"
    label = "The language model"  # how messages name the backend

    def __init__(self, settings: Settings, model: BaseChatModel | None = None) -> None:
        self.settings = settings
        self._model = model
        self._usage = threading.local()  # one chain may serve several threads; each reads its own request

    # -- what subclasses provide -------------------------------------------------------------

    def _build(self) -> BaseChatModel:
        """The chat model; subclasses import their SDK here."""
        raise NotImplementedError

    def _translate(self, exc: Exception) -> BackendUnavailableError:
        """An SDK error as a BackendUnavailableError that says what to do."""
        return BackendUnavailableError(f"{self.label} failed: {_detail(exc)}.")

    # -- the writer ----------------------------------------------------------------------------

    @property
    def model(self) -> BaseChatModel:
        """The chat model, built once; a missing SDK becomes a BackendUnavailableError."""
        if self._model is None:
            try:
                self._model = self._build()
            except ImportError as exc:
                raise BackendUnavailableError(
                    f"The {self.name} writer needs the LLM extras ({exc.name or exc}): run `{INSTALL_HINT}`."
                ) from exc
        return self._model

    def write(self, request: WriteRequest) -> Draft:
        """The whole draft; abstains when the model says the reports do not cover the question."""
        if not request.passages:
            # Nothing to cite: asking a model would only invite an uncited answer.
            return Draft(text=ABSTAIN_SENTENCE, abstain=True)
        text = "".join(self.stream(request))
        return Draft(text=text, abstain=not text.strip() or is_abstention(text))

    def stream(self, request: WriteRequest) -> Iterator[str]:
        """The draft in pieces as the model produces them; the request's size is kept for `last_usage`."""
        self._usage.value = {}
        if not request.passages:
            yield ABSTAIN_SENTENCE
            return
        messages = build_messages(request)
        model = self.model
        limit = self.settings.llm_timeout_s
        started = time.perf_counter()
        first: float | None = None
        pieces = 0
        reported: dict[str, Any] = {}
        try:
            for chunk in model.stream(messages):
                if chunk.usage_metadata:
                    reported = dict(chunk.usage_metadata)
                piece = chunk.text
                if piece:
                    first = first or time.perf_counter()
                    pieces += 1
                    yield piece
                if time.perf_counter() - started > limit:
                    # The SDKs' timeouts bound each read, not a reply that keeps trickling in.
                    raise BackendUnavailableError(
                        f"{self.label} did not finish its answer within {limit:g} s: raise "
                        "ASSISTANT_LLM_TIMEOUT_S, lower ASSISTANT_LLM_MAX_TOKENS or use a faster model."
                    )
        except AssistantError:
            raise
        except Exception as exc:  # the SDKs raise many kinds; each becomes one clear message
            raise self._translate(exc) from exc
        finally:
            self._usage.value = self._measure(messages, reported, pieces, started, first)
        usage = self._usage.value
        _log.info(
            "%s: prompt %d tokens%s, reply %d tokens (max %d), first token %.0f ms, whole reply %.0f ms",
            self.label, usage["prompt_tokens"], " (estimated)" if usage["estimated"] else "",
            usage["completion_tokens"], usage["max_tokens"], usage["first_token_ms"], usage["reply_ms"],
        )

    def last_usage(self) -> dict[str, int]:
        """This thread's last answer request: prompt_tokens, completion_tokens, max_tokens, estimated, times."""
        return dict(getattr(self._usage, "value", {}) or {})

    def _measure(
        self, messages: list[tuple[str, str]], reported: dict[str, Any], pieces: int, started: float,
        first: float | None,
    ) -> dict[str, int]:
        """The request's size as the server reported it, or estimated (streamed pieces are tokens)."""
        done = time.perf_counter()
        prompt = reported.get("input_tokens")
        reply = reported.get("output_tokens")
        return {
            "prompt_tokens": int(prompt if prompt else sum(len(t) for _, t in messages) // CHARS_PER_TOKEN),
            "completion_tokens": int(reply if reply is not None and prompt else pieces),
            "max_tokens": self.settings.llm_max_tokens,
            "estimated": int(not prompt),
            "first_token_ms": round(((first or done) - started) * 1000),
            "reply_ms": round((done - started) * 1000),
        }

    def condense(self, history: Sequence[str], question: str) -> str:
        """A follow-up question rewritten to stand alone, using the earlier turns."""
        if not any(turn.strip() for turn in history):
            return question
        text = self._invoke(condense_question_messages(history, question))
        # Keep the first line only: models sometimes add an explanation after the question.
        lines = [line.strip().strip("\"'").strip() for line in text.strip().splitlines() if line.strip()]
        return lines[0] if lines and lines[0] else question

    def _invoke(self, messages: list[tuple[str, str]]) -> str:
        """The model's whole reply to `messages`, as text."""
        model = self.model
        try:
            reply = model.invoke(messages)
        except AssistantError:
            raise
        except Exception as exc:  # the SDKs raise many kinds; each becomes one clear message
            raise self._translate(exc) from exc
        return reply.text


class OllamaWriter(ChatWriter):
    """Answers with a model served by Ollama (`ollama serve`, `ollama pull <model>`)."""

    name = "ollama"

    def __init__(self, settings: Settings, model: BaseChatModel | None = None) -> None:
        super().__init__(settings, model)
        self.url = _check_url(settings.ollama_url, "ASSISTANT_OLLAMA_URL")
        if not settings.ollama_model.strip():
            raise ConfigError("ASSISTANT_OLLAMA_MODEL is empty: set it to a pulled model, e.g. llama3.1.")
        self.label = f"Ollama at {self.url}"

    def _build(self) -> BaseChatModel:
        from langchain_ollama import ChatOllama

        return ChatOllama(
            base_url=self.url,
            model=self.settings.ollama_model,
            temperature=0,
            num_ctx=OLLAMA_NUM_CTX,
            num_predict=self.settings.llm_max_tokens,
            # Without a timeout the Ollama client waits forever on a stuck server.
            client_kwargs={"timeout": self.settings.llm_timeout_s},
        )

    def _translate(self, exc: Exception) -> BackendUnavailableError:
        import httpx

        model = self.settings.ollama_model
        try:
            from ollama import ResponseError
        except ImportError:  # pragma: no cover - the model could not have been built without it
            ResponseError = ()  # noqa: N806

        if isinstance(exc, httpx.TimeoutException):
            return BackendUnavailableError(
                f"{self.label} did not answer within {self.settings.llm_timeout_s:g} s: check that it is "
                "running and not overloaded, or raise ASSISTANT_LLM_TIMEOUT_S."
            )
        if isinstance(exc, ConnectionError | httpx.TransportError):
            return BackendUnavailableError(
                f"Cannot reach Ollama at {self.url}: start it with `ollama serve` or set ASSISTANT_OLLAMA_URL."
            )
        if ResponseError and isinstance(exc, ResponseError):
            status = exc.status_code
            if status == 404:
                return BackendUnavailableError(
                    f"{self.label} has no model {model!r} ({exc.error}): run `ollama pull {model}` or set "
                    "ASSISTANT_OLLAMA_MODEL; if this is not an Ollama server, fix ASSISTANT_OLLAMA_URL."
                )
            if status in (401, 403):
                return BackendUnavailableError(
                    f"{self.label} refused the request (HTTP {status}): check ASSISTANT_OLLAMA_URL "
                    "(credentials can go in it, as http://user:password@host:port)."
                )
            where = f"HTTP {status}" if status and status > 0 else "an error"
            return BackendUnavailableError(
                f"{self.label} answered with {where}: {exc.error}. Check the Ollama server log and "
                "ASSISTANT_OLLAMA_MODEL."
            )
        return BackendUnavailableError(f"{self.label} failed: {_detail(exc)}. Check the Ollama server log.")


class OpenAIWriter(ChatWriter):
    """Answers with the OpenAI API or any OpenAI-compatible server (llama.cpp, vLLM, LM Studio)."""

    name = "openai"

    def __init__(self, settings: Settings, model: BaseChatModel | None = None) -> None:
        super().__init__(settings, model)
        base_url, api_key = settings.openai_base_url, settings.openai_api_key
        if not base_url and not api_key and model is None:
            raise BackendUnavailableError(
                "The openai writer needs an API key or a server: set ASSISTANT_OPENAI_API_KEY for OpenAI, "
                "or ASSISTANT_OPENAI_BASE_URL for an OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1)."
            )
        # Always pass a URL so the SDK never falls back to its own environment variables.
        self.url = _check_url(base_url, "ASSISTANT_OPENAI_BASE_URL") if base_url else OPENAI_DEFAULT_URL
        self.api_key = api_key or PLACEHOLDER_KEY
        if not settings.openai_model.strip():
            raise ConfigError("ASSISTANT_OPENAI_MODEL is empty: set it to a model the server offers.")
        self.label = f"The OpenAI-compatible server at {self.url}"

    def _build(self) -> BaseChatModel:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            base_url=self.url,
            api_key=self.api_key,
            model=self.settings.openai_model,
            temperature=0,
            timeout=self.settings.llm_timeout_s,
            max_tokens=self.settings.llm_max_tokens,  # sent as max_completion_tokens
            # OpenAI-compatible servers (llama.cpp, vLLM) read only the older `max_tokens`, and ignore what
            # they do not know: without it, llama.cpp's server writes until the context is full.
            extra_body=None if self.url == OPENAI_DEFAULT_URL else {"max_tokens": self.settings.llm_max_tokens},
            stream_usage=True,  # the prompt's size in the last chunk, where the server reports it
            # Retries would multiply the wait before a clear error; the user can simply ask again.
            max_retries=0,
            # Compatible servers speak Chat Completions; never switch to the Responses API.
            use_responses_api=False,
        )

    def _translate(self, exc: Exception) -> BackendUnavailableError:
        try:
            import openai
        except ImportError:  # only with an injected model; without the SDK there is nothing to match
            return super()._translate(exc)

        model = self.settings.openai_model
        if isinstance(exc, openai.APITimeoutError):
            return BackendUnavailableError(
                f"{self.label} did not answer within {self.settings.llm_timeout_s:g} s: check that it is "
                "running and not overloaded, or raise ASSISTANT_LLM_TIMEOUT_S."
            )
        if isinstance(exc, openai.APIConnectionError):
            if self.url == OPENAI_DEFAULT_URL:
                return BackendUnavailableError(
                    f"Cannot reach the OpenAI API at {self.url}: check your network connection, or set "
                    "ASSISTANT_OPENAI_BASE_URL to a local OpenAI-compatible server."
                )
            return BackendUnavailableError(
                f"Cannot reach the OpenAI-compatible server at {self.url}: start it, or set "
                "ASSISTANT_OPENAI_BASE_URL to where it runs."
            )
        if isinstance(exc, openai.AuthenticationError):
            return BackendUnavailableError(
                f"{self.label} rejected the API key (HTTP 401): set a valid ASSISTANT_OPENAI_API_KEY."
            )
        if isinstance(exc, openai.PermissionDeniedError):
            return BackendUnavailableError(
                f"{self.label} refused access (HTTP 403): check that ASSISTANT_OPENAI_API_KEY may use "
                f"model {model!r} (ASSISTANT_OPENAI_MODEL)."
            )
        if isinstance(exc, openai.NotFoundError):
            return BackendUnavailableError(
                f"{self.label} answered 404 for model {model!r}: set ASSISTANT_OPENAI_MODEL to a model the "
                "server offers, and check ASSISTANT_OPENAI_BASE_URL (it usually ends in /v1)."
            )
        if isinstance(exc, openai.RateLimitError):
            return BackendUnavailableError(
                f"{self.label} is rate-limiting this key or its quota is used up (HTTP 429): wait and try "
                "again, or check the account behind ASSISTANT_OPENAI_API_KEY."
            )
        if isinstance(exc, openai.APIStatusError):
            return BackendUnavailableError(
                f"{self.label} answered HTTP {exc.status_code}: {_detail(exc)}. Check the server log and "
                "ASSISTANT_OPENAI_MODEL."
            )
        return BackendUnavailableError(f"{self.label} failed: {_detail(exc)}. Check the server log.")
