"""The chat page: ask the reports, get cited answers, follow up, export a briefing note."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from assistant.chain import Assistant
from assistant.errors import AssistantError, BackendUnavailableError, InvalidQuestionError
from assistant.generate import REQUIREMENTS, available_writers
from assistant.types import Answer
from pages.answer_view import download_buttons, render_answer
from pages.runtime import load_assistant
from pages.text import STYLE, answer_html, literal

EXAMPLES = [
    ("For practitioners", "How can colleges engage small employers?"),
    ("For policy", "How were the employer networks in the UKCES study funded?"),
    ("Comparing reports", "Do the SSDA and LSDA reports agree on what stops small firms training staff?"),
]
AUDIENCES = {
    "practitioner": "Practitioner — lead with actions",
    "policy": "Policy — lead with findings and exact quotes",
}


@dataclass
class Turn:
    """One question and what came of it: an answer, or an error to show in its place."""

    question: str
    answer: Answer | None = None
    error: str = ""
    reports: tuple[str, ...] = field(default_factory=tuple)


def turns() -> list[Turn]:
    """This browser session's conversation."""
    return st.session_state.setdefault("turns", [])


def ask_later(question: str) -> None:
    """Queue a question (from an example button) for this run."""
    st.session_state["pending"] = question


def new_conversation() -> None:
    st.session_state["turns"] = []
    st.session_state.pop("pending", None)


def sidebar(assistant: Assistant) -> dict:
    """The filters and options; returns what `Assistant.stream` needs plus the display choices."""
    with st.sidebar:
        st.button(
            "New conversation", on_click=new_conversation, key="new-conversation",
            icon=":material/add_comment:", width="stretch",
        )
        reports = st.multiselect(
            "Only these reports",
            [r.id for r in assistant.catalog],
            format_func=lambda rid: _label(assistant, rid),
            placeholder="All reports",
            key="reports",
        )
        audience = st.radio(
            "Audience", list(AUDIENCES), format_func=AUDIENCES.get, key="audience",
            index=list(AUDIENCES).index(assistant.settings.audience),
        )
        writers = available_writers()
        default = assistant.settings.writer if assistant.settings.writer in writers else "extractive"
        writer = st.selectbox(
            "Answer writer", writers, index=writers.index(default), key="writer",
            help="extractive quotes the reports directly and works offline; the others use a language model.",
        )
        if writer != "extractive":
            st.caption(literal(f"{writer} needs {REQUIREMENTS.get(writer, 'its server')}."))
        details = st.toggle("Show retrieval details", key="details")
    return {"reports": reports, "audience": audience, "writer": writer, "details": details}


def _label(assistant: Assistant, report_id: str) -> str:
    info = assistant.catalog.get(report_id)
    return info.label if info else report_id


def empty_state(assistant: Assistant) -> None:
    """What the assistant knows (the reports, with years) and three questions to start with."""
    st.markdown(
        f"I answer questions about employer engagement from **{len(assistant.catalog)} research reports**, "
        "quoting them for every point:"
    )
    by_year = sorted(assistant.catalog, key=lambda r: (r.year or 0, r.label))
    st.markdown("\n".join(f"- **{literal(r.label)}** · {literal(r.title)}" for r in by_year))
    st.markdown("Try one of these, or type your own below:")
    for who, question in EXAMPLES:
        # One full-width button per row, so the whole question is readable.
        st.button(
            question, on_click=ask_later, args=(question,), key=f"example-{who}", width="stretch",
            help=who, icon=":material/chat:",
        )


def show_turn(turn: Turn, index: int, assistant: Assistant, details: bool) -> None:
    with st.chat_message("user"):
        st.markdown(literal(turn.question))
    with st.chat_message("assistant"):
        if turn.error:
            st.error(turn.error, icon=":material/error:")
        elif turn.answer is not None:
            render_answer(turn.answer, assistant.catalog, key=str(index), show_details=details)
            searched_as(turn.answer)


def searched_as(answer: Answer) -> None:
    """Under a follow-up's answer: what was actually searched once the conversation added context."""
    if answer.searched_as:
        st.caption(literal(f"Searched as: {answer.searched_as}"), help="This question leaned on the conversation.")


def stream_draft(events: Iterator[str | Answer], draft: DeltaGenerator) -> Answer | None:
    """Show the text as it streams in (report text kept inert, as in the final answer); return the Answer."""
    text = ""
    for event in events:
        if isinstance(event, Answer):
            return event
        text += event
        draft.markdown(answer_html(text), unsafe_allow_html=True)  # report text escaped
    return None


def answer(assistant: Assistant, question: str, options: dict) -> Turn:
    """Stream an answer to `question` (earlier questions as history), then show the verified one."""
    history = [t.question for t in turns() if t.answer is not None]
    turn = Turn(question=question, reports=tuple(options["reports"]))
    with st.chat_message("user"):
        st.markdown(literal(question))
    with st.chat_message("assistant"):
        draft = st.empty()
        final: list[Answer] = []
        try:
            events = assistant.stream(
                question, history, options["reports"] or None,
                writer=options["writer"], audience=options["audience"],
            )
            with st.spinner("Searching the reports…"):
                done = stream_draft(events, draft)
            if done is not None:
                final.append(done)
        except BackendUnavailableError as exc:
            turn.error = (
                f"{literal(str(exc))}\n\nChoose the **extractive** writer in the sidebar to keep going without it."
            )
        except (InvalidQuestionError, AssistantError) as exc:  # e.g. a pasted question over the limit
            turn.error = literal(str(exc))
        draft.empty()
        if final:
            turn.answer = final[0]
            render_answer(turn.answer, assistant.catalog, key=str(len(turns())), show_details=options["details"])
            searched_as(turn.answer)
        else:
            st.error(turn.error or "No answer was produced; try again.", icon=":material/error:")
    return turn


def damage_notices(assistant: Assistant) -> None:
    """One line per damaged file of the index serving: answering goes on without it; ingest repairs it."""
    for notice in assistant.retriever.notices:
        st.warning(literal(notice), icon=":material/warning:")


def export_conversation(assistant: Assistant) -> None:
    """Sidebar buttons for the whole conversation as one briefing note (Markdown or Word)."""
    answered = [t.answer for t in turns() if t.answer is not None]
    if not answered:
        return
    with st.sidebar:
        st.divider()
        st.markdown("**Briefing note**")
        download_buttons(answered, assistant.catalog, key="conversation", what="the conversation", stretch=True)
        st.caption("Every answer, its quotes numbered once across the note, and a references list.")


def main() -> None:
    st.markdown(STYLE, unsafe_allow_html=True)  # our own CSS, no untrusted text
    st.title("Employer engagement evidence assistant")
    assistant = load_assistant()
    options = sidebar(assistant)
    # No max_chars: the browser would silently cut or refuse a long paste; the engine's check explains instead.
    question = st.chat_input("Ask about employer engagement…")
    question = question or st.session_state.pop("pending", None)
    if not turns() and not question:
        empty_state(assistant)
    for index, turn in enumerate(turns()):
        show_turn(turn, index, assistant, options["details"])
    if question:
        turns().append(answer(assistant, question, options))
    damage_notices(assistant)
    export_conversation(assistant)


main()
