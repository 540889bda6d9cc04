"""How well each sentence answers the question: meaning, shared rare words, passage rank and what the question wants.

`relevance` orders the points; `directness` (the sentence's own fit, without its passage's rank or cues)
decides whether the best sentence answers the question or is only the closest evidence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from assistant.generate.base import WriteRequest
from assistant.generate.extractive.candidates import Candidate, about_literature
from assistant.lexical import tokenize
from assistant.question import Reading

# Weights, set on evals/cases.jsonl and checked on evals/heldout.jsonl (README, "How the writer was tuned").
W_MEANING, W_WORDS, W_SECTION, W_RANK, W_CUE = 0.9, 0.6, 0.3, 0.35, 0.25
EMBED_SHORTLIST = 12  # sentences embedded per question, after the cheap scores (each costs ~10 ms here)
PER_REPORT_SHORTLIST = 3
# A sentence whose own fit reaches this answers the question; below it, the answer says it found only the
# closest evidence. At 0.30 about one in-scope eval question in twenty gets "not directly" (and those leads
# rarely held a required fact); higher values refused leads that did answer.
DIRECT = 0.30

_CUES = {
    "how_to": r"should|need(?:s|ed)? to|must|recommend\w*|effective\w*|success\w*|work(?:s|ed)? (?:best|well)|"
    r"helps?|helped|good practice|key (?:to|factor)|important (?:to|that)|ensure|consider|approach(?:es)?|enabl\w*|"
    r"way(?:s)? (?:to|of)|can (?:be|help)|offer\w*|provid\w*|develop\w*|build\w*",
    "barriers": r"barriers?|lack\w*|difficult\w*|constrain\w*|reluctan\w*|costs?|time|pressures?|may not|do not|"
    r"did not|few|low|limited|unable|obstacles?|problems?|concerns?|risks?|perceiv\w*|not (?:want|need|see)",
    "definition": r"defin\w*|is any|refers? to|means?|meaning|the term|described as|understood as",
    "findings": r"found|findings?|show(?:ed|s)?|suggest\w*|evidence|conclu\w*|identif\w*|indicat\w*|revealed|"
    r"key|main|most",
    "list": r"types?|categor\w*|kinds?|forms?|two|three|four|five|six|following|includ\w*",
    "compare": r"both|whereas|while|however|contrast|similar\w*|differ\w*",
    "general": r"found|show\w*|suggest\w*|important|key|because|lead(?:s)? to|result\w*",
}
CUES = {k: re.compile(rf"\b(?:{v})\b", re.IGNORECASE) for k, v in _CUES.items()}
_FRAME = re.compile(
    r"\b(?:agree\w*|disagree\w*|compar\w*|differ\w*|both|each|across|reports?|studies|study|synthesis)\b", re.I
)
_SUMMARY = re.compile(r"\b(?:summary|key findings|conclusions?|recommendations|executive)\b", re.IGNORECASE)
_CASE_STUDY = re.compile(r"\bcase stud(?:y|ies)\b", re.IGNORECASE)
# Citing someone else's wording ("Hughes (2005) defines…", "(Smith et al., 2003)"), not the report's own.
_CITED = re.compile(r"\(\s*[^()]{0,40}(?:19|20)\d\d[a-z]?\s*\)|\bet al\b|\b[A-Z][a-z]+ \((?:19|20)\d\d\)")


# A sentence that leans on the one before it ("This may be compounded…") cannot open an answer.
_ANAPHORIC = re.compile(
    r"^(?:this|these|those|that|it|its|they|their|such|he|she|there|here|however|moreover|furthermore|also|"
    r"consequently|therefore|thus|in addition|additionally|similarly|likewise|again|finally|then|but|and|or|so)\b",
    re.IGNORECASE,
)


# "this individual", "the employer concerned": a sentence about one case already introduced, not a finding.
_POINTS_BACK = re.compile(
    r"\b(?:this|that|these|those)\s+(?:individual|person|people|employer|company|firm|interviewee|respondent|"
    r"participant|case|example|project|scheme|programme|organisation)s?\b",
    re.IGNORECASE,
)


def can_lead(c: Candidate) -> bool:
    """A complete body sentence that makes sense on its own, as the first line of an answer must."""
    return c.kind == "body" and c.complete and not _ANAPHORIC.match(c.text) and not _POINTS_BACK.search(c.text)


def is_case_study(c: Candidate) -> bool:
    """From a case-study section: an example, not a finding."""
    return any(_CASE_STUDY.search(s) for s in c.chunk.section)


def score(request: WriteRequest, reading: Reading, pool: list[Candidate]) -> dict[int, np.ndarray]:
    """Set each candidate's relevance and directness; returns the sentence vectors computed (by id)."""
    weight = request.term_weight or (lambda _t: 1.0)
    term_of = _defined_term(request.topic or reading.ask) if reading.intent == "definition" else ""
    # For a definition, the term itself is the topic: "define" would favour sentences about definitions.
    topic = term_of or request.topic or reading.ask
    # "Do X and Y agree on what stops…": the comparison's frame is not its topic.
    topic_terms = set(tokenize([_FRAME.sub(" ", topic)])[0]) or set(tokenize([topic])[0])
    total = sum(weight(t) for t in topic_terms) or 1.0
    cue = CUES.get(reading.intent, CUES["general"])
    section_terms: dict[tuple[str, ...], float] = {}
    for c in pool:
        # A lead-in is judged with its first items only: a long list must not win by sheer number of words.
        terms = set(tokenize([c.scored_text])[0])
        lexical = sum(weight(t) for t in topic_terms & terms) / total
        if c.chunk.section not in section_terms:
            # The report's own structure: a sentence under "Creating the conditions to engage small
            # businesses" is about engaging small businesses, whatever its own words.
            heading_terms = set(tokenize([" ".join(c.chunk.section)])[0])
            section_terms[c.chunk.section] = sum(weight(t) for t in topic_terms & heading_terms) / total
        cues = min(1.0, len(cue.findall(c.scored_text)) / 2)
        rank = 1.0 / math.sqrt(c.passage)
        c.features = {
            "lexical": lexical,
            "cue": cues,
            "rank": rank,
            "meaning": 0.0,
            "section": section_terms[c.chunk.section],
        }
        c.relevance = (
            W_WORDS * lexical
            + W_SECTION * c.features["section"]
            + W_RANK * rank
            + W_CUE * cues
            + _adjust(c, reading, request)
        )
        if term_of and _defines(c.text, term_of):
            c.relevance += 0.4  # "'Employer engagement' is any form of contact…": the report's own definition
            c.features["cue"] = 1.0
    vectors: dict[int, np.ndarray] = {}
    ordered = sorted(pool, key=lambda c: -c.relevance)
    # Each report's best few are embedded too, so a report with strong evidence is judged on its meaning.
    shortlist = list(ordered[:EMBED_SHORTLIST])
    for report in dict.fromkeys(c.report for c in ordered):
        shortlist += [c for c in ordered if c.report == report and c not in shortlist][:PER_REPORT_SHORTLIST]
    if shortlist and request.embed is not None and request.question_vector is not None:
        embedded = np.asarray(request.embed([c.whole for c in shortlist]), dtype=np.float32)
        similarity = embedded @ np.asarray(request.question_vector, dtype=np.float32)
        for c, vector, s in zip(shortlist, embedded, similarity, strict=True):
            c.features["meaning"] = float(s)
            c.relevance += W_MEANING * float(s)
            vectors[id(c)] = vector
    for c in pool:
        f = c.features
        c.directness = 0.5 * f["meaning"] + 0.5 * f["lexical"] + 0.1 * f["cue"]
    return vectors


