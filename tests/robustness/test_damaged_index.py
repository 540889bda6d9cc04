"""Damage to an index at rest: every file of a generation and the store itself, truncated, zero-filled or deleted.

Each case: the damage, then `assistant ask` (no traceback; one line naming the file, or the answer with
one warning line naming it), then the command that line suggests, then the same answer as before the
damage. The fixture corpus with the fake embedder, on a copy of one index built per module.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from assistant import integrity
from assistant.config import Settings
from assistant.embeddings import get_embedder
from assistant.store import ChunkStore
from ingest.pipeline import run_ingest
from tests.conftest import FIXTURES

runner = CliRunner()
QUESTION = "How can colleges engage small employers?"

# Every file of a generation of the fixture index. `test_table_covers_every_file` fails when a new kind
# of file appears, so it gets its row here.
GENERATION_FILES = [
    "bm25/bm25/data.csc.index.npy",
    "bm25/bm25/indices.csc.index.npy",
    "bm25/bm25/indptr.csc.index.npy",
    "bm25/bm25/params.index.json",
    "bm25/bm25/vocab.index.json",
    "bm25/chunks.jsonl",
    "bm25/meta.json",
    "manifest.json",
    "records/chunks.jsonl",
    "records/meta.json",
    "records/vectors.npy",
    "tokens/index.json",
    "tokens/rows.buckets.npy",
    "tokens/rows.centroids.npy",
    "tokens/rows.codes",
    "tokens/rows.ids",
    "tokens/rows.json",
    "ranker/bm25/data.csc.index.npy",
    "ranker/bm25/indices.csc.index.npy",
    "ranker/bm25/indptr.csc.index.npy",
    "ranker/bm25/params.index.json",
    "ranker/bm25/vocab.index.json",
    "ranker/derived.json",
    "units/rows.codes",
    "units/rows.json",
    "units/rows.scales",
    "units/units.json",
    "files.json",
]
DAMAGES = ["truncated", "zero-filled", "deleted"]
DAMAGED_ROWS = GENERATION_FILES


def damage(path: Path, how: str) -> None:
    """Truncate to half, overwrite with zeros (same size), or delete."""
    if how == "deleted":
        path.unlink()
        return
    size = path.stat().st_size
    if how == "truncated":
        os.truncate(path, size // 2)
    else:
        with open(path, "r+b") as handle:
            handle.write(b"\0" * size)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(corpus, index) of the fixture corpus, built once; tests work on copies."""
    root = tmp_path_factory.mktemp("pristine")
    corpus = root / "corpus"
    shutil.copytree(FIXTURES / "corpus", corpus)
    settings = Settings.load(corpus_dir=corpus, index_dir=root / "index", embedder="fake", abstain_threshold=0.1)
    assert run_ingest(settings, progress=False).ok
    return corpus, root / "index"


