"""The library: each report's catalog entry, chunk count and sections; read a report section by section.

`?report=<id>&chunk=<chunk_id>` opens that report at that passage (the source cards link here).
"""

from __future__ import annotations

from collections import Counter
from itertools import groupby

import streamlit as st

from assistant.chain import Assistant
from assistant.types import Chunk, ReportInfo
from pages.runtime import load_assistant
from pages.text import STYLE, highlight_html, literal


def sections_of(chunks: list[Chunk]) -> list[tuple[str, list[Chunk]]]:
    """A report's chunks in reading order, grouped into runs that share a section."""
    ordered = sorted(chunks, key=lambda c: c.ordinal)
    return [(label, list(run)) for label, run in groupby(ordered, key=lambda c: c.section_label)]


def catalog_entry(info: ReportInfo, chunks: int, sections: int, *, heading: bool = False) -> None:
    """The bibliographic facts of one report (its title as a heading when reading it)."""
    if heading:
        st.header(literal(info.title), divider="gray")
    else:
        st.markdown(f"**{literal(info.title)}**")
    facts = [info.byline, str(info.year or "n.d."), info.publisher, info.series]
    st.caption(" · ".join(literal(f) for f in facts if f))
    if info.kind:
        st.markdown(f"*Method:* {literal(info.kind)}")
    if info.note:
        st.caption(literal(f"Note: {info.note}"))
    st.caption(f"{chunks} passages in the index · {sections} sections · report id `{info.id}`")


def library(assistant: Assistant, by_report: dict[str, list[Chunk]]) -> None:
    """Every report in the catalog, each with a button to read it."""
    st.markdown(f"The assistant answers from these **{len(assistant.catalog)} reports**.")
    for info in assistant.catalog:
        chunks = by_report.get(info.id, [])
        with st.container(border=True):
            catalog_entry(info, len(chunks), len(sections_of(chunks)))
            st.button("Read this report", key=f"read-{info.id}", on_click=open_report, args=(info.id,),
                      disabled=not chunks, icon=":material/menu_book:")


def open_report(report_id: str) -> None:
    st.query_params.clear()
    st.query_params["report"] = report_id


def back_to_library() -> None:
    st.query_params.clear()


def reader(info: ReportInfo, chunks: list[Chunk], target: str | None) -> None:
    """One report, one section at a time; the target passage (from a citation) is highlighted."""
    st.button("← All reports", on_click=back_to_library)
    sections = sections_of(chunks)
    catalog_entry(info, len(chunks), len(sections), heading=True)
    if not sections:
        st.warning("This report has no passages in the index: run `assistant ingest` to add it.")
        return
    start = next((i for i, (_, run) in enumerate(sections) if any(c.chunk_id == target for c in run)), None)
    if target and start is None:
        st.warning("That passage is no longer in the index (the report was re-ingested); showing the start.")
    key = f"section-{info.id}-{target}"
    if key not in st.session_state:
        st.session_state[key] = start or 0
    choice = st.selectbox(
        "Section", range(len(sections)), key=key,
        format_func=lambda i: f"{i + 1}. {sections[i][0]}",
    )
    label, run = sections[choice]
    st.markdown(f"#### {literal(label)}")
    for chunk in run:
        if chunk.chunk_id == target:
            with st.container(border=True):
                st.caption(literal(f"Cited passage · {chunk.location}"))
                st.markdown(highlight_html(chunk.text, chunk.text), unsafe_allow_html=True)
        else:
            st.caption(literal(chunk.location))
            st.markdown(highlight_html(chunk.text, ""), unsafe_allow_html=True)
    previous, _, following = st.columns([1, 2, 1])
    previous.button("← Previous", disabled=choice == 0, on_click=_step, args=(key, -1), width="stretch")
    following.button("Next →", disabled=choice == len(sections) - 1, on_click=_step, args=(key, 1),
                     width="stretch")


def _step(key: str, by: int) -> None:
    st.session_state[key] += by


def main() -> None:
    st.markdown(STYLE, unsafe_allow_html=True)  # our own CSS, no untrusted text
    st.title("Reports")
    assistant = load_assistant()
    by_report: dict[str, list[Chunk]] = {}
    for chunk in assistant.retriever.lexical.chunks:
        by_report.setdefault(chunk.report, []).append(chunk)
    report_id = st.query_params.get("report")
    info = assistant.catalog.get(report_id) if report_id else None
    if report_id and info is None:
        st.warning(f"There is no report called {literal(report_id)}; here is the library.")
    if info is None:
        library(assistant, by_report)
        counts = Counter(c.report for c in assistant.retriever.lexical.chunks)
        st.caption(f"{sum(counts.values())} passages indexed in all.")
        return
    reader(info, by_report.get(info.id, []), st.query_params.get("chunk"))


main()
