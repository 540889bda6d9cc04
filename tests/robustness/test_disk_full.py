"""A disk that fills up, on a real small tmpfs (skipped where the test cannot mount one).

Answering must work on a completely full disk (a fresh process, whose embedded engine cannot start);
an ingest that runs out of room says so in one line and leaves no partial generation; a long-lived
process recovers once space is freed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import ingest.space as space
from assistant.chain import Assistant
from assistant.config import Settings
from assistant.errors import IndexWriteError
from ingest.pipeline import run_ingest
from tests.conftest import FIXTURES

REPO = Path(__file__).resolve().parents[2]
QUESTION = "How can colleges engage small employers?"
NEW = "Colleges in the Tarnwick pilot worked with small employers on apprenticeship plans."


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 40 MB tmpfs of its own, unmounted at the end."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or done.returncode})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill the disk but `leave` bytes; the filler file is returned to be removed."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free - leave
    with open(filler, "wb") as out:
        try:
            while free > 0:
                free -= out.write(b"\0" * min(free, 1 << 20))
        except OSError:
            pass
    return filler


def settings_on(disk: Path, tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus", corpus)
    return Settings.load(corpus_dir=corpus, index_dir=disk / "index", embedder="fake", abstain_threshold=0.1)


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    """The CLI in a fresh process (the fake embedder registered), on this index."""
    env = {
        **os.environ,
        "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir),
        "ASSISTANT_INDEX_DIR": str(settings.index_dir),
        "ASSISTANT_EMBEDDER": "fake",
        "ASSISTANT_ABSTAIN_THRESHOLD": "0.1",
    }
    code = f"import sys; sys.path.insert(0, {str(REPO)!r}); import tests.conftest; import cli; cli.app()"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=180)


def same(stdout: str) -> tuple:
    answer = json.loads(stdout)
    return answer["answer"], [(c["report"], c["location"]) for c in answer["citations"]]


def generations(settings: Settings) -> list[str]:
    return sorted(p.name for p in (settings.state_dir / "generations").iterdir())


@pytest.mark.timeout(300)
def test_answering_works_on_a_full_disk_and_ingest_says_why_it_cannot(tmpfs: Path, tmp_path: Path) -> None:
    settings = settings_on(tmpfs, tmp_path)
    assert run_ingest(settings, progress=False).ok
    before = cli(settings, "ask", QUESTION, "--json")
    assert before.returncode == 0, before.stderr
    kept = generations(settings)

    filler = fill(tmpfs)
    assert shutil.disk_usage(tmpfs).free < 64 * 1024
    full = cli(settings, "ask", QUESTION, "--json")
    assert full.returncode == 0, full.stderr
    assert same(full.stdout) == same(before.stdout)  # the same answer, read from the generation's own files
    assert cli(settings, "search", "small employers", "-k", "2").returncode == 0

    (settings.corpus_dir / "tarnwick-2024-pilot.txt").write_text(f"Tarnwick pilot\n\n{NEW}\n")
    refused = cli(settings, "ingest", "-q")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "space" in lines[0], refused.stderr
    assert generations(settings) == kept  # nothing half-written

    filler.unlink()
    assert cli(settings, "ingest", "-q").returncode == 0
    after = cli(settings, "ask", "What did the Tarnwick pilot do with small employers?", "--json")
    assert "Tarnwick" in after.stdout, after.stdout + after.stderr


def test_first_ingest_into_too_little_space_is_refused_before_writing(tmpfs: Path, tmp_path: Path) -> None:
    settings = settings_on(tmpfs, tmp_path)
    fill(tmpfs, leave=space.MIN_FREE // 2)
    with pytest.raises(IndexWriteError, match="Not enough free space") as refused:
        run_ingest(settings, progress=False)
    assert "nothing was written" in str(refused.value)
    folders = settings.state_dir / "generations"
    assert not folders.exists() or not list(folders.iterdir())


@pytest.mark.timeout(300)
def test_an_ingest_that_runs_out_of_room_leaves_no_partial_generation_and_the_process_recovers(
    tmpfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_on(tmpfs, tmp_path)
    assert run_ingest(settings, progress=False).ok
    assistant = Assistant.from_settings(settings)  # a long-lived process, as the app is
    answer = assistant.ask(QUESTION).answer
    kept = generations(settings)

    # The estimate says there is room; the disk runs out while the new generation is written.
    monkeypatch.setattr(space, "check_space", lambda *args: None)
    lines = [f"In the Tarnwick pilot, case {i}, colleges trained {i} small employers." for i in range(400)]
    (settings.corpus_dir / "tarnwick-2024-pilot.txt").write_text("Tarnwick pilot\n\n" + "\n".join(lines) + "\n")
    filler = fill(tmpfs, leave=96 * 1024)
    with pytest.raises(IndexWriteError, match="Cannot write the index"):
        run_ingest(settings, progress=False, embedder=assistant.embedder)
    assert generations(settings) == kept  # the partial one was removed
    assert assistant.ask(QUESTION).answer == answer  # the old generation still serves

    filler.unlink()
    summary = run_ingest(settings, progress=False, embedder=assistant.embedder)
    assert summary.ok and "tarnwick-2024-pilot.txt" in summary.indexed
    found = assistant.ask("What did colleges do with small employers in the Tarnwick pilot?")
    assert "Tarnwick" in found.answer, found.answer
