"""What a small local model is worth as the writer, beside the offline extractive one, on the same questions.

Run: `.venv/bin/python bench/llm_writer.py` (uses the configured index, `.index/` by default; build it with
`assistant ingest`; needs `make llm-test-setup`). It starts llama-cpp-python's server on 127.0.0.1 with the
test model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M, sha256-checked), or uses `--base-url` for a server you run
(`make llm-server MODEL=path.gguf`), and asks the same 20 eval questions through both writers.

The questions are fixed by a rule chosen before any run, not by their scores: every sixth case of
evals/cases.jsonl from the first, in file order, 20 cases (15 answerable, 5 out of scope). Nothing is
tuned on the result; it only measures. Prints a Markdown table and writes it to bench/results/llm_writer.md.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT), str(ROOT / "tests" / "integration")] + [
    p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"
]

import local_llm  # noqa: E402 - tests/integration/local_llm.py: the pinned test model and its server

from assistant import verify  # noqa: E402
from assistant.config import Settings, prepare_runtime  # noqa: E402
from evals.cases import EvalCase, load_cases  # noqa: E402
from evals.metrics import CaseResult  # noqa: E402
from evals.runner import ReportSources, run_case  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "llm_writer.md"
# One line per answer as it comes, so a run cut short still shows what it measured.
ROWS = ROOT / "bench" / "results" / "llm_writer.jsonl"
EVERY, COUNT = 6, 20
REASONS = {
    verify.MARKERS_ONLY: "markers only",
    verify.NO_SUCH_SOURCE: "source not given",
    verify.NO_CITATION: "uncited",
    verify.NOT_VERBATIM: "quote not verbatim",
    verify.MISSING_TERMS: "figure/name/term not in source",
    verify.NOT_SUPPORTED: "not supported",
}


class _Writer:
    """The assistant behind the eval runner's `Pipeline`, answering with one writer; keeps every Answer."""

    def __init__(self, assistant: Any, writer: str):
        self.assistant, self.writer, self.answers = assistant, writer, []

    def ask(self, question: str, history: Sequence[str] | None = None):
        started = time.perf_counter()
        answer = self.assistant.ask(question, list(history or []) or None, writer=self.writer)
        answer.timings_ms["wall"] = (time.perf_counter() - started) * 1000
        self.answers.append(answer)
        return answer

    def get(self, ids: Sequence[str]):
        return self.assistant.store.get(ids)


def _failed(question: str, writer: str) -> Any:
    """A stand-in Answer for a question that raised (e.g. a timeout): counted, with no claims."""
    from assistant.types import Answer

    return Answer(question=question, answer="", writer=writer, notice="error", timings_ms={"wall": 0.0})


def pick(cases: list[EvalCase]) -> list[EvalCase]:
    """The rule fixed in advance: every sixth case from the first, 20 of them."""
    return cases[::EVERY][:COUNT]


def reasons(notice: str) -> Counter[str]:
    """Removals by reason, read from the answer's notice ("3 claims were dropped: 2 … ; 1 …")."""
    counts: Counter[str] = Counter()
    for reason, short in REASONS.items():
        for match in re.finditer(rf"(\d+) {re.escape(reason)}", notice):
            counts[short] += int(match.group(1))
    return counts


