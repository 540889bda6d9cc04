"""Showing untrusted text (reports, questions, answers built from them) safely in Streamlit.

Report text must stay inert: no Markdown, HTML, LaTeX or Streamlit directive (`:red[..]`, `:material/..:`)
from a report may render, no URL in it may become a link, and above all no remote image may load.
Report text (answers, quotes, passages, section titles) is therefore shown as escaped HTML in one HTML
block (`answer_html`, `passage_html`, `text_html`), which Markdown leaves alone: Streamlit autolinks
URLs in Markdown text however they are escaped. `literal` (every punctuation character backslash-escaped)
is for short text that is not a report's: catalog titles, questions, messages.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

from assistant.export import answer_lines, find_quote, sentence_span

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all stops
# Markdown, HTML, LaTeX ($) and Streamlit's :directives: in the text from being interpreted.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# C0/C1 control characters (ANSI escapes start with ESC) are dropped: they mean nothing on a web page.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def literal(text: str) -> str:
    """`text` as Markdown that displays exactly these characters."""
    return _PUNCTUATION.sub(r"\\\1", _CONTROL.sub("", text))


def answer_markdown(text: str, numbers: Mapping[int, int] | None = None) -> str:
    """An answer's Markdown with its own structure kept and every character of report text made literal.

    For places that render Markdown only; the app shows answers with `answer_html`, because Streamlit
    turns a URL in (even escaped) Markdown text into a link.
    """
    lines = []
    for prefix, pieces in answer_lines(text, numbers):
        shown = []
        for kind, value in pieces:
            if kind == "marker":
                shown.append(f"\\[{value}\\]")
            elif kind == "bold":
                shown.append(f"**{literal(value)}**")
            elif kind == "italic":
                shown.append(f"*{literal(value)}*")
            else:
                shown.append(literal(value))
        lines.append(prefix + "".join(shown))
    return "\n".join(lines)


_TAGS = {"bold": "strong", "italic": "em"}


def answer_html(text: str, numbers: Mapping[int, int] | None = None) -> str:
    """An answer as one HTML block: our structure (paragraphs, lists, bold, italic, [n]) as elements,
    every character of report text escaped. `numbers` maps citation numbers to the numbers shown.

    One block with no blank line inside, so Markdown leaves it alone: Streamlit's Markdown would
    otherwise turn a URL quoted from a report into a link, whatever the escaping.
    """
    out: list[str] = []
    open_list = ""
    for prefix, pieces in answer_lines(text, numbers):
        kind = "" if not prefix.strip() else "ul" if prefix.strip() == "-" else "ol"
        if open_list and kind != open_list:
            out.append(f"</{open_list}>")
            open_list = ""
        if not pieces:
            continue
        body = "".join(
            f"<span class='marker'>[{value}]</span>" if what == "marker"
            else f"<{_TAGS[what]}>{html_text(value)}</{_TAGS[what]}>" if what in _TAGS
            else html_text(value)
            for what, value in pieces
        ).strip()
        if kind:
            if not open_list:
                out.append(f"<{kind}>")
                open_list = kind
            out.append(f"<li>{body}</li>")
        else:
            out.append(f"<p>{body}</p>")
    if open_list:
        out.append(f"</{open_list}>")
    return f"<div class='answer'>{''.join(out)}</div>"


def text_html(text: str, css: str, tag: str = "div") -> str:
    """Report or catalog text as one escaped HTML element with class `css`."""
    return f"<{tag} class='{css}'>{html_text(text)}</{tag}>"


# Inside our HTML, Markdown characters become entities too: an HTML block is not parsed as Markdown,
# but this keeps the text inert even if Streamlit's Markdown pipeline did look inside it.
# ("#" is left alone: html.escape's own entities contain it, and it means nothing mid-line.)
_MARKDOWN_ENTITIES = {ord(ch): f"&#{ord(ch)};" for ch in "[]()!$:*_`~\\|{}"}


def html_text(text: str) -> str:
    """Report text as inert HTML: entities for HTML and Markdown characters, whitespace folded, no controls."""
    return html.escape(re.sub(r"\s+", " ", _CONTROL.sub("", text))).translate(_MARKDOWN_ENTITIES)


_inline = html_text


def _merged(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans, or spans with only spaces between them, as one."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and (a <= merged[-1][1] or not text[merged[-1][1]:a].strip()):
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def passage_html(text: str, marks: Sequence[tuple[int, int]] = ()) -> str:
    """The text as escaped HTML paragraphs, the characters in `marks` (offsets into `text`) inside <mark>.

    A mark that spans a paragraph break becomes one <mark> per paragraph, so every highlighted line
    shows its text and no empty highlighted bar sits between paragraphs.
    """
    marks = _merged(text, marks)
    paragraphs: list[str] = []
    position = 0
    for brk in [*re.finditer(r"\n\s*\n", text), None]:
        pa, pb = position, brk.start() if brk else len(text)
        position = brk.end() if brk else len(text)
        if not text[pa:pb].strip():
            continue
        body, at = "", pa
        for a, b in marks:
            a, b = max(a, pa), min(b, pb)
            if a >= b:
                continue
            body += f"{_inline(text[at:a])}<mark class='quote'>{_inline(text[a:b]).strip()}</mark>"
            at = b
        body += _inline(text[at:pb])
        paragraphs.append(f"<p>{body.strip()}</p>")
    return f"<div class='passage'>{''.join(paragraphs)}</div>"


def quote_spans(
    passage: str, quotes: Sequence[str], sentences: Sequence[tuple[int, int]] = ()
) -> list[tuple[int, int]]:
    """The whole sentence(s) of `passage` around each quote found in it."""
    spans = (find_quote(passage, q) for q in quotes)
    return [sentence_span(passage, span, sentences) for span in spans if span]


def highlight_html(passage: str, *quotes: str) -> str:
    """The passage as escaped HTML with the whole sentence(s) holding each quote inside <mark>."""
    return passage_html(passage, quote_spans(passage, quotes))


def quote_html(quotes: Sequence[str]) -> str:
    """Quotes as escaped HTML block quotes in the page's normal text colour."""
    # Not <blockquote>: Streamlit styles those in a light grey; quotes are the evidence, in full contrast.
    items = "".join(f"<div class='source-quote'>“{_inline(q).strip()}”</div>" for q in quotes)
    return f"<div class='source-quotes'>{items}</div>"


STYLE = """
<style>
.answer p, .answer li { line-height: 1.6; }
.answer .marker { font-weight: 600; white-space: nowrap; }
.source-head { font-weight: 600; }
.source-facts, .source-place, .where { color: inherit; font-size: 0.875rem; opacity: 0.85; }
.passage { line-height: 1.55; font-size: 0.95rem; color: inherit; }
.passage p { margin: 0 0 0.6rem 0; }
.passage mark.quote { background: #fde68a; color: #1f2937; padding: 0.05rem 0.1rem; border-radius: 0.2rem; }
.source-quote { margin: 0.25rem 0 0.5rem 0; padding-left: 0.75rem; border-left: 3px solid #9ca3af;
  color: inherit; font-size: 1rem; line-height: 1.5; }
</style>
"""
