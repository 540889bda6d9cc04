"""Time the late-interaction re-rank (MaxSim over 30 passages) on an index's stored token vectors.

    .venv/bin/python bench/late_speed.py .index            # this version's int8 vectors
    .venv/bin/python bench/late_speed.py OLD_INDEX --float16  # an index built before them (vectors.npy)

Scores random question-sized token sets (20 rows taken from the index itself) against 30 random
passages, as `Retriever` does for each question; prints the median and p95 per question.
A benchmark that prints figures; never run as a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO)] + [p for p in sys.path if p not in (str(REPO), str(REPO / "bench"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path)
    parser.add_argument("--float16", action="store_true", help="the float16 layout of TOKENS_VERSION maxsim-f16/1")
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    folder = max(args.index.glob("state/*/generations/*/tokens"), key=lambda p: p.stat().st_mtime)
    rng = np.random.default_rng(0)
    if args.float16:
        matrix = np.load(folder / "vectors.npy", mmap_mode="r")
        ranges = {k: tuple(v) for k, v in json.loads((folder / "index.json").read_text())["ranges"].items()}

        def score(query: np.ndarray, chunk_id: str) -> float:  # the code of maxsim-f16/1
            a, b = ranges[chunk_id]
            return float((query @ np.asarray(matrix[a:b], dtype=np.float32).T).max(axis=1).mean())

        def prepare(query: np.ndarray) -> np.ndarray:
            return query

        rows = lambda a, b: np.asarray(matrix[a:b], dtype=np.float32)  # noqa: E731
    else:
        from assistant.late import TokenVectors

        vectors = TokenVectors.load(folder)
        assert vectors is not None, f"no token vectors of this version in {folder}"
        ranges = vectors._ranges

        def score(query: np.ndarray, chunk_id: str) -> float:
            return float(vectors.best(query, chunk_id).mean())

        prepare = vectors.project
        rows = lambda a, b: vectors._matrix.rows(a, b)  # noqa: E731
    ids = sorted(ranges)
    times = []
    for _ in range(args.questions):
        a, b = ranges[ids[rng.integers(len(ids))]]
        query = rows(a, b)[: 20].astype(np.float32)
        pool = [ids[i] for i in rng.choice(len(ids), 30, replace=False)]
        started = time.perf_counter()
        projected = prepare(query)
        for chunk_id in pool:
            score(projected, chunk_id)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(f"{folder}: {len(ids)} chunks; re-rank of 30 passages: median {times[len(times) // 2]:.2f} ms, "
          f"p95 {times[int(0.95 * len(times))]:.2f} ms")


if __name__ == "__main__":
    main()