_DEFINING_WORDS = re.compile(
    r"(?i:\b(?:how|what|did|does|do|is|are|was|the|a|an|of|by|mean|means|meant|define[sd]?|definitions?|defining|"
    r"understand|understood|term|they|their|its|study|report|research|authors?)\b)|\b[A-Z]{2,}s?\b|[?'‘’\"“”]"
)


def _defined_term(topic: str) -> str:
    """The term a definition question asks about ("How did the SSDA define employer engagement?" ->
    "employer engagement")."""
    return " ".join(_DEFINING_WORDS.sub(" ", topic).split()).lower()


def _defines(sentence: str, term: str) -> bool:
    """The sentence opens with the term and says what it is ("'X' is…", "X means…", "X is defined as…")."""
    opening = re.sub(r"^[\s'‘’\"“”]+", "", sentence).lower().replace("’", "'").replace("‘", "'")
    if not term or not opening.startswith(term):
        return False
    rest = opening[len(term) :].lstrip("'\" ")
    return bool(re.match(r"(?:is|are|means?|refers? to|can be defined|is defined|is understood)\b", rest))


def _adjust(c: Candidate, reading: Reading, request: WriteRequest) -> float:
    """What the question's intent and the sentence's place in its report add or take away."""
    bonus = 0.0
    section = " ".join(c.chunk.section)
    if about_literature(c.text):
        bonus -= 0.45  # describes publications, not the topic
    if not c.complete and c.kind == "body":
        bonus -= 0.2  # a fragment ("or both:")
    if is_case_study(c) and reading.intent in ("findings", "definition", "general", "compare"):
        bonus -= 0.15  # anecdote after findings
    if reading.intent == "findings" and _SUMMARY.search(section):
        bonus += 0.2  # "what did X find" draws first on its summary, key findings and conclusions
    if reading.intent == "definition":
        if _CITED.search(c.text):
            bonus -= 0.3  # someone else's definition quoted by the report
        if _SUMMARY.search(section) or re.search(r"defin", section, re.IGNORECASE):
            bonus += 0.1
    if reading.intent in ("how_to", "list") and c.kind in ("lead_in", "list_item"):
        bonus += 0.1  # lists of what to do, quoted under their lead-in
    if request.audience == "policy" and _SUMMARY.search(section):
        bonus += 0.05
    return bonus


def claim_fit(claim: str, candidates: Sequence[Candidate], request: WriteRequest) -> list[tuple[float, Candidate]]:
    """How closely each candidate speaks to `claim` (shared rare words and meaning), best first."""
    if not claim or not candidates:
        return []
    weight = request.term_weight or (lambda _t: 1.0)
    terms = set(tokenize([claim])[0])
    total = sum(weight(t) for t in terms) or 1.0
    lexical = [sum(weight(t) for t in terms & set(tokenize([c.whole])[0])) / total for c in candidates]
    order = sorted(range(len(candidates)), key=lambda i: -lexical[i])[:EMBED_SHORTLIST]
    meaning = [0.0] * len(candidates)
    if request.embed is not None:
        vectors = np.asarray(request.embed([claim] + [candidates[i].whole for i in order]), dtype=np.float32)
        for i, s in zip(order, vectors[1:] @ vectors[0], strict=True):
            meaning[i] = float(s)
    # Meaning weighs more: a claim is usually worded differently from the evidence ("public money" and
    # "public funding").
    scored = [(0.3 * lexical[i] + 0.7 * meaning[i], candidates[i]) for i in range(len(candidates))]
    return sorted(scored, key=lambda x: -x[0])
