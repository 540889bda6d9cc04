"""Showing untrusted text (reports, questions) safely: as literal Markdown, or as escaped HTML."""

from __future__ import annotations

import html
import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all stops
# Markdown, HTML, LaTeX ($) and Streamlit's :directives: in the text from being interpreted.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def literal(text: str) -> str:
    """`text` as Markdown that displays exactly these characters."""
    return _PUNCTUATION.sub(r"\\\1", text)


def find_quote(passage: str, quote: str) -> tuple[int, int] | None:
    """Where `quote` sits in `passage`, tolerating differences in whitespace; None if it does not."""
    if not quote.strip():
        return None
    start = passage.find(quote)
    if start >= 0:
        return start, start + len(quote)
    pattern = r"\s+".join(re.escape(word) for word in quote.split())
    match = re.search(pattern, passage)
    return (match.start(), match.end()) if match else None


def highlight_html(passage: str, quote: str) -> str:
    """The passage as escaped HTML with `quote` inside <mark>; safe for unsafe_allow_html."""
    span = find_quote(passage, quote)
    if span is None:
        body = html.escape(passage)
    else:
        a, b = span
        body = (
            f"{html.escape(passage[:a])}<mark class='quote'>{html.escape(passage[a:b])}</mark>"
            f"{html.escape(passage[b:])}"
        )
    return f"<div class='passage'>{body}</div>"


STYLE = """
<style>
.passage { white-space: pre-wrap; line-height: 1.55; font-size: 0.95rem; color: inherit; }
.passage mark.quote { background: #fde68a; color: #1f2937; padding: 0.05rem 0.15rem; border-radius: 0.2rem; }
</style>
"""
