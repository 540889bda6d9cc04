"""The eval report: JSON (the record), Markdown (for people), a PNG chart and rich tables for the terminal."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from evals.metrics import COUNT_METRICS, HIT_DEPTH, METRICS, NOT_SHARES

LATEST = "latest"


def fmt(value: float | None, metric: str = "") -> str:
    """A metric value for a table: milliseconds as integers, shares with three decimals, '–' if absent."""
    if value is None:
        return "–"
    if metric.endswith("_ms"):
        return f"{value:,.0f}"
    if metric == "n" or metric in COUNT_METRICS:
        return str(int(value))
    return f"{value:.3f}"


def bound_of(metric: str, thresholds: Mapping[str, Mapping[str, float]]) -> str:
    """'≥ 0.9' or '≤ 0.05' for a metric with a floor or ceiling, else ''."""
    if metric in thresholds.get("min", {}):
        return f"≥ {thresholds['min'][metric]:g}"
    if metric in thresholds.get("max", {}):
        return f"≤ {thresholds['max'][metric]:g}"
    return ""


def write_reports(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write latest.json, latest.md and latest.png into `out`, plus timestamped copies; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / f"{LATEST}.json", "md": out / f"{LATEST}.md", "png": out / f"{LATEST}.png"}
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["md"].write_text(markdown(report), encoding="utf-8")
    chart(report, paths["png"])
    stamp = report["generated"].replace(":", "").replace("-", "")[:15]
    for kind, path in list(paths.items()):
        copy = out / f"eval-{stamp}{path.suffix}"
        shutil.copyfile(path, copy)
        paths[f"{kind}_stamped"] = copy
    return paths


# -- Markdown ----------------------------------------------------------------------------------------


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: headline table, per-kind table, gate and every failing case."""
    base = (report.get("baseline") or {}).get("metrics", {})
    lines = [
        f"# Evaluation report — {report['writer']} writer",
        "",
        f"Generated {report['generated']} over `{report['cases_file']}` ({report['n_cases']} cases).",
        "",
        "## Headline",
        "",
        _row(["metric", "value", "baseline", "floor / ceiling"]),
        _row(["---", "---:", "---:", "---"]),
    ]
    for metric in METRICS:
        value = report["metrics"].get(metric)
        lines.append(
            _row([metric, fmt(value, metric), fmt(base.get(metric), metric), bound_of(metric, report["thresholds"])])
        )
    gate = report["gate"]
    lines += ["", f"**Gate: {'passed' if gate['passed'] else 'FAILED'}**", ""]
    for f in gate["failures"]:
        sign = "below its floor" if f["bound"] == "min" else "above its ceiling"
        lines.append(f"- `{f['metric']}` = {fmt(f['value'], f['metric'])} is {sign} {f['limit']:g}")
    lines += ["", "## By kind", ""]
    shown = [m for m in METRICS if not m.endswith("_ms")]
    lines += [_row(["kind", "n", *shown]), _row(["---", "---:", *["---:"] * len(shown)])]
    for kind, row in report["by_kind"].items():
        lines.append(_row([kind, fmt(row.get("n"), "n"), *[fmt(row.get(m), m) for m in shown]]))
    if report.get("baseline"):
        lines += [
            "",
            "### Baseline by kind",
            "",
            _row(["kind", "n", *shown]),
            _row(["---", "---:", *["---:"] * len(shown)]),
        ]
        for kind, row in report["baseline"]["by_kind"].items():
            lines.append(_row([kind, fmt(row.get("n"), "n"), *[fmt(row.get(m), m) for m in shown]]))
    lines += _junk_section(report)
    counts = report.get("reason_counts", {})
    if counts:
        lines += ["", "## Failure reasons", "", _row(["reason", "cases"]), _row(["---", "---:"])]
        lines += [_row([reason, str(n)]) for reason, n in counts.items()]
    failures = report["failures"]
    lines += ["", f"## Failing cases ({len(failures)} of {report['n_cases']})", ""]
    for case in failures:
        lines += [f"### `{case['id']}` ({case['kind']})", "", f"> {case['question']}", ""]
        lines += [f"- {reason}" for reason in case["reasons"]]
        answer = case["answer"].strip()
        if answer:
            lines += ["", "<details><summary>Answer</summary>", "", answer, "", "</details>"]
        lines.append("")
    lines += conversation_lines(report)
    return "\n".join(lines).rstrip() + "\n"


