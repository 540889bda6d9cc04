"""One answer on screen: the cited text (or the abstention box), its source cards, details and export."""

from __future__ import annotations

from datetime import date

import streamlit as st

from assistant.catalog import Catalog
from assistant.export import briefing_markdown
from assistant.types import Answer, Citation
from pages.text import highlight_html, literal

REPORTS_PAGE = "pages/reports.py"


def render_answer(answer: Answer, catalog: Catalog, *, key: str, show_details: bool) -> None:
    """The answer, its numbered source cards, optional retrieval details and a download button."""
    if answer.abstained:
        st.info(
            "**The reports don't cover this question.** "
            "Below are the nearest related passages; they may not answer it.",
            icon=":material/search_off:",
        )
        render_cards(answer.citations, key=key, heading="Nearest related passages")
    else:
        st.markdown(answer.answer)
        if answer.notice:
            st.caption(literal(answer.notice))
        render_cards(answer.citations, key=key, heading="Sources")
    if show_details:
        render_details(answer)
    st.download_button(
        "Download this answer (Markdown)",
        data=briefing_markdown([answer], catalog, generated=date.today().isoformat()),
        file_name=f"briefing-answer-{key}.md",
        mime="text/markdown",
        key=f"download-{key}",
        on_click="ignore",
        icon=":material/download:",
    )


def render_cards(citations: list[Citation], *, key: str, heading: str) -> None:
    """Numbered source cards; card [n] is the source of the answer's [n] marker."""
    if not citations:
        return
    st.markdown(f"**{heading}**")
    for citation in citations:
        render_card(citation, key=key)


def render_card(c: Citation, *, key: str) -> None:
    """One source: title, byline, year, section, location, the quote, and the passage it sits in."""
    with st.container(border=True):
        st.markdown(f"**\\[{c.n}\\] {literal(c.title)}**")
        facts = [c.byline, str(c.year) if c.year else "n.d.", c.section, c.location]
        st.caption(" · ".join(literal(f) for f in facts if f))
        st.markdown(f"> {literal(' '.join(c.quote.split()))}")
        with st.expander(f"Read [{c.n}] in its passage"):
            st.markdown(highlight_html(c.passage or c.quote, c.quote), unsafe_allow_html=True)
            st.page_link(
                REPORTS_PAGE,
                label="Open the report at this passage",
                icon=":material/menu_book:",
                query_params={"report": c.report, "chunk": c.chunk_id},
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
