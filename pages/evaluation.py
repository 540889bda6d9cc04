"""The latest evaluation report: metric cards, a chart per kind of question, and the failing cases."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import streamlit as st

from assistant.config import PROJECT_ROOT
from pages.text import STYLE, answer_html, literal

LATEST = PROJECT_ROOT / "evals" / "reports" / "latest.json"
THRESHOLDS = PROJECT_ROOT / "evals" / "thresholds.toml"


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


def targets_of(report: dict[str, Any], path: Path = THRESHOLDS) -> dict[str, tuple[str, float]]:
    """metric -> ("min" or "max", target): the report's own `targets`, else [target]/[target_max] of the TOML."""
    if isinstance(report.get("targets"), dict):
        return bounds(report["targets"])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return bounds({"min": data.get("target", {}), "max": data.get("target_max", {})})


def _meets(value: Any, limit: tuple[str, float] | None) -> bool | None:
    if limit is None or not isinstance(value, int | float):
        return None
    bound, number = limit
    return value >= number if bound == "min" else value <= number


def _limit(limit: tuple[str, float] | None) -> str:
    return "" if limit is None else f"{'≥' if limit[0] == 'min' else '≤'} {limit[1]:g}"


def _shown(name: str, value: Any) -> str:
    if not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f} ms" if name.endswith("_ms") else f"{value:.3f}"


def metric_cards(report: dict[str, Any], targets: dict[str, tuple[str, float]]) -> list[str]:
    """One card per metric (any metric in the report), with the change from the baseline, its regression
    floor and its product target; returns the metrics outside the quality gate."""
    metrics: dict[str, Any] = report.get("metrics") or {}
    baseline: dict[str, Any] = (report.get("baseline") or {}).get("metrics") or {}
    limits = bounds(report.get("thresholds") or {})
    if not metrics:
        st.info("The report has no metrics.")
        return []
    columns = st.columns(min(4, len(metrics)))
    failing = []
    for i, (name, value) in enumerate(metrics.items()):
        numeric = isinstance(value, int | float)
        lower_is_better = name.endswith("_ms") or (limits.get(name) or targets.get(name) or ("min", 0))[0] == "max"
        delta = None
        if numeric and isinstance(baseline.get(name), int | float):
            delta = f"{value - baseline[name]:+.3f} vs baseline"
        notes = []
        gate = _meets(value, limits.get(name))
        if gate is not None:
            kind = "floor" if limits[name][0] == "min" else "ceiling"
            notes.append(f"{'meets' if gate else 'misses'} its regression {kind} {limits[name][1]:g}")
            if not gate:
                failing.append(name)
        target = _meets(value, targets.get(name))
        if target is not None:
            notes.append(f"{'meets' if target else 'misses'} the product target {_limit(targets[name])}")
        columns[i % len(columns)].metric(
            name.replace("_", " "), _shown(name, value), delta, help="; ".join(notes) or None, border=True,
            delta_color="inverse" if lower_is_better else "normal",
        )
    return failing


def targets_table(report: dict[str, Any], targets: dict[str, tuple[str, float]]) -> list[str]:
    """Each metric with a floor or a target: its value, the floor, the target and whether it is met;
    returns the targets missed (a target whose metric the report lacks counts as missed)."""
    metrics: dict[str, Any] = report.get("metrics") or {}
    limits = bounds(report.get("thresholds") or {})
    names = [n for n in metrics if n in limits or n in targets] + [n for n in targets if n not in metrics]
    if not names:
        return []
    missed = []
    rows = ["| metric | value | regression floor | product target | target |", "|---|---:|---:|---:|---|"]
    for name in names:
        value = metrics.get(name)
        met = _meets(value, targets.get(name))
        if name in targets and not met:
            missed.append(name)
        verdict = "" if name not in targets else "met" if met else "not measured" if value is None else "**missed**"
        shown = "—" if value is None else _shown(name, value)
        rows.append(
            f"| {literal(name)} | {shown} | {_limit(limits.get(name)) or '—'} | "
            f"{_limit(targets.get(name)) or '—'} | {verdict} |"
        )
    st.subheader("Targets and regression floors")
    st.caption(
        "The regression floors (evals/thresholds.toml [min]/[max]) sit just under the last measured figures "
        "and fail the build if a change makes things worse; the product targets ([target]/[target_max]) "
        "are where the assistant should be."
    )
    st.markdown("\n".join(rows))
    return missed


def verdict(failing: list[str], missed: list[str], failed_cases: int, gated: bool) -> None:
    """One honest summary line: green only when the gate holds, every target is met and no case fails."""
    if failing:
        st.error(f"Outside the quality gate: {literal(', '.join(failing))}.")
    if missed:
        st.warning(
            f"Product targets missed: {literal(', '.join(missed))}."
            + (" The regression floors hold." if gated and not failing else "")
        )
    if not failing and not missed:
        if failed_cases:
            st.info(f"Every metric meets its floor and target, but {failed_cases} cases still fail (below).")
        elif gated:
            st.success("Every metric meets its floor and its target, and no case failed.")


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
                # Its structure rendered, its report text escaped.
                st.markdown(answer_html(str(case["answer"]).strip()), unsafe_allow_html=True)


def render_evaluation(path: Path = LATEST, thresholds: Path = THRESHOLDS) -> None:
    """The whole page for the report at `path`, or how to produce one."""
    st.markdown(STYLE, unsafe_allow_html=True)  # our own CSS, no untrusted text
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
    targets = targets_of(report, thresholds)
    summary = st.container()  # the verdict goes first, once the cards and the table have worked it out
    failing = metric_cards(report, targets)
    missed = targets_table(report, targets)
    with summary:
        verdict(failing, missed, len(report.get("failures") or []), bool(report.get("thresholds")))
    kind_charts(report)
    failures(report)


if __name__ == "__main__":  # run as a page (Streamlit runs scripts as __main__), not on import
    render_evaluation()
