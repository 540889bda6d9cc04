"""Where a citation points: page, section number and title, paragraph; file lines as a secondary detail."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from assistant.catalog import Catalog
from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.types import Chunk, Citation, ReportInfo, format_place


@pytest.mark.parametrize(
    ("section", "pages", "paragraphs", "expected"),
    [
        (("3. Influences on employers", "3.4 External influences"), (None, None), (2, None),
         "§3.4 External influences, para 2"),
        (("3. Influences on employers", "Summary"), (None, None), (None, None), "§3 Influences on employers › Summary"),
        (("Abstract",), (2, 2), (1, 3), "p. 2, Abstract, paras 1–3"),
        (("The New Low Skills Equilibrium",), (13, 14), (None, None), "pp. 13–14, The New Low Skills Equilibrium"),
        ((), (None, None), (None, None), "front matter"),
    ],
)
def test_format_place(section, pages, paragraphs, expected):
    assert format_place(section, *pages, *paragraphs) == expected


def chunk(**overrides) -> Chunk:
    fields = dict(
        chunk_id="ssda-2008:1", report="ssda-2008", title="Employer Engagement", year=2008,
        section=("3. Influences on employers", "3.4 External influences"), text="Some text.", char_start=0,
        char_end=10, line_start=664, line_end=676, page_start=None, page_end=None, source="ssda.txt", ordinal=3,
    )
    fields.update(overrides)
    return Chunk(**fields)


def test_a_chunk_without_paragraph_numbers_still_has_a_place_and_its_lines():
    c = chunk()
    assert c.place == "§3.4 External influences"
    assert c.lines == "lines 664–676" and c.location == "lines 664–676"  # location keeps its old meaning
    assert chunk(source="r.pdf", page_start=4, page_end=4).lines == ""


def test_a_chunk_with_paragraph_numbers_names_them():
    @dataclass(frozen=True)
    class WithParagraphs(Chunk):  # the ingest side adds these fields; the label must use them when present
        paragraph: int | None = None
        paragraph_end: int | None = None

    c = WithParagraphs(**{**chunk().__dict__, "paragraph": 2, "paragraph_end": 2})
    assert c.place == "§3.4 External influences, para 2"


def test_citation_carries_the_report_label_and_place():
    info = ReportInfo(id="ssda-2008", file="ssda.txt", title="Employer Engagement", year=2008,
                      authors=("Chris Cooper",), aliases=("SSDA",))
    c = Citation.from_chunk(1, chunk(), "Some text.", info)
    assert (c.label, c.place, c.location) == ("SSDA (2008)", "§3.4 External influences", "lines 664–676")
    from assistant.types import Answer

    row = Answer(question="q", answer="“Some text.” [1]", citations=[c]).to_dict()["citations"][0]
    assert row["label"] == "SSDA (2008)" and row["place"] == "§3.4 External influences"
    assert row["location"] == "lines 664–676"  # the JSON contract's fields are unchanged


def test_catalog_reads_where_a_report_can_be_found(tmp_path):
    (tmp_path / "catalog.toml").write_text(
        '[[report]]\nid = "x"\nfile = "x.txt"\ntitle = "X"\nyear = 2001\npublisher = "P"\n'
        'isbn = "1845723155"\nurl = "www.lsda.org.uk"\n',
        encoding="utf-8",
    )
    info = Catalog.load(tmp_path / "catalog.toml").get("x")
    assert (info.isbn, info.url) == ("1845723155", "www.lsda.org.uk")
    assert info.reference() == "P (2001). X. ISBN 1845723155. Available from www.lsda.org.uk."


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"audience": "bogus"},
         "audience (ASSISTANT_AUDIENCE): audience must be 'practitioner' or 'policy' (got 'bogus')"),
        ({"top_k": 99}, "top_k (ASSISTANT_TOP_K): Input should be less than or equal to 20 (got 99)"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_and_what_is_allowed(overrides, expected):
    with pytest.raises(ConfigError) as caught:
        Settings.load(**overrides)
    message = str(caught.value)
    assert expected in message and "\n" not in message and "pydantic" not in message
