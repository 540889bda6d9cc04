"""Whether a question in a conversation stands on its own, and what it borrows from earlier turns when not.

The rule, from the question's own content, checked by retrieval:

1. **Its own topic.** The topic words are the words left once question and function words (scikit-learn's
   English stop-word list), words about the reports rather than their content ("say", "study") and report
   names are removed, keeping only words the corpus uses.
2. **Whether it points back.** A question points back when it uses a pro-form (a personal or possessive
   pronoun, a demonstrative, "one(s)"), opens with a coordinating conjunction ("and in small firms?")
   or with "what/how about". These are closed grammatical classes of English, not phrases collected
   from cases, and none of them alone makes a question a follow-up ("What stops small firms from
   training their staff?" has its referent in itself).
3. **The decision.**
   - Fewer than two topic words ("Why?", "What about the LSDA report?", "How can that be overcome?"):
     there is nothing of its own to search by, so it borrows the topic.
   - Two or more topic words and no pointing back: it stands alone.
   - Pointing back with at most two topic words ("What are the drawbacks of it?"), or with a
     demonstrative ("those types", "this approach", which always refer outside the question): it borrows.
   - Pointing back with more of its own topic: retrieval decides. The question is searched alone and
     with the carried context; the context is kept only when it raises the best passage's similarity
     by more than `GAIN_PER_TOPIC_WORD` per topic word the question brings. A question vague on its
     own finds much closer evidence once the topic is added; a specific one gains little or loses,
     and the more topic it brings, the more the context must add to be believed.
4. **What is borrowed.** The topic words of the previous turn, in order and with a lone function word
   between two of them kept ("Centres of Vocational Excellence"), walking further back while a turn itself
   leaned on the one before; and its report focus (the report names in those turns) unless the new
   question names reports of its own, which then win ("What about the LSDA report?" keeps the topic
   and switches the report).

A question that stands alone is retrieved with exactly the call used when it is asked alone, and with
an LLM writer the same check guards `condense`: only a question that needs the conversation is condensed.
The thresholds (two topic words, 0.06 per word) were set on evals/conversations.jsonl; see README.
Earlier turns are read by content alone (rules 1-3 without the retrieval check), which keeps a long
conversation from costing a retrieval per turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assistant.lexical import tokenize
from assistant.plan import Plan
from assistant.retrieval import HybridRetriever, Retrieval

#: Minimum topic words for a question to be searchable on its own at all.
MIN_TOPIC_WORDS = 2
#: Pointing back with at most this many topic words: the referent must come from the conversation.
THIN_TOPIC_WORDS = 2
#: How far back the carried topic may reach.
MAX_CARRIED_TURNS = 3
MAX_CARRIED_WORDS = 30
# Measured on evals/conversations.jsonl with MiniLM: follow-ups that point back gain 0.2-0.6 in best
# similarity from the carried topic, independent questions -0.3 to +0.19 spread over 3-9 topic words.
GAIN_PER_TOPIC_WORD = 0.06

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|\d{4}")
# Pro-forms, conjunctions and "what/how about": closed word classes of English grammar.
_PRO_FORM = re.compile(
    r"\b(?:it|its|itself|they|them|their|theirs|themselves|he|she|him|her|his|that|such|one|ones)\b", re.IGNORECASE
)
# A demonstrative ("those types", "this approach") points outside the question; "that" is left to
# _PRO_FORM because it is as often a conjunction ("say that ...").
_DEMONSTRATIVE = re.compile(r"\b(?:this|these|those)\b", re.IGNORECASE)
_OPENING = re.compile(r"^\W*(?:and|but|so|also|or|then|plus)\b|^\W*(?:what|how)\s+about\b", re.IGNORECASE)
# Words about the reports rather than what they say (stop-word lists keep these).
_ASKING = {
    "did", "does", "say", "says", "said", "tell", "report", "reports", "study", "studies", "research",
    "researchers", "finding", "findings", "paper", "papers", "article", "articles", "author", "authors",
    "mean", "means", "meant", "according", "suggest", "suggests", "think", "describe", "described", "describes",
    "discuss", "discussed", "mention", "mentioned", "synthesis", "review", "survey",
}


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    # scikit-learn (already installed with sentence-transformers) keeps a well-known English list.
    return _sklearn_stop_words() | frozenset(_ASKING)


def _sklearn_stop_words() -> frozenset[str]:
    """scikit-learn's ENGLISH_STOP_WORDS, read from its own file without importing scikit-learn.

    `sklearn.feature_extraction.text` imports scipy and most of scikit-learn (about 2 s and 150 MB in a
    fresh process) for one frozenset; the file that defines it imports nothing, so it is run on its own.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # a top-level package is found without being imported
    folder = spec.submodule_search_locations if spec is not None else None
    if folder:
        path = Path(list(folder)[0]) / "feature_extraction" / "_stop_words.py"
        loaded = importlib.util.spec_from_file_location("_sklearn_stop_words", path)
        if path.is_file() and loaded is not None and loaded.loader is not None:
            module = importlib.util.module_from_spec(loaded)
            loaded.loader.exec_module(module)
            return frozenset(module.ENGLISH_STOP_WORDS)
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # another layout: the slow, sure way

    return frozenset(ENGLISH_STOP_WORDS)


