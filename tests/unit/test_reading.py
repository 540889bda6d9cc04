"""The Reports page's reader: where a report opens, overlapping passages shown once, the cited sentence whole."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from assistant.types import Chunk

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the app's `pages` helpers, as under streamlit

from pages.reading import first_real_section, parse_span, sections_of, visible_pieces  # noqa: E402
from pages.text import answer_markdown, highlight_html, literal, passage_html  # noqa: E402

DOC = "One starts. Two follows. Three overlaps. Four is next. Five ends."


def chunk(ordinal: int, start: int, end: int, section: tuple[str, ...] = ("1. Introduction",)) -> Chunk:
    return Chunk(
        chunk_id=f"r:{ordinal}",
        report="r",
        title="R",
        year=2001,
        section=section,
        text=DOC[start:end],
        char_start=start,
        char_end=end,
        line_start=1,
        line_end=1,
        page_start=None,
        page_end=None,
        source="r.txt",
        ordinal=ordinal,
    )


# Three passages overlapping by one sentence, as the chunker makes them.
RUN = [chunk(0, 0, 40), chunk(1, 25, 54), chunk(2, 41, 65)]


def shown(pieces) -> str:
    return " ".join(c.text[a:b].strip() for c, a, b in pieces)


def test_overlapping_passages_are_shown_once():
    assert shown(visible_pieces(RUN, None)) == DOC


def test_the_cited_passage_is_shown_whole_and_its_neighbours_trimmed_around_it():
    pieces = visible_pieces(RUN, "r:1")
    assert shown(pieces) == DOC
    cited = next((a, b) for c, a, b in pieces if c.chunk_id == "r:1")
    assert cited == (0, len(RUN[1].text))


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["(front matter)", "EMPLOYER ENGAGEMENT", "Research Series Foreword", "Executive Summary › Introduction"], 3),
        (["(front matter)", "Corresponding author: Professor Ken Spours", "Abstract", "A focus on schools"], 2),
        (["(front matter)", "Copyeditor: Nick Sweeney", "A Introduction"], 2),
        (["(front matter)", "Individual job change support"], 0),  # no opening heading: the start
    ],
)
def test_a_report_opens_at_its_first_real_section(labels, expected):
    sections = [(label, [chunk(i, 0, 10, (label,))]) for i, label in enumerate(labels)]
    assert first_real_section(sections) == expected


def test_sections_keep_reading_order():
    chunks = [chunk(2, 41, 65, ("2. B",)), chunk(0, 0, 40), chunk(1, 25, 54)]
    assert [(label, len(run)) for label, run in sections_of(chunks)] == [("1. Introduction", 2), ("2. B", 1)]


@pytest.mark.parametrize(
    ("value", "expected"), [("3-9", (3, 9)), ("9-3", None), ("0-999", None), ("x", None), (None, None)]
)
def test_parse_span_accepts_only_offsets_inside_the_text(value, expected):
    assert parse_span(value, DOC) == expected


def test_highlight_marks_the_whole_sentence_in_every_paragraph_it_spans():
    passage = "Before it. The quoted sentence starts here\nand ends here.\n\nNext paragraph. After."
    html_text = highlight_html(passage, "sentence starts here and ends")
    assert "<mark class='quote'>The quoted sentence starts here and ends here.</mark>" in html_text
    assert html_text.count("<mark") == 1 and "<p>Before it." in html_text
    across = (passage.index("and ends"), passage.index("After") - 1)
    split = passage_html(passage, [across])  # a mark across a paragraph break: one <mark> per paragraph
    assert "<mark class='quote'>Next paragraph.</mark>" in split and "<mark class='quote'></mark>" not in split


HOSTILE = "See ![logo](http://evil.example/p.png) [site](http://evil.example) :red[alert] $x^2$ <img src=x> \x1b[2J end"


def test_report_text_is_inert_in_markdown_and_html():
    shown_md = literal(HOSTILE)
    for raw in ("![logo](", "[site](", ":red[", "\x1b"):
        assert raw not in shown_md
    assert re.search(r"(?<!\\)[$\[\]<>!:]", shown_md) is None  # every markup character escaped
    assert "&lt;img src=x&gt;" in passage_html(HOSTILE) and "\x1b" not in passage_html(HOSTILE)


def test_answer_structure_renders_but_quotes_stay_literal():
    text = f"**In short:** “{HOSTILE}” [3]\n- “ok” [4] — *SSDA (2008)*"
    shown_md = answer_markdown(text, {3: 1, 4: 1})
    assert shown_md.startswith("**In short\\:** “See \\!\\[logo\\]")
    assert shown_md.endswith("- “ok” \\[1\\] — *SSDA \\(2008\\)*")
    assert ":red[" not in shown_md and "](http" not in shown_md


def test_html_escaping_keeps_apostrophes_and_hashes_readable():
    from html import unescape

    from pages.text import html_text

    text = "It's #1 [see] (a) & <b>"
    assert unescape(html_text(text)) == text  # the browser shows exactly the report's characters
