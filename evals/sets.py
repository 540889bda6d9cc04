"""The four sets side by side: the ranker's train and dev splits, and the two eval sets it never saw.

    .venv/bin/python evals/sets.py                 # writes evals/reports/sets.md and prints the table

Train and dev show how well the model fits what it learned from; `cases.jsonl` and `heldout.jsonl` are
what it is judged on. Nothing here chooses anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from assistant.config import Settings  # noqa: E402
from evals.runner import DEFAULT_CASES, DEFAULT_OUT, EVALS_DIR, evaluate  # noqa: E402
from evals.train import as_cases, load_train  # noqa: E402

METRICS = (
    "hit_at_1",
    "hit_at_5",
    "mrr",
    "citation_precision",
    "coverage",
    "lead_answers",
    "abstention",
    "false_abstention",
    "premise_corrected",
    "junk_quotes",
    "adversarial_pass",
    "latency_p50_ms",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT / "sets.md")
    parser.add_argument("--eval-only", action="store_true", help="only cases.jsonl and heldout.jsonl")
    args = parser.parse_args(argv)
    settings = Settings.load()
    console = Console(stderr=True)
    questions = load_train()
    sets = (
        {}
        if args.eval_only
        else {
            "train split": as_cases([q for q in questions if not q.dev]),
            "dev split": as_cases([q for q in questions if q.dev]),
        }
    )
    reports = {
        name: evaluate(settings, cases=cases, console=console, conversations_path=None) for name, cases in sets.items()
    }
    for name, path in (("cases.jsonl", DEFAULT_CASES), ("heldout.jsonl", EVALS_DIR / "heldout.jsonl")):
        reports[name] = evaluate(settings, path, console=console, conversations_path=None)
    lines = ["| metric | " + " | ".join(f"{n} ({r['n_cases']})" for n, r in reports.items()) + " |"]
    lines.append("| --- |" + " ---: |" * len(reports))
    for metric in METRICS:
        cells = []
        for report in reports.values():
            value = report["metrics"].get(metric)
            cells.append("–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value))
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n", encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
