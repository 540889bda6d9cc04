"""The offline writer on ranked units: the likeliest answer leads, lists follow their lead-in, thresholds hold."""

from __future__ import annotations

import numpy as np

from assistant.generate import WriteRequest
from assistant.generate.extractive import ExtractiveWriter
from assistant.generate.extractive.compose import NOT_DIRECT
from assistant.plan import make_plan
from assistant.rank import Ranking, Scored
from assistant.types import Passage
from assistant.units import units_of
from assistant.verify import verify
from tests.unit.test_units import BODY, ITEMS, LEAD, THESE, chunk

OTHER = "Colleges offered short courses at the workplace to small firms in the area."
LABELS = {"r": "R (2020)", "s": "S (2021)"}


def _request(question: str, probabilities: dict[str, float], answers_at: float = 0.3, reports_named=()):
    c1 = chunk([(BODY, "body"), (THESE, "body"), (LEAD, "lead_in")] + [(i, "list_item") for i in ITEMS], "r:1")
    c2 = chunk([(THESE, "body"), (OTHER, "body")], "s:2", report="s")
    passages = [Passage(c1, 1.0, 1), Passage(c2, 0.5, 2)]
    units = units_of([c1, c2])
    scored = []
    for u in units:
        key = (
            "list"
            if u.kind == "list"
            else "these"
            if u.text.endswith(THESE)
            else "other"
            if OTHER in u.text
            else "body"
        )
        if u.kind == "dangling":
            key = "dangling"
        scored.append(Scored(u, probabilities.get(key, 0.01), np.zeros(1)))
    scored.sort(key=lambda s: -s.probability)
    return WriteRequest(
        question=question,
        passages=passages,
        report_labels=LABELS,
        plan=make_plan(question),
        ranking=Ranking(scored),
        answers_at=answers_at,
        reports_named=reports_named,
    )


def _write(request: WriteRequest) -> str:
    return ExtractiveWriter(None).write(request).text  # type: ignore[arg-type]


def test_the_likeliest_unit_leads_and_is_verbatim():
    request = _request("Why do employers engage?", {"these": 0.9, "other": 0.6, "list": 0.1})
    text = _write(request)
    first = text.splitlines()[0]
    assert BODY in first and THESE in first  # the anaphoric sentence leads only with the one it leans on
    assert OTHER in text  # the next likely unit is a point
    assert LEAD not in text  # below the threshold: not shown
    checked = verify(text, request.passages, {})
    assert checked.removed == 0 and checked.citations


def test_a_list_leads_with_its_items_on_the_first_line():
    text = _write(_request("What were the three approaches?", {"list": 0.8, "other": 0.2}))
    first = text.splitlines()[0]
    assert first.startswith("“" + LEAD) and all(item in first for item in ITEMS)


def test_a_dangling_sentence_never_leads():
    c = chunk([(THESE, "body"), (OTHER, "body")], "s:2", report="s")
    units = units_of([c])
    dangling = next(u for u in units if u.kind == "dangling")
    body = next(u for u in units if u.kind == "body")
    request = WriteRequest(
        question="What issues?",
        passages=[Passage(c, 1.0, 1)],
        report_labels=LABELS,
        plan=make_plan("What issues?"),
        ranking=Ranking([Scored(dangling, 0.9, np.zeros(1)), Scored(body, 0.5, np.zeros(1))]),
        answers_at=0.3,
    )
    first = _write(request).splitlines()[0]
    assert OTHER in first and not first.startswith("“" + THESE)


def test_no_unit_likely_enough_to_lead_says_so():
    text = _write(_request("What issues?", {"these": 0.2, "other": 0.25}, answers_at=0.3))
    assert text.splitlines()[0] == NOT_DIRECT


def test_comparison_says_which_report_answers():
    request = _request("Do R and S agree?", {"these": 0.9, "other": 0.1}, reports_named=("r", "s"))
    text = _write(request)
    assert text.startswith("Only the R (2020) addresses this directly")


def test_a_sentence_about_publications_is_neither_lead_nor_point():
    """'A number of LSDA publications are concerned with…' says what the literature covers, not what it found."""
    about = "A number of LSDA publications are concerned with improving links between colleges and small firms."
    c = chunk([(about, "body"), (OTHER, "body"), (BODY, "body")], "s:3", report="s")
    by_text = {u.text: u for u in units_of([c])}
    ranking = Ranking(
        [
            Scored(by_text[about], 0.9, np.zeros(1)),
            Scored(by_text[OTHER], 0.6, np.zeros(1)),
            Scored(by_text[BODY], 0.5, np.zeros(1)),
        ]
    )
    question = "How can colleges engage small employers?"
    request = WriteRequest(
        question=question,
        passages=[Passage(c, 1.0, 1)],
        report_labels=LABELS,
        plan=make_plan(question),
        ranking=ranking,
        answers_at=0.3,
    )
    text = _write(request)
    assert text.splitlines()[0].startswith("“" + OTHER) and BODY in text
    assert "publications" not in text
