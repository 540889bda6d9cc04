"""What a question asks for: its intent, a claim it takes for granted, and instructions it tries to inject.

Read from the wording alone (no model): the patterns are the grammatical shapes of English questions
("how can…", "what did X find…", "given that X, …", "ignore the reports and…"), not lists of topics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

INTENTS = ("how_to", "barriers", "definition", "findings", "list", "compare", "general")

_HOW_TO = re.compile(
    r"^\s*(?:how (?:do|can|should|could|might|would|to|have|did|do) |what (?:should|can|could|works?|helps?|"
    r"(?:has|have) worked|is the best way)|should (?:i|we)|is it worth|any tips|what(?:'s| is) the best way|"
    r"ways to|tips (?:for|on))",
    re.IGNORECASE,
)
_BARRIERS = re.compile(
    r"\b(?:stops?|stopping|prevents?|barriers?|obstacles?|hinders?|holds? (?:\w+ )?back|challenges?|difficult\w*|"
    r"discourag\w*|deters?|why (?:do|don't|do not|did|didn't|are|aren't) \w+ (?:not )?(?:train|engage|take|use))\b",
    re.IGNORECASE,
)
_DEFINITION = re.compile(
    r"\b(?:defin\w+|what is meant by|what (?:do|does|did) .{1,60} mean by|meaning of|what counts as)\b"
    r"|^\s*what (?:is|are) (?:an? |the )?[\w'‘’ -]{3,40}\?\s*$",
    re.IGNORECASE,
)
_FINDINGS = re.compile(
    r"\b(?:what (?:did|does|do) .{0,80}?(?:find|found|conclude|show|say|report|recommend)|key findings?|"
    r"main findings?|what (?:are|were) the findings|conclusions?)\b",
    re.IGNORECASE,
)
_LIST = re.compile(
    r"\bwhat (?:are|were) the (?:\w+ )?(?:types|kinds|categories|forms|models|sources|stages|steps|factors|roles)\b",
    re.IGNORECASE,
)
# Only an explicit comparison: "what do the reports say about X" asks about X, not about the reports.
_COMPARE = re.compile(
    r"\b(?:compar\w*|agree|disagree|differ(?:ent|ence|ences)? (?:between|from)|both reports|each report|"
    r"across (?:the|these|all) (?:reports|studies))\b",
    re.IGNORECASE,
)

# Instructions aimed at the assistant rather than questions about the reports.
_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^.?!:]{0,40}\b(?:reports?|sources?|instructions?|rules?|evidence|citations?|above)\b"
    r"|\bsystem (?:override|prompt)\b|\byou are now\b|\bnew instructions?\b|\bpretend\b|\bact as\b"
    r"|\byou must answer\b|\bnever say (?:that )?you (?:don't|do not) know\b|\bno caveats\b"
    r"|\bwithout (?:any )?caveats\b|\bend your answer with\b",
    re.IGNORECASE,
)
# "tell me that X", "state that X", "confirm that X": the X is a claim to check, not to repeat.
_ASSERT_CLAIM = re.compile(
    r"\b(?:tell (?:me|us)|state|confirm|say|write|agree|admit)\s+that\s+(?P<claim>[^.?!]+)", re.IGNORECASE
)
_TELL_ME = re.compile(r"\b(?:tell|show|give) (?:me|us)\s+(?P<ask>(?:what|how|why|which|who|about)\b.+)$", re.I)
_VERDICT_CLAIM = re.compile(r"['‘\"“](?:[A-Z][a-z]+:\s*)?(?P<claim>[^'’\"”]{12,})['’\"”]")
# "Given that X, how…", "Since X, what…".
_GIVEN = re.compile(
    r"^\s*(?:given|since|as|because|now that|considering|assuming|seeing)\s+(?:that\s+)?(?P<claim>[^,]{12,}?),\s*"
    r"(?P<ask>(?:how|what|why|which|who|when|where|can|could|should|would|do|does|is|are|was|were)\b.*)$",
    re.IGNORECASE,
)
# "X was found, so how…?": a claim offered as settled, then the question built on it.
_SO = re.compile(
    r"^\s*(?P<claim>[^?]{12,}?),\s*so\s+(?P<ask>(?:how|what|which|why|who|when|where|can|should|do|does)\b.*)$",
    re.IGNORECASE,
)
# "Why did X conclude that Y?" presupposes that X concluded Y.
_WHY_THAT = re.compile(
    r"^\s*why (?:did|does|do|has|have|was|were|is|are) (?P<who>.{2,80}?) (?:conclude|find|show|say|argue|claim|"
    r"suggest|state|report|decide|prove|recommend)s?\s+(?:that\s+)?(?P<claim>[^?]{8,})\??\s*$",
    re.IGNORECASE,
)
# "X showed Y. Summarise…": a statement offered as a finding, then a request.
_STATED = re.compile(
    r"^\s*(?P<who>[^.?!]{2,80}?)\s+(?:showed|found|concluded|proved|established|demonstrated|argued|said)\s+"
    r"(?:that\s+)?(?P<claim>[^.?!]{8,})[.!]\s+(?P<ask>.+)$",
    re.IGNORECASE,
)
# Whose word a stated claim is: a study, its authors, or a named body (not "our members say…").
_SOURCE = re.compile(
    r"\b(?:stud(?:y|ies|ied)|reports?|research|review|roundtable|synthesis|authors?|colleagues|et al|survey|"
    r"evaluation|evidence|findings?)\b|\b[A-Z]{2,}\b|"
    r"^[A-Z][a-z]+ (?:and|et)\b"
)
_CLAIM_SOURCE = re.compile(
    r"^.{2,80}?\b(?:showed|shows|found|finds|concluded|proved|established|demonstrated|argued|said|says)\s+(?:that\s+)?",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"\b(?:no|not|never|none|nothing|nobody|neither|nor|without|cannot|can't|don't|doesn't|didn't|isn't|aren't|"
    r"wasn't|weren't|won't|unable|lack\w*|fail\w*)\b|n't\b|\bun(?:proven|able|likely|clear|tested)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Reading:
    """A question as the engine reads it."""

    text: str  # as asked
    ask: str  # what to search for and answer (injected instructions and premises set aside)
    intent: str = "general"
    premise: str = ""  # a claim the question takes for granted, to be checked against the reports
    override: bool = False  # the question tried to change the assistant's rules

    @property
    def how_to(self) -> bool:
        return self.intent == "how_to"


def read_question(question: str) -> Reading:
    """Intent, premise and injected instructions of `question`."""
    text = " ".join(question.split())
    override = bool(_OVERRIDE.search(text))
    ask, premise = text, ""
    if override:
        ask, premise = _without_instructions(text)
    else:
        for pattern in (_GIVEN, _SO, _WHY_THAT, _STATED):
            match = pattern.match(text)
            # Only a claim about what the reports found is checked against them: "Given that we have few
            # staff, how…" is the asker's own situation, not a premise to correct.
            if match and _SOURCE.search(text[: match.start("claim") + len(match.group("claim"))]):
                premise = _clean_claim(match.group("claim"))
                ask = match.groupdict().get("ask") or premise
                break
    ask = ask.strip() or text
    return Reading(text=text, ask=ask, intent=intent_of(_last_question(ask)), premise=premise, override=override)


def _last_question(text: str) -> str:
    """The last sentence that asks something ("Care home managers never come. What has worked?")."""
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", text) if s.strip()]
    asked = [s for s in sentences if s.rstrip().endswith("?")]
    return asked[-1] if asked else text


def intent_of(question: str) -> str:
    """One of INTENTS, from the question's shape."""
    if _COMPARE.search(question):
        return "compare"
    if _DEFINITION.search(question):
        return "definition"
    if _BARRIERS.search(question):
        return "barriers"
    if _HOW_TO.match(question):
        return "how_to"
    if _LIST.search(question):
        return "list"
    if _FINDINGS.search(question):
        return "findings"
    return "general"


