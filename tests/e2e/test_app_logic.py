"""Page logic through Streamlit's AppTest: the real app script, the real model, the fixture index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module

from assistant.export import number_sources
from pages.text import answer_html, html_text

APP = str(Path(__file__).resolve().parents[2] / "app.py")
IN_SCOPE = "How can colleges engage small employers?"
OUT_OF_SCOPE = "What is the capital of France?"


class RecordingStorage(MemoryMediaFileStorage):
    """AppTest's in-memory media storage, kept so a test can read what a download button offers."""

    made: list[RecordingStorage] = []

    def __init__(self, media_endpoint: str) -> None:
        super().__init__(media_endpoint)
        RecordingStorage.made.append(self)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> type[RecordingStorage]:
    RecordingStorage.made.clear()
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", RecordingStorage)
    return RecordingStorage


def download_text(at: AppTest, key: str) -> str:
    """The text the download button `key` would save."""
    filename = Path(at.download_button(key=key).proto.url).name
    for storage in reversed(RecordingStorage.made):
        try:
            return storage.get_file(filename).content.decode("utf-8")
        except Exception:  # noqa: BLE001 - MediaFileStorageError: not in this run's storage
            continue
    raise AssertionError(f"no stored download {filename}")


def start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_empty_state_names_the_reports_and_offers_examples(app_env):
    at = start()
    assert any("**3 research reports**" in m for m in markdown(at))
    listing = next(m for m in markdown(at) if m.startswith("- **"))
    assert listing.splitlines() == [  # a short list by year, not a paragraph
        "- **Alpha Institute \\(2010\\)** · Employer Networks in Practice",
        "- **Beta \\(2015\\)** · Colleges and Small Employers",
        "- **gamma\\-2020\\-brokerage \\(2020\\)** · Job Brokerage for Progression",  # no catalog entry
    ]
    example = at.button(key="example-For practitioners")
    assert example.label == "How can colleges engage small employers?"  # the whole question on its button
    example.click().run()
    assert at.session_state["turns"][0].question == example.label
    assert at.session_state["turns"][0].answer is not None


def test_question_renders_answer_with_citation_cards(app_env):
    at = ask(start(), IN_SCOPE)
    answer = at.session_state["turns"][0].answer
    assert answer is not None and not answer.abstained and answer.citations
    text = markdown(at)
    sources, (numbers,) = number_sources([answer])
    assert answer_html(answer.answer, numbers) in text  # the verified answer replaced the streamed draft
    cards = [m for m in text if m.startswith("<div class='source-head'>")]
    assert len(cards) == len(sources) == len({c.chunk_id for c in answer.citations})  # one card per passage
    for source in sources:
        assert cards[source.n - 1].startswith(f"<div class='source-head'>[{source.n}] ")
        assert html_text(source.first.title) in cards[source.n - 1]
    assert any("<mark class='quote'>" in m for m in text)  # the quote highlighted in its passage
    assert len(at.chat_message) == 2


def test_follow_up_passes_history_and_the_sidebar_choices(app_env, monkeypatch):
    from assistant.chain import Assistant

    seen: list[tuple[list[str], dict]] = []
    original = Assistant.stream

    def spy(self, question, history=None, reports=None, **kwargs):
        seen.append((list(history or []), kwargs))
        return original(self, question, history, reports, **kwargs)

    monkeypatch.setattr(Assistant, "stream", spy)
    at = start()
    at.radio(key="audience").set_value("policy").run()
    at = ask(ask(at, IN_SCOPE), "And what stops them training staff?")
    assert [history for history, _ in seen] == [[], [IN_SCOPE]]
    assert seen[-1][1] == {"writer": "extractive", "audience": "policy"}
    assert len(at.chat_message) == 4


def test_retrieval_details_show_passages_scores_and_timings(app_env):
    at = start()
    at.toggle(key="details").set_value(True).run()
    ask(at, IN_SCOPE)
    assert "Retrieval details" in [e.label for e in at.expander]
    assert len(at.dataframe) == 1 and {"score", "report", "text"} <= set(at.dataframe[0].value.columns)
    assert any("total" in c.value and "ms" in c.value for c in at.caption)


