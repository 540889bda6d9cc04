"""The eval's junk-quote detector on real lines of the five reports: each kind caught, body text let through."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from evals import junk
from evals.junk import junk_kind
from evals.metrics import quote_in_source

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
BIBLIOGRAPHY = "Appendix D – Bibliography"


@cache
def report(prefix: str) -> str:
    return next(CORPUS.glob(f"{prefix}*.txt")).read_text(encoding="utf-8")


# (report, line as it stands in the report, the kind the eval must call it)
JUNK = [
    # bibliography entries and their pieces, recognised from the text alone
    ("ssda", "Beer, M. (2004) How to have an honest conversation about your business strategy.", junk.REFERENCE),
    (
        "ssda",
        "Bachelor, LW (1997) Business participation in economic development programs - Lessons from six Ohio "
        "cities in *Urban Affairs Review* 32 (5): 704-722 May 1997",
        junk.REFERENCE,
    ),
    ("ssda", "Curran, J et al (2000) Is there a local business community?", junk.REFERENCE),
    (
        "ssda",
        "International Labour Organisation (1998) The ILO Policy Document On Employers' Activities.",
        junk.REFERENCE,
    ),
    ("ssda", "*Journal of Business Venturing* 18 (3): 301-331 May 2003.", junk.REFERENCE),
    ("ssda", "*Harvard Business Review*.", junk.REFERENCE),
    ("ssda", "Volume: 82 Issue: 2 Page: 82", junk.REFERENCE),
    ("ssda", "pp. 403-411.", junk.REFERENCE),
    ("lsda", "Hughes M. Monteiro H. LSDA (2005)", junk.REFERENCE),
    ("lsda", "Working towards skills (2002)¹⁶", junk.REFERENCE),
    ("lsda", "Partnerships For Skills: Investing in Training for the 21st Century (2000)²³", junk.REFERENCE),
    # footnotes: a superscript or a bare number opening a note that names a source or explains a term
    ("lsda", "⁸³ How to Work with Microbusinesses, LSDA (2001)", junk.FOOTNOTE),
    (
        "lsda",
        "$^{^{21}}$ Developing Responsiveness in Vocational Education and Training, Hughes M, McPherson S, LSDA (2001)",
        junk.FOOTNOTE,
    ),
    ("lsda", "⁸⁰ Working Towards Skills (Hughes, Keddie et al.)", junk.FOOTNOTE),
    ("lw", "12 Colechin, J., Murphy, H., Stevens, C., Penacchia, J., Ray, K., Vaid L. (2017).", junk.FOOTNOTE),
    (
        "hodgson",
        "1 The Technical and Vocational Education Initiative (TVEI) was a government funded curriculum development "
        "programme",
        junk.FOOTNOTE,
    ),
    ("lw", "1 https://www.learningandwork.org.uk/resource/step-up", junk.FOOTNOTE),
    # web and mail addresses
    (
        "lsda",
        "For details of these publications and other outputs from the LSDA, go to: http://www.lsda.org.uk/pubs",
        junk.URL,
    ),
    ("lsda", "Fax 020 7297 9242 enquiries@LSDA.org.uk", junk.URL),
    ("ssda", "Please note all publications can be downloaded from our website www.ssda.org.uk", junk.URL),
    # front matter: ISBN, copyright, credits, phone numbers, addresses, title-page lines
    ("lsda", "ISBN 1845723155", junk.FRONT_MATTER),
    ("ssda", "ISBN: 978-0-9553912-7-9", junk.FRONT_MATTER),
    ("lsda", "©Learning and Skills Development Agency", junk.FRONT_MATTER),
    ("lsda", "Copyeditor: Nick Sweeney Designer: Tania Field", junk.FRONT_MATTER),
    ("lsda", "Printer: Blackmore Ltd, Shaftsbury, Dorset", junk.FRONT_MATTER),
    ("lsda", "Registered with the Charity Commissioners", junk.FRONT_MATTER),
    ("lsda", "You are welcome to copy this publication for internal use within your organisation.", junk.FRONT_MATTER),
    ("lsda", "Tel 020 7297 9144", junk.FRONT_MATTER),
    ("ssda", "Tel: 01709 765 444", junk.FRONT_MATTER),
    ("ssda", "Research House, Fraser Road, Perivale, Middlesex, UB6 7AQ", junk.FRONT_MATTER),
    ("lsda", "19-25 Argyll Street", junk.FRONT_MATTER),
    ("lsda", "Regent Arcade House", junk.FRONT_MATTER),
    ("lsda", "052201RS/01/06/4000", junk.FRONT_MATTER),
    ("ssda", "RESEARCH REPORT 29", junk.FRONT_MATTER),
    ("ssda", "February 2008", junk.FRONT_MATTER),
    ("ssda", "Kingston University", junk.FRONT_MATTER),
    ("ssda", "Dr Peter Garside", junk.FRONT_MATTER),
    # contents lines and numbered headings
    ("ssda", "1.1 Context\t1", junk.CONTENTS),
    ("ssda", "3. INFLUENCES ON EMPLOYERS.....\t19", junk.CONTENTS),
    ("ssda", "APPENDIX D – BIBLIOGRAPHY\t72", junk.CONTENTS),
    ("ssda", "EXECUTIVE SUMMARY\ti", junk.CONTENTS),
    ("ssda", "2.2 Defining employer engagement", junk.CONTENTS),
    ("lsda", "Contents", junk.CONTENTS),
    # tables and figures
    (
        "ssda",
        "Table 4.1: Best and worst thing about how the case study activity has been run (top five mentioned)",
        junk.TABLE,
    ),
    ("ssda", "Who\tWhy\tHow\tWhy Not", junk.TABLE),
    ("ssda", "Policy area: Skills\tType of engagement: Consumer", junk.TABLE),
    ("hodgson", "Figure 1 about here", junk.TABLE),
    # lead-ins quoted without their list
    ("ssda", "It aimed to:", junk.LEAD_IN),
    ("ssda", "or both:", junk.LEAD_IN),
    ("lw", "Other options suggested were:", junk.LEAD_IN),
    ("ukces", "The research identified a number of different network types including:", junk.LEAD_IN),
    ("lsda", "³² Employer engagement could contribute to achieving each one:", junk.LEAD_IN),
    # empty or one-word points
    ("ssda", "By", junk.FRAGMENT),
    ("ssda", "Consumers.", junk.FRAGMENT),
    ("ssda", "Iss.", junk.FRAGMENT),
    ("lsda", "³", junk.FRAGMENT),
]

# Body sentences and list items, several built to look like junk to a careless rule.
BODY = [
    (
        "hodgson",
        "Keep (2016) reminds us that the powers devolved to local government are at best partial and that historical "
        "centralizing powers remain strong.",
    ),
    (
        "ssda",
        "Polenske (2004) identifies organisational boundaries associated with cultural awareness, identity of the firm "
        "and supply chain links as key influencers",
    ),
    ("ssda", "Dyllick and Hockerts (2002) emphasise the need for a well-structured, well-presented and effectively"),
    (
        "ssda",
        "Employers were involved in steering groups to help develop the programme (National Employer Panel, 2004);",
    ),
    (
        "ssda",
        "“If people are investing (capital) time into the organisation – this gives them a legitimate claim as they "
        "are taking a risk.” (Orts, 2002)",
    ),
    (
        "lsda",
        "The government's policies for vocational skills were set out initially in its Green Paper "
        "*The Learning Age* (1998).",
    ),
    # a body sentence that starts with the previous sentence's note mark, and one that starts with a count
    ("lsda", "¹ In a chapter on learning at work, the government ascribed to employers, the self-employed and their"),
    ("lsda", "16 FE pathfinder CoVEs were established in September 2001"),
    ("lsda", "It is a useful focus for all providers if it follows the broad typology suggested on pp15-16."),
    ("ssda", "Figure 5.3 has therefore been developed based on the findings of this research."),
    (
        "hodgson",
        "According to the 2018 Tech Nation Report (2018) the total number of jobs in the UK digital tech economy was "
        "2.1 million in 2017 and on the rise.",
    ),
    ("lw", "This accounted for the majority of progression outcomes (61% in year 2)."),
    ("lw", "Step Up was delivered from October 2015 until September 2018 by six voluntary sector organisations"),
    (
        "ukces",
        "One network adopted a not-for-profit focus for branding purposes, to reassure potential participants of its "
        "commercial focus through establishing a private company with not-for-profit status rather than a registered "
        "charity.",
    ),
    ("ukces", "Group Training Associations"),
    ("ukces", "Supply chain networks, vertical or horizontal in nature"),
    ("ssda", "identify the drivers of employer engagement;"),
    ("lsda", "providing work experience places"),
    (
        "ssda",
        "“It seemed to be a talking shop. I have had no feedback on what resulted or follow up to see how I might",
    ),
    ("ukces", "Typically employer participation in activities was found to be quite passive with only a minority of"),
]


def test_every_sample_is_a_real_line_of_its_report() -> None:
    for prefix, line, *_ in JUNK + BODY:
        assert quote_in_source(line, report(prefix)), f"not in {prefix}: {line[:60]!r}"


@pytest.mark.parametrize(("prefix", "line", "kind"), JUNK, ids=[f"{k}:{line[:30]}" for _, line, k in JUNK])
def test_junk_lines_are_named_by_kind(prefix: str, line: str, kind: str) -> None:
    assert junk_kind(line) == kind


@pytest.mark.parametrize(("prefix", "line"), BODY, ids=[line[:40] for _, line in BODY])
def test_body_sentences_and_list_items_are_evidence(prefix: str, line: str) -> None:
    assert junk_kind(line) is None
    assert junk_kind(line, "3. Influences on employers › 3.1 Drivers of engagement") is None


@pytest.mark.parametrize(
    "section",
    [BIBLIOGRAPHY, f"{BIBLIOGRAPHY} › Research Report 11", "References", "List of previous SSDA Publications"],
)
def test_anything_quoted_from_a_reference_list_is_a_reference(section: str) -> None:
    assert junk_kind("Skills for Business 2004: Survey of Employers", section) == junk.REFERENCE
    assert junk_kind("Learning and Skills Development Agency", section) == junk.REFERENCE


def test_quote_marks_emphasis_and_note_marks_around_a_lead_in_do_not_hide_it() -> None:
    assert junk_kind("“Other options suggested were:”") == junk.LEAD_IN
    assert junk_kind("*The College for Business:*") == junk.LEAD_IN
    assert junk_kind("“   ”") == junk.FRAGMENT
