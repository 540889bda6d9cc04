"""The command line: ingest, search, ask, chat, reports and eval. A thin edge over the engine.

This module sits beside app.py at the top of the import graph: it may use assistant, ingest and
evals; none of those import it. Errors from the engine become a one-line message and exit code 1.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from assistant.config import Settings, prepare_runtime
from assistant.errors import AssistantError

app = typer.Typer(
    help="Evidence assistant for employer engagement: answers cited to research reports.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
console = Console()
errors = Console(stderr=True)

_state: dict[str, Any] = {}
MAX_K = 50  # `search -k`: more passages than retrieval's candidate lists hold would be padding

# -- the one safe printer: report text, file names and messages are data, never markup or escapes ------

# Terminal escape sequences (CSI, OSC such as hidden hyperlinks, and two-byte ones), removed whole so
# their parameters do not show either; then any remaining control character goes. Written here because
# Rich's own helpers do not do this: strip_control_codes keeps ESC, and Text.from_ansi turns an OSC 8
# link back into a live one.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]")
# Bidirectional overrides and isolates reorder what the terminal shows ("Trojan source").
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean(text: object) -> str:
    """`text` without terminal escapes or control characters (tabs and newlines stay)."""
    value = _ESCAPES.sub("", str(text))
    return "".join(
        ch for ch in value if ch in "\n\t" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI)
    )


def say(*parts: str | tuple[str, str], err: bool = False) -> None:
    """Print literally (no markup parsed, no escapes passed): a plain string, or (text, style) pieces."""
    pieces = [(clean(p), "") if isinstance(p, str) else (clean(p[0]), p[1]) for p in parts]
    (errors if err else console).print(Text.assemble(*pieces), highlight=False, soft_wrap=True)


def cell(value: object) -> Text:
    """A table cell shown as it is (Rich would parse a plain string as markup)."""
    return Text(clean(value))


def json_line(value: Any) -> None:
    """Print one JSON line; C1 controls and bidi marks are \\u-escaped (JSON already escapes the rest)."""
    # A lone surrogate (from a \\ud800 escape in the input) cannot be printed as UTF-8: it stays escaped.
    text = json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8")
    print(re.sub("[\x80-\x9f\u202a-\u202e\u2066-\u2069]", lambda m: f"\\u{ord(m.group()):04x}", text), flush=True)


def _settings(**overrides: Any) -> Settings:
    settings = Settings.load(**_state, **overrides)
    if settings.index_dir.exists() and not settings.index_dir.is_dir():
        raise AssistantError(
            f"{settings.index_dir} is a file, not a folder: name a folder for the index "
            "(--index-dir or ASSISTANT_INDEX_DIR); it is created if missing."
        )
    return settings


def _warn_damage(assistant: Any) -> None:
    """One line per damaged file of the index serving (answering goes on without it; ingest repairs it)."""
    for notice in assistant.retriever.notices:
        say(("Warning: ", "yellow"), notice, err=True)


def edge(func: Callable) -> Callable:
    """Turn engine errors into a short message and exit code 1, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AssistantError as exc:
            say(("Error: ", "bold red"), str(exc), err=True)
            raise typer.Exit(1) from None
        except EOFError as exc:
            # Click takes an EOFError for Ctrl-D and prints only "Aborted.": here it is a file that ended
            # too soon (the one Ctrl-D that matters, in `chat`, is handled there).
            say(("Error: ", "bold red"), f"a file of the index ended too soon ({exc or 'EOFError'}). "
                "Run `assistant ingest` to repair the index.", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            say("Interrupted.", err=True)
            raise typer.Exit(130) from None

    return wrapper


@app.callback()
def main(
    index_dir: Annotated[Path | None, typer.Option(help="Index folder (ASSISTANT_INDEX_DIR).")] = None,
    corpus_dir: Annotated[Path | None, typer.Option(help="Reports folder (ASSISTANT_CORPUS_DIR).")] = None,
    chroma_url: Annotated[
        str | None, typer.Option(help="Use a Chroma server, e.g. http://127.0.0.1:8000 (ASSISTANT_CHROMA_URL).")
    ] = None,
) -> None:
    """Settings come from defaults, then ASSISTANT_* variables, then these flags."""
    prepare_runtime()
    _state.clear()
    _state.update(
        {k: v for k, v in {"index_dir": index_dir, "corpus_dir": corpus_dir, "chroma_url": chroma_url}.items() if v}
    )


@app.command()
@edge
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (default: the corpus folder).")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start from an empty index.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    allow_skipped: Annotated[
        bool, typer.Option("--allow-skipped", help="Exit 0 even if some files were skipped (they are listed).")
    ] = False,
) -> None:
    """Index reports (PDF, TXT, Markdown) incrementally: only new or changed files are embedded.

    The index switches to the new version only when it is complete; until then, and if the run is
    interrupted, questions are answered from the previous one. Example: `assistant ingest corpus/ --rebuild`
    """
    from ingest.pipeline import run_ingest

    settings = _settings()

    def announce(estimate) -> None:  # before the first passage is embedded: how long this will take
        say(("Embedding: ", "cyan"), estimate.describe(), err=True)

    summary = run_ingest(settings, paths or None, rebuild=rebuild, progress=not quiet, on_estimate=announce)
    table = Table(title="Ingest summary", show_header=False)
    table.add_row("files seen", str(summary.files))
    table.add_row("indexed (new or changed)", str(len(summary.indexed)))
    table.add_row("unchanged", str(len(summary.unchanged)))
    table.add_row("removed", str(len(summary.removed)))
    table.add_row("chunks embedded", str(summary.chunks_embedded))
    table.add_row("chunks deleted", str(summary.chunks_deleted))
    table.add_row("chunks in index", str(summary.total_chunks))
    table.add_row("skipped (failed)", str(len(summary.failures)))
    table.add_row("seconds", f"{summary.seconds:.1f}")
    table.add_row("index version", cell(summary.generation or "none yet"))
    console.print(table)
    for source, encoding in summary.encodings.items():
        say(("Read as: ", "cyan"), f"{source}: {encoding}", err=True)
    for warning in summary.warnings:
        say(("Warning: ", "yellow"), warning, err=True)
    for failure in summary.failures:
        say(("Skipped: ", "red"), failure.reason, err=True)
    if summary.failures and not allow_skipped:
        raise typer.Exit(1)