def test_out_of_scope_question_shows_the_abstention_box(app_env):
    at = ask(start(), OUT_OF_SCOPE)
    assert at.session_state["turns"][0].answer.abstained
    assert any("don't cover" in box.value for box in at.info)
    assert "Nearest related passages" in " ".join(markdown(at))


def test_report_filter_limits_citations_to_that_report(app_env):
    at = start()
    at.multiselect(key="reports").set_value(["alpha-2010"]).run()
    ask(at, IN_SCOPE)
    answer = at.session_state["turns"][0].answer
    assert answer.citations
    assert {c.report for c in answer.citations} == {"alpha-2010"}
    cards = [m for m in markdown(at) if m.startswith("<div class='source-head'>")]
    assert cards and all("Employer Networks in Practice" in m for m in cards)


def test_export_contains_answer_quotes_and_references(app_env, downloads):
    at = ask(start(), IN_SCOPE)
    answer = at.session_state["turns"][0].answer
    note = download_text(at, "download-conversation")
    assert "## References" in note
    assert "Carol Test (2015). Colleges and Small Employers. Beta Agency." in note
    assert IN_SCOPE in note and answer.citations[0].quote in note
    single = download_text(at, "download-0")
    assert "## References" in single and IN_SCOPE in single


def test_question_markup_is_shown_as_text(app_env):
    at = ask(start(), "Do <script>alert(1)</script> networks help *small* firms?")
    shown = [m for m in markdown(at) if "script" in m]
    assert shown and all("\\<script\\>" in m for m in shown)


def _one_answer(hostile: str) -> None:
    """An answer citing one passage twice and another once, shown by the real answer view."""
    from assistant.catalog import Catalog
    from assistant.types import Answer, Citation, ReportInfo
    from pages.answer_view import render_answer

    info = ReportInfo(
        id="ssda-2008", file="ssda.txt", title="Employer Engagement", year=2008,
        authors=("Chris Cooper", "Iain Mackinnon"), publisher="Sector Skills Development Agency",
        series="SSDA Research Report 29", aliases=("SSDA",),
    )
    first = f"Time is the main barrier. {hostile} Cost comes second."
    second = "Employers value flexible delivery."

    def cite(n: int, quote: str, passage: str, chunk: str) -> Citation:
        return Citation(
            n=n, report=info.id, title=info.title, byline=info.byline, year=2008, section="3. Influences",
            location="lines 612–618", quote=quote, chunk_id=chunk, passage=passage, label=info.label,
            place="§3.3 Barriers to engagement",
        )

    citations = [
        cite(1, "Time is the main barrier.", first, "ssda-2008:a"),
        cite(2, second, second, "ssda-2008:b"),
        cite(3, hostile, first, "ssda-2008:a"),
    ]
    text = "**In short:** “Time is the main barrier.” [1]\n- “Employers value flexible delivery.” [2]"
    text += f"\n- “{hostile}” [3] — *SSDA (2008)*"
    answer = Answer(question="What stops employers?", answer=text, citations=citations)
    render_answer(answer, Catalog({info.id: info}), key="t", show_details=False)


HOSTILE = "See ![logo](http://evil.example/p.png) [site](http://evil.example) :red[alert] $x^2$ <b>bold</b>"


