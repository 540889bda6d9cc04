"""`assistant eval`: run every case through the real chain (and optionally the baseline), score, report, gate."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assistant.config import PROJECT_ROOT, Settings, prepare_runtime
from assistant.errors import AssistantError
from assistant.types import Answer, Chunk
from evals.cases import KINDS, EvalCase, load_cases
from evals.metrics import (
    CaseResult,
    aggregate,
    by_kind,
    check_citation,
    check_gate,
    error_case,
    reason_counts,
    rounded,
    score_case,
)
from evals.report import print_summary, write_reports

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_CASES = EVALS_DIR / "cases.jsonl"
DEFAULT_CONVERSATIONS = EVALS_DIR / "conversations.jsonl"
DEFAULT_OUT = EVALS_DIR / "reports"
THRESHOLDS = EVALS_DIR / "thresholds.toml"


class Pipeline(Protocol):
    """What the runner needs from the product or the baseline: answers, and chunks by id."""

    def ask(self, question: str, history: Sequence[str] | None = None) -> Answer: ...

    def get(self, ids: Sequence[str]) -> list[Chunk]: ...


class _Product:
    """The real assistant behind the `Pipeline` protocol."""

    def __init__(self, settings: Settings):
        from assistant.chain import Assistant

        self.assistant = Assistant.from_settings(settings)

    def ask(self, question: str, history: Sequence[str] | None = None) -> Answer:
        return self.assistant.ask(question, list(history) or None)

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        return self.assistant.store.get(ids)


class ReportSources:
    """The original report files, read once, sliced to a chunk's lines (text) or pages (PDF)."""

    def __init__(self, corpus_dir: Path):
        self.corpus_dir = corpus_dir

    def _path(self, source: str) -> Path:
        return Path(source) if Path(source).is_absolute() else self.corpus_dir / source

    @lru_cache(maxsize=64)  # noqa: B019 - one instance per run; the cache dies with it
    def _pages(self, source: str) -> tuple[str, ...] | None:
        path = self._path(source)
        if not path.is_file():
            return None
        if path.suffix.lower() == ".pdf":
            from pypdf import PdfReader

            return tuple(page.extract_text() or "" for page in PdfReader(str(path)).pages)
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        return (text.replace("\r\n", "\n").replace("\r", "\n"),)

    def at(self, chunk: Chunk) -> str | None:
        """The raw text at the chunk's location: its PDF pages, or its lines of a text file."""
        pages = self._pages(chunk.source)
        if pages is None:
            return None
        if chunk.source.lower().endswith(".pdf"):
            first = chunk.page_start or 1
            last = chunk.page_end or first
            return "\n".join(pages[first - 1 : last])
        lines = pages[0].split("\n")
        return "\n".join(lines[chunk.line_start - 1 : chunk.line_end])


def run_case(case: EvalCase, pipeline: Pipeline, sources: ReportSources) -> CaseResult:
    """Ask one case's question and score the answer; an error becomes a failed case."""
    try:
        answer = pipeline.ask(case.question, case.history)
    except Exception as exc:  # the runner's edge: any failure is a failed case, reported with its type
        return error_case(case, f"{type(exc).__name__}: {exc}")
    ids = list(dict.fromkeys(c.chunk_id for c in answer.citations))
    chunks = {c.chunk_id: c for c in pipeline.get(ids)} if ids else {}
    problems = []
    for citation in answer.citations:
        chunk = chunks.get(citation.chunk_id)
        problems.append(check_citation(citation, chunk, sources.at(chunk) if chunk else None))
    return score_case(case, answer, problems)