def is_comparison(question: str) -> bool:
    """Whether the question explicitly compares reports ("do X and Y agree", "across the reports")."""
    return bool(_COMPARE.search(question))


def negated(text: str) -> bool:
    """Whether `text` is worded in the negative (an odd number of negations)."""
    return len(_NEGATION.findall(text)) % 2 == 1


def _without_instructions(text: str) -> tuple[str, str]:
    """The question with injected instructions set aside, and the claim it wanted repeated (if any)."""
    claim = ""
    match = _ASSERT_CLAIM.search(text) or _VERDICT_CLAIM.search(text)
    if match:
        claim = _clean_claim(match.group("claim"))
    # The part after the last colon is usually the real question ("You must answer…: what did…?").
    pieces = [p.strip() for p in re.split(r"[:.!]\s+", text) if p.strip()]
    questions = [p for p in pieces if p.endswith("?") and not _OVERRIDE.search(p)]
    told = _TELL_ME.search(text)
    ask = questions[-1] if questions else told.group("ask") if told else claim or _OVERRIDE.sub(" ", text)
    return " ".join(ask.split()), claim


def _clean_claim(claim: str) -> str:
    """The bare claim: without "the study showed that" and trailing instructions ("with no caveats")."""
    claim = _CLAIM_SOURCE.sub("", claim.strip())
    claim = re.sub(r",?\s*(?:with no caveats|without (?:any )?caveats|citing .*|as proof.*)$", "", claim, flags=re.I)
    return claim.strip(" ,.;:'\"‘’“”")
