"""The library: each report's catalog entry, chunk count and sections; read a report section by section.

`?report=<id>&chunk=<chunk_id>&at=<start>-<end>` opens that report at that passage with the sentence holding
characters start..end of the passage highlighted (the source cards link here).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import streamlit as st

from assistant.chain import Assistant
from assistant.errors import AssistantError, IngestError
from assistant.export import sentence_span
from assistant.types import Chunk, ReportInfo
from ingest.loaders import save_upload
from pages.reading import first_real_section, parse_span, sections_of, visible_pieces
from pages.runtime import load_assistant, reload_assistant, stop_with
from pages.text import STYLE, literal, passage_html, text_html

UPLOAD_TYPES = ["pdf", "txt", "md", "markdown"]


def catalog_entry(info: ReportInfo, chunks: int, sections: int, *, heading: bool = False) -> None:
    """The bibliographic facts of one report (its title as a heading when reading it)."""
    if heading:
        st.header(literal(info.title), divider="gray")
    else:
        st.markdown(f"**{literal(info.title)}**")
    facts = [info.label, info.byline, str(info.year or "n.d."), info.publisher, info.series]
    st.caption(" · ".join(literal(f) for f in facts if f))
    found = [f"ISBN {info.isbn}" if info.isbn else "", f"available from {info.url}" if info.url else ""]
    if any(found):
        st.caption(literal(" · ".join(f for f in found if f)))
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
            st.button(
                "Read this report",
                key=f"read-{info.id}",
                on_click=open_report,
                args=(info.id,),
                disabled=not chunks,
                icon=":material/menu_book:",
            )


def add_report(assistant: Assistant) -> None:
    """An upload box: check the file, save it into the corpus, index it with visible progress."""
    settings = assistant.settings
    if "upload-result" in st.session_state:
        st.success(st.session_state.pop("upload-result"), icon=":material/check_circle:")
    with st.expander("Add a report", icon=":material/upload_file:"):
        from ingest.pipeline import CHARS_PER_CHUNK

        text_mb = settings.max_upload_chunks * CHARS_PER_CHUNK / 1e6
        st.caption(
            f"PDF, TXT or Markdown, up to {settings.max_upload_mb} MB and {settings.max_upload_chunks:,} passages "
            f"(about {text_mb:.0f} MB of plain text). It is saved in the corpus folder "
            "and indexed straight away; answers can cite it as soon as this finishes."
        )
        upload = st.file_uploader("Report file", type=UPLOAD_TYPES, key="upload")
        if upload is None or not st.button("Add to the library", key="add-report", icon=":material/add:"):
            return
        try:
            path = save_upload(settings.corpus_dir, upload.name, upload.getvalue(), settings.max_upload_mb)
        except IngestError as exc:
            st.error(f"**Not added.** {literal(str(exc))}", icon=":material/block:")
            return
        index_upload(assistant, path)


def index_upload(assistant: Assistant, path: Path) -> None:
    """Run the incremental ingest on one saved file, showing progress, the summary and any refusal."""
    from ingest.pipeline import run_ingest

    with st.status(f"Indexing {literal(path.name)}…", expanded=True) as status:
        bar = st.progress(0.0, text="Reading the file")

        def on_file(done: int, total: int, name: str) -> None:
            bar.progress(done / max(total, 1), text=literal(f"Indexing {name}" if name else "Updating the index"))

        def on_estimate(estimate) -> None:  # said before embedding starts, so a long wait is expected
            st.info(literal(f"{path.name}: {estimate.describe()}"), icon=":material/schedule:")

        try:
            summary = run_ingest(
                assistant.settings,
                [path],
                embedder=assistant.embedder,
                progress=False,
                on_file=on_file,
                on_estimate=on_estimate,
                max_chunks=assistant.settings.max_upload_chunks,
            )
        except AssistantError as exc:
            _remove_unless_indexed(assistant, path)
            status.update(label="Not added", state="error")
            stop_with(exc)
        except Exception as exc:  # noqa: BLE001 - a store or library error must end in a message, not a trace
            _remove_unless_indexed(assistant, path)
            status.update(label="Not added", state="error")
            stop_with(
                AssistantError(
                    f"The index could not be updated ({type(exc).__name__}: {exc}). {path.name} was not added; "
                    "try again, or run `assistant ingest` from a terminal to see what the index needs."
                )
            )
        bar.progress(1.0, text="Done")
        for failure in summary.failures:
            st.error(f"**Skipped:** {literal(failure.reason)}", icon=":material/block:")
        for warning in summary.warnings:
            st.warning(literal(warning))
        if summary.failures:
            path.unlink(missing_ok=True)  # an unreadable file must not sit in the corpus
            status.update(label=f"{literal(path.name)} was not added", state="error")
            return
        status.update(label=f"Indexed {literal(path.name)}", state="complete")
    # Shown after the rerun, which reopens the index so the library (and the chat) include the report.
    st.session_state["upload-result"] = (
        f"Added **{literal(path.name)}**: {summary.chunks_embedded} passages embedded; "
        f"{summary.total_chunks} passages in the index; {summary.seconds:.1f} s."
    )
    reload_assistant()
    st.rerun()


def _remove_unless_indexed(assistant: Assistant, path: Path) -> None:
    """Take a file whose ingest failed back out of the corpus, unless the index serving now holds it."""
    from assistant.store import ChunkStore
    from ingest.manifest import Manifest

    try:
        current = ChunkStore(assistant.settings, assistant.embedder).current_generation()
        source = path.relative_to(assistant.settings.corpus_dir).as_posix()
        indexed = current is not None and source in Manifest.load(current.state_dir / "manifest.json").files
    except Exception:  # noqa: BLE001 - the store is what failed: then the file is certainly not indexed
        indexed = False
    if not indexed:
        path.unlink(missing_ok=True)


def open_report(report_id: str) -> None:
    st.query_params.clear()
    st.query_params["report"] = report_id


def back_to_library() -> None:
    st.query_params.clear()


def reader(info: ReportInfo, chunks: list[Chunk], target: str | None, at: str | None = None) -> None:
    """One report, one section at a time; the cited sentence (from a source card) is highlighted."""
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
        st.session_state[key] = first_real_section(sections) if start is None else start
    choice = st.selectbox(
        "Section",
        range(len(sections)),
        key=key,
        format_func=lambda i: f"{i + 1}. {sections[i][0]}",
    )
    label, run = sections[choice]
    st.markdown(text_html(label, "section-title", "h4"), unsafe_allow_html=True)  # a report's own heading
    for chunk, a, b in visible_pieces(run, target):
        where = f"{chunk.place} ({chunk.lines})" if chunk.lines else chunk.place
        if chunk.chunk_id == target:
            span = parse_span(at, chunk.text)
            marks = [sentence_span(chunk.text, span, chunk.sentences)] if span else []
            with st.container(border=True, key="cited-passage"):
                st.markdown(  # all escaped report text
                    text_html(f"Cited passage · {where}", "where") + passage_html(chunk.text, marks),
                    unsafe_allow_html=True,
                )
        else:
            st.markdown(text_html(where, "where") + passage_html(chunk.text[a:b]), unsafe_allow_html=True)
    previous, _, following = st.columns([1, 2, 1])
    previous.button("← Previous", disabled=choice == 0, on_click=_step, args=(key, -1), width="stretch")
    following.button("Next →", disabled=choice == len(sections) - 1, on_click=_step, args=(key, 1), width="stretch")


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
        add_report(assistant)
        library(assistant, by_report)
        counts = Counter(c.report for c in assistant.retriever.lexical.chunks)
        st.caption(f"{sum(counts.values())} passages indexed in all.")
        return
    reader(info, by_report.get(info.id, []), st.query_params.get("chunk"), st.query_params.get("at"))


main()
