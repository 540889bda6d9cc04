"""Evaluation cases for the evidence assistant.

A case file is JSON Lines: one object per line, blank lines ignored. Each object has
the fields of :class:`EvalCase`; ``evidence`` is a list of ``{"report", "text"}``
objects holding verbatim spans from the named report, and ``required_facts`` is a list
of groups, each group a list of acceptable terms (any one of them satisfies the group).

This module only uses the standard library so that it can be imported anywhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

KINDS: tuple[str, ...] = (
    "factual",
    "practitioner",
    "policy",
    "comparative",
    "followup",
    "out_of_scope",
    "adversarial",
)

#: Kinds whose questions the reports answer directly from one report.
IN_SCOPE_KINDS: tuple[str, ...] = ("factual", "practitioner", "policy")

#: The report ids of the corpus (see corpus/catalog.toml).
REPORT_IDS: tuple[str, ...] = ("hodgson-2019", "lsda-2005", "lw-2019", "ssda-2008", "ukces-2013")

_FIELDS: tuple[str, ...] = (
    "id",
    "kind",
    "question",
    "history",
    "expected_reports",
    "evidence",
    "required_facts",
    "reference_answer",
    "expect_abstain",
    "must_not_contain",
)


@dataclass(frozen=True)
class Evidence:
    """A verbatim span of one report that supports (or corrects) an answer."""

    report: str
    text: str


@dataclass(frozen=True)
class EvalCase:
    id: str
    kind: str
    question: str
    history: tuple[str, ...]
    expected_reports: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    required_facts: tuple[tuple[str, ...], ...]
    reference_answer: str
    expect_abstain: bool
    must_not_contain: tuple[str, ...]


_QUOTES = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark
        "\u201a": "'",  # single low-9 quotation mark
        "\u201b": "'",  # single high-reversed-9 quotation mark
        "\u2032": "'",  # prime
        "\u00b4": "'",  # acute accent used as an apostrophe
        "`": "'",
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9 quotation mark
        "\u201f": '"',  # double high-reversed-9 quotation mark
        "\u2033": '"',  # double prime
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2015": "-",  # horizontal bar
        "\u2212": "-",  # minus sign
        "\u00ad": None,  # soft hyphen: invisible, drop it
    }
)
_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Fold ``text`` for robust matching.

    Unifies curly and straight quotes and the various dashes, drops soft hyphens,
    collapses every run of whitespace (including line breaks) to one space, strips
    and casefolds.
    """
    return _WHITESPACE.sub(" ", text.translate(_QUOTES)).strip().casefold()


def span_in(span: str, text: str) -> bool:
    """True if ``span`` occurs in ``text`` once both are normalised."""
    needle = normalise(span)
    return bool(needle) and needle in normalise(text)


def _str_list(value: object, field: str, *, allow_empty: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError(f"'{field}' must be a list, got {type(value).__name__}")
    if not allow_empty and not value:
        raise TypeError(f"'{field}' must not be empty")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise TypeError(f"'{field}[{i}]' must be a non-empty string")
    return tuple(value)


def _parse_case(obj: object) -> EvalCase:
    if not isinstance(obj, dict):
        raise TypeError(f"expected a JSON object, got {type(obj).__name__}")
    missing = [f for f in _FIELDS if f not in obj]
    if missing:
        raise TypeError(f"missing field(s): {', '.join(missing)}")
    unknown = sorted(set(obj) - set(_FIELDS))
    if unknown:
        raise TypeError(f"unknown field(s): {', '.join(unknown)}")

    for field in ("id", "kind", "question", "reference_answer"):
        if not isinstance(obj[field], str) or not obj[field].strip():
            raise TypeError(f"'{field}' must be a non-empty string")
    if obj["kind"] not in KINDS:
        raise TypeError(f"unknown kind {obj['kind']!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(obj["expect_abstain"], bool):
        raise TypeError("'expect_abstain' must be true or false")

    history = _str_list(obj["history"], "history")
    if obj["kind"] == "followup" and not history:
        raise TypeError("a followup case needs a non-empty 'history'")
    expected = _str_list(obj["expected_reports"], "expected_reports")
    for report in expected:
        if report not in REPORT_IDS:
            raise TypeError(f"unknown report {report!r} in 'expected_reports'")
    must_not = _str_list(obj["must_not_contain"], "must_not_contain")

    if not isinstance(obj["evidence"], list):
        raise TypeError("'evidence' must be a list")
    evidence = parse_evidence(obj["evidence"])

    if not isinstance(obj["required_facts"], list):
        raise TypeError("'required_facts' must be a list of lists of terms")
    facts = tuple(
        _str_list(group, f"required_facts[{i}]", allow_empty=False)
        for i, group in enumerate(obj["required_facts"])
    )

    return EvalCase(
        id=obj["id"],
        kind=obj["kind"],
        question=obj["question"],
        history=history,
        expected_reports=expected,
        evidence=tuple(evidence),
        required_facts=facts,
        reference_answer=obj["reference_answer"],
        expect_abstain=obj["expect_abstain"],
        must_not_contain=must_not,
    )


def load_cases(path: str | Path) -> list[EvalCase]:
    """Read and validate a JSONL case file.

    Raises ``ValueError`` naming the file, the line and the problem for malformed JSON,
    missing or mistyped fields, unknown kinds or reports, and duplicate ids.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read case file: {exc}") from exc

    cases: list[EvalCase] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
        try:
            case = _parse_case(obj)
        except TypeError as exc:
            ident = obj.get("id") if isinstance(obj, dict) else None
            where = f" (case {ident!r})" if isinstance(ident, str) else ""
            raise ValueError(f"{path}:{lineno}{where}: {exc}") from exc
        if case.id in seen:
            raise ValueError(f"{path}:{lineno}: duplicate id {case.id!r} (first on line {seen[case.id]})")
        seen[case.id] = lineno
        cases.append(case)
    return cases


def parse_evidence(items: list) -> list[Evidence]:
    """`[{"report", "text"}, ...]` as Evidence, with a clear TypeError for a malformed item."""
    evidence = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"report", "text"}:
            raise TypeError(f"'evidence[{i}]' must be an object with exactly 'report' and 'text'")
        if item["report"] not in REPORT_IDS:
            raise TypeError(f"unknown report {item['report']!r} in 'evidence[{i}]'")
        if not isinstance(item["text"], str) or not item["text"].strip():
            raise TypeError(f"'evidence[{i}].text' must be a non-empty string")
        evidence.append(Evidence(report=item["report"], text=item["text"]))
    return evidence