@app.command()
@edge
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help=f"How many passages (1-{MAX_K}).")] = 5,
    report: Annotated[list[str] | None, typer.Option("--report", help="Only this report id (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Show the top passages for a query, with report, section, location and score.

    Example: `assistant search "how did the SSDA define employer engagement" -k 3`
    """
    from assistant.chain import Assistant

    if not 1 <= k <= MAX_K:
        raise AssistantError(f"-k must be between 1 and {MAX_K} (got {k}).")
    assistant = Assistant.from_settings(_settings())
    found = assistant.retriever.retrieve(assistant.check_question(query), k, assistant.check_reports(report))
    _warn_damage(assistant)
    if as_json:
        for p in found.passages:
            row = {
                "rank": p.rank,
                "chunk_id": p.chunk.chunk_id,
                "report": p.chunk.report,
                "title": p.chunk.title,
                "section": p.chunk.section_label,
                "location": p.chunk.location,
                "score": round(p.score, 4),
                "text": p.chunk.text,
            }
            json_line(row)
        return
    for p in found.passages:
        console.rule(
            cell(f"{p.rank}. {p.chunk.report} · {p.chunk.section_label} · {p.chunk.location} · score {p.score:.4f}")
        )
        say(p.chunk.text)


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        json_line(answer.to_dict())
        return
    # Printed as text, not rendered as Markdown: rendering would drop HTML and links from quotes,
    # and a quote must reach the reader exactly as the report has it.
    say(answer.answer)
    if answer.notice:
        say((answer.notice, "yellow"), err=True)
    if answer.citations:
        say(("\nSources", "bold"))
        for c in answer.citations:
            say(f"[{c.n}] {c.byline} ({c.year or 'n.d.'}) {c.title} — {c.section}, {c.location}")


@app.command()
@edge
def ask(
    question: Annotated[str | None, typer.Argument(help="Your question (omit with --batch).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    report: Annotated[list[str] | None, typer.Option("--report", help="Only this report id (repeatable).")] = None,
    writer: Annotated[str | None, typer.Option(help="Answer writer: extractive, ollama, openai.")] = None,
    audience: Annotated[str | None, typer.Option(help="practitioner or policy.")] = None,
    batch: Annotated[Path | None, typer.Option(help="JSONL file of {id, question, history}.")] = None,
) -> None:
    """Answer a question from the reports, every point cited.

    Example: `assistant ask "How can colleges engage small employers?"`
    or `assistant ask --batch questions.jsonl --json`
    """
    from assistant.chain import Assistant

    settings = _settings(writer=writer, audience=audience)
    if batch is None and not question:
        raise AssistantError("Give a question, or --batch FILE.jsonl.")
    assistant = Assistant.from_settings(settings)
    if batch is None:
        answer = assistant.ask(question or "", None, report)
        _warn_damage(assistant)
        _print_answer(answer, as_json)
        return
    warned = False
    for line_no, line in _read_batch(batch):
        item_id = None
        try:
            item = _batch_item(line)
            item_id = item.get("id")
            answer = assistant.ask(item["question"], item.get("history"), item.get("reports") or report, id=item_id)
            if not warned:
                _warn_damage(assistant)
                warned = True
            json_line(answer.to_dict())
        except AssistantError as exc:
            json_line({"id": getattr(exc, "item_id", item_id), "line": line_no, "error": clean(exc)})
        except Exception as exc:  # one bad line must never stop the rest of the batch
            reason = f"could not answer ({type(exc).__name__}: {exc})"
            json_line({"id": item_id, "line": line_no, "error": clean(reason)})


def _read_batch(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of each non-blank line; a missing or non-UTF-8 file is a one-line error."""
    if not path.is_file():
        raise AssistantError(f'{path}: not found; give a JSONL file with one {{"question": ...}} per line.')
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise AssistantError(f"{path}: not UTF-8 text (line {line}); save the batch file as UTF-8.") from None
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _batch_item(line: str) -> dict[str, Any]:
    """One batch line as {"id", "question", "history", "reports"}, or `AssistantError` saying what is wrong."""
    try:
        item = json.loads(line)
    except RecursionError:
        raise AssistantError("bad input line: JSON nested too deeply") from None
    except ValueError as exc:
        raise AssistantError(f"bad input line: not JSON ({exc})") from None
    if not isinstance(item, dict):
        raise AssistantError('bad input line: give a JSON object such as {"id": "q1", "question": "..."}')
    item_id = item.get("id")
    if item_id is not None and (isinstance(item_id, bool) or not isinstance(item_id, str | int | float)):
        raise AssistantError("bad input line: id must be a string or a number")
    if isinstance(item_id, str) and not _encodable(item_id):
        raise AssistantError("bad input line: id holds a lone surrogate (\\ud800-\\udfff); give valid Unicode text")
    for key in ("question", "history", "reports"):
        if not _encodable(item.get(key)):
            raise _BadItem(item_id, f'bad input line: "{key}" holds a lone surrogate; give valid Unicode text')
    if not isinstance(item.get("question"), str):
        raise _BadItem(item_id, 'bad input line: "question" must be a string')
    for key in ("history", "reports"):
        value = item.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise _BadItem(item_id, f'bad input line: "{key}" must be a list of strings')
    return {"id": item_id, "question": item["question"], "history": item.get("history"), "reports": item.get("reports")}


def _encodable(value: Any) -> bool:
    """Whether every string in `value` is valid Unicode: JSON's \\ud800 escapes decode to lone surrogates,
    which no output (a terminal, JSON in UTF-8) can carry."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


class _BadItem(AssistantError):
    """A batch line that parsed, with a usable id, but a field of the wrong kind."""

    def __init__(self, item_id: Any, message: str):
        super().__init__(message)
        self.item_id = item_id


CHAT_HELP = """Commands:
  /help        this list
  /new         forget the conversation and start again
  /report ID   search only that report (several ids: several reports); /report alone clears it
  /quit        end the session (so does Ctrl-D)
Anything else is a question. A question that stands on its own is answered as if asked first;
one that leans on the conversation ("and how were they funded?") borrows what it lacks."""


@app.command()
@edge
def chat(
    report: Annotated[list[str] | None, typer.Option("--report", help="Only this report id (repeatable).")] = None,
    writer: Annotated[str | None, typer.Option(help="Answer writer: extractive, ollama, openai.")] = None,
) -> None:
    """An interactive session that remembers the conversation. /help lists the commands; /quit or Ctrl-D ends it.

    Example: `assistant chat` then "What are employer networks?" and "And how were they funded?"
    """
    from assistant.chain import Assistant

    assistant = Assistant.from_settings(_settings(writer=writer))
    history: list[str] = []
    focus: list[str] = assistant.check_reports(report) or []
    say("Ask about the reports. /help lists the commands, /quit ends the session.")
    while True:
        try:
            line = console.input(Text("you> ", style="bold cyan")).strip()
        except EOFError:
            say("")
            break
        if not line:
            say("(Type a question, /help for the commands, or /quit to end the session.)")
            continue
        if line.startswith("/"):
            if _chat_command(line, assistant, history, focus) == "quit":
                break
            continue
        try:
            answer = assistant.ask(line, history, focus or None)
        except AssistantError as exc:
            say((str(exc), "red"), err=True)
            continue
        if answer.searched_as:
            say((f"Searched as: {answer.searched_as}", "dim"))
        if not history:
            _warn_damage(assistant)
        _print_answer(answer, as_json=False)
        history.append(line)


def _chat_command(line: str, assistant: Any, history: list[str], focus: list[str]) -> str:
    """Carry out one /command of `assistant chat`, changing `history` and `focus` in place."""
    name, _, argument = line.partition(" ")
    name, argument = name.lower(), argument.strip()
    if name in {"/quit", "/exit", "/q"}:
        return "quit"
    if name == "/help":
        say(CHAT_HELP)
    elif name == "/new":
        history.clear()
        say("New conversation: earlier questions are forgotten.")
    elif name == "/report":
        if not argument:
            focus.clear()
            say("Report focus cleared: searching all reports.")
            return ""
        try:
            focus[:] = assistant.check_reports(argument.split())
        except AssistantError as exc:
            say((str(exc), "red"), err=True)
            return ""
        say(f"Focus: {', '.join(focus)}. /report alone clears it.")
    else:
        say(f"Unknown command {name}: /help lists the commands.", err=True)
    return ""


@app.command()
@edge
def reports() -> None:
    """List the reports in the catalog and the index, with chunk counts.

    Example: `assistant reports`
    """
    from assistant.chain import Assistant

    assistant = Assistant.from_settings(_settings())
    counts: dict[str, int] = {}
    for chunk in assistant.retriever.lexical.chunks:
        counts[chunk.report] = counts.get(chunk.report, 0) + 1
    table = Table("id", "year", "title", "by", "chunks")
    for info in assistant.catalog:
        table.add_row(*(cell(v) for v in (info.id, info.year or "", info.title, info.byline, counts.get(info.id, 0))))
    console.print(table)


@app.command()
@edge
def brief(
    questions: Annotated[list[str], typer.Argument(help="One or more questions, each answered in the note.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The note to write: note.docx (Word) or note.md.")],
    report: Annotated[list[str] | None, typer.Option("--report", help="Only this report id (repeatable).")] = None,
    audience: Annotated[str | None, typer.Option(help="practitioner or policy.")] = None,
) -> None:
    """Answer each question and write one briefing note (Word or Markdown) with numbered references.

    Example: `assistant brief "How can colleges engage small employers?" "What stops them training?" --out note.docx`
    """
    from datetime import date

    from assistant.chain import Assistant
    from assistant.export import FORMATS, write_briefing

    if out.suffix.lower() not in FORMATS:
        raise AssistantError(f"{out.name}: a briefing is written as .md or .docx; give --out note.docx or note.md.")
    if not out.parent.is_dir():  # before answering, not after
        raise AssistantError(f"{out.parent}: no such folder; create it or choose another --out path.")
    assistant = Assistant.from_settings(_settings(audience=audience))
    answers = [assistant.ask(q, None, report) for q in questions]
    write_briefing(out, answers, assistant.catalog, generated=date.today().isoformat())
    cited = sum(len(a.citations) for a in answers)
    console.print(f"Wrote {out} ({len(answers)} question(s), {cited} quote(s)).", highlight=False, markup=False)


@app.command(name="eval")
@edge
def evaluate(
    writer: Annotated[str | None, typer.Option(help="Answer writer to evaluate.")] = None,
    baseline: Annotated[bool, typer.Option("--baseline", help="Also score the tutorial pipeline.")] = False,
    cases: Annotated[Path | None, typer.Option(help="Cases file (default evals/cases.jsonl).")] = None,
    gate: Annotated[bool, typer.Option("--gate", help="Fail if a metric is below evals/thresholds.toml.")] = False,
    out: Annotated[Path | None, typer.Option(help="Report folder (default evals/reports).")] = None,
    conversations: Annotated[
        bool, typer.Option("--conversations/--no-conversations", help="Also score evals/conversations.jsonl.")
    ] = True,
) -> None:
    """Score answers against the known findings and write a report (JSON, Markdown, PNG).

    Also scores the conversation set (evals/conversations.jsonl) unless `--no-conversations`.

    Example: `assistant eval --baseline --gate`
    """
    from evals.runner import DEFAULT_CONVERSATIONS, run_cli

    code = run_cli(
        _settings(writer=writer),
        cases=cases,
        baseline=baseline,
        gate=gate,
        out=out,
        console=console,
        conversations=DEFAULT_CONVERSATIONS if conversations else None,
    )
    if code:
        raise typer.Exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
