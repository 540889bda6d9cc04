"""One answer on screen: the cited text (or the abstention box), one source card per passage, details, export."""

from __future__ import annotations

from datetime import date

import streamlit as st

from assistant.catalog import Catalog
from assistant.export import Source, briefing_docx, briefing_markdown, find_quote, number_sources, where
from assistant.types import Answer, Citation, ReportInfo
from pages.text import STYLE, answer_html, highlight_html, html_text, literal, quote_html, text_html

REPORTS_PAGE = "pages/reports.py"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def render_answer(answer: Answer, catalog: Catalog, *, key: str, show_details: bool) -> None:
    """The answer, its numbered source cards, optional retrieval details and the download buttons."""
    sources, (numbers,) = number_sources([answer])
    st.markdown(STYLE, unsafe_allow_html=True)  # our own CSS, no untrusted text
    if answer.abstained:
        st.info(
            "**The reports don't cover this question.** "
            "Below are the nearest related passages; they may not answer it.",
            icon=":material/search_off:",
        )
        if answer.notice:  # a model's draft had claims, all of which had to be dropped: say how many and why
            st.caption(literal(answer.notice))
        render_cards(sources, catalog, key=key, heading="Nearest related passages")
    else:
        st.markdown(answer_html(answer.answer, numbers), unsafe_allow_html=True)  # report text escaped
        if answer.notice:
            st.caption(literal(answer.notice))
        render_cards(sources, catalog, key=key, heading="Sources")
    if show_details:
        render_details(answer)
    download_buttons([answer], catalog, key=key, what="this answer")


def download_buttons(answers: list[Answer], catalog: Catalog, *, key: str, what: str, stretch: bool = False) -> None:
    """Two buttons: the briefing note for `answers` as Markdown and as a Word document."""
    today = date.today().isoformat()
    name = "briefing-note" if len(answers) > 1 or key == "conversation" else f"briefing-answer-{key}"
    width = "stretch" if stretch else "content"
    markdown_column, word_column = st.columns(2) if not stretch else (st.container(), st.container())
    with markdown_column:
        st.download_button(
            f"Download {what} (Markdown)",
            data=briefing_markdown(answers, catalog, generated=today),
            file_name=f"{name}.md", mime="text/markdown", key=f"download-{key}",
            on_click="ignore", icon=":material/download:", width=width,
        )
    with word_column:
        st.download_button(
            f"Download {what} (Word)",
            data=briefing_docx(answers, catalog, generated=today),
            file_name=f"{name}.docx", mime=DOCX, key=f"download-docx-{key}",
            on_click="ignore", icon=":material/description:", width=width,
        )


def render_cards(sources: list[Source], catalog: Catalog, *, key: str, heading: str) -> None:
    """One card per cited passage; card [n] is the source of the answer's [n] markers."""
    if not sources:
        return
    st.markdown(f"**{heading}**")
    for source in sources:
        render_card(source, catalog.get(source.first.report), key=key)


def card_heading(source: Source, info: ReportInfo | None) -> str:
    """'[2] SSDA (2008) · Employer Engagement', as escaped HTML."""
    c = source.first
    label = info.label if info else (c.label or c.report)
    return f"<div class='source-head'>[{source.n}] {html_text(f'{label} · {info.title if info else c.title}')}</div>"


def card_facts(c: Citation, info: ReportInfo | None) -> str:
    """Authors, publisher and series of the report."""
    facts = [", ".join(info.authors), info.publisher, info.series] if info else [c.byline]
    return " · ".join(f for f in facts if f)


def render_card(source: Source, info: ReportInfo | None, *, key: str) -> None:
    """One source: report label and title, authors, publisher, series, where it is, every quote from it."""
    c = source.first
    quotes = [" ".join(q.quote.split()) for q in source.citations]
    # All of it escaped HTML: section titles and quotes are report text.
    parts = [card_heading(source, info)]
    if card_facts(c, info):
        parts.append(text_html(card_facts(c, info), "source-facts"))
    parts.append(text_html(f"Where: {where(c)}", "source-place"))
    parts.append(quote_html(quotes))
    with st.container(border=True, key=f"source-{key}-{source.n}"):
        st.markdown("".join(parts), unsafe_allow_html=True)
        with st.expander(f"Read [{source.n}] in its passage"):
            passage = c.passage or "\n\n".join(quotes)
            st.markdown(highlight_html(passage, *quotes), unsafe_allow_html=True)
            span = find_quote(passage, quotes[0])
            params = {"report": c.report, "chunk": c.chunk_id}
            if span and c.passage:
                params["at"] = f"{span[0]}-{span[1]}"
            st.page_link(
                REPORTS_PAGE, label="Open the report at this passage", icon=":material/menu_book:",
                query_params=params,
            )


def render_details(answer: Answer) -> None:
    """What retrieval found and how long each step took."""
    with st.expander("Retrieval details", expanded=False):
        timings = ", ".join(f"{name} {ms:,.0f} ms" for name, ms in answer.timings_ms.items())
        st.caption(
            literal(f"Writer: {answer.writer} · verified: {'yes' if answer.verified else 'no'} · {timings}")
        )
        rows = [
            {
                "rank": p.rank,
                "report": p.chunk.report,
                "section": p.chunk.section_label,
                "location": p.chunk.location,
                "score": round(p.score, 4),
                "dense": None if p.dense is None else round(p.dense, 3),
                "lexical": None if p.lexical is None else round(p.lexical, 3),
                "text": p.chunk.text,
            }
            for p in answer.passages
        ]
        st.dataframe(rows, hide_index=True, width="stretch")
