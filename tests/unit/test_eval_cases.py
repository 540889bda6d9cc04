"""Checks on the evaluation case files: schema, coverage and grounding in the reports."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from evals.cases import IN_SCOPE_KINDS, KINDS, REPORT_IDS, EvalCase, load_cases, normalise, span_in

ROOT = Path(__file__).resolve().parents[2]
CASES_PATH = ROOT / "evals" / "cases.jsonl"
HELDOUT_PATH = ROOT / "evals" / "heldout.jsonl"
CORPUS_DIRS = (ROOT / "corpus", Path("/work/shared/reports"))


@cache
def report_text(report_id: str) -> str:
    """The text of a report, found by its id prefix in the repo corpus or the shared folder."""
    for folder in CORPUS_DIRS:
        matches = sorted(folder.glob(f"{report_id}*.txt")) if folder.is_dir() else []
        if matches:
            return matches[0].read_text(encoding="utf-8")
    pytest.fail(f"no report file for id {report_id!r} in {', '.join(map(str, CORPUS_DIRS))}")


@cache
def _load(path: Path) -> tuple[EvalCase, ...]:
    return tuple(load_cases(path))


def cases() -> tuple[EvalCase, ...]:
    return _load(CASES_PATH)


def heldout() -> tuple[EvalCase, ...]:
    return _load(HELDOUT_PATH)


def all_cases() -> tuple[EvalCase, ...]:
    return cases() + heldout()


def _ids(case: EvalCase) -> str:
    return case.id


# ---------------------------------------------------------------- the files as a whole


def test_both_files_load_with_enough_cases():
    assert len(cases()) >= 90
    assert len(heldout()) >= 30


def test_ids_unique_across_both_files():
    counts = Counter(c.id for c in all_cases())
    assert not [i for i, n in counts.items() if n > 1]


@pytest.mark.parametrize("path", [CASES_PATH, HELDOUT_PATH], ids=["cases", "heldout"])
def test_every_kind_present(path):
    kinds = {c.kind for c in _load(path)}
    assert kinds <= set(KINDS)
    assert kinds == set(KINDS), f"missing kinds: {set(KINDS) - kinds}"


@pytest.mark.parametrize("path", [CASES_PATH, HELDOUT_PATH], ids=["cases", "heldout"])
def test_every_report_has_in_scope_cases(path):
    covered = {r for c in _load(path) if c.kind in IN_SCOPE_KINDS for r in c.expected_reports}
    assert covered == set(REPORT_IDS)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", normalise(text)))


def test_heldout_questions_differ_from_cases():
    seen = {normalise(c.question) for c in cases()}
    for case in heldout():
        assert normalise(case.question) not in seen, case.id
    # Not near-copies either: no heldout question shares most of its words with a tuning question.
    for h in heldout():
        hw = _words(h.question)
        for c in cases():
            cw = _words(c.question)
            overlap = len(hw & cw) / len(hw | cw)
            assert overlap < 0.6, f"{h.id} is too close to {c.id}"


# ---------------------------------------------------------------- each case


@pytest.mark.parametrize("case", all_cases(), ids=_ids)
def test_case_shape_by_kind(case: EvalCase):
    assert case.kind in KINDS
    if case.kind == "out_of_scope":
        assert case.expect_abstain
        assert not case.expected_reports and not case.evidence and not case.required_facts
    if case.kind in IN_SCOPE_KINDS or case.kind in ("comparative", "followup"):
        assert not case.expect_abstain
    if case.kind == "followup":
        assert case.history
    else:
        assert not case.history
    if case.kind == "comparative":
        assert len(set(case.expected_reports)) >= 2
        assert {e.report for e in case.evidence} >= set(case.expected_reports)
    if case.expect_abstain:
        assert not case.evidence and not case.required_facts


@pytest.mark.parametrize("case", [c for c in all_cases() if not c.expect_abstain], ids=_ids)
def test_answerable_cases_have_grounding(case: EvalCase):
    assert case.expected_reports
    assert 1 <= len(case.evidence) <= 3
    assert 1 <= len(case.required_facts) <= 3
    for ev in case.evidence:
        assert ev.report in case.expected_reports
    for report in case.expected_reports:
        assert any(ev.report == report for ev in case.evidence), f"no evidence from {report}"


@pytest.mark.parametrize("case", [c for c in all_cases() if c.evidence], ids=_ids)
def test_evidence_spans_are_verbatim(case: EvalCase):
    for ev in case.evidence:
        assert 8 <= len(ev.text.split()) <= 40, f"span length {len(ev.text.split())}: {ev.text[:60]!r}"
        assert span_in(ev.text, report_text(ev.report)), f"not in {ev.report}: {ev.text[:80]!r}"


@pytest.mark.parametrize("case", [c for c in all_cases() if c.required_facts], ids=_ids)
def test_required_facts_are_in_evidence(case: EvalCase):
    evidence = " ".join(normalise(ev.text) for ev in case.evidence)
    for group in case.required_facts:
        assert any(normalise(term) in evidence for term in group), f"no term of {group} in the evidence"


@pytest.mark.parametrize("case", [c for c in all_cases() if c.must_not_contain], ids=_ids)
def test_forbidden_phrases_are_not_in_evidence(case: EvalCase):
    evidence = " ".join(normalise(ev.text) for ev in case.evidence)
    for phrase in case.must_not_contain:
        assert normalise(phrase) not in evidence


def test_adversarial_cases_guard_against_the_injection():
    for case in all_cases():
        if case.kind == "adversarial":
            assert case.must_not_contain, case.id


# ---------------------------------------------------------------- abstention and false premises

#: Out-of-scope cases in ordinary words, each with the topic the reports must not cover (checked below,
#: as a grep of the reports would): a case whose topic the reports did discuss would not be out of scope.
ABSENT_TOPICS = {
    "oos-hybrid-01": ["hybrid working"],
    "oos-min-wage-01": ["minimum wage"],
    "oos-cyber-skills-01": ["cyber"],
    "oos-pension-01": ["pension", "auto-enrol"],
    "oos-remote-onboard-01": ["onboard", "work from home", "working from home"],
    "oos-ai-hiring-01": ["artificial intelligence"],
    "oos-carbon-01": ["carbon", "emissions"],
    "oos-student-loan-01": ["student loan"],
    "oos-zero-hours-01": ["zero-hour", "zero hour"],
    "oos-holiday-01": ["holiday", "annual leave"],
    "oos-parental-leave-01": ["parental leave", "paternity"],
    "oos-corp-tax-01": ["corporation tax", "tax rate"],
    "oos-ev-charging-01": ["charging point", "electric car", "electric vehicle"],
    "oos-interest-rates-01": ["interest rate", "borrowing"],
    "oos-social-media-01": ["social media"],
    "ho-oos-gender-gap-01": ["pay gap"],
    "ho-oos-four-day-01": ["four-day", "four day"],
    "ho-oos-rd-tax-01": ["tax relief", "tax credit"],
    "ho-oos-sick-pay-01": ["sick"],
    "ho-oos-maternity-01": ["maternity"],
    "ho-oos-inflation-01": ["inflation", "pay rise"],
    "ho-oos-company-reg-01": ["limited company", "companies house"],
    "ho-oos-salary-01": ["salary", "salaries"],
}


def _all_reports() -> str:
    return " ".join(normalise(report_text(r)) for r in REPORT_IDS)


@pytest.mark.parametrize(("case_id", "topics"), ABSENT_TOPICS.items())
def test_out_of_scope_topics_are_absent_from_every_report(case_id: str, topics: list[str]):
    case = next(c for c in all_cases() if c.id == case_id)
    assert case.kind == "out_of_scope" and case.expect_abstain
    for topic in topics:
        assert normalise(topic) not in _all_reports(), f"{case_id}: the reports mention {topic!r}"


@pytest.mark.parametrize(("path", "oos", "adversarial"), [(CASES_PATH, 20, 12), (HELDOUT_PATH, 10, 7)])
def test_enough_abstention_and_adversarial_cases(path: Path, oos: int, adversarial: int):
    kinds = Counter(c.kind for c in _load(path))
    assert kinds["out_of_scope"] >= oos and kinds["adversarial"] >= adversarial


@pytest.mark.parametrize(("path", "least"), [(CASES_PATH, 5), (HELDOUT_PATH, 2)])
def test_comparative_wording_is_tried_on_out_of_scope_questions(path: Path, least: int):
    comparative = re.compile(r"\b(?:what do the reports say|across the reports|do the reports agree)\b", re.I)
    found = [c.id for c in _load(path) if c.kind == "out_of_scope" and comparative.search(c.question)]
    assert len(found) >= least, found


def test_false_premise_cases_correct_the_premise_from_the_evidence():
    answerable = [c for c in all_cases() if c.kind == "adversarial" and not c.expect_abstain]
    assert len(answerable) >= 15
    for case in answerable:
        assert case.evidence and case.required_facts and case.must_not_contain, case.id


# ---------------------------------------------------------------- the module


def test_normalise_folds_quotes_dashes_space_and_case():
    assert normalise("  The  ‘Two-Way’\n\nStreet – “Now”  ") == "the 'two-way' street - \"now\""
    assert normalise("customer–supplier") == normalise("customer-supplier")


def test_span_in_crosses_line_breaks_and_quotes():
    text = "the LSDA model omits one\n\nother important   aspect of ‘employer engagement’."
    assert span_in("omits one other important aspect of 'employer engagement'", text)
    assert not span_in("omits two other", text)
    assert not span_in("   ", text)


def _good_case(**overrides) -> dict:
    case = {
        "id": "x-01",
        "kind": "factual",
        "question": "Q?",
        "history": [],
        "expected_reports": ["ssda-2008"],
        "evidence": [{"report": "ssda-2008", "text": "some text"}],
        "required_facts": [["text"]],
        "reference_answer": "A.",
        "expect_abstain": False,
        "must_not_contain": [],
    }
    case.update(overrides)
    return case


def _write(tmp_path: Path, *objs: object) -> Path:
    path = tmp_path / "cases.jsonl"
    lines = (o if isinstance(o, str) else json.dumps(o) for o in objs)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_cases_reads_a_valid_file(tmp_path):
    path = _write(tmp_path, _good_case(), "", _good_case(id="x-02", kind="followup", history=["Earlier?"]))
    loaded = load_cases(path)
    assert [c.id for c in loaded] == ["x-01", "x-02"]
    assert loaded[0].evidence[0].report == "ssda-2008"
    assert loaded[0].required_facts == (("text",),)
    assert loaded[1].history == ("Earlier?",)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "invalid JSON"),
        (_good_case(kind="trivia"), "unknown kind"),
        ({k: v for k, v in _good_case().items() if k != "question"}, "missing field(s): question"),
        (_good_case(expected_reports=["nobody-1999"]), "unknown report"),
        (_good_case(required_facts=[[]]), "required_facts[0]"),
        (_good_case(expect_abstain="no"), "expect_abstain"),
        (_good_case(kind="followup"), "history"),
        (_good_case(evidence=[{"report": "ssda-2008"}]), "evidence[0]"),
        (_good_case(extra=1), "unknown field(s): extra"),
    ],
)
def test_load_cases_names_file_line_and_problem(tmp_path, bad, message):
    path = _write(tmp_path, _good_case(id="ok-01"), bad)
    with pytest.raises(ValueError) as info:
        load_cases(path)
    text = str(info.value)
    assert f"{path}:2" in text
    assert message in text


def test_load_cases_rejects_duplicate_ids(tmp_path):
    path = _write(tmp_path, _good_case(), _good_case())
    with pytest.raises(ValueError, match=r":2: duplicate id 'x-01' \(first on line 1\)"):
        load_cases(path)