@dataclass(frozen=True)
class Reading:
    """What a question brings by itself: topic words, report names, and whether it points back."""

    question: str
    topic: tuple[str, ...]
    names: tuple[str, ...]  # words that name a report ("SSDA", "Hodgson")
    points_back: bool
    demonstrative: bool = False  # "this", "these", "those": always refers outside the question

    @property
    def stands_alone_by_content(self) -> bool:
        """True when the words alone settle it: enough topic and nothing pointing back."""
        return len(self.topic) >= MIN_TOPIC_WORDS and not self.points_back

    @property
    def needs_topic(self) -> bool:
        """True when the words alone say the topic must come from the conversation."""
        thin = len(self.topic) <= THIN_TOPIC_WORDS
        return len(self.topic) < MIN_TOPIC_WORDS or self.demonstrative or (self.points_back and thin)


@dataclass(frozen=True)
class Resolution:
    """How a question was searched: the retrieval, the query, and `searched_as` when context was added."""

    found: Retrieval
    query: str
    searched_as: str = ""  # "" when the question stood on its own
    borrowed: tuple[str, ...] = ()  # "topic", "report focus"
    reason: str = ""


def _base(word: str) -> str:
    """A word lower-cased, without a possessive 's."""
    base = word.lower().replace("’", "'")
    return base[:-2] if base.endswith("'s") else base


def read(question: str, retriever: HybridRetriever) -> Reading:
    """The topic words, report names and pointing-back of `question`, against the indexed corpus."""
    stop = _stop_words()
    vocabulary = retriever.lexical.idf
    topic: list[str] = []
    names: list[str] = []
    for word in _WORD.findall(question):
        if retriever.router.named(word):
            names.append(word)
            continue
        base = _base(word)
        if len(base) < 3 or base in stop:
            continue
        tokens = tokenize([base])[0]
        if tokens and tokens[0] in vocabulary:
            topic.append(base)
    demonstrative = bool(_DEMONSTRATIVE.search(question))
    points_back = demonstrative or bool(_PRO_FORM.search(question) or _OPENING.search(question))
    return Reading(question, tuple(topic), tuple(names), points_back, demonstrative)


def carried(history: Sequence[str], retriever: HybridRetriever, *, with_names: bool) -> str:
    """The topic (and report focus, if `with_names`) the conversation carries into the next question.

    Each turn contributes the stretch of its own words from its first topic word to its last, so
    phrases stay whole ("Centres of Vocational Excellence" still meets its acronym). The walk goes
    back while a turn itself leaned on an earlier one (it pointed back or brought little topic).
    """
    spans: list[str] = []
    for turn in list(reversed(history))[:MAX_CARRIED_TURNS]:
        reading = read(turn, retriever)
        span = _span(turn, [*reading.topic, *reading.names])
        if span and not with_names:
            span = retriever.router.strip_names(span, retriever.router.named(span))
        if span:
            spans.insert(0, span)
        if not reading.points_back and len(reading.topic) > THIN_TOPIC_WORDS:
            break
    words = "; ".join(spans).split()
    return " ".join(words[-MAX_CARRIED_WORDS:])  # a long earlier question must not swamp the new one


def _span(text: str, words: Sequence[str]) -> str:
    """The `words` of `text` in order, with a lone function word kept between two of them.

    "What were Centres of Vocational Excellence?" gives "Centres of Vocational Excellence", so a
    phrase still meets its acronym and reads as a phrase; question and asking words drop out.
    """
    wanted = {_base(w) for w in words}
    tokens = [m.group(0) for m in _WORD.finditer(text)]
    keep = [_base(t) in wanted for t in tokens]
    kept = [
        t
        for i, t in enumerate(tokens)
        if keep[i] or (0 < i < len(tokens) - 1 and keep[i - 1] and keep[i + 1] and _base(t) in _stop_words())
    ]
    return " ".join(kept)


def resolve(
    plan: Plan,
    history: Sequence[str],
    retriever: HybridRetriever,
    k: int,
    condense: Callable[[Sequence[str], str], str] | None = None,
) -> Resolution:
    """Retrieve for `plan` (the question read once) in its conversation: alone when it stands alone, else
    with what it lacks, by a plan for the question with its context (which keeps the user's reading).

    `condense` (an LLM writer's) rewrites a question that needs the conversation; it is never called
    for one that stands alone.
    """
    question = plan.searched

    def alone() -> Retrieval:
        return retriever.search(plan, k)

    def with_(query: str) -> Retrieval:
        context_plan = retriever.plan(
            query, plan.chosen, question=plan.question, reading=plan.reading, searched_as=query
        )
        return retriever.search(context_plan, k)

    if not history:
        return Resolution(alone(), question, reason="no conversation")
    reading = read(question, retriever)
    if reading.stands_alone_by_content:
        return Resolution(alone(), question, reason="its own topic, nothing pointing back")
    names_own = bool(reading.names)
    context = carried(history, retriever, with_names=not names_own)
    if not context:
        return Resolution(alone(), question, reason="nothing to carry from the conversation")
    query = f"{question} ({context})"
    with_context = with_(query)
    if not reading.needs_topic:
        solo = alone()
        gain = with_context.best_dense - solo.best_dense
        if gain <= GAIN_PER_TOPIC_WORD * len(reading.topic):
            return Resolution(solo, question, reason=f"specific on its own (context adds {gain:+.2f})")
    borrowed = ("topic",) if names_own or not retriever.router.named(context) else ("topic", "report focus")
    if condense is not None:
        query = condense(list(history), question).strip() or query
        with_context = with_(query)
    return Resolution(with_context, query, searched_as=query, borrowed=borrowed, reason="needs the conversation")
