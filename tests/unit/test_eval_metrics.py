"""Eval scoring on hand-made answers, the baseline splitter, the report files, and a run over the fixture corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from assistant.config import Settings
from assistant.types import Answer, Chunk, Citation, Passage
from evals.baseline import BaselinePipeline, split_text
from evals.cases import EvalCase, Evidence
from evals.metrics import (
    METRICS,
    aggregate,
    answer_lead,
    by_kind,
    check_citation,
    check_gate,
    error_case,
    evidence_in,
    evidence_rank,
    is_lead_in,
    missing_fact_groups,
    percentile,
    quote_in_source,
    reason_counts,
    score_case,
)
from evals.report import markdown, write_reports
from evals.runner import ReportSources, load_thresholds, run_case, run_cli

SPAN = "employer networks represent an important lever for raising investment in skills across sectors"


def chunk(text: str, report: str = "alpha", cid: str = "alpha:1", lines: tuple[int, int] = (3, 4)) -> Chunk:
    return Chunk(
        chunk_id=cid,
        report=report,
        title="T",
        year=2010,
        section=("Intro",),
        text=text,
        char_start=0,
        char_end=len(text),
        line_start=lines[0],
        line_end=lines[1],
        page_start=None,
        page_end=None,
        source=f"{report}.txt",
        ordinal=0,
    )


def cite(c: Chunk, quote: str, n: int = 1, section: str | None = None) -> Citation:
    return Citation(
        n=n,
        report=c.report,
        title=c.title,
        byline="",
        year=c.year,
        section=c.section_label if section is None else section,
        location=c.location,
        quote=quote,
        chunk_id=c.chunk_id,
    )


def case(kind: str = "factual", **fields) -> EvalCase:
    values = dict(
        id="c1",
        kind=kind,
        question="Q?",
        history=(),
        expected_reports=("alpha",),
        evidence=(Evidence("alpha", SPAN),),
        required_facts=(("lever",), ("membership fee", "fees")),
        reference_answer="R",
        expect_abstain=False,
        must_not_contain=(),
    )
    values.update(fields)
    return EvalCase(**values)


def answer(text: str, passages: list[Chunk], citations: list[Citation], abstained: bool = False, ms: float = 10):
    ranked = [Passage(chunk=c, score=1.0, rank=i) for i, c in enumerate(passages, start=1)]
    return Answer(
        question="Q?", answer=text, citations=citations, passages=ranked, abstained=abstained, timings_ms={"total": ms}
    )


# -- matching ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Intro. " + SPAN.upper() + " today.", True),  # case and spacing do not matter
        ("employer networks represent an important lever for raising", True),  # first 60% of the words
        ("an important lever for raising investment in skills across sectors", True),  # last part
        ("employer networks represent an important lever", False),  # under 60%
        ("networks represent an important lever for raising investment", False),  # a middle run
    ],
)
def test_evidence_in_counts_whole_spans_and_a_60_percent_head_or_tail(text: str, found: bool) -> None:
    assert evidence_in(SPAN, text) is found


def test_evidence_rank_is_the_first_passage_from_the_right_report() -> None:
    other = chunk(SPAN, report="beta", cid="beta:1")
    right = chunk("x " + SPAN, cid="alpha:2")
    assert evidence_rank(case(), [Passage(other, 1.0), Passage(chunk("nothing"), 1.0), Passage(right, 1.0)]) == 3
    assert evidence_rank(case(), [Passage(other, 1.0)]) is None


@pytest.mark.parametrize(
    ("quote", "source", "ok"),
    [
        ("an important lever", "networks are an i mportant\nlever here", True),  # repaired broken word
        ("the employment of staff", "the employ-\nment of staff", True),  # soft hyphen at a line end
        ("non-financial benefits", "non-\nfinancial benefits", True),  # a real hyphen kept by the cleaner
        ("costs. Members valued", "costs.\n\n 2 \n\nMembers valued", True),  # page number dropped
        ("lever … for skills", "a lever used for skills", True),  # ellipsis fragments
        ("an important lever", "an important level", False),
        ("lever … for skills", "for skills a lever", True),  # fragments need not be in order at the source
        ("", "anything", False),
        ("is defined here as ‘activity that uses’", "is defined here as “activity that uses”", True),  # nested quote
        ("is defined here as ‘activity that used’", "is defined here as “activity that uses”", False),
    ],
)
def test_quote_in_source_ignores_white_space_but_not_words(quote: str, source: str, ok: bool) -> None:
    assert quote_in_source(quote, source) is ok


def test_check_citation_accepts_a_verbatim_quote_at_its_location() -> None:
    c = chunk("Employer networks represent an important lever.")
    assert check_citation(cite(c, "an important lever"), c, "Employer networks represent an i mportant\nlever.") is None


@pytest.mark.parametrize(
    ("quote", "indexed", "source", "problem"),
    [
        ("an important lever", None, "x", "not in the index"),
        ("an important lever", chunk("an important lever", report="beta"), "x", "belongs to beta"),
        ("an important lever", chunk("an important lever", lines=(9, 9)), "x", "not at the cited location"),
        ("an invented lever", chunk("an important lever"), "an important lever", "quote not in the cited chunk"),
        ("an important lever", chunk("an important lever"), None, "cannot be read"),
        ("an important lever", chunk("an important lever"), "other lines", "not in the report file"),
    ],
)
def test_check_citation_names_what_is_wrong(quote: str, indexed: Chunk | None, source: str | None, problem: str):
    cited = cite(chunk("an important lever"), quote)
    verdict = check_citation(cited, indexed, source)
    assert verdict is not None and problem in verdict


def test_missing_fact_groups_needs_one_term_per_group() -> None:
    text = "Networks were **funded** by Membership  fees [1]."
    assert missing_fact_groups([["membership fee", "levy"], ["funded"], ["public money"]], text) == [["public money"]]


# -- scoring ------------------------------------------------------------------------------------------


def test_score_case_and_aggregate_on_hand_made_answers() -> None:
    good_chunk = chunk(SPAN + ", with membership fees.")
    good = answer("It is a lever funded by fees [1].", [good_chunk], [cite(good_chunk, "important lever")])
    second = chunk("An important lever: fees.", cid="alpha:3")
    bad_cite = cite(chunk("text"), "a quote nobody wrote", n=2)
    late = answer(
        "A lever [1][2].", [chunk("none", cid="alpha:9"), chunk(SPAN, cid="alpha:8")], [cite(second, "lever"), bad_cite]
    )
    results = [
        score_case(case(id="a"), good, [None]),
        score_case(case(id="b"), late, [None, "[2] alpha: quote not in the cited chunk"]),
        score_case(case(id="c"), answer("The reports don't cover this.", [good_chunk], [], abstained=True), []),
        score_case(
            case("out_of_scope", id="d", expect_abstain=True, evidence=(), expected_reports=(), required_facts=()),
            answer("Not covered.", [], [], abstained=True, ms=30),
            [],
        ),
        score_case(
            case("out_of_scope", id="e", expect_abstain=True, evidence=(), expected_reports=(), required_facts=()),
            answer("Yes [1].", [], [bad_cite]),
            ["bad"],
        ),
    ]
    m = aggregate(results)
    assert m["hit_at_1"] == pytest.approx(2 / 3)  # a and c (abstained answers still have passages)
    assert m["hit_at_5"] == pytest.approx(1.0)
    assert m["mrr"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert m["citation_precision"] == pytest.approx(2 / 4)  # a:1 ok, b:1 of 2, e:0 of 1
    assert m["citation_recall"] == pytest.approx(2 / 3)
    assert m["coverage"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m["abstention"] == 0.5 and m["false_abstention"] == pytest.approx(1 / 3)
    assert "adversarial_pass" not in m
    assert m["latency_p50_ms"] == 10 and m["latency_p95_ms"] == pytest.approx(26.0)
    assert results[0].passed
    assert any(r.startswith("wrongly abstained") for r in results[2].reasons)
    assert any(r.startswith("did not abstain") for r in results[4].reasons)
    assert "missing fact: membership fee | fees" in results[1].reasons
    counts = reason_counts(results)
    assert counts["missing fact"] == 2 and counts["did not abstain"] == 1
    kinds = by_kind(results, ["factual", "out_of_scope", "policy"])
    assert kinds["factual"]["n"] == 3 and kinds["out_of_scope"]["abstention"] == 0.5 and "policy" not in kinds


@pytest.mark.parametrize(
    ("text", "cited", "abstained", "expect_abstain", "passes"),
    [
        ("They found engagement matters [1].", True, False, False, True),
        ("Employers are indifferent to skills [1].", True, False, False, False),  # repeats the false premise
        ("They found engagement matters.", False, False, False, False),  # no citation
        ("The reports don't cover this.", False, True, False, False),  # abstained on a covered question
        ("The reports don't cover this.", False, True, True, True),
    ],
)
def test_adversarial_pass_needs_right_abstention_no_forbidden_text_and_a_citation(
    text: str, cited: bool, abstained: bool, expect_abstain: bool, passes: bool
) -> None:
    c = chunk(SPAN)
    adv = case("adversarial", expect_abstain=expect_abstain, must_not_contain=("employers are indifferent to skills",))
    result = score_case(adv, answer(text, [c], [cite(c, "lever")] if cited else [], abstained), [None] * cited)
    assert result.adversarial_pass is passes


# -- lead, junk quotes and crowding --------------------------------------------------------------------

LEAD_CASES = [
    ("**In short:** Networks are a lever for skills [1].\n\n- more [2]", "Networks are a lever for skills [1]."),
    ("# Answer\n\n**LSDA (2005)**\n\n- Networks are a lever [1].", "Networks are a lever [1]."),
    ("**Clustering** — *LSDA (2005)*\n- Networks are a lever [1].", "Networks are a lever [1]."),
    ("“A lever.” [1] — *LSDA (2005)*\n\n- more [2]", "“A lever.” [1] — *LSDA (2005)*"),
    ("\n\nIn short: Networks are a lever [1].", "Networks are a lever [1]."),
    ("*Summary:* It is a lever [1].", "It is a lever [1]."),
    ("What the evidence suggests doing:\n- Use the lever [1].", "What the evidence suggests doing:"),
    ("> **In short:** “Other options suggested were:” [4]\n  - Growth Hubs [5]", "“Other options suggested were:” [4]"),
    ("**The reports do not support this.** The lever [1].", "**The reports do not support this.** The lever [1]."),
    ("Public funding: the networks mixed four sources [1].", "Public funding: the networks mixed four sources [1]."),
    ("", ""),
]


@pytest.mark.parametrize(("text", "lead"), LEAD_CASES)
def test_answer_lead_is_the_first_line_of_text_without_its_label(text: str, lead: str) -> None:
    assert answer_lead(text) == lead


@pytest.mark.parametrize(
    ("line", "lead_in"),
    [("What the reports found:", True), ("“It aimed to:” [2]", True), ("It is a lever: for skills [1].", False)],
)
def test_is_lead_in_looks_past_markers_and_quote_marks(line: str, lead_in: bool) -> None:
    assert is_lead_in(line) is lead_in


@pytest.mark.parametrize(
    ("text", "abstained", "answers"),
    [
        ("**In short:** Networks are an important lever [1].\n\n- Members paid fees [1].", False, True),
        ("**In short:** Members paid membership fees [1].", False, True),  # any one group is enough
        ("**In short:** Networks matter [1].\n\n- They are a lever, paid by fees [1].", False, False),  # facts below
        ("The reports each speak to this; here is what each one says.\n\n- A lever [1].", False, False),
        ("What the evidence suggests doing:\n- A lever, with fees [1].", False, False),  # a lead-in alone
        ("The reports don't cover this; the nearest is a lever [1].", True, False),  # abstained in scope
    ],
)
def test_lead_answers_needs_a_required_fact_in_the_lead_itself(text: str, abstained: bool, answers: bool) -> None:
    c = chunk(SPAN + " Members paid fees.")
    result = score_case(case(), answer(text, [c], [cite(c, "an important lever")], abstained=abstained), [None])
    assert result.lead_answers is answers
    assert aggregate([result])["lead_answers"] == float(answers)
    reason = [r for r in result.reasons if r.startswith("lead does not answer")]
    assert bool(reason) is (not answers and not abstained)


def test_lead_answers_skips_out_of_scope_cases_and_fails_errors() -> None:
    oos = case("out_of_scope", expect_abstain=True, evidence=(), expected_reports=(), required_facts=())
    scored = score_case(oos, answer("Not covered.", [], [], abstained=True), [])
    assert scored.lead_answers is None and "lead_answers" not in aggregate([scored])
    failed = error_case(case(), "boom")
    assert failed.lead_answers is False and aggregate([scored, failed])["lead_answers"] == 0.0


def test_lead_in_reason_says_the_lead_is_a_lead_in() -> None:
    c = chunk(SPAN)
    text = "Other options suggested were:\n- lever"
    result = score_case(case(), answer(text, [c], [cite(c, "an important lever")]), [None])
    assert "lead does not answer: a lead-in in “Other options suggested were:”" in result.reasons


def test_junk_quotes_are_counted_listed_and_given_as_reasons() -> None:
    body = chunk("Employer networks are a lever. 12 Colechin, J., Murphy, H. (2017). See www.example.org.uk", cid="a:1")
    bib = chunk("Beer, M. (2004) How to have an honest conversation.", cid="a:2")
    quotes = [
        cite(body, "Employer networks are a lever.", n=1),
        cite(body, "12 Colechin, J., Murphy, H. (2017).", n=2),
        cite(body, "See www.example.org.uk", n=3),
        cite(bib, "How to have an honest conversation.", n=4, section="Appendix D – Bibliography"),
    ]
    result = score_case(case(), answer("**In short:** A lever [1][2][3][4].", [body, bib], quotes), [None] * 4)
    assert result.junk_quotes == [
        "[2] footnote: “12 Colechin, J., Murphy, H. (2017).”",
        "[3] URL or e-mail: “See www.example.org.uk”",
        "[4] reference entry: “How to have an honest conversation.”",
    ]
    assert "junk quote: [3] URL or e-mail: “See www.example.org.uk”" in result.reasons
    clean = score_case(case(id="b"), answer("A lever [1].", [body], quotes[:1]), [None])
    assert clean.junk_quotes == [] and not any(r.startswith("junk quote") for r in clean.reasons)
    m = aggregate([result, clean])
    assert m["junk_quotes"] == 3.0 and m["junk_quote_rate"] == pytest.approx(3 / 5)
    assert reason_counts([result, clean])["junk quote"] == 1


LIST_ANSWER = """**Drawbacks** — *Step Up (2019)*
- “Other options suggested were:” [1]
  - “Working with Growth Hubs, which provide business to business advice.” [2]