def test_one_card_per_passage_with_label_facts_place_and_every_quote(downloads, monkeypatch):
    import streamlit as st

    links: list[dict] = []  # st.page_link needs the app's navigation, which a function script lacks
    monkeypatch.setattr(st, "page_link", lambda page, **kwargs: links.append(kwargs["query_params"]))
    at = AppTest.from_function(_one_answer, args=(HOSTILE,)).run()
    assert not at.exception
    assert links == [
        {"report": "ssda-2008", "chunk": "ssda-2008:a", "at": f"0-{len('Time is the main barrier.')}"},
        {"report": "ssda-2008", "chunk": "ssda-2008:b", "at": "0-34"},
    ]
    text = markdown(at)
    cards = [m for m in text if m.startswith("<div class='source-head'>")]
    assert [card.split("</div>")[0] for card in cards] == [
        "<div class='source-head'>[1] SSDA &#40;2008&#41; · Employer Engagement",
        "<div class='source-head'>[2] SSDA &#40;2008&#41; · Employer Engagement",
    ]
    first = cards[0]
    assert "<div class='source-facts'>Chris Cooper, Iain Mackinnon · Sector Skills Development Agency · " in first
    assert "<div class='source-place'>Where&#58; §3.3 Barriers to engagement &#40;lines 612–618&#41;</div>" in first
    assert first.count("<div class='source-quote'>") == 2  # both quotes of passage [1] on its card
    answer_text = next(m for m in text if m.startswith("<div class='answer'>"))
    # [3] is on card [1]: the text follows the cards.
    assert answer_text.endswith("<span class='marker'>[1]</span> — <em>SSDA &#40;2008&#41;</em></li></ul></div>")
    assert "[3]" not in answer_text and "<strong>In short&#58;</strong>" in answer_text
    # Report text stays inert: every HTML and Markdown character an entity, in the answer and on the card.
    for shown in (answer_text, first):
        assert "&#33;&#91;logo&#93;&#40;http&#58;//evil.example/p.png&#41;" in shown
        assert "&lt;b&gt;bold&lt;/b&gt;" in shown and "&#58;red&#91;alert&#93;" in shown and "&#36;x^2&#36;" in shown
        assert "\n\n" not in shown  # one HTML block: Markdown never looks inside
    note = download_text(at, "download-t")
    assert "- [1] “Time is the main barrier.” — SSDA (2008), §3.3 Barriers to engagement (lines 612–618)" in note
    assert at.download_button(key="download-docx-t").proto.label == "Download this answer (Word)"


def test_a_question_over_the_limit_gets_a_visible_message(app_env, monkeypatch, fresh_cache):
    monkeypatch.setenv("ASSISTANT_MAX_QUESTION_CHARS", "60")
    at = ask(start(), "How can colleges engage small employers? " * 5)
    assert at.session_state["turns"][0].answer is None
    assert any("the limit is 60" in e.value and "Shorten it" in e.value for e in at.error)


def _stale_index(tmp_path: Path, corpus: str) -> dict[str, str]:
    """An index built with another embedder (the unit tests' fake one), so the app's model does not match."""
    from assistant.config import Settings
    from ingest.pipeline import run_ingest

    run_ingest(Settings.load(corpus_dir=corpus, index_dir=tmp_path / "stale", embedder="fake"), progress=False)
    return {"ASSISTANT_INDEX_DIR": str(tmp_path / "stale")}


@pytest.mark.parametrize(
    ("case", "heading", "fix"),
    [
        ("missing", "no index of the reports yet", "assistant ingest"),
        ("stale", "index is out of date", "assistant ingest --rebuild"),
        ("chroma down", "vector store cannot be reached", "chroma run"),
    ],
)
def test_unusable_index_shows_the_fix(case, heading, fix, app_env, monkeypatch, tmp_path, fresh_cache):
    env = {
        "missing": lambda: {"ASSISTANT_INDEX_DIR": str(tmp_path / "no-index")},
        "stale": lambda: _stale_index(tmp_path, app_env["ASSISTANT_CORPUS_DIR"]),
        "chroma down": lambda: {"ASSISTANT_CHROMA_URL": "http://127.0.0.1:9", "ASSISTANT_STORE_TIMEOUT_S": "2"},
    }[case]()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert heading in message.lower() and fix in message
    assert not at.chat_input  # the chat stops; the other pages stay reachable


