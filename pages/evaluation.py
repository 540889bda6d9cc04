"""The latest evaluation report: metric cards, a chart per kind of question, and the failing cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from assistant.config import PROJECT_ROOT
from pages.text import literal

LATEST = PROJECT_ROOT / "evals" / "reports" / "latest.json"


def read_report(path: Path) -> dict[str, Any] | None:
    """The report as a dict, None if there is none; an unreadable file is an error shown on the page."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        st.error(f"Cannot read {literal(str(path))} ({literal(str(exc))}). Run `make eval` to write it again.")
        return None
    return data if isinstance(data, dict) else None


def bounds(thresholds: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """metric -> ("min" or "max", limit), from flat {metric: floor} or {"min": {...}, "max": {...}}."""
    found: dict[str, tuple[str, float]] = {}
    for key, value in thresholds.items():
        if key in ("min", "max") and isinstance(value, dict):
            found.update({m: (key, v) for m, v in value.items() if isinstance(v, int | float)})
        elif isinstance(value, int | float):
            found[key] = ("min", value)
    return found


def _shown(name: str, value: Any) -> str:
    if not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f} ms" if name.endswith("_ms") else f"{value:.3f}"


def metric_cards(report: dict[str, Any]) -> None:
    """One card per metric, with the change from the baseline and whether it meets its threshold."""
    metrics: dict[str, Any] = report.get("metrics") or {}
    baseline: dict[str, Any] = (report.get("baseline") or {}).get("metrics") or {}
    limits = bounds(report.get("thresholds") or {})
    if not metrics:
        st.info("The report has no metrics.")
        return
    columns = st.columns(min(4, len(metrics)))
    failing = []
    for i, (name, value) in enumerate(metrics.items()):
        numeric = isinstance(value, int | float)
        lower_is_better = name.endswith("_ms") or limits.get(name, ("min", 0))[0] == "max"
        delta = None
        if numeric and isinstance(baseline.get(name), int | float):
            delta = f"{value - baseline[name]:+.3f} vs baseline"
        help_text = None
        if name in limits and numeric:
            bound, limit = limits[name]
            ok = value >= limit if bound == "min" else value <= limit
            help_text = f"{'meets' if ok else 'misses'} its {'floor' if bound == 'min' else 'ceiling'} {limit:g}"
            if not ok:
                failing.append(name)
        columns[i % len(columns)].metric(
            name.replace("_", " "), _shown(name, value), delta, help=help_text, border=True,
            delta_color="inverse" if lower_is_better else "normal",
        )
    if failing:
        st.error(f"Outside the quality gate: {literal(', '.join(failing))}.")
    elif limits:
        st.success("Every metric meets its threshold.")


def kind_charts(report: dict[str, Any]) -> None:
    """A bar chart of the metrics for each kind of question."""
    by_kind: dict[str, dict[str, Any]] = report.get("by_kind") or {}
    if not by_kind:
        return
    st.subheader("By kind of question")
    columns = st.columns(2)
    for i, (kind, values) in enumerate(sorted(by_kind.items())):
        scores = {
            k: v for k, v in (values or {}).items()
            if k != "n" and not k.endswith("_ms") and isinstance(v, int | float)
        }
        with columns[i % 2]:
            st.markdown(f"**{literal(kind)}** · {values.get('n', '?')} cases")
            if scores:
                st.bar_chart({"score": scores}, horizontal=True, height=40 + 28 * len(scores), y_label="")


def failures(report: dict[str, Any]) -> None:
    """The failing cases and why each failed."""
    failed = report.get("failures") or []
    st.subheader(f"Failing cases ({len(failed)})")
    if not failed:
        st.success("No case failed.")
        return
    for case in failed:
        title = f"{case.get('id', '?')} · {case.get('kind', '?')} · {case.get('question', '')}"
        with st.expander(literal(title)):
            st.markdown(f"**Question:** {literal(str(case.get('question', '')))}")
            for reason in case.get("reasons") or ["(no reason recorded)"]:
                st.markdown(f"- {literal(str(reason))}")
            if str(case.get("answer") or "").strip():
                st.caption("The answer given")
                st.text(str(case["answer"]).strip())


def render_evaluation(path: Path = LATEST) -> None:
    """The whole page for the report at `path`, or how to produce one."""
    st.title("Evaluation")
    report = read_report(path)
    if report is None:
        st.info(
            "No evaluation report yet. Run `make eval` (or `assistant eval --baseline`) to score the "
            "assistant against the known findings; the results appear here."
        )
        return
    facts = [f"writer **{literal(str(report.get('writer', '?')))}**", f"{report.get('n_cases', '?')} cases"]
    if report.get("generated"):
        facts.insert(0, f"generated {literal(str(report['generated']))}")
    st.caption(" · ".join(facts))
    metric_cards(report)
    kind_charts(report)
    failures(report)


if __name__ == "__main__":  # run as a page (Streamlit runs scripts as __main__), not on import
    render_evaluation()
