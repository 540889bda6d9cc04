"""The query path imports only what it uses: a fresh `assistant ask` never imports torch, chromadb, LangChain's
tracers, scipy, python-docx or the LLM SDKs, and a no-change `assistant ingest` not even the model runtime."""

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
# Issue 20: what answering a question does not use, and costs a fresh process time and memory to import.
# (rich stays: the CLI prints the answer with it.) The embedded store's reader takes the pointer from its
# SQLite file and the generation from the generation's own files: no chromadb.
NOT_ON_THE_QUERY_PATH = (
    *HEAVY,
    "chromadb",
    "langsmith",
    "langchain_core.tracers",
    "langchain_core.runnables",
    "langchain_core.callbacks",
    "langchain_text_splitters",
    "langchain_chroma",
    "scipy",
    "sklearn",
    "docx",
    "openai",
    "ollama",
    "langchain_openai",
    "langchain_ollama",
    "wordfreq",
    "pysbd",
    "pypdf",
)
# A no-change ingest reads the manifest and the store's SQLite file, and stops there.
NOT_IN_A_NO_CHANGE_INGEST = (*NOT_ON_THE_QUERY_PATH, "onnxruntime", "tokenizers", "bm25s")

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
heavy = [h for h in sys.argv[4].split(",") if any(m == h or m.startswith(h + ".") for m in sys.modules)]
print(json.dumps({"status": status, "heavy": sorted(heavy)}))
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


def test_ask_in_a_fresh_process_imports_none_of_the_heavy_modules(onnx_index: Settings) -> None:
    question = "How were employer networks funded?"
    heavy = ",".join(NOT_ON_THE_QUERY_PATH)
    run = subprocess.run(
        [sys.executable, "-c", ASK, str(onnx_index.index_dir), str(onnx_index.corpus_dir), question, heavy],
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


def test_a_no_change_ingest_in_a_fresh_process_opens_neither_store_nor_model(onnx_index: Settings) -> None:
    code = ASK.replace('"ask", sys.argv[3]', '"ingest", "--quiet"')
    heavy = ",".join(NOT_IN_A_NO_CHANGE_INGEST)
    run = subprocess.run(
        [sys.executable, "-c", code, str(onnx_index.index_dir), str(onnx_index.corpus_dir), "", heavy],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=_env(),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["status"] == 0, run.stdout + run.stderr
    assert "unchanged" in run.stdout and "chunks in index" in run.stdout
    assert report["heavy"] == [], f"a no-change ingest imported {report['heavy']}"


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
