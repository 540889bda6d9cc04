"""Report-aware routing from the catalog, and acronyms learned from the text."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.catalog import Catalog
from assistant.lexical import find_acronyms
from assistant.routing import ReportRouter

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def router() -> ReportRouter:
    return ReportRouter(Catalog.load(REPO / "corpus" / "catalog.toml"))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did the 2008 SSDA study find about employer networks?", ["ssda-2008"]),
        ("What do Hodgson and colleagues argue about skills supply?", ["hodgson-2019"]),
        ("What did the Step Up roundtable say about pipelines?", ["lw-2019"]),
        ("What did UKCES find about Group Training Associations?", ["ukces-2013"]),
        ("Do the SSDA and LSDA reports agree on barriers?", ["ssda-2008", "lsda-2005"]),
        ("What did the 2005 review say about small firms?", ["lsda-2005"]),
        ("What did Mackinnon and Garside conclude?", ["ssda-2008"]),
        ("How can colleges engage small employers?", []),
        ("What changed in 2019?", []),  # a year alone, and two reports share it
        ("Which sectors have skills shortages?", []),
    ],
)
def test_named_reports(router: ReportRouter, question: str, expected: list[str]) -> None:
    assert router.named(question) == expected


def test_catalog_reports_have_ids_and_labels() -> None:
    catalog = Catalog.load(REPO / "corpus" / "catalog.toml")
    assert {r.id for r in catalog} == {"hodgson-2019", "lsda-2005", "lw-2019", "ssda-2008", "ukces-2013"}
    assert catalog.get("ssda-2008").label == "SSDA (2008)"
    assert catalog.get("hodgson-2019").label == "Hodgson et al. (2019)"


def test_acronyms_are_learned_from_their_definitions() -> None:
    text = (
        "a network of employer-led Sector Skills Councils (SSCs), supported by the Sector Skills "
        "Development Agency (SSDA), and Centres of Vocational Excellence (CoVEs) in a number (NB) of places."
    )
    found = find_acronyms(text)
    assert found["ssc"] == "Sector Skills Councils"
    assert found["ssda"] == "Sector Skills Development Agency"
    assert found["cove"] == "Centres of Vocational Excellence"
    assert "nb" not in found  # the words before it do not spell it
