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


def test_write_load_and_reuse(tmp_path: Path):
    chunks = [chunk([(FIRST, "body"), (BODY, "body"), (THESE, "body")], cid="r:1")]
    embed = CountingEmbed()
    written = UnitIndex.write(tmp_path / "units", chunks, embed, "e/1")
    assert len(embed.texts) == len(written) == 2
    assert np.allclose(np.linalg.norm(written.vectors, axis=1), 1.0, atol=1e-2)  # int8 rows of unit vectors
    assert isinstance(written.matrix.codes, np.memmap)  # read back from disk, not held
    loaded = UnitIndex.load(tmp_path / "units")
    assert loaded is not None and [u.text for u in loaded.units] == [u.text for u in written.units]
    assert np.array_equal(loaded.vectors, written.vectors)
    held = UnitIndex.build(chunks, CountingEmbed(), "e/1")  # the same, in memory
    assert np.array_equal(held.vectors, written.vectors) and not isinstance(held.matrix.codes, np.memmap)
    # A new generation with one more chunk embeds only the new unit, and keeps the old rows as stored.
    more = chunks + [chunk([("Colleges offered short courses at the workplace to small firms.", "body")], "r:2")]
    again = CountingEmbed()
    rewritten = UnitIndex.write(tmp_path / "next", more, again, "e/1", previous=loaded)
    assert len(rewritten) == 3 and again.texts == ["Colleges offered short courses at the workplace to small firms."]
    assert np.array_equal(rewritten.matrix.codes[:2], loaded.matrix.codes)


def test_units_are_written_a_window_at_a_time_in_unit_order(tmp_path: Path, monkeypatch):
    """The vectors go to disk as they are embedded (one window held), and row i is still unit i."""
    from assistant import units as units_module
    from assistant.matrices import MatrixWriter

    monkeypatch.setattr(units_module, "WINDOW", 3)
    monkeypatch.setattr(units_module, "BATCH", 2)
    sentences = [f"Employers in sector {'x' * (9 - i)} offered {i} placements to local students." for i in range(8)]
    chunks = [chunk([(s, "body")], cid=f"r:{i}") for i, s in enumerate(sentences)]
    appended: list[int] = []
    real_append = MatrixWriter.append_codes

    def spy(self, codes, scales):
        appended.append(len(codes))
        return real_append(self, codes, scales)

    monkeypatch.setattr(MatrixWriter, "append_codes", spy)
    embed = CountingEmbed()
    written = UnitIndex.write(tmp_path / "units", chunks, embed, "e/1")
    assert appended == [3, 3, 2]  # three windows, never the whole matrix at once
    assert max(len(t) for t in embed.texts[:2]) <= min(len(t) for t in embed.texts[2:3])  # shortest first
    expected = np.asarray(CountingEmbed()([u.text for u in written.units]), dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.abs(written.vectors - expected).max() < 0.01  # each row is its own unit's vector


def test_an_interrupted_write_leaves_the_previous_units(tmp_path: Path):
    chunks = [chunk([(FIRST, "body"), (BODY, "body")], cid="r:1")]
    first = UnitIndex.write(tmp_path / "units", chunks, CountingEmbed(), "e/1")

    def broken(texts):
        raise RuntimeError("the model stopped")

    more = chunks + [chunk([("Colleges offered short courses at the workplace to small firms.", "body")], "r:2")]
    try:
        UnitIndex.write(tmp_path / "units", more, broken, "e/1")
    except RuntimeError:
        pass
    kept = UnitIndex.load(tmp_path / "units")
    assert kept is not None and kept.chunks == first.chunks
    assert [p.name for p in tmp_path.iterdir()] == ["units"]  # no staging folder left behind


def test_load_refuses_other_versions_and_damage(tmp_path: Path):
    UnitIndex.write(tmp_path / "units", [chunk([(BODY, "body")])], CountingEmbed(), "e/1")
    meta = (tmp_path / "units" / "units.json").read_text(encoding="utf-8")
    (tmp_path / "units" / "units.json").write_text(meta.replace(UNITS_VERSION, "units/0"), encoding="utf-8")
    assert UnitIndex.load(tmp_path / "units") is None
    (tmp_path / "units" / "units.json").write_text(meta, encoding="utf-8")
    (tmp_path / "units" / "rows.codes").write_bytes(b"")
    assert UnitIndex.load(tmp_path / "units") is None
    assert UnitIndex.load(tmp_path / "missing") is None


def test_similarity_ranks_by_cosine():
    index = UnitIndex.build([chunk([(FIRST, "body"), (BODY, "body"), (THESE, "body")])], CountingEmbed(), "e/1")
    sims = index.similarity(np.asarray(index.vectors[1], dtype=np.float32))
    assert int(np.argmax(sims)) == 1 and sims[1] > 0.99