def test_unreachable_llm_writer_explains_and_extractive_still_works(app_env, monkeypatch, fresh_cache):
    monkeypatch.setenv("ASSISTANT_OLLAMA_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("ASSISTANT_LLM_TIMEOUT_S", "3")
    at = start()
    at.selectbox(key="writer").set_value("ollama").run()
    assert any("needs" in c.value and "Ollama" in c.value for c in at.caption)
    ask(at, IN_SCOPE)
    assert at.session_state["turns"][0].error
    assert any("extractive" in e.value for e in at.error)
    at.selectbox(key="writer").set_value("extractive").run()
    ask(at, IN_SCOPE)
    assert at.session_state["turns"][1].answer is not None


def test_new_conversation_clears_the_turns(app_env):
    at = ask(start(), IN_SCOPE)
    at.button(key="new-conversation").click().run()
    assert at.session_state["turns"] == []
    assert any("research reports" in m for m in markdown(at))  # back to the empty state


def test_reports_page_lists_the_library(app_env):
    at = start()
    at.switch_page("pages/reports.py").run()
    assert not at.exception
    text = " ".join(markdown(at)) + " ".join(c.value for c in at.caption)
    for title in ("Employer Networks in Practice", "Colleges and Small Employers", "Job Brokerage for Progression"):
        assert title in text
    assert "3 passages in the index" in text  # alpha-2010 has three chunks


def test_reports_page_opens_a_report_at_a_cited_passage(app_env):
    at = ask(start(), IN_SCOPE)
    cited = at.session_state["turns"][0].answer.citations[-1]
    at.switch_page("pages/reports.py")
    at.query_params["report"] = cited.report
    at.query_params["chunk"] = cited.chunk_id
    offset = cited.passage.index(cited.quote)
    at.query_params["at"] = f"{offset}-{offset + len(cited.quote)}"
    at.run()
    assert not at.exception
    assert any("<div class='where'>Cited passage · " in m for m in markdown(at))
    highlighted = [m for m in markdown(at) if "<mark class='quote'>" in m]
    assert len(highlighted) == 1 and html_text(cited.quote) in highlighted[0]


def _evaluation_page(path: str) -> None:
    from pathlib import Path

    from pages.evaluation import render_evaluation

    render_evaluation(Path(path))


def test_evaluation_page_without_a_report_says_how_to_run_it(tmp_path):
    at = AppTest.from_function(_evaluation_page, args=(str(tmp_path / "latest.json"),)).run()
    assert any("make eval" in box.value for box in at.info)


def test_evaluation_page_shows_metrics_kinds_and_failures(tmp_path):
    report = {
        "generated": "2026-01-01T00:00:00",
        "writer": "extractive",
        "n_cases": 3,
        "metrics": {"citation_precision": 0.9, "recall": 0.5},
        "by_kind": {"finding": {"n": 2, "recall": 0.5}, "comparison": {"n": 1}},
        "baseline": None,
        "thresholds": {"recall": 0.6},
        "failures": [{"id": "c7", "kind": "finding", "question": "Why <b>x</b>?", "reasons": ["missed span"]}],
    }
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    at = AppTest.from_function(_evaluation_page, args=(str(path),)).run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["0.900", "0.500"]
    assert any("recall" in e.value for e in at.error)  # below its threshold
    assert any("missed span" in m for m in markdown(at))
    assert any("\\<b\\>" in e.label for e in at.expander)


def _evaluation_with_targets(path: str, thresholds: str) -> None:
    from pathlib import Path

    from pages.evaluation import render_evaluation

    render_evaluation(Path(path), Path(thresholds))


def test_evaluation_page_shows_targets_beside_floors_and_never_a_green_line_over_failures(tmp_path):
    report = {
        "metrics": {"coverage": 0.53, "hit_at_5": 0.9, "false_abstention": 0.0, "new_metric": 0.4},
        "thresholds": {"min": {"coverage": 0.5, "hit_at_5": 0.75}, "max": {"false_abstention": 0.03}},
        "failures": [{"id": "c1", "kind": "factual", "question": "Q?", "reasons": ["missing fact"],
                      "answer": "**In short:** “A quote with *stars*.” [1]"}],
    }
    (tmp_path / "latest.json").write_text(json.dumps(report), encoding="utf-8")
    (tmp_path / "thresholds.toml").write_text(
        "[target]\ncoverage = 0.85\nhit_at_5 = 0.85\nlead_answers = 0.6\n[target_max]\nfalse_abstention = 0.05\n",
        encoding="utf-8",
    )
    at = AppTest.from_function(
        _evaluation_with_targets, args=(str(tmp_path / "latest.json"), str(tmp_path / "thresholds.toml"))
    ).run()
    assert not at.exception
    assert [m.label for m in at.metric] == ["coverage", "hit at 5", "false abstention", "new metric"]  # all shown
    assert not at.success and not at.error  # the floors hold, but that is not shown as all green
    assert [w.value for w in at.warning] == [
        "Product targets missed: coverage\\, lead\\_answers. The regression floors hold."
    ]
    table = next(m for m in markdown(at) if m.startswith("| metric"))
    assert "| coverage | 0.530 | ≥ 0.5 | ≥ 0.85 | **missed** |" in table
    assert "| hit\\_at\\_5 | 0.900 | ≥ 0.75 | ≥ 0.85 | met |" in table
    assert "| lead\\_answers | — | — | ≥ 0.6 | not measured |" in table
    shown = "<div class='answer'><p><strong>In short&#58;</strong> “A quote with &#42;stars&#42;.” "
    assert shown + "<span class='marker'>[1]</span></p></div>" in markdown(at)  # rendered, not raw **
    assert not at.text


def test_evaluation_page_is_green_only_when_targets_are_met_and_no_case_fails(tmp_path):
    report = {"metrics": {"coverage": 0.9}, "thresholds": {"min": {"coverage": 0.5}}, "failures": []}
    (tmp_path / "latest.json").write_text(json.dumps(report), encoding="utf-8")
    (tmp_path / "thresholds.toml").write_text("[target]\ncoverage = 0.85\n", encoding="utf-8")
    at = AppTest.from_function(
        _evaluation_with_targets, args=(str(tmp_path / "latest.json"), str(tmp_path / "thresholds.toml"))
    ).run()
    assert [s.value for s in at.success] == [
        "Every metric meets its floor and its target, and no case failed.", "No case failed."
    ]


def test_evaluation_page_reads_min_and_max_thresholds(tmp_path):
    report = {
        "metrics": {"coverage": 0.8, "false_abstention": 0.1, "p50_ms": 120.0},
        "thresholds": {"min": {"coverage": 0.5}, "max": {"false_abstention": 0.07}},
        "failures": [],
    }
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    at = AppTest.from_function(_evaluation_page, args=(str(path),)).run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["0.800", "0.100", "120 ms"]
    assert [e.value for e in at.error] == ["Outside the quality gate: false\\_abstention."]


def test_independent_questions_in_a_row_answer_as_in_a_new_conversation(app_env):
    second = "What stops small firms from training their staff?"
    at = ask(ask(start(), IN_SCOPE), second)
    in_a_row = at.session_state["turns"][1].answer
    fresh = ask(start(), second).session_state["turns"][0].answer
    assert in_a_row is not None and fresh is not None
    assert in_a_row.searched_as == ""
    assert in_a_row.answer == fresh.answer
    assert [c.quote for c in in_a_row.citations] == [c.quote for c in fresh.citations]
    assert [p.chunk.chunk_id for p in in_a_row.passages] == [p.chunk.chunk_id for p in fresh.passages]
    assert not any("Searched as" in c.value for c in at.caption)


def test_follow_up_shows_what_was_searched_under_the_answer(app_env):
    from pages.text import literal

    at = ask(ask(start(), "What are employer networks?"), "And how were they paid for?")
    answer = at.session_state["turns"][1].answer
    assert answer is not None and "networks" in answer.searched_as
    assert literal(f"Searched as: {answer.searched_as}") in [c.value for c in at.caption]
