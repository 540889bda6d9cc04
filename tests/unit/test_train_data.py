"""The ranker's training questions: verbatim answers, every kind covered, and nothing shared with the eval sets."""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from functools import lru_cache

import pytest

from evals.cases import load_cases, normalise
from evals.train import KINDS, TRAIN_PATH, answers_unit, load_train, squash
from tests.conftest import REPO

EVAL_FILES = ("cases.jsonl", "heldout.jsonl")


@lru_cache(maxsize=1)
def questions():
    return load_train(TRAIN_PATH)


@lru_cache(maxsize=1)
def report_texts() -> dict[str, str]:
    catalog = tomllib.loads((REPO / "corpus" / "catalog.toml").read_text(encoding="utf-8"))
    return {r["id"]: squash((REPO / "corpus" / r["file"]).read_text(encoding="utf-8")) for r in catalog["report"]}


def test_enough_questions_of_every_kind():
    qs = questions()
    assert len(qs) >= 300
    kinds = Counter(q.kind for q in qs)
    assert set(kinds) == set(KINDS)
    assert kinds["out_of_scope"] >= 20 and kinds["false_premise"] >= 20 and kinds["comparison"] >= 20
    assert len({q.id for q in qs}) == len(qs)
    assert sum(q.dev for q in qs) >= 60  # a dev split big enough to choose on


def test_every_answer_is_verbatim_in_its_report():
    texts = report_texts()
    bad = [(q.id, a.text[:60]) for q in questions() for a in q.answers if squash(a.text) not in texts[a.report]]
    assert not bad


def test_shape_of_each_kind():
    for q in questions():
        assert q.expect_abstain == (q.kind == "out_of_scope"), q.id
        assert bool(q.answers) != q.expect_abstain, q.id
        assert bool(q.premise) == (q.kind == "false_premise"), q.id
        if q.kind == "comparison":
            assert len({a.report for a in q.answers}) >= 2, q.id


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", normalise(text)))


def eval_questions() -> list[str]:
    out = [c.question for name in EVAL_FILES for c in load_cases(REPO / "evals" / name)]
    with open(REPO / "evals" / "conversations.jsonl", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                out += [row["question"], *row.get("history", [])]
    return out


def test_no_eval_question_is_in_the_training_set():
    """Not the same question, and not a near copy (most of its words shared)."""
    evals = [(q, _words(q)) for q in eval_questions()]
    assert len(evals) > 150
    for q in questions():
        mine = _words(q.question)
        for text, theirs in evals:
            overlap = len(mine & theirs) / max(1, len(mine | theirs))
            assert overlap <= 0.6, f"{q.id} is too close to the eval question {text!r}"


@pytest.mark.parametrize(
    ("unit", "report", "expected"),
    [
        ("Nearly half had a specific business issue to address.", "a", True),
        ("Before that. Nearly half had a specific business issue to address.", "a", True),  # a joined unit
        ("Nearly half had a specific business issue to address.", "b", False),  # another report
        ("Nearly half of them had left.", "a", False),
        ("Nearly half had a specific busi ness issue to address.", "a", True),  # a word the cleaner mended
    ],
)
def test_answers_unit(unit: str, report: str, expected: bool):
    from evals.train import Answer

    answers = (Answer("a", "Nearly half had a specific business issue to address."),)
    assert answers_unit(answers, unit, report) is expected
