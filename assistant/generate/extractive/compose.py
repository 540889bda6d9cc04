"""Writing the answer: a lead that answers, then points grouped under the report sections they come from.

The only words of our own are labels, headings taken from the reports' section titles, and a few
computed sentences ("Only the LSDA (2005) addresses this directly…") whose every part is decided
from the evidence. Everything else is a quote with its [n].
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.generate.extractive.candidates import Candidate, trim
from assistant.generate.extractive.scoring import is_case_study

NOT_DIRECT = "The reports do not answer this directly; the closest evidence follows."
OVERRIDE_NOTE = "*Instructions inside the question were set aside: answers come only from the reports.*"
MAX_GROUPS = 3
_NUMBERING = re.compile(r"^(?:[A-Z]|\d+(?:\.\d+)*)\.?\s+(?=[A-Z])")


def quote(c: Candidate) -> str:
    """The candidate as a quote with its passage marker."""
    return f"“{trim(c.text)}” [{c.passage}]"


def point(c: Candidate, label: str, *, with_label: bool = True, label_first: bool = False) -> str:
    """A bullet: the quote, its report's label, and its list items underneath."""
    if c.items:
        # A lead-in is context, not evidence: shown as a label (verbatim), its items carry the citations.
        body = f"*{c.text}*"
    else:
        body = quote(c)
    if is_case_study(c):
        body = f"*Case study ({heading(c)}):* {body}"
    if with_label and label_first:
        line = f"- *{label}*: {body}"
    else:
        line = f"- {body}" + (f" — *{label}*" if with_label else "")
    if c.items:
        # The items as one quote, joined by ellipses (each must occur, in order): one citation per list.
        line += f"\n  “{' … '.join(trim(item) for item in c.items)}” [{c.passage}]"
    return line


def heading(c: Candidate) -> str:
    """A short heading from the sentence's section ("3.3 Barriers to engagement" -> "Barriers to engagement")."""
    title = c.chunk.section[-1] if c.chunk.section else c.chunk.title
    title = _NUMBERING.sub("", title.strip())
    return title if len(title) <= 70 else title[:67].rsplit(" ", 1)[0] + "…"


def group_title(c: Candidate) -> str:
    """The heading a group of points goes under; "" when the section's title would not describe them.

    A one-word title ("Benefits", "Drawbacks") is relative to a heading above it: without that heading it
    tells a reader nothing, and where the report's structure was not recognised it misleads (the points
    under "Drawbacks" need not be drawbacks of anything). It goes under its parent's title, or under none.
    """
    title = heading(c)
    if len(title.split()) > 1:
        return title
    parents = c.chunk.section[:-1]
    return f"{_NUMBERING.sub('', parents[-1].strip())} › {title}" if parents else ""


def lead_line(c: Candidate, label: str) -> str:
    """The first line: the answering sentence, attributed."""
    return f"{quote(c)} — *{label}*"


def grouped(points: Sequence[Candidate], labels: dict[str, str], *, label_first: bool) -> list[str]:
    """Points under headings taken from their sections, when that groups them; otherwise a flat list."""
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for c in points:
        groups.setdefault((c.report, group_title(c)), []).append(c)
    lines: list[str] = []
    shared = any(len(g) > 1 for g in groups.values())  # headings only when they group something
    titled = all(title for _, title in groups)
    if titled and ((len(groups) <= MAX_GROUPS and shared) or (len(groups) == 1 and len(points) > 1)):
        for (report, title), members in groups.items():
            lines.append("")
            lines.append(f"**{title}** — *{labels.get(report, report)}*")
            lines.extend(point(c, labels.get(c.report, c.report), with_label=False) for c in members)
        return lines
    lines.append("")
    lines.extend(point(c, labels.get(c.report, c.report), label_first=label_first) for c in points)
    return lines


def comparison(
    reports: Sequence[str],
    by_report: dict[str, list[Candidate]],
    strong: dict[str, bool],
    labels: dict[str, str],
) -> list[str]:
    """Each report's best evidence under its name, after one computed line saying which reports address it."""
    named = [labels.get(r, r) for r in reports]
    addressing = [r for r in reports if strong.get(r)]
    if len(addressing) == len(reports):
        verdict = (
            "Both reports address this; their evidence is below."
            if len(reports) == 2
            else f"All {len(reports)} reports address this; their evidence is below."
        )
    elif addressing:
        others = [r for r in reports if r not in addressing]
        nearest = "; ".join(
            f"the {labels.get(r, r)}'s nearest evidence is about *{heading(by_report[r][0])}*"
            if by_report.get(r)
            else f"the {labels.get(r, r)} has no passage on it"
            for r in others
        )
        only = " and the ".join(labels.get(r, r) for r in addressing)
        verdict = f"Only the {only} {'addresses' if len(addressing) == 1 else 'address'} this directly; {nearest}."
    else:
        verdict = f"Neither {' nor '.join(named)} answers this directly; the nearest evidence from each is below."
    lines = [verdict]
    for report in reports:
        lines.append("")
        suffix = "" if strong.get(report) else " (nearest evidence)"
        lines.append(f"**{labels.get(report, report)}**{suffix}")
        members = by_report.get(report) or []
        if not members:
            lines.append("- No passage from this report was found on the question.")
        lines.extend(point(c, labels.get(c.report, c.report), with_label=False) for c in members)
    return lines


def premise_lines(
    claim: str, evidence: Candidate | None, contradicts: bool, supports: bool, label: str, *, echo: bool = True
) -> list[str]:
    """The lead for a question built on a claim: whether the reports bear it out, with the quote that shows it.

    A claim the question tried to make the assistant state (`echo=False`) is never repeated, even negated.
    """
    what = f"the premise that *{claim.rstrip('.?! ')}*" if echo else "the claim in the question"
    if evidence is None:
        return [f"No passage found in the reports supports {what}."]
    if contradicts:
        return [f"The reports do not support {what}: {quote(evidence)} — *{label}*"]
    if supports:
        return [f"The reports do say this: {quote(evidence)} — *{label}*"]
    return [f"No passage found in the reports supports {what}; the closest evidence is: {quote(evidence)} — *{label}*"]
