"""Evidence units: body sentences, lead-ins with their lists, anaphoric sentences joined to what they lean on."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.types import Chunk
from assistant.units import UNITS_VERSION, UnitIndex, unit_quote, units_of
from assistant.verify import quote_in


def chunk(sentences: list[tuple[str, str]], cid: str = "r:1", report: str = "r", section=("2 Findings",)) -> Chunk:
    """A chunk of (sentence, kind) pairs joined by spaces, with exact offsets."""
    text, spans = "", []
    for sentence, _ in sentences:
        start = len(text) + (1 if text else 0)
        text = f"{text} {sentence}" if text else sentence
        spans.append((start, start + len(sentence)))
    return Chunk(
        chunk_id=cid,
        report=report,
        title="R",
        year=2020,
        section=section,
        text=text,
        char_start=0,
        char_end=len(text),
        line_start=1,
        line_end=3,
        page_start=None,
        page_end=None,
        source="r.txt",
        ordinal=0,
        sentences=tuple(spans),
        sentence_kinds=tuple(k for _, k in sentences),
    )


FIRST = "Colleges ran a survey of local employers in the spring of that year."
BODY = "Most employers engaged with colleges to address a specific business issue they had."
THESE = "These issues were usually about recruitment and the skills of their existing staff."
LEAD = "The roundtable identified three main approaches to engaging employers:"
ITEMS = ["sector-based partnerships led by colleges", "employer-led local networks of firms", "brokerage by councils"]


def test_kinds_of_units():
    c = chunk([(FIRST, "body"), (BODY, "body"), (THESE, "body"), (LEAD, "lead_in")] + [(i, "list_item") for i in ITEMS])
    units = units_of([c])
    assert len(units) == 3  # the sentence "these" leans on is quoted with it, not again alone
    kinds = {u.kind: u for u in units}
    assert set(kinds) == {"body", "joined", "list"}
    assert kinds["joined"].text == f"{BODY} {THESE}"  # the anaphoric sentence carries the one it leans on
    assert kinds["list"].text.startswith(LEAD) and all(i in kinds["list"].text for i in ITEMS)
    assert all(u.can_lead for u in units)


def test_anaphoric_sentence_at_the_start_of_a_chunk_is_dangling_and_cannot_lead():
    (unit,) = units_of([chunk([(THESE, "body")])])
    assert unit.kind == "dangling" and not unit.can_lead


def test_a_chain_of_pointing_back_joins_up_to_the_sentence_it_started_from():
    such = "Such issues were raised by most of the firms interviewed for the study."
    (unit,) = units_of([chunk([(BODY, "body"), (THESE, "body"), (such, "body")])])
    assert unit.kind == "joined" and unit.text == f"{BODY} {THESE} {such}" and unit.can_lead


def test_overlapping_chunks_keep_the_fuller_unit_once():
    first = chunk([(BODY, "body"), (THESE, "body")], cid="r:1")
    second = chunk([(THESE, "body"), ("Colleges responded by offering short courses at the workplace.", "body")], "r:2")
    units = units_of([first, second])
    these = [u for u in units if u.text.endswith(THESE)]
    assert len(these) == 1 and these[0].kind == "joined" and these[0].chunk_id == "r:1"


def test_furniture_is_never_a_unit():
    c = chunk(
        [
            ("See www.example.org.uk for the full report and its annexes.", "body"),
            ("Short one.", "body"),
            ("Smith, J. (2005) Working with employers. London: LSDA.", "reference"),
            ("What works?", "body"),
        ]
    )
    assert units_of([c]) == []


def test_unit_quote_is_verbatim_in_its_chunk():
    c = chunk([(BODY, "body"), (THESE, "body"), (LEAD, "lead_in")] + [(i, "list_item") for i in ITEMS])
    for unit in units_of([c]):
        assert quote_in(unit_quote(c, unit), c.text)


class CountingEmbed:
    def __init__(self):
        self.texts: list[str] = []

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return [[float(len(t)), 1.0, float(t.count("e"))] for t in texts]


def test_build_save_load_and_reuse(tmp_path: Path):
    chunks = [chunk([(FIRST, "body"), (BODY, "body"), (THESE, "body")], cid="r:1")]
    embed = CountingEmbed()
    built = UnitIndex.build(chunks, embed, "e/1")
    assert len(embed.texts) == len(built) == 2
    assert np.allclose(np.linalg.norm(np.asarray(built.vectors, dtype=np.float32), axis=1), 1.0, atol=1e-3)
    built.save(tmp_path / "units")
    loaded = UnitIndex.load(tmp_path / "units")
    assert loaded is not None and [u.text for u in loaded.units] == [u.text for u in built.units]
    assert np.array_equal(np.asarray(loaded.vectors), np.asarray(built.vectors))
    # A new generation with one more chunk embeds only the new unit.
    more = chunks + [chunk([("Colleges offered short courses at the workplace to small firms.", "body")], "r:2")]
    again = CountingEmbed()
    rebuilt = UnitIndex.build(more, again, "e/1", previous=loaded)
    assert len(rebuilt) == 3 and again.texts == ["Colleges offered short courses at the workplace to small firms."]


def test_load_refuses_other_versions_and_damage(tmp_path: Path):
    built = UnitIndex.build([chunk([(BODY, "body")])], CountingEmbed(), "e/1")
    built.save(tmp_path / "units")
    meta = (tmp_path / "units" / "units.json").read_text(encoding="utf-8")
    (tmp_path / "units" / "units.json").write_text(meta.replace(UNITS_VERSION, "units/0"), encoding="utf-8")
    assert UnitIndex.load(tmp_path / "units") is None
    (tmp_path / "units" / "units.json").write_text(meta, encoding="utf-8")
    (tmp_path / "units" / "vectors.npy").write_bytes(b"")
    assert UnitIndex.load(tmp_path / "units") is None
    assert UnitIndex.load(tmp_path / "missing") is None


def test_similarity_ranks_by_cosine():
    index = UnitIndex.build([chunk([(FIRST, "body"), (BODY, "body"), (THESE, "body")])], CountingEmbed(), "e/1")
    sims = index.similarity(np.asarray(index.vectors[1], dtype=np.float32))
    assert int(np.argmax(sims)) == 1 and sims[1] > 0.99
