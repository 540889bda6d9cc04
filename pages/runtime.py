"""The engine as the pages see it: settings, the one shared Assistant (loaded once), errors as st.error."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from assistant.config import Settings, prepare_runtime
from assistant.errors import (
    AssistantError,
    ConfigError,
    IndexMismatchError,
    IndexMissingError,
    StoreUnavailableError,
)

prepare_runtime()  # before the model or Chroma is imported

from assistant.chain import Assistant  # noqa: E402  (needs prepare_runtime first)

HEADINGS: dict[type[AssistantError], str] = {
    IndexMissingError: "There is no index of the reports yet.",
    IndexMismatchError: "The index is out of date.",
    StoreUnavailableError: "The vector store cannot be reached.",
    ConfigError: "A setting is wrong.",
}


def settings() -> Settings:
    """Settings from the ASSISTANT_* environment, read on every run so a fixed setting takes effect."""
    return Settings.load()


@st.cache_resource(show_spinner="Loading the reports and the model (first time only)…")
def _load(key: str, _settings: Settings) -> Assistant:
    """One Assistant per distinct configuration, shared by every session (it is thread-safe)."""
    assistant = Assistant.from_settings(_settings)
    # The model loads lazily on the first embedding; pay that here, not on the user's first question.
    assistant.embedder.embed_query("employer engagement")
    return assistant


def load_assistant() -> Assistant:
    """The shared Assistant; if it cannot start, say why and how to fix it, and stop this page."""
    try:
        current = settings()
        show_skipped(current)
        return _load(current.model_dump_json(), current)
    except AssistantError as exc:
        stop_with(exc)


def show_skipped(current: Settings) -> None:
    """List in the sidebar the files the last ingest skipped, each with its reason (as plain text)."""
    from ingest.pipeline import last_skipped

    skipped = last_skipped(current)
    if skipped:
        with st.sidebar.expander(f"{len(skipped)} file(s) skipped by the last ingest", icon=":material/block:"):
            for failure in skipped:
                st.text(failure.reason)


def reload_assistant() -> None:
    """Forget the shared Assistant so the next page run opens the index afresh (after an ingest)."""
    _load.clear()


def heading_for(exc: AssistantError) -> str:
    """A one-line heading for an engine error, above its own message (which says what to do)."""
    for kind, heading in HEADINGS.items():
        if isinstance(exc, kind):
            return heading
    return "The assistant could not start."


def stop_with(exc: AssistantError) -> NoReturn:
    """Show an engine error with its fix, then end this run of the page (other pages still work)."""
    st.error(f"**{heading_for(exc)}**\n\n{exc}", icon=":material/report:")
    st.stop()
