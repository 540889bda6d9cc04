"""Long input through ingest: time for pathological files against normal text, and peak memory for a big report.

    .venv/bin/python bench/long_input.py            # 5 MB no-space line, 1 MB of one letter, 5 MB normal text
    .venv/bin/python bench/long_input.py --big 40   # also a 40 MB report (a real paragraph repeated): peak memory
    .venv/bin/python bench/long_input.py --big 40 --only-big --embedder minilm   # that report, the real model

Embedding uses the hashed stand-in of bench/scale.py (token vectors of a real size included), so the
times are cleaning, chunking and writing, the stages whose cost depended on the input's shape; the
model's own cost per passage is measured by bench/scale.py, or here with `--embedder minilm` (the 40 MB
report then takes most of an hour on 2 cores). Each file runs in its own process, so its
peak memory is its own. A benchmark that prints figures; never run as a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO)] + [p for p in sys.path if p not in (str(REPO), str(REPO / "bench"))]

TARGET_RATIO = 2.0  # the no-space line may take at most twice a normal text of the same size


def _paragraph() -> str:
    text = (REPO / "corpus" / "ssda-2008-employer-engagement.txt").read_text(encoding="utf-8")
    return max((" ".join(p.split()) for p in text.split("\n\n")), key=len)


def make(kind: str, megabytes: float, folder: Path) -> Path:
    size = int(megabytes * 1_000_000)
    if kind == "no-space":
        body = ("employerengagementnetworks" * (size // 26 + 1))[:size]
    elif kind == "one-letter":
        body = "a" * size
    else:  # a real paragraph repeated, as a report of that size
        paragraph = _paragraph()
        body = "\n\n".join([paragraph] * (size // (len(paragraph) + 2) + 1))[:size]
    path = folder / f"{kind}.txt"
    path.write_text(f"{kind.title()} Report\n\n{body}", encoding="utf-8")
    return path


def worker(path: str, index: str, embedder: str) -> dict:
    import bench.scale  # noqa: F401  (registers the bench-fake embedder)
    from assistant.config import Settings
    from ingest.pipeline import run_ingest

    chosen = {"embedder": "bench-fake"} if embedder == "fake" else {}  # minilm: the product's own default
    settings = Settings.load(corpus_dir=Path(path).parent, index_dir=Path(index), **chosen)
    started = time.perf_counter()
    summary = run_ingest(settings, [Path(path)], progress=False)
    seconds = time.perf_counter() - started
    on_disk = sum(f.stat().st_size for f in Path(index).rglob("*") if f.is_file())
    return {
        "seconds": seconds,
        "chunks": summary.total_chunks,
        "failures": [f.reason for f in summary.failures],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "kb_per_chunk": on_disk / 1000 / max(summary.total_chunks, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=5.0, help="size of the no-space line and the normal text")
    parser.add_argument("--big", type=float, default=0.0, help="also a report of this many MB (peak memory)")
    parser.add_argument("--embedder", choices=["fake", "minilm"], default="fake")
    parser.add_argument("--only-big", action="store_true", help="only the --big report")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    runs = [] if args.only_big else [("no-space", args.mb), ("one-letter", 1.0), ("normal", args.mb)]
    runs += [("normal", args.big)] if args.big else []
    results = {}
    with tempfile.TemporaryDirectory(prefix="long-input-") as work:
        for kind, mb in runs:
            folder = Path(work) / f"{kind}-{mb:g}"
            folder.mkdir()
            path = make(kind, mb, folder)
            done = subprocess.run(
                [sys.executable, __file__, "--worker", str(path), str(folder / "index"), args.embedder],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            results[(kind, mb)] = result
            print(
                f"{kind:>10} {mb:>5g} MB: {result['seconds']:7.1f} s, {result['chunks']:>6} chunks, "
                f"peak {result['peak_mb']:6.0f} MB, {result['kb_per_chunk']:.1f} KB/chunk on disk"
                + (f", failed: {result['failures'][0]}" if result["failures"] else ""),
                flush=True,
            )
    if args.only_big:
        return
    ratio = results[("no-space", args.mb)]["seconds"] / max(results[("normal", args.mb)]["seconds"], 1e-9)
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"no-space line / normal text of {args.mb:g} MB: {ratio:.2f}× ({verdict} the ≤{TARGET_RATIO:.0f}× target)")


if __name__ == "__main__":
    main()
