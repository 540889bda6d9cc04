"""Verification: every [n] names a given passage and every cited claim is in it."""

from __future__ import annotations

from assistant.types import Chunk, Passage
from assistant.verify import quote_in, verify


def _passage(text: str, report: str = "r1", n: int = 0) -> Passage:
    chunk = Chunk(
        chunk_id=f"{report}:{n}",
        report=report,
        title="A report",
        year=2008,
        section=("2", "2.2 Defining"),
        text=text,
        char_start=0,
        char_end=len(text),
        line_start=10,
        line_end=12,
        page_start=None,
        page_end=None,
        source=f"{report}.txt",
        ordinal=n,
    )
    return Passage(chunk, 1.0, n + 1)


P1 = _passage("Employer engagement is about the relationship between employers and providers. It takes time.")
P2 = _passage("Networks were funded by membership fees.\nSome had public\nfunding for start-up.", "r2", 1)


def test_verbatim_quotes_pass_and_are_numbered_by_first_use() -> None:
    draft = "**In short:** “Networks were funded by membership fees.” [2]\n- “It takes time.” [1]\n"
    checked = verify(draft, [P1, P2], {})
    assert checked.verified and checked.removed == 0
    assert [c.chunk_id for c in checked.citations] == ["r2:1", "r1:0"]
    assert "[1]" in checked.text.splitlines()[0] and "[2]" in checked.text.splitlines()[1]
    assert checked.citations[0].quote == "Networks were funded by membership fees."
    assert checked.citations[0].location == "lines 10–12"


def test_quote_crossing_a_line_break_counts_as_verbatim() -> None:
    assert quote_in("Some had public funding for start-up.", P2.chunk.text)


def test_ellipsis_fragments_must_each_occur_in_order() -> None:
    assert quote_in("Employer engagement is about … providers.", P1.chunk.text)
    assert not quote_in("providers … Employer engagement", P1.chunk.text)


def test_altered_quote_is_removed_and_counted() -> None:
    draft = "- “Employer engagement is about money.” [1]\n- “It takes time.” [1]\n"
    checked = verify(draft, [P1], {})
    assert checked.removed == 1 and not checked.verified
    assert "money" not in checked.text and "It takes time." in checked.text


def test_marker_naming_a_passage_not_given_is_removed() -> None:
    checked = verify("- “It takes time.” [7]\n", [P1], {})
    assert checked.removed == 1 and checked.text == "" and checked.citations == []


def test_quote_attributed_to_the_wrong_passage_is_removed() -> None:
    checked = verify("- “It takes time.” [2]\n", [P1, P2], {})
    assert checked.removed == 1


def test_paraphrase_is_kept_only_when_its_passage_supports_it() -> None:
    draft = "Networks were mostly paid for by membership fees [2]. The moon is made of cheese [1].\n"
    checked = verify(draft, [P1, P2], {})
    assert "membership fees [1]" in checked.text
    assert "cheese" not in checked.text and checked.removed == 1
    assert checked.citations[0].quote == "Networks were funded by membership fees."


def test_a_heading_whose_points_were_all_removed_goes_too() -> None:
    draft = "**Report A**\n- “Invented words.” [1]\n**Report B**\n- “It takes time.” [1]\n"
    checked = verify(draft, [P1], {})
    assert "Report A" not in checked.text and "Report B" in checked.text
