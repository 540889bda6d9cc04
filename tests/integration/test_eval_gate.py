"""The quality gate: every case in evals/cases.jsonl through the real chain must meet evals/thresholds.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from assistant.config import Settings
from evals.runner import DEFAULT_CASES, run_cli

pytestmark = pytest.mark.eval


def test_eval_gate_passes_on_the_real_index(real_settings: Settings, tmp_path: Path) -> None:
    console = Console(record=True, width=140)
    code = run_cli(real_settings, cases=DEFAULT_CASES, gate=True, out=tmp_path, console=console)
    report = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert report["n_cases"] == len([ln for ln in DEFAULT_CASES.read_text().splitlines() if ln.strip()])
    assert report["metrics"]["citation_precision"] == 1.0, report["failures"]
    if code != 0:
        pytest.fail("Quality gate failed:\n" + console.export_text(), pytrace=False)