def run_cases(
    cases: Sequence[EvalCase],
    pipeline: Pipeline,
    sources: ReportSources,
    on_case: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Every case through `pipeline`, in order."""
    results = []
    for case in cases:
        results.append(run_case(case, pipeline, sources))
        if on_case:
            on_case(results[-1])
    return results


def load_thresholds(path: Path = THRESHOLDS) -> dict[str, dict[str, float]]:
    """Floors (`[min]`) and ceilings (`[max]`) per metric; empty when the file is missing."""
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return {bound: {k: float(v) for k, v in data.get(bound, {}).items()} for bound in ("min", "max")}


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _scored(results: Sequence[CaseResult]) -> dict[str, Any]:
    return {"metrics": aggregate(results), "by_kind": by_kind(results, KINDS)}


def _json_ready(scored: dict[str, Any]) -> dict[str, Any]:
    return {"metrics": rounded(scored["metrics"]), "by_kind": rounded(scored["by_kind"])}


def _with_progress(
    label: str, cases: Sequence[EvalCase], pipeline: Pipeline, sources: ReportSources, console: Console
) -> list[CaseResult]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=len(cases))
        return run_cases(cases, pipeline, sources, lambda _: progress.advance(task))


def score_conversation_set(path: Path, product: _Product, console: Console) -> dict[str, Any]:
    """The conversation set (evals/conversations.py) through the real chain, with a progress bar."""
    from evals.conversations import load_conversations, run_conversations

    try:
        total = len(load_conversations(path))
    except ValueError as exc:
        raise AssistantError(f"Bad conversation file: {exc}") from exc
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("conversations", total=total)
        scored = run_conversations(path, product, lambda _: progress.advance(task))
    scored["file"] = _display_path(path)
    return scored


def evaluate(
    settings: Settings,
    cases_path: Path = DEFAULT_CASES,
    *,
    baseline: bool = False,
    thresholds_path: Path = THRESHOLDS,
    console: Console | None = None,
    conversations_path: Path | None = DEFAULT_CONVERSATIONS,
    cases: Sequence[EvalCase] | None = None,
) -> dict[str, Any]:
    """Run and score every case (and the baseline if asked): the report as a JSON-ready dict.

    `cases`, when given, are scored instead of reading `cases_path` (e.g. the training set's splits).
    """
    prepare_runtime()
    console = console or Console()
    if cases is None:
        try:
            cases = load_cases(cases_path)
        except ValueError as exc:
            raise AssistantError(f"Bad cases file: {exc}") from exc
    sources = ReportSources(settings.corpus_dir)
    product = _Product(settings)
    results = _with_progress(f"{settings.writer} writer", cases, product, sources, console)
    scored = _scored(results)
    base: dict[str, Any] | None = None
    if baseline:
        from evals.baseline import BaselinePipeline

        with console.status("Baseline: chunking and embedding the corpus (cached after the first run)…"):
            pipeline = BaselinePipeline(settings, product.assistant.embedder)
        base_results = _with_progress("baseline", cases, pipeline, sources, console)
        base = _json_ready(_scored(base_results))
    conversations = score_conversation_set(conversations_path, product, console) if conversations_path else None
    thresholds = load_thresholds(thresholds_path)
    # No thresholds file means nothing to gate on: that is a failure, not a silent pass.
    missing = {"metric": f"(no floors in {_display_path(thresholds_path)})", "value": None, "bound": "min", "limit": 0}
    gated = {**scored["metrics"], **(conversations or {}).get("metrics", {})}
    if conversations is None:  # the conversation floors apply when the conversation set was run
        thresholds = {b: {m: v for m, v in t.items() if not m.startswith("conv_")} for b, t in thresholds.items()}
    gate_failures = check_gate(gated, thresholds) if thresholds else [missing]
    failing = [r for r in results if not r.passed]
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "writer": settings.writer,
        "cases_file": _display_path(cases_path),
        "n_cases": len(cases),
        **_json_ready(scored),
        "baseline": base,
        "conversations": conversations,
        "thresholds": thresholds,
        "gate": {"passed": not gate_failures, "failures": gate_failures},
        "reason_counts": reason_counts(results),
        "failures": [
            {"id": r.id, "kind": r.kind, "question": r.question, "reasons": r.reasons, "answer": r.answer}
            for r in failing
        ],
        "cases": [r.to_dict() for r in results],
    }


def run_cli(
    settings: Settings,
    *,
    cases: Path | None = None,
    baseline: bool = False,
    gate: bool = False,
    out: Path | None = None,
    console: Console | None = None,
    thresholds: Path = THRESHOLDS,
    conversations: Path | None = DEFAULT_CONVERSATIONS,
) -> int:
    """Evaluate, write the reports, print the summary; 1 when `gate` is set and a metric broke its bound.

    `conversations` is the conversation set to score as well (None skips it and its floors).
    """
    console = console or Console()
    report = evaluate(
        settings,
        cases or DEFAULT_CASES,
        baseline=baseline,
        thresholds_path=thresholds,
        console=console,
        conversations_path=conversations,
    )
    paths = write_reports(report, out or DEFAULT_OUT)
    print_summary(report, console, gate=gate)
    console.print(f"Reports: {paths['json']}, {paths['md']}, {paths['png']}", highlight=False)
    return 1 if gate and not report["gate"]["passed"] else 0
