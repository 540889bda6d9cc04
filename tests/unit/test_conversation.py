"""Whether a question stands on its own or borrows from the conversation, on the fixture corpus (fake embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import conversation
from assistant.chain import Assistant
from assistant.config import Settings
from assistant.conversation import carried, read, resolve
from evals.conversations import (
    ConversationResult,
    aggregate_conversations,
    load_conversations,
    score_conversation,
)
from ingest.pipeline import run_ingest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory, fake_answer_model) -> Assistant:
    import shutil

    root = tmp_path_factory.mktemp("conversation")
    shutil.copytree(REPO / "tests" / "fixtures" / "corpus", root / "corpus")
    settings = Settings.load(
        corpus_dir=root / "corpus",
        index_dir=root / "index",
        embedder="fake",
        abstain_threshold=0.1,
        answer_model=fake_answer_model,
    )
    assert run_ingest(settings, progress=False).ok
    return Assistant.from_settings(settings)


def ids(passages) -> list[str]:
    return [p.chunk.chunk_id for p in passages]


# -- reading a question by its own words ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "topic", "points_back"),
    [
        # "stops" is not a word the fixture reports use, so it cannot carry the topic.
        ("What stops small firms from training their staff?", {"small", "firms", "training", "staff"}, True),
        ("How can colleges engage small employers?", {"colleges", "engage", "small", "employers"}, False),
        ("And how were they paid for?", {"paid"}, True),
        ("What about the Beta report?", set(), True),
        ("How can that be overcome?", set(), True),
    ],
)
def test_read_finds_the_questions_own_topic_and_pointing_back(
    assistant: Assistant, question: str, topic: set[str], points_back: bool
) -> None:
    reading = read(question, assistant.retriever)
    assert set(reading.topic) == topic
    assert reading.points_back is points_back


def test_report_names_are_names_not_topic(assistant: Assistant) -> None:
    reading = read("What about the Beta report?", assistant.retriever)
    assert reading.names == ("Beta",) and reading.topic == ()
    assert reading.needs_topic


# -- independent questions: retrieved exactly as if asked alone -------------------------------------------


@pytest.mark.parametrize(
    ("history", "question"),
    [
        (["How can colleges engage small employers?"], "What stops small firms from training their staff?"),
        (["What are employer networks?"], "How did colleges build lasting relationships with SMEs?"),
        (["What are employer networks?", "And how were they paid for?"], "What are the main barriers to training?"),
    ],
)
def test_a_question_that_stands_alone_is_not_bent_by_the_conversation(
    assistant: Assistant, history: list[str], question: str
) -> None:
    alone = assistant.ask(question)
    after = assistant.ask(question, history)
    assert after.searched_as == ""
    assert ids(after.passages) == ids(alone.passages)
    assert after.answer == alone.answer
    assert [c.quote for c in after.citations] == [c.quote for c in alone.citations]


def test_the_issue_example_keeps_its_own_barriers(assistant: Assistant) -> None:
    history = ["How can colleges engage small employers?"]
    answer = assistant.ask("What stops small firms from training their staff?", history)
    assert "cost of training" in answer.answer
    assert answer.to_dict()["searched_as"] == ""


# -- follow-ups: borrow the topic, the report focus or both --------------------------------------------------


def test_a_follow_up_borrows_the_topic_and_says_what_was_searched(assistant: Assistant) -> None:
    alone = assistant.ask("And how were they paid for?")
    followed = assistant.ask("And how were they paid for?", ["What are employer networks?"])
    assert "employer networks" in followed.searched_as.lower()
    assert followed.to_dict()["searched_as"] == followed.searched_as
    assert "membership fees" in followed.answer
    assert ids(followed.passages) != ids(alone.passages)


def test_what_about_another_report_keeps_the_topic_and_switches_the_report(assistant: Assistant) -> None:
    history = ["What did the Alpha Institute find about small firms?"]
    resolution = resolve(assistant.retriever.plan("What about the Beta report?"), history, assistant.retriever, 6)
    assert "small firms" in resolution.searched_as and "Alpha" not in resolution.searched_as
    assert resolution.borrowed == ("topic",)
    assert {p.chunk.report for p in resolution.found.passages} == {"beta-2015"}


def test_a_follow_up_without_a_report_name_keeps_the_report_focus(assistant: Assistant) -> None:
    history = ["What does the Beta report say about barriers to training?"]
    resolution = resolve(assistant.retriever.plan("How can they be overcome?"), history, assistant.retriever, 6)
    assert "Beta" in resolution.searched_as and "barriers to training" in resolution.searched_as
    assert resolution.borrowed == ("topic", "report focus")
    assert {p.chunk.report for p in resolution.found.passages} == {"beta-2015"}


def test_a_third_question_inherits_what_the_second_borrowed(assistant: Assistant) -> None:
    history = ["What are employer networks?", "And how were they paid for?"]
    text = carried(history, assistant.retriever, with_names=True)
    assert "employer networks" in text.lower() and "paid" in text
    resolution = resolve(assistant.retriever.plan("Why did some of them close?"), history, assistant.retriever, 6)
    assert "employer networks" in resolution.searched_as.lower()


def test_a_rich_question_that_points_back_is_settled_by_retrieval(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    question, history = "What stops small firms from training their staff?", ["What are employer networks?"]
    assert read(question, assistant.retriever).points_back
    assert resolve(assistant.retriever.plan(question), history, assistant.retriever, 6).searched_as == ""
    # The same question is carried as soon as any gain from the context counts: retrieval decided.
    monkeypatch.setattr(conversation, "GAIN_PER_TOPIC_WORD", -1.0)
    assert resolve(assistant.retriever.plan(question), history, assistant.retriever, 6).searched_as.startswith(question)


def test_condense_is_only_asked_for_questions_that_need_the_conversation(assistant: Assistant) -> None:
    calls: list[tuple[list[str], str]] = []

    def condense(history, question):
        calls.append((list(history), question))
        return "How were employer networks funded?"

    history = ["What are employer networks?"]
    question = "What stops small firms from training their staff?"
    standalone = resolve(assistant.retriever.plan(question), history, assistant.retriever, 6, condense)
    assert calls == [] and standalone.searched_as == ""
    follow_up = resolve(
        assistant.retriever.plan("And how were they paid for?"), history, assistant.retriever, 6, condense
    )
    assert calls == [(history, "And how were they paid for?")]
    assert follow_up.searched_as == "How were employer networks funded?"
    condensed = assistant.retriever.retrieve("How were employer networks funded?", 6)
    assert ids(follow_up.found.passages) == ids(condensed.passages)


def test_no_history_means_no_context(assistant: Assistant) -> None:
    resolution = resolve(assistant.retriever.plan("And how were they paid for?"), [], assistant.retriever, 6)
    assert resolution.searched_as == "" and resolution.query == "And how were they paid for?"


# -- the conversation set and its scoring ---------------------------------------------------------------------


def test_the_conversation_set_is_big_enough_and_covers_every_report() -> None:
    conversations = load_conversations(REPO / "evals" / "conversations.jsonl")
    kinds = [c.kind for c in conversations]
    assert len(conversations) >= 40
    assert kinds.count("independent") >= 20 and kinds.count("followup") >= 20
    reports = {e.report for c in conversations for e in c.evidence}
    assert reports == {"hodgson-2019", "lsda-2005", "lw-2019", "ssda-2008", "ukces-2013"}
    assert all(1 <= len(c.history) <= 2 for c in conversations)
    assert all(c.standalone != c.question for c in conversations if c.kind == "followup")


def test_conversation_evidence_is_verbatim_from_the_reports() -> None:
    from evals.cases import span_in

    texts = {"-".join(p.name.split("-")[:2]): p.read_text(encoding="utf-8") for p in (REPO / "corpus").glob("*.txt")}
    for c in load_conversations(REPO / "evals" / "conversations.jsonl"):
        for e in c.evidence:
            assert span_in(e.text, texts[e.report]), (c.id, e.text)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "invalid JSON"),
        ('{"id": "a", "kind": "chat", "history": ["q"], "question": "q", "evidence": []}', "unknown kind"),
        ('{"id": "a", "kind": "followup", "history": ["q"], "question": "q", "evidence": []}', "standalone"),
        ('{"id": "a", "kind": "independent", "history": [], "question": "q", "evidence": []}', "history"),
        ('{"id": "a", "kind": "independent", "history": ["q"], "question": "q"}', "missing field"),
    ],
)
def test_bad_conversation_lines_name_the_line_and_problem(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "conversations.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        load_conversations(path)
    assert f"{path}:1" in str(error.value)


def test_scoring_runs_the_real_chain_both_ways(assistant: Assistant, tmp_path: Path) -> None:
    rows = [
        {
            "id": "i",
            "kind": "independent",
            "history": ["How can colleges engage small employers?"],
            "question": "What stops small firms from training their staff?",
            "evidence": [],
        },
        {
            "id": "f",
            "kind": "followup",
            "history": ["What are employer networks?"],
            "question": "And how were they paid for?",
            "standalone": "How were employer networks paid for?",
            "evidence": [{"report": "ukces-2013", "text": "placeholder"}],
        },
    ]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    independent, follow_up = (score_conversation(c, assistant) for c in load_conversations(path))
    assert independent.identical_top5 is True and independent.searched_as == ""
    assert follow_up.searched_as and follow_up.top5 and follow_up.alone_top5


def test_aggregate_compares_follow_ups_with_their_standalone_versions() -> None:
    results = [
        ConversationResult("a", "independent", "q", identical_top5=True),
        ConversationResult("b", "independent", "q", identical_top5=False, searched_as="q (x)"),
        ConversationResult("c", "followup", "q", searched_as="q (x)", rank=1, standalone_rank=2),
        ConversationResult("d", "followup", "q", searched_as="q (x)", rank=None, standalone_rank=3),
    ]
    metrics = aggregate_conversations(results)
    assert metrics["conv_independent_identical_top5"] == 0.5
    assert metrics["conv_independent_context_added"] == 0.5
    assert metrics["conv_followup_hit_at_5"] == 0.5 and metrics["conv_standalone_hit_at_5"] == 1.0
    assert metrics["conv_followup_gap"] == -0.5


def test_the_stop_words_are_scikit_learns_list_read_without_importing_it() -> None:
    import subprocess
    import sys

    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from assistant.conversation import _sklearn_stop_words

    assert _sklearn_stop_words() == ENGLISH_STOP_WORDS
    code = "import sys; from assistant.conversation import _stop_words; _stop_words(); print('sklearn' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


# -- the question is read once --------------------------------------------------------------------------------


def test_search_takes_the_plan_and_reads_no_text_again(assistant: Assistant, monkeypatch) -> None:
    plan = assistant.retriever.plan("What does the Beta report say about barriers to training?")
    assert plan.named == ("beta-2015",) and plan.scope == ("beta-2015",) and "Beta" not in plan.topic

    def read_again(*_args, **_kwargs):
        raise AssertionError("search read the question text again")

    monkeypatch.setattr(assistant.retriever.router, "named", read_again)
    monkeypatch.setattr("assistant.retrieval.topic_of", read_again)
    found = assistant.retriever.search(plan, 6)
    assert found.plan is plan and found.topic == plan.topic
    assert {p.chunk.report for p in found.passages} == {"beta-2015"}


def test_understanding_a_question_reads_it_once(assistant: Assistant, monkeypatch) -> None:
    import assistant.retrieval as retrieval

    calls: list[str] = []
    topic_of = retrieval.topic_of
    monkeypatch.setattr(
        retrieval, "topic_of", lambda text, stripped=None: calls.append(text) or topic_of(text, stripped)
    )
    understood = assistant.understand("What does the Beta report say about barriers to training?")
    assert calls == ["What does the Beta report say about barriers to training?"]
    assert understood.found.plan is not None and understood.plan.reports == ("beta-2015",)
    calls.clear()
    # A follow-up: once as asked, once with the context it borrows (the plan the search then takes).
    followed = assistant.understand("How can they be overcome?", ["What does the Beta report say about barriers?"])
    assert len(calls) == 2 and calls[1] == followed.plan.searched_as
    assert followed.plan.question == "How can they be overcome?" and followed.plan.reports == ("beta-2015",)


def test_a_filter_wins_over_the_names_in_the_question(assistant: Assistant) -> None:
    plan = assistant.retriever.plan("What did the Alpha Institute find about small firms?", ["beta-2015"])
    assert plan.chosen == ("beta-2015",) and plan.scope == ("beta-2015",) and plan.reports == ("beta-2015",)
    found = assistant.retriever.search(plan, 6)
    assert {p.chunk.report for p in found.passages} == {"beta-2015"} and found.compared == ()
