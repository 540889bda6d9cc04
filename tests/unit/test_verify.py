"""Verification: every [n] names a given passage and every cited claim is in it."""

from __future__ import annotations

from assistant.types import Chunk, Passage, ReportInfo
from assistant.verify import (
    MARKERS_ONLY,
    MISSING_TERMS,
    NO_CITATION,
    NO_SUCH_SOURCE,
    claim_words,
    quote_in,
    support,
    verify,
)


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


# --- a draft a model could use to game the check ---------------------------------------------------------

P3 = _passage(
    "In 2019, 42% of colleges ran an Employer Forum with the Chamber of Commerce. "
    "Apprentices were placed with 1,200 employers.",
    "r3",
    2,
)


def test_marker_only_units_are_no_claim_and_are_removed_with_their_reason() -> None:
    checked = verify("[1][2][3][4][5][6][7][8][9][10][11][12]\n", [P1, P2], {}, strict=True)
    assert checked.text == "" and checked.citations == [] and not checked.verified
    assert checked.removed == 1 and checked.removals[0].reason == MARKERS_ONLY
    assert checked.why.startswith("1 claim was dropped: 1 were only citation markers")


def test_words_about_citing_are_not_a_claim() -> None:
    draft = "- “It takes time.” [1]\n- As supported by sources [1][3], [2][4], and [5].\n"
    checked = verify(draft, [P1, P2], {}, strict=True)
    assert [r.reason for r in checked.removals] == [MARKERS_ONLY]
    assert checked.text == "- “It takes time.” [1]\n"


def test_a_bare_marker_is_supported_by_nothing() -> None:
    assert support("", P1.chunk.text, None) == 0.0
    assert claim_words(" [1][2] , and [3].") == []


def test_a_figure_the_passage_does_not_hold_fails_the_claim() -> None:
    kept = verify("In 2019, 42% of colleges ran an Employer Forum [1].\n", [P3], {})
    assert kept.verified and kept.citations[0].quote.startswith("In 2019, 42% of colleges")

    checked = verify("In 2019, 73% of colleges ran an Employer Forum [1].\n", [P3], {})
    assert checked.text == "" and checked.removed == 1
    assert checked.removals[0].reason == MISSING_TERMS and checked.removals[0].detail == "73%"
    assert "(73%)" in checked.why


def test_thousands_separators_do_not_change_a_number() -> None:
    assert verify("Apprentices were placed with 1200 employers [1].\n", [P3], {}).verified
    assert not verify("Apprentices were placed with 1,500 employers [1].\n", [P3], {}).verified


def test_a_name_or_rare_word_the_passage_lacks_fails_even_when_the_rest_matches() -> None:
    named = verify("In 2019, 42% of colleges ran an Employer Forum with the Kickstart Scheme [1].\n", [P3], {})
    assert named.removed == 1 and "Kickstart" in named.removals[0].detail
    rare = verify("Apprentices were placed with 1,200 employers through a levy [1].\n", [P3], {})
    assert rare.removed == 1 and rare.removals[0].detail == "levy"


def test_a_report_s_own_label_and_year_may_be_named_in_a_claim() -> None:
    reports = {"r3": ReportInfo(id="r3", file="r3.txt", title="A report", year=2008, aliases=("SSDA",))}
    checked = verify("The SSDA (2008) found that 42% of colleges ran an Employer Forum [1].\n", [P3], reports)
    assert checked.verified, checked.removals


def test_a_marker_beyond_the_passages_says_which_and_how_many_were_given() -> None:
    checked = verify("Networks were funded by membership fees [3].\n", [P1, P2], {}, strict=True)
    assert checked.text == "" and checked.removals[0].reason == NO_SUCH_SOURCE
    assert checked.removals[0].detail == "[3] of 2 given"


def test_strict_removes_uncited_sentences_but_keeps_headings_and_lead_ins() -> None:
    draft = (
        "**Funding**\n"
        "- Networks were funded by membership fees [2]. Every network got £5m from the Treasury.\n"
        "What else the reports say:\n"
        "- “It takes time.” [1]\n"
        "Colleges should ask employers to pay for everything.\n"
    )
    checked = verify(draft, [P1, P2], {}, strict=True)
    assert checked.text.splitlines() == [
        "**Funding**",
        "- Networks were funded by membership fees [1].",
        "What else the reports say:",
        "- “It takes time.” [2]",
    ]
    assert [r.reason for r in checked.removals] == [NO_CITATION, NO_CITATION]
    # The offline writer's own computed lines carry no citation and are kept without strict.
    assert "everything" in verify(draft, [P1, P2], {}).text


def test_strict_checks_a_model_s_words_around_a_quote() -> None:
    draft = "In 2021, 80% of firms agreed that “Networks were funded by membership fees.” [2]\n"
    checked = verify(draft, [P1, P2], {}, strict=True)
    assert checked.text == "" and checked.removals[0].reason == MISSING_TERMS
    assert checked.removals[0].detail == "2021, 80%"
    assert verify(draft, [P1, P2], {}).verified  # without strict only the quote itself is checked


def test_a_bullet_keeps_its_mark_when_its_first_sentence_is_removed() -> None:
    draft = "- The moon is made of cheese [1]. Networks were funded by membership fees [2].\n"
    checked = verify(draft, [P1, P2], {}, strict=True)
    assert checked.text == "- Networks were funded by membership fees [1].\n"


def test_the_summary_groups_reasons_and_counts_every_removal() -> None:
    draft = "[1][2]\n- Networks were funded by membership fees [9].\n- Networks were funded by 12 fees [2].\n"
    checked = verify(draft, [P1, P2], {}, strict=True)
    assert checked.removed == 3
    assert checked.why == (
        "3 claims were dropped: 1 were only citation markers, with no words of their own; "
        "1 cited a source that was not given ([9] of 2 given); "
        "1 named figures, names or terms that the cited source does not contain (12)."
    )
