"""The answer ranker's training questions (`evals/train.jsonl`), kept apart from the evaluation sets.

Each line: ``{"id", "kind", "question", "reports", "answers": [{"report", "text"}], "premise",
"expect_abstain"}``. An answer is one whole sentence copied from its report (a list item counts as one);
a false premise's answers are the sentences that contradict its claim; out-of-scope questions have none.
The eval's cases are never used to fit or choose anything (a test checks that no question is shared).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from evals.cases import REPORT_IDS, EvalCase, Evidence, normalise

TRAIN_PATH = Path(__file__).resolve().parent / "train.jsonl"
KINDS = (
    "figure",
    "why",
    "howto",
    "barrier",
    "definition",
    "finding",
    "list",
    "comparison",
    "false_premise",
    "out_of_scope",
    "other",
)
_FIELDS = {"id", "kind", "question", "reports", "answers", "premise", "expect_abstain"}
DEV_SHARE = 5  # one question in five (by a hash of its id) is the dev split


@dataclass(frozen=True)
class Answer:
    report: str
    text: str


@dataclass(frozen=True)
class TrainQuestion:
    id: str
    kind: str
    question: str
    reports: tuple[str, ...]
    answers: tuple[Answer, ...]
    premise: str
    expect_abstain: bool

    @property
    def dev(self) -> bool:
        """In the dev split: thresholds and the regularisation are chosen on these, the model fits the rest."""
        return int(hashlib.sha1(self.id.encode()).hexdigest(), 16) % DEV_SHARE == 0


def load_train(path: str | Path = TRAIN_PATH) -> list[TrainQuestion]:
    """The training questions (raises ValueError naming the line of a malformed one)."""
    out: list[TrainQuestion] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if set(row) != _FIELDS:
                raise ValueError(f"fields must be {sorted(_FIELDS)}")
            if row["kind"] not in KINDS:
                raise ValueError(f"unknown kind {row['kind']!r}")
            unknown = [r for r in [*row["reports"], *(a["report"] for a in row["answers"])] if r not in REPORT_IDS]
            if unknown:
                raise ValueError(f"unknown report {unknown[0]!r}")
            out.append(
                TrainQuestion(
                    id=row["id"],
                    kind=row["kind"],
                    question=row["question"],
                    reports=tuple(row["reports"]),
                    answers=tuple(Answer(a["report"], a["text"]) for a in row["answers"]),
                    premise=row["premise"],
                    expect_abstain=bool(row["expect_abstain"]),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}, line {n}: {exc}") from exc
    return out


def squash(text: str) -> str:
    """Text folded for matching answers to indexed sentences: no white space at all, so a word the
    cleaner repaired ("i mportant" -> "important") still matches the report's raw text."""
    return re.sub(r"[\s*]", "", normalise(text))


def answers_unit(answers: tuple[Answer, ...], unit_text: str, report: str) -> bool:
    """Whether a unit holds one of the answers (or is one, for an answer spanning a join)."""
    have = squash(unit_text)
    for answer in answers:
        if answer.report != report:
            continue
        want = squash(answer.text)
        if want and (want in have or (len(have) >= 30 and have in want)):
            return True
    return False


_CASE_KIND = {"comparison": "comparative", "false_premise": "adversarial", "out_of_scope": "out_of_scope"}
FACT_WORDS = 8  # an answer counts as present when its first words are (a long quote may be cut short)


def as_cases(questions: list[TrainQuestion]) -> list[EvalCase]:
    """Training questions as eval cases, so a split can be scored by the same runner as the eval sets.

    Each answer sentence is evidence; its first words are a required fact, and any one answer will do
    (training questions list every sentence that answers, not facts that must all be there).
    """
    out = []
    for q in questions:
        facts = tuple(" ".join(a.text.split()[:FACT_WORDS]) for a in q.answers)
        out.append(
            EvalCase(
                id=q.id,
                kind=_CASE_KIND.get(q.kind, "factual"),
                question=q.question,
                history=(),
                expected_reports=tuple(dict.fromkeys(a.report for a in q.answers)),
                evidence=tuple(Evidence(a.report, a.text) for a in q.answers[:3]),
                required_facts=(facts,) if facts else (),
                reference_answer=" ".join(a.text for a in q.answers[:2]) or "(not covered)",
                expect_abstain=q.expect_abstain,
                must_not_contain=(q.premise,) if q.premise else (),
            )
        )
    return out
