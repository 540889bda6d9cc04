"""Where ingest's memory goes: tracemalloc during an ingest of a report of one paragraph repeated.

    .venv/bin/python bench/ingest_memory.py 3                 # a 3 MB report, hashed stand-in embedder: minutes
    .venv/bin/python bench/ingest_memory.py --synthetic 4000  # bench/scale.py's corpus of ~4,000 chunks instead

Prints the traced peak and the largest allocation sites at the moment Python's own memory was largest
(snapshots every 2 s). Only Python's allocations are traced (numpy's too); memory a native library keeps
(Chroma's engine, ONNX Runtime) is not, so compare with the process's peak from bench/long_input.py.
A benchmark that prints figures; never run as a test.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO)] + [p for p in sys.path if p not in (str(REPO), str(REPO / "bench"))]


def main() -> None:
    import bench.scale  # noqa: F401  (registers the bench-fake embedder)
    from assistant.config import Settings
    from bench.long_input import make
    from ingest.pipeline import run_ingest

    work = Path(tempfile.mkdtemp(prefix="ingest-memory-"))
    if sys.argv[1:2] == ["--synthetic"]:  # several hundred varied reports, as bench/scale.py makes them
        from bench.scale import HashEmbedder, make_corpus, real_sentences

        corpus = work / "corpus"
        sample = " ".join(real_sentences()[:200])
        per_word = HashEmbedder().count_tokens(sample) / len(sample.split())
        make_corpus(corpus, int(sys.argv[2]), per_word, Settings.load().chunk_tokens)
        paths = None
    else:
        corpus = work
        paths = [make("normal", float(sys.argv[1]) if len(sys.argv) > 1 else 3.0, work)]
    settings = Settings.load(corpus_dir=corpus, index_dir=work / "index", embedder="bench-fake")
    tracemalloc.start(8)
    largest: list = [0, None]
    finished = threading.Event()

    def watch() -> None:
        while not finished.is_set():
            current, _ = tracemalloc.get_traced_memory()
            if current > largest[0]:
                largest[:] = [current, tracemalloc.take_snapshot()]
            finished.wait(2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    summary = run_ingest(settings, paths, progress=False)
    finished.set()
    watcher.join()
    peak = tracemalloc.get_traced_memory()[1]
    print(f"{summary.total_chunks} chunks in {time.perf_counter() - started:.0f} s; traced peak {peak / 1e6:.0f} MB")
    if largest[1] is not None:
        for stat in largest[1].statistics("traceback")[:10]:
            print(f"{stat.size / 1e6:8.1f} MB {stat.count:8d} blocks")
            for line in stat.traceback.format()[-6:]:
                print("      " + line.strip()[:140])


if __name__ == "__main__":
    main()
