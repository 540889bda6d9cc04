"""The chat page: ask the reports, get cited answers, follow up, export a briefing note."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import streamlit as st

from assistant.chain import Assistant
from assistant.errors import AssistantError, BackendUnavailableError, InvalidQuestionError
from assistant.export import briefing_markdown
from assistant.generate import REQUIREMENTS, available_writers
from assistant.types import Answer
from pages.answer_view import render_answer
from pages.runtime import load_assistant
from pages.text import STYLE, literal

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
    """What the assistant knows and three questions to start with."""
    reports = "; ".join(f"{r.label} *{literal(r.title)}*" for r in assistant.catalog)
    st.markdown(
        f"I answer questions about employer engagement from **{len(assistant.catalog)} research reports**, "
        f"quoting them for every point: {reports}."
    )
    st.markdown("Try one of these, or type your own below:")
    for column, (who, question) in zip(st.columns(len(EXAMPLES)), EXAMPLES, strict=True):
        with column:
            st.caption(who)
            st.button(question, on_click=ask_later, args=(question,), key=f"example-{who}", width="stretch")


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


def answer_pieces(events: Iterator[str | Answer], into: list[Answer]) -> Iterator[str]:
    """The text pieces for st.write_stream; the final Answer is put in `into`."""
    for event in events:
        if isinstance(event, Answer):
            into.append(event)
        else:
            yield event


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
            with draft.container(), st.spinner("Searching the reports…"):
                st.write_stream(answer_pieces(events, final))
        except BackendUnavailableError as exc:
            turn.error = f"{exc}\n\nChoose the **extractive** writer in the sidebar to keep going without it."
        except InvalidQuestionError as exc:
            turn.error = str(exc)
        except AssistantError as exc:
            turn.error = f"{exc}"
        draft.empty()
        if final:
            turn.answer = final[0]
            render_answer(turn.answer, assistant.catalog, key=str(len(turns())), show_details=options["details"])
            searched_as(turn.answer)
        else:
            st.error(turn.error or "No answer was produced; try again.", icon=":material/error:")
    return turn


def export_conversation(assistant: Assistant) -> None:
    answered = [t.answer for t in turns() if t.answer is not None]
    if not answered:
        return
    with st.sidebar:
        st.divider()
        st.download_button(
            "Download the conversation",
            data=briefing_markdown(answered, assistant.catalog, generated=date.today().isoformat()),
            file_name="briefing-note.md",
            mime="text/markdown",
            on_click="ignore",
            icon=":material/download:",
            width="stretch",
            key="download-conversation",
        )
        st.caption("A Markdown briefing note: every answer, its quotes and a references list.")


def main() -> None:
    st.markdown(STYLE, unsafe_allow_html=True)  # our own CSS, no untrusted text
    st.title("Employer engagement evidence assistant")
    assistant = load_assistant()
    options = sidebar(assistant)
    question = st.chat_input("Ask about employer engagement…", max_chars=assistant.settings.max_question_chars)
    question = question or st.session_state.pop("pending", None)
    if not turns() and not question:
        empty_state(assistant)
    for index, turn in enumerate(turns()):
        show_turn(turn, index, assistant, options["details"])
    if question:
        turns().append(answer(assistant, question, options))
    export_conversation(assistant)


main()