@pytest.fixture
def copy(pristine: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A private copy of the pristine index, with the CLI pointed at it."""
    corpus, index = pristine
    shutil.copytree(index, tmp_path / "index")
    settings = Settings.load(corpus_dir=corpus, index_dir=tmp_path / "index", embedder="fake", abstain_threshold=0.1)
    for key, value in {
        "CORPUS_DIR": corpus,
        "INDEX_DIR": settings.index_dir,
        "EMBEDDER": "fake",
        "ABSTAIN_THRESHOLD": "0.1",
    }.items():
        monkeypatch.setenv(f"ASSISTANT_{key}", str(value))
    return settings


def generation_dir(settings: Settings) -> Path:
    return ChunkStore(settings, get_embedder(settings)).current_generation().state_dir  # type: ignore[union-attr]


def ask() -> tuple[int, dict | None, str]:
    """(exit code, the answer's JSON or None, stderr) of `assistant ask QUESTION --json`."""
    result = runner.invoke(cli.app, ["ask", QUESTION, "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, (json.loads(lines[0]) if lines else None), result.stderr


def same(answer: dict | None) -> tuple:
    assert answer is not None
    return answer["answer"], [(c["report"], c["location"]) for c in answer["citations"]]


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and "Aborted" not in text, text


@pytest.fixture(scope="module")
def baseline(pristine: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory, fake_answer_model: Path) -> tuple:
    corpus, index = pristine
    target = tmp_path_factory.mktemp("baseline") / "index"
    shutil.copytree(index, target)
    with pytest.MonkeyPatch.context() as patch:
        # Module fixtures come before the per-test environment: the fake answer model is set here too.
        env = {"CORPUS_DIR": corpus, "INDEX_DIR": target, "EMBEDDER": "fake", "ABSTAIN_THRESHOLD": "0.1",
               "ANSWER_MODEL": fake_answer_model}
        for key, value in env.items():
            patch.setenv(f"ASSISTANT_{key}", str(value))
        code, answer, err = ask()
    assert code == 0, err
    return same(answer)


def test_table_covers_every_file(copy: Settings) -> None:
    folder = generation_dir(copy)
    found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert found == sorted(GENERATION_FILES)


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("name", DAMAGED_ROWS)
def test_damaged_generation_file(copy: Settings, baseline: tuple, name: str, how: str) -> None:
    path = generation_dir(copy) / name
    damage(path, how)

    code, answer, err = ask()
    no_traceback(err)
    assert code == 0, err  # a derived file: answered without it (or with it rebuilt in memory)
    assert answer is not None
    warnings = [line for line in err.splitlines() if str(path) in line]
    assert len(warnings) == 1, err
    assert "assistant ingest" in warnings[0]

    result = runner.invoke(cli.app, ["ingest", "-q"])
    no_traceback(result.output)
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if str(path) in line], result.stderr

    code, answer, err = ask()
    assert code == 0 and str(path) not in err and "Warning" not in err, err
    assert same(answer) == baseline
    assert ChunkStore(copy, get_embedder(copy)).check(ChunkStore(copy, get_embedder(copy)).current_generation()) == []


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_store(copy: Settings, baseline: tuple, how: str) -> None:
    store_file = copy.index_dir / "chroma" / "chroma.sqlite3"
    damage(store_file, how)

    code, answer, err = ask()
    no_traceback(err)
    assert code == 1 and answer is None
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and str(store_file) in lines[0], err
    command = "assistant ingest --rebuild" if how != "deleted" else "assistant ingest"
    assert f"`{command}`" in lines[0]

    result = runner.invoke(cli.app, command.split()[1:] + ["-q"])
    no_traceback(result.output)
    assert result.exit_code == 0, result.output
    if how != "deleted":
        aside = list(copy.index_dir.glob("chroma.damaged-*"))
        assert len(aside) == 1 and (aside[0] / "chroma.sqlite3").exists()  # moved aside, not deleted
        assert str(aside[0]) in result.stderr

    code, answer, err = ask()
    assert code == 0, err
    assert same(answer) == baseline
    generations = list((copy.state_dir / "generations").iterdir())
    assert len(generations) == 1  # the old generation's folder went with its store


def test_plain_ingest_on_a_damaged_store_names_the_way_out(copy: Settings) -> None:
    damage(copy.index_dir / "chroma" / "chroma.sqlite3", "zero-filled")
    result = runner.invoke(cli.app, ["ingest", "-q"])
    no_traceback(result.output)
    assert result.exit_code == 1
    assert "chroma.sqlite3 is damaged" in result.stderr and "`assistant ingest --rebuild`" in result.stderr


def test_check_is_generic_and_cheap(copy: Settings) -> None:
    """A file added to a generation before it is published is covered without any code knowing its type."""
    store = ChunkStore(copy, get_embedder(copy))
    current = store.current_generation()
    assert current is not None
    extra = current.state_dir / "sentences" / "vectors.npy"
    extra.parent.mkdir()
    extra.write_bytes(b"\x93NUMPY" + bytes(range(256)) * 8000)  # 2 MB: checked by size and samples
    listed = integrity.record(current.state_dir)
    assert integrity.verify(current.state_dir, listed) == []
    with open(extra, "r+b") as handle:  # the middle of a large file, rewritten: its time changes, so hashed
        handle.seek(1_000_000)
        handle.write(b"\0" * 10)
    (damaged,) = integrity.verify(current.state_dir, listed)
    assert damaged.part == "sentences" and damaged.path == extra and "checksum" in damaged.reason


# -- a couple of cases with the real model and corpus --------------------------------------------------


@pytest.fixture
def real_copy(real_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    shutil.copytree(real_settings.index_dir, tmp_path / "index")
    settings = Settings.load(corpus_dir=real_settings.corpus_dir, index_dir=tmp_path / "index")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
    return settings


@pytest.mark.timeout(600)
def test_real_zero_filled_model_copy_is_made_again(real_copy: Settings) -> None:
    code, answer, err = ask()
    assert code == 0, err
    before = same(answer)
    (model,) = (real_copy.index_dir / "models").glob("*.onnx")
    record = json.loads(model.with_suffix(".json").read_text())
    # Zero-filled with its time put back: only loading it shows the damage.
    damage(model, "zero-filled")
    os.utime(model, ns=(record["mtime_ns"], record["mtime_ns"]))
    code, answer, err = ask()
    no_traceback(err)
    assert code == 0 and "Protobuf" not in err, err
    assert same(answer) == before
    assert not model.exists()  # the damaged copy was dropped; the package's checked file answered
    code, again, err = ask()
    assert code == 0 and same(again) == before, err
    assert integrity._full(model) == json.loads(model.with_suffix(".json").read_text())["sha256"]  # made afresh

    damage(model, "zero-filled")  # its time now differs from the record's: hashed at load, and made afresh
    code, answer, err = ask()
    assert code == 0 and same(answer) == before, err
    assert integrity._full(model) == json.loads(model.with_suffix(".json").read_text())["sha256"]


@pytest.mark.timeout(900)
def test_real_zero_filled_token_vectors_are_skipped_then_rebuilt_by_ingest(real_copy: Settings) -> None:
    code, answer, err = ask()
    assert code == 0, err
    before = same(answer)
    path = generation_dir(real_copy) / "tokens" / "rows.codes"
    damage(path, "zero-filled")
    code, answer, err = ask()
    no_traceback(err)
    assert code == 0 and answer is not None
    assert len([line for line in err.splitlines() if str(path) in line]) == 1, err
    result = runner.invoke(cli.app, ["ingest", "-q"])
    assert result.exit_code == 0, result.output
    code, answer, err = ask()
    assert code == 0 and "Warning" not in err, err
    assert same(answer) == before


def test_the_app_says_once_which_file_is_damaged(copy: Settings) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    path = generation_dir(copy) / "tokens" / "rows.codes"
    damage(path, "truncated")
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=120)
        at.run()
        for question in (QUESTION, "What are employer networks?"):
            at.chat_input[0].set_value(question).run()
            assert not at.exception, at.exception
    finally:
        st.cache_resource.clear()
    warnings = [w.value.replace("\\", "") for w in at.warning if str(path) in w.value.replace("\\", "")]
    assert len(warnings) == 1 and "assistant ingest" in warnings[0], [w.value for w in at.warning]