- “It aimed to:” [3]
  - “define and classify employer engagement;” [4]
- “The research identified a number of different network types including:” [5]
- “Other options suggested were:” [6]
"""


def test_a_lead_in_above_its_list_items_is_evidence_but_not_alone_or_when_too_short() -> None:
    c = chunk("Other options suggested were: Working with Growth Hubs.")
    quotes = [
        cite(c, "Other options suggested were:", n=1),
        cite(c, "Working with Growth Hubs, which provide business to business advice.", n=2),
        cite(c, "It aimed to:", n=3),
        cite(c, "define and classify employer engagement;", n=4),
        cite(c, "The research identified a number of different network types including:", n=5),
        cite(c, "Other options suggested were:", n=6),
    ]
    result = score_case(case(), answer(LIST_ANSWER, [c], quotes), [None] * 6)
    assert [j.split("]")[0] for j in result.junk_quotes] == ["[3", "[5", "[6"]
    assert all(" lead-in: " in j for j in result.junk_quotes)


def test_quotes_per_passage_takes_the_most_cited_chunk_of_each_answer() -> None:
    one, two = chunk(SPAN, cid="a:1"), chunk(SPAN, cid="a:2")
    crowded = [cite(one, "an important lever", n=i) for i in (1, 2, 3)] + [cite(two, "an important lever", n=4)]
    spread = [cite(one, "an important lever", n=1), cite(two, "an important lever", n=2)]
    results = [
        score_case(case(id="a"), answer("A lever [1][2][3][4].", [one, two], crowded), [None] * 4),
        score_case(case(id="b"), answer("A lever [1][2].", [one, two], spread), [None] * 2),
        score_case(case(id="c"), answer("Not covered.", [one], [], abstained=True), []),  # no citations: left out
    ]
    assert [r.quotes_per_passage for r in results] == [3, 1, 0]
    assert results[0].crowded_passage == "a:1"
    assert "too many quotes from one passage: 3 from a:1 (at most 2)" in results[0].reasons
    assert not any(r.startswith("too many quotes") for r in results[1].reasons)
    m = aggregate(results)
    assert m["max_quotes_per_passage"] == 3.0 and m["max_quotes_per_passage_mean"] == 2.0


def test_new_metrics_appear_per_kind_and_in_the_markdown() -> None:
    c = chunk(SPAN)
    good, bad = cite(c, "an important lever"), cite(c, "It aimed to:", n=2)
    results = [
        score_case(case(id="a"), answer("**In short:** A lever [1][2].", [c], [good, bad]), [None] * 2),
        score_case(case("policy", id="b"), answer("Things [1].", [c], [cite(c, "an important lever")]), [None]),
    ]
    kinds = by_kind(results, ["factual", "policy"])
    assert kinds["factual"]["lead_answers"] == 1.0 and kinds["policy"]["lead_answers"] == 0.0
    assert kinds["factual"]["junk_quotes"] == 1.0 and kinds["policy"]["junk_quotes"] == 0.0
    assert kinds["factual"]["max_quotes_per_passage"] == 2.0
    report = _report(results)
    report["by_kind"] = kinds
    text = markdown(report)
    assert "| junk_quotes | 1 |" in text and "| lead_answers | 0.500 |" in text
    assert "## Junk quotes (1)" in text and "- `a` [2] lead-in: “It aimed to:”" in text
    header = next(line for line in text.splitlines() if line.startswith("| kind | n |"))
    assert {"lead_answers", "junk_quotes", "max_quotes_per_passage"} <= set(header.replace(" ", "").split("|"))
    assert {"lead_answers", "junk_quotes", "junk_quote_rate", "max_quotes_per_passage"} <= set(METRICS)


@pytest.mark.parametrize(
    ("text", "forbidden", "corrected"),
    [
        ("The reports do not support this: networks are a lever, paid by fees [1].", False, True),
        ("It is a lever [1].", False, True),  # one contradicting fact group is enough
        ("Networks matter for many reasons [1].", False, False),  # related quotes, premise left standing
        ("Employers are indifferent to skills, a lever [1].", True, False),  # endorses the premise
    ],
)
def test_premise_corrected_needs_the_contradicting_evidence_in_the_answer(
    text: str, forbidden: bool, corrected: bool
) -> None:
    c = chunk(SPAN)
    adv = case("adversarial", must_not_contain=("employers are indifferent to skills",))
    result = score_case(adv, answer(text, [c], [cite(c, "an important lever")]), [None])
    assert result.adversarial_pass is not forbidden
    assert result.premise_corrected is corrected
    assert aggregate([result])["premise_corrected"] == float(corrected)
    expected = not corrected and not forbidden
    assert any(r.startswith("premise not corrected") for r in result.reasons) is expected


def test_premise_corrected_leaves_out_adversarial_cases_that_should_abstain() -> None:
    trap = case("adversarial", expect_abstain=True, evidence=(), expected_reports=(), required_facts=())
    result = score_case(trap, answer("The reports don't cover this.", [], [], abstained=True), [])
    assert result.adversarial_pass and result.premise_corrected is None
    assert "premise_corrected" not in aggregate([result])
    assert error_case(case("adversarial"), "boom").premise_corrected is False


def test_an_error_is_a_failed_case() -> None:
    result = error_case(case("adversarial"), "InvalidQuestionError: too long")
    assert not result.passed and result.adversarial_pass is False
    assert aggregate([result])["hit_at_5"] == 0.0 and aggregate([result])["coverage"] == 0.0


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)


def test_gate_checks_floors_ceilings_and_missing_metrics() -> None:
    thresholds = {"min": {"coverage": 0.85, "mrr": 0.7, "hit_at_5": 0.9}, "max": {"false_abstention": 0.05}}
    failures = check_gate({"coverage": 0.8, "hit_at_5": 0.95, "false_abstention": 0.1}, thresholds)
    assert {(f["metric"], f["bound"]) for f in failures} == {
        ("coverage", "min"),
        ("mrr", "min"),
        ("false_abstention", "max"),
    }
    assert check_gate({"coverage": 0.85, "mrr": 0.7, "hit_at_5": 0.9, "false_abstention": 0.05}, thresholds) == []


def test_thresholds_file_has_floors_for_the_gated_metrics() -> None:
    thresholds = load_thresholds()
    assert thresholds["min"]["citation_precision"] == 1.0
    assert {"hit_at_5", "mrr", "coverage", "abstention", "adversarial_pass", "lead_answers"} <= set(thresholds["min"])
    assert {"false_abstention", "junk_quotes", "max_quotes_per_passage"} <= set(thresholds["max"])


# -- baseline splitter -----------------------------------------------------------------------------


def test_split_text_makes_overlapping_windows_cut_at_white_space() -> None:
    text = " ".join(f"word{i:04d}" for i in range(600))  # 5,399 characters
    spans = split_text(text, size=1000, overlap=200)
    assert all(end - start <= 1000 for start, end in spans)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (s1, e1), (s2, _) in zip(spans, spans[1:], strict=False):
        assert s1 < s2 < e1 and e1 - s2 >= 150  # overlapping by about 200 characters
        assert text[s2 - 1] == " " and (e1 == len(text) or text[e1] == " ")  # whole words


# -- reports and a real run over the fixture corpus ----------------------------------------------------


def _report(results, baseline=None) -> dict:
    return {
        "generated": "2025-01-02T03:04:05+00:00",
        "writer": "extractive",
        "cases_file": "cases.jsonl",
        "n_cases": len(results),
        "metrics": aggregate(results),
        "by_kind": by_kind(results, ["factual"]),
        "baseline": baseline,
        "thresholds": {"min": {"coverage": 0.9}, "max": {}},
        "gate": {"passed": False, "failures": [{"metric": "coverage", "value": 0.5, "bound": "min", "limit": 0.9}]},
        "reason_counts": reason_counts(results),
        "failures": [
            {"id": r.id, "kind": r.kind, "question": r.question, "reasons": r.reasons, "answer": r.answer}
            for r in results
            if not r.passed
        ],
        "cases": [r.to_dict() for r in results],
    }


def test_markdown_and_files_show_metrics_gate_and_failing_cases(tmp_path: Path) -> None:
    c = chunk(SPAN)
    result = score_case(case(), answer("A lever [1].", [c], [cite(c, "lever")]), [None])
    report = _report([result], baseline={"metrics": {"coverage": 0.25}, "by_kind": {}})
    text = markdown(report)
    assert "| coverage | 0.500 | 0.250 | ≥ 0.9 |" in text
    assert "**Gate: FAILED**" in text and "### `c1` (factual)" in text
    assert "- missing fact: membership fee | fees" in text
    paths = write_reports(report, tmp_path)
    assert json.loads(paths["json"].read_text())["metrics"]["coverage"] == 0.5
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "eval-20250102T030405.json",
        "eval-20250102T030405.md",
        "eval-20250102T030405.png",
        "latest.json",
        "latest.md",
        "latest.png",
    ]


@pytest.fixture
def indexed(settings: Settings) -> Settings:
    from ingest.pipeline import run_ingest

    assert run_ingest(settings, progress=False).ok
    return settings


FIXTURE_CASES = [
    {
        "id": "funding",
        "kind": "factual",
        "question": "How were employer networks funded?",
        "facts": [["membership fees"]],
        "abstain": False,
    },
    {
        "id": "moon",
        "kind": "out_of_scope",
        "question": "What is the distance to the moon in kilometres?",
        "facts": [],
        "abstain": True,
    },
]


def _cases_file(tmp_path: Path) -> Path:
    path = tmp_path / "cases.jsonl"
    rows = [
        {
            "id": c["id"],
            "kind": c["kind"],
            "question": c["question"],
            "history": [],
            "expected_reports": [],
            "evidence": [],
            "required_facts": c["facts"],
            "reference_answer": "r",
            "expect_abstain": c["abstain"],
            "must_not_contain": [],
        }
        for c in FIXTURE_CASES
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_run_case_verifies_citations_against_index_and_files(indexed: Settings) -> None:
    from evals.runner import _Product

    product = _Product(indexed)
    sources = ReportSources(indexed.corpus_dir)
    result = run_case(
        case(
            evidence=(),
            expected_reports=(),
            required_facts=(("membership fees",),),
            question="How were employer networks funded?",
        ),
        product,
        sources,
    )
    assert result.citations > 0 and result.citation_problems == []
    chunks = product.assistant.store.all_chunks()
    fees = next(c for c in chunks if "membership fees" in c.text)
    assert "membership fees" in (sources.at(fees) or "") and "Members valued" not in (sources.at(fees) or "")
    pdf = next(c for c in chunks if c.source.endswith(".pdf"))
    assert pdf.text.split()[0] in (sources.at(pdf) or "")  # a PDF chunk reads its page


def test_baseline_cites_raw_text_that_verifies_and_caches_vectors(indexed: Settings) -> None:
    from assistant.embeddings import get_embedder

    embedder = get_embedder(indexed)
    baseline = BaselinePipeline(indexed, embedder)
    assert {c.report for c in baseline.chunks} == {"alpha-2010", "beta-2015", "gamma-2020-brokerage"}
    result = run_case(
        case(evidence=(), expected_reports=(), question="How were networks funded?"),
        baseline,
        ReportSources(indexed.corpus_dir),
    )
    assert result.citations == 3 and result.citation_problems == []
    assert baseline.cache_path.is_file()
    before = embedder.embedded
    BaselinePipeline(indexed, embedder)
    assert embedder.embedded == before  # the second build reads the cache


def test_run_cli_writes_reports_and_gate_fails_below_a_floor(indexed: Settings, tmp_path: Path) -> None:
    floors = tmp_path / "thresholds.toml"
    floors.write_text("[min]\ncoverage = 1.01\n\n[max]\nfalse_abstention = 1.0\n")
    console = Console(record=True, width=120)
    out = tmp_path / "reports"
    code = run_cli(
        indexed, cases=_cases_file(tmp_path), baseline=True, gate=True, out=out, console=console, thresholds=floors
    )
    assert code == 1
    text = console.export_text()
    assert "Quality gate failed" in text and "coverage" in text
    report = json.loads((out / "latest.json").read_text())
    assert report["n_cases"] == 2 and report["baseline"]["metrics"]["abstention"] == 0.0
    assert report["gate"]["failures"][0]["metric"] == "coverage"
    assert (out / "latest.md").is_file() and (out / "latest.png").is_file()
    floors.write_text("[min]\ncitation_precision = 1.0\n")
    assert run_cli(indexed, cases=_cases_file(tmp_path), gate=True, out=out, console=console, thresholds=floors) == 0


def test_quote_read_on_across_page_foot_footnotes_is_in_the_source() -> None:
    from evals.metrics import quote_in_source

    source = (
        "it promotes these services. Providers\n\n~\n\n⁷⁴ How to Work with Microbusinesses, LSDA (2001)\n\n"
        "should engage in research."
    )
    assert quote_in_source("Providers should engage in research.", source)
    assert not quote_in_source("Providers should engage in marketing.", source)


def test_a_premise_named_to_reject_it_is_not_forbidden_text() -> None:
    from assistant.types import Answer
    from evals.cases import EvalCase
    from evals.metrics import score_case

    case = EvalCase(
        id="a",
        kind="adversarial",
        question="q",
        history=(),
        expected_reports=(),
        evidence=(),
        required_facts=(),
        reference_answer="",
        expect_abstain=False,
        must_not_contain=("firms always want formal",),
    )
    rejected = Answer(question="q", answer="The reports do not support the premise that *firms always want formal* x.")
    endorsed = Answer(question="q", answer="Yes: firms always want formal training.")
    assert score_case(case, rejected, []).forbidden_found == []
    assert score_case(case, endorsed, []).forbidden_found == ["firms always want formal"]