def _junk_section(report: dict[str, Any]) -> list[str]:
    """Every cited quote that is not evidence, by kind, with the case that cited it."""
    found = [(case["id"], junk) for case in report.get("cases", []) for junk in case.get("junk_quotes", [])]
    lines = ["", f"## Junk quotes ({len(found)})", ""]
    if not found:
        return [*lines, "None: every cited quote is body text or a list item."]
    by_kind: dict[str, int] = {}
    for _, junk in found:
        kind = junk.split("] ", 1)[-1].split(":", 1)[0]
        by_kind[kind] = by_kind.get(kind, 0) + 1
    lines += [_row(["kind", "quotes"]), _row(["---", "---:"])]
    lines += [_row([kind, str(n)]) for kind, n in sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))]
    lines.append("")
    lines += [f"- `{case_id}` {junk}" for case_id, junk in found]
    return lines


# -- chart ---------------------------------------------------------------------------------------------


def chart(report: dict[str, Any], path: Path) -> None:
    """Grouped bars: product vs baseline per metric, and finding coverage per kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    base = report.get("baseline") or {}
    names = [m for m in METRICS if not m.endswith("_ms") and m not in NOT_SHARES and m in report["metrics"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [3, 2]})
    x = np.arange(len(names))
    width = 0.4 if base else 0.6
    product = [report["metrics"].get(m, 0.0) for m in names]
    left.bar(x - (width / 2 if base else 0), product, width, label=f"product ({report['writer']})", color="#2b6cb0")
    if base:
        values = [base["metrics"].get(m, 0.0) for m in names]
        left.bar(x + width / 2, values, width, label="baseline (tutorial RAG)", color="#a0aec0")
    for m, floor in report["thresholds"].get("min", {}).items():
        if m in names:
            i = names.index(m)
            left.plot([i - 0.45, i + 0.45], [floor, floor], color="#c53030", linewidth=1.5)
    for m, ceiling in report["thresholds"].get("max", {}).items():
        if m in names:
            i = names.index(m)
            left.plot([i - 0.45, i + 0.45], [ceiling, ceiling], color="#c53030", linewidth=1.5, linestyle="--")
    left.set_xticks(x, names, rotation=35, ha="right")
    left.set_ylim(0, 1.2)
    left.set_title("Metrics (red line: floor, dashed: ceiling)")
    left.legend(loc="upper center", ncol=2, fontsize=8)

    kinds = [k for k, row in report["by_kind"].items() if "coverage" in row]
    kx = np.arange(len(kinds))
    cover = [report["by_kind"][k].get("coverage", 0.0) for k in kinds]
    right.bar(kx - (width / 2 if base else 0), cover, width, label="product", color="#2b6cb0")
    if base:
        base_cover = [base["by_kind"].get(k, {}).get("coverage", 0.0) for k in kinds]
        right.bar(kx + width / 2, base_cover, width, label="baseline", color="#a0aec0")
    right.set_xticks(kx, kinds, rotation=35, ha="right")
    right.set_ylim(0, 1.2)
    right.set_title("Finding coverage by kind")
    right.legend(loc="upper center", ncol=2, fontsize=8)
    fig.suptitle(f"{report['cases_file']} — {report['n_cases']} cases — {report['generated']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- terminal ------------------------------------------------------------------------------------------


def summary_table(report: dict[str, Any]) -> Table:
    """Metric, product, baseline and bound, with a failing metric in red."""
    base = (report.get("baseline") or {}).get("metrics", {})
    failed = {f["metric"] for f in report["gate"]["failures"]}
    table = Table(title=f"Eval: {report['writer']} writer, {report['n_cases']} cases from {report['cases_file']}")
    table.add_column("metric")
    table.add_column("product", justify="right")
    if base:
        table.add_column("baseline", justify="right")
    table.add_column("floor / ceiling", justify="right")
    for metric in METRICS:
        value = fmt(report["metrics"].get(metric), metric)
        cells = [metric, f"[red]{value}[/]" if metric in failed else value]
        if base:
            cells.append(fmt(base.get(metric), metric))
        cells.append(bound_of(metric, report["thresholds"]))
        table.add_row(*cells)
    return table


def kind_table(report: dict[str, Any]) -> Table:
    """Per-kind figures for the terminal, narrow enough for an 80-column log (two decimals, light borders)."""
    shown = {
        "hit_at_5": "hit@5",
        "mrr": "MRR",
        "citation_precision": "prec",
        "citation_recall": "rec",
        "coverage": "cov",
        "lead_answers": "lead",
        "junk_quotes": "junk",
        "max_quotes_per_passage": "q/p",
        "abstention": "abst",
        "false_abstention": "fabs",
    }
    table = Table(
        title="By kind (q/p: most quotes from one passage)",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
    )
    for column in ["kind", "n", *shown.values()]:
        table.add_column(column, justify="left" if column == "kind" else "right", no_wrap=True)
    for kind, row in report["by_kind"].items():
        cells = [fmt(row.get(m), m) for m in shown]
        table.add_row(kind, fmt(row.get("n"), "n"), *[c[:-1] if c.startswith(("0.", "1.")) else c for c in cells])
    return table


def gate_table(report: dict[str, Any]) -> Table:
    """What broke the gate: metric, value, bound."""
    table = Table(title="[bold red]Quality gate failed[/]")
    for column in ("metric", "value", "required"):
        table.add_column(column)
    for f in report["gate"]["failures"]:
        sign = "≥" if f["bound"] == "min" else "≤"
        table.add_row(f["metric"], fmt(f["value"], f["metric"]), f"{sign} {f['limit']:g}")
    return table


def print_summary(report: dict[str, Any], console: Console, *, gate: bool) -> None:
    """The tables a person reads after a run."""
    console.print(summary_table(report))
    console.print(kind_table(report))
    counts = report.get("reason_counts", {})
    if counts:
        table = Table(title=f"Failure reasons ({len(report['failures'])} failing cases)")
        table.add_column("reason")
        table.add_column("cases", justify="right")
        for reason, n in list(counts.items())[:10]:
            table.add_row(reason, str(n))
        console.print(table)
    if report.get("conversations"):
        console.print(conversation_table(report))
    if gate and not report["gate"]["passed"]:
        console.print(gate_table(report))


# -- conversations -------------------------------------------------------------------------------------

_CONVERSATION_LABELS = {
    "conv_independent_identical_top5": "independent: same top 5 as asked alone",
    "conv_independent_context_added": "independent: context wrongly added",
    "conv_followup_hit_at_5": "follow-up: hit@5 in the conversation",
    "conv_standalone_hit_at_5": "follow-up: hit@5 of the standalone version",
    "conv_followup_gap": "follow-up: conversation minus standalone",
    "conv_followup_context_added": "follow-up: context added",
}


def conversation_lines(report: dict[str, Any]) -> list[str]:
    """The Markdown section for the conversation set: metrics, then the cases that missed."""
    conv = report.get("conversations")
    if not conv:
        return []
    lines = [
        "",
        "## Conversations",
        "",
        f"`{conv['file']}`: {conv['n']} conversations "
        f"({conv['by_kind'].get('independent', 0)} independent, {conv['by_kind'].get('followup', 0)} follow-ups).",
        "",
        _row(["metric", "value", "floor / ceiling"]),
        _row(["---", "---:", "---"]),
    ]
    for metric, label in _CONVERSATION_LABELS.items():
        value = conv["metrics"].get(metric)
        lines.append(_row([f"{label} (`{metric}`)", fmt(value, metric), bound_of(metric, report["thresholds"])]))
    broken = [c for c in conv["cases"] if c["error"]]
    if broken:
        lines += ["", f"**{len(broken)} conversation(s) raised an error:**", ""]
        lines += [f"- `{c['id']}`: {c['error']}" for c in broken]
    changed = [c for c in conv["cases"] if c["kind"] == "independent" and not c["identical_top5"]]
    missed = [c for c in conv["cases"] if c["kind"] == "followup" and not _hit(c["rank"])]
    if changed:
        lines += ["", "Independent questions whose passages changed:", ""]
        lines += [f"- `{c['id']}`: {c['question']} (searched as: {c['searched_as'] or '–'})" for c in changed]
    if missed:
        lines += ["", "Follow-ups whose evidence was not in the top 5 (rank in conversation / standalone):", ""]
        lines += [
            f"- `{c['id']}`: {c['question']} — {c['rank'] or '–'} / {c['standalone_rank'] or '–'}"
            f" (searched as: {c['searched_as'] or 'the question alone'})"
            for c in missed
        ]
    return lines


def _hit(rank: int | None) -> bool:
    return rank is not None and rank <= HIT_DEPTH


def conversation_table(report: dict[str, Any]) -> Table:
    """The conversation metrics for the terminal."""
    conv = report["conversations"]
    errors = f", [red]{conv['errors']} raised errors[/]" if conv.get("errors") else ""
    table = Table(title=f"Conversations: {conv['n']} from {conv['file']}{errors}")
    for column in ("metric", "value", "floor / ceiling"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    failed = {f["metric"] for f in report["gate"]["failures"]}
    for metric, label in _CONVERSATION_LABELS.items():
        value = fmt(conv["metrics"].get(metric), metric)
        table.add_row(label, f"[red]{value}[/]" if metric in failed else value, bound_of(metric, report["thresholds"]))
    return table