def summarise(results: list[CaseResult], answers: list[Any]) -> dict[str, str]:
    seconds = [a.timings_ms["wall"] / 1000 for a, r in zip(answers, results, strict=True) if not r.error] or [0.0]
    in_scope = [(r, a) for r, a in zip(results, answers, strict=True) if r.in_scope]
    out_scope = [(r, a) for r, a in zip(results, answers, strict=True) if not r.in_scope]
    answered = [a for a in answers if not a.abstained and a.citations]
    kept = sum(len(a.citations) for a in answered)
    removed = sum(a.removed for a in answers)
    why: Counter[str] = Counter()
    for a in answers:
        why += reasons(a.notice)
    coverage = [1 - len(r.missing_facts) / r.fact_groups for r, _ in in_scope if r.fact_groups]
    cited = sum(r.citations for r in results)
    precise = sum(r.citations_ok for r in results)
    prompts = [a.usage["prompt_tokens"] for a in answers if a.usage]
    replies = [a.usage["completion_tokens"] for a in answers if a.usage]
    estimated = any(a.usage.get("estimated") for a in answers if a.usage)
    return {
        "time per answer, mean / median / max (s)": (
            f"{statistics.mean(seconds):.1f} / {statistics.median(seconds):.1f} / {max(seconds):.1f}"
        ),
        "answers with at least one kept claim": f"{len(answered)} / {len(answers)}",
        "errors (e.g. timeouts)": str(sum(1 for r in results if r.error)),
        "claims kept (cited points in answers, not abstentions)": str(kept),
        "claims removed by verification": str(removed),
        "why removed": ", ".join(f"{short} {n}" for short, n in why.most_common()) or "–",
        "coverage (required facts found, 15 answerable)": f"{statistics.mean(coverage):.2f}" if coverage else "–",
        "out-of-scope questions abstained": f"{sum(a.abstained for _, a in out_scope)} / {len(out_scope)}",
        "answerable questions abstained (false abstentions)": (
            f"{sum(a.abstained for _, a in in_scope)} / {len(in_scope)}"
        ),
        "citations verbatim at the cited place": f"{precise} / {cited}" if cited else "–",
        "prompt / reply tokens per request, mean": (
            f"{statistics.mean(prompts):.0f}{' (est.)' if estimated else ''} / {statistics.mean(replies):.0f}"
            if prompts
            else "–"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=Path, default=ROOT / "evals" / "cases.jsonl")
    parser.add_argument("--model", type=Path, help="a GGUF file to serve (default: the pinned test model)")
    parser.add_argument("--base-url", help="an OpenAI-compatible server already running, e.g. http://127.0.0.1:8080/v1")
    parser.add_argument("--model-name", default=local_llm.MODEL_ALIAS, help="the model name to ask that server for")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one model answer may take")
    args = parser.parse_args(argv)
    prepare_runtime()
    from assistant.chain import Assistant

    cases = pick(load_cases(args.cases))
    settings = Settings.load()
    sources = ReportSources(settings.corpus_dir)
    started = datetime.now().strftime("%Y-%m-%d %H:%M")
    if args.base_url:
        server = None
        base_url, label = args.base_url, f"{args.model_name} at {args.base_url}"
    else:
        model = args.model or local_llm.check(local_llm.default_path())
        server = local_llm.server(model, log=Path("/tmp/llm_writer-server.log"))
        base_url, label = server.__enter__(), model.name
    try:
        # A loaded 2-core machine can take over a minute for one answer; the bench measures, it does not give up.
        llm_settings = Settings.load(
            writer="openai", openai_base_url=base_url, openai_model=args.model_name, llm_timeout_s=args.timeout
        )
        assistant = Assistant.from_settings(llm_settings)
        columns: dict[str, dict[str, str]] = {}
        ROWS.parent.mkdir(parents=True, exist_ok=True)
        rows_file = ROWS.open("w", encoding="utf-8")
        for writer, title in (("extractive", "extractive (default)"), ("openai", f"local model: {label}")):
            pipeline = _Writer(assistant, writer)
            results = []
            for i, case in enumerate(cases, start=1):
                results.append(run_case(case, pipeline, sources))
                if results[-1].error:  # kept in the table as a failure, never dropped
                    print(f"[{writer} {i}/{len(cases)}] {case.id}: error {results[-1].error}", flush=True)
                    pipeline.answers.append(_failed(case.question, writer))
                    continue
                a = pipeline.answers[-1]
                row = {
                    "writer": writer, "id": case.id, "seconds": round(a.timings_ms["wall"] / 1000, 1),
                    "abstained": a.abstained, "kept": len(a.citations), "removed": a.removed, "notice": a.notice,
                    "usage": a.usage, "missing_facts": results[-1].missing_facts,
                }
                rows_file.write(json.dumps(row) + "\n")
                rows_file.flush()
                print(
                    f"[{writer} {i}/{len(cases)}] {case.id}: {a.timings_ms['wall'] / 1000:.1f} s, "
                    f"{'abstained' if a.abstained else f'{len(a.citations)} kept'}, {a.removed} removed",
                    flush=True,
                )
            columns[title] = summarise(results, pipeline.answers)
    finally:
        if server is not None:
            server.__exit__(None, None, None)
    rows = list(next(iter(columns.values())))
    lines = [
        f"Run {started}, {len(cases)} questions (every {EVERY}th case of {args.cases.name}), "
        f"max_tokens {llm_settings.llm_max_tokens}, top_k {llm_settings.top_k}, 2 cores.",
        "",
        "| | " + " | ".join(columns) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]
    lines += [f"| {row} | " + " | ".join(col[row] for col in columns.values()) + " |" for row in rows]
    table = "\n".join(lines) + "\n"
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
