"""The command line: ingest, search, ask, chat, reports and eval. A thin edge over the engine.

This module sits beside app.py at the top of the import graph: it may use assistant, ingest and
evals; none of those import it. Errors from the engine become a one-line message and exit code 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

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


def _settings(**overrides: Any) -> Settings:
    return Settings.load(**_state, **overrides)


def edge(func: Callable) -> Callable:
    """Turn engine errors into a short message and exit code 1, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AssistantError as exc:
            errors.print(f"[bold red]Error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            errors.print("Interrupted.")
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
) -> None:
    """Index reports (PDF, TXT, Markdown) incrementally: only new or changed files are embedded.

    Example: `assistant ingest corpus/ --rebuild`
    """
    from ingest.pipeline import run_ingest

    settings = _settings()
    summary = run_ingest(settings, paths or None, rebuild=rebuild, progress=not quiet)
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
    console.print(table)
    for warning in summary.warnings:
        errors.print(f"[yellow]Warning:[/] {warning}", highlight=False)
    for failure in summary.failures:
        errors.print(f"[red]Skipped:[/] {failure.reason}", highlight=False)
    if summary.failures:
        raise typer.Exit(1)


@app.command()
@edge
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many passages.")] = 5,
    report: Annotated[list[str] | None, typer.Option("--report", help="Only this report id (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Show the top passages for a query, with report, section, location and score.

    Example: `assistant search "how did the SSDA define employer engagement" -k 3`
    """
    from assistant.chain import Assistant

    assistant = Assistant.from_settings(_settings())
    found = assistant.retriever.retrieve(assistant.check_question(query), k, assistant.check_reports(report))
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
            print(json.dumps(row, ensure_ascii=False))
        return
    for p in found.passages:
        console.rule(
            f"[bold]{p.rank}. {p.chunk.report}[/] · {p.chunk.section_label} · {p.chunk.location} · score {p.score:.4f}"
        )
        console.print(p.chunk.text, highlight=False, markup=False)


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    if answer.abstained:
        console.print("[bold yellow]Not covered by the reports[/]")
    console.print(Markdown(answer.answer))
    if answer.notice:
        errors.print(f"[yellow]{answer.notice}[/]")
    if answer.citations:
        console.print("\n[bold]Sources[/]")
        for c in answer.citations:
            console.print(
                f"[{c.n}] {c.byline} ({c.year or 'n.d.'}) {c.title} — {c.section}, {c.location}",
                highlight=False,
                markup=False,
            )


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
        _print_answer(assistant.ask(question or "", None, report), as_json)
        return
    for line_no, line in enumerate(_read_batch(batch), start=1):
        try:
            item = json.loads(line)
            answer = assistant.ask(
                item["question"], item.get("history") or None, item.get("reports") or report, id=item.get("id")
            )
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        except (ValueError, KeyError, TypeError) as exc:
            print(json.dumps({"id": None, "line": line_no, "error": f"bad input line: {exc}"}), flush=True)
        except AssistantError as exc:
            print(json.dumps({"id": item.get("id"), "line": line_no, "error": str(exc)}), flush=True)


def _read_batch(path: Path) -> list[str]:
    if not path.is_file():
        raise AssistantError(f'{path}: not found; give a JSONL file with one {{"question": ...}} per line.')
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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
    console.print("Ask about the reports. /help lists the commands, /quit ends the session.")
    while True:
        try:
            line = console.input("[bold cyan]you> [/]").strip()
        except EOFError:
            console.print()
            break
        if not line:
            console.print("(Type a question, /help for the commands, or /quit to end the session.)")
            continue
        if line.startswith("/"):
            if _chat_command(line, assistant, history, focus) == "quit":
                break
            continue
        try:
            answer = assistant.ask(line, history, focus or None)
        except AssistantError as exc:
            errors.print(f"[red]{exc}[/]")
            continue
        if answer.searched_as:
            console.print(f"[dim]Searched as: {answer.searched_as}[/]", highlight=False)
        _print_answer(answer, as_json=False)
        history.append(line)


def _chat_command(line: str, assistant: Any, history: list[str], focus: list[str]) -> str:
    """Carry out one /command of `assistant chat`, changing `history` and `focus` in place."""
    name, _, argument = line.partition(" ")
    name, argument = name.lower(), argument.strip()
    if name in {"/quit", "/exit", "/q"}:
        return "quit"
    if name == "/help":
        console.print(CHAT_HELP, highlight=False, markup=False)
    elif name == "/new":
        history.clear()
        console.print("New conversation: earlier questions are forgotten.")
    elif name == "/report":
        if not argument:
            focus.clear()
            console.print("Report focus cleared: searching all reports.")
            return ""
        try:
            focus[:] = assistant.check_reports(argument.split())
        except AssistantError as exc:
            errors.print(f"[red]{exc}[/]", highlight=False)
            return ""
        console.print(f"Focus: {', '.join(focus)}. /report alone clears it.", highlight=False)
    else:
        errors.print(f"Unknown command {name}: /help lists the commands.", highlight=False)
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
        table.add_row(info.id, str(info.year or ""), info.title, info.byline, str(counts.get(info.id, 0)))
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
