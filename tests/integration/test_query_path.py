"""The query path runs without torch: a fresh `assistant ask` never imports torch or transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT, Settings

pytestmark = pytest.mark.integration

HEAVY = ("torch", "transformers", "sentence_transformers")

# A user's `assistant ask`, in a fresh interpreter: the CLI's own imports, the index opening, the model
# loading and one answer. Prints what it answered and which heavy modules got imported on the way.
ASK = """
import json, sys
import cli
status = "no exit"
try:
    cli.app(["--index-dir", sys.argv[1], "--corpus-dir", sys.argv[2], "ask", sys.argv[3]])
except SystemExit as exc:  # click ends every run with one
    status = exc.code
heavy = sys.argv[4].split(",")
print(json.dumps({"status": status, "heavy": sorted(m for m in sys.modules if m.split(".")[0] in heavy)}))
"""


@pytest.fixture(scope="module")
def onnx_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The fixture corpus ingested with the default (ONNX) embedder, in a fresh process like a user's."""
    index = Path(tmp_path_factory.mktemp("onnx-index"))
    corpus = PROJECT_ROOT / "tests" / "fixtures" / "corpus"
    _cli(["--index-dir", str(index), "--corpus-dir", str(corpus), "ingest", "--quiet"])
    return Settings.load(index_dir=index, corpus_dir=corpus)


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "cli.py"), *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=_env(),
        timeout=300,
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return env


def test_ask_in_a_fresh_process_imports_no_torch(onnx_index: Settings) -> None:
    question = "How were employer networks funded?"
    run = subprocess.run(
        [sys.executable, "-c", ASK, str(onnx_index.index_dir), str(onnx_index.corpus_dir), question, ",".join(HEAVY)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=_env(),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert report["status"] == 0, run.stdout + run.stderr
    assert "[1]" in run.stdout  # a cited answer was printed, not an error
    assert report["heavy"] == [], f"the query path imported {report['heavy']}"


def test_ingest_with_onnx_imports_no_torch(tmp_path: Path) -> None:
    """Ingest uses the same runtime as the queries: building the index needs no torch either."""
    code = (
        "import sys\n"
        "from assistant.config import Settings, prepare_runtime\n"
        "prepare_runtime()\n"
        "from ingest.pipeline import run_ingest\n"
        "summary = run_ingest(Settings.load(index_dir=sys.argv[1], corpus_dir=sys.argv[2]), progress=False)\n"
        "assert summary.ok and summary.chunks_embedded > 0, summary\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    corpus = PROJECT_ROOT / "tests" / "fixtures" / "corpus"
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "index"), str(corpus)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=_env(),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]"
