"""Ingest benchmark: the whole pipeline against a bare encode of the same texts with the same runtime.

Run: `.venv/bin/python bench/ingest.py` (about two minutes on two cores). Prints a table and writes it to
bench/results/ingest.txt. Every phase of `run_ingest` is timed exclusively (a phase's time excludes
the phases it calls), so the table says where the time beyond encoding goes. The bare encode is the
embedder's own batch call over every chunk text at once, its model already loaded: ONNX Runtime for the
default embedder, PyTorch with `--embedder minilm-torch`.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

# Run as `python bench/ingest.py`, this folder comes first on sys.path and this file would shadow the
# `ingest` package: put the project root there instead.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

RESULTS = ROOT / "bench" / "results" / "ingest.txt"
TARGET_RATIO = 1.2
TARGET_NOCHANGE_S = 1.0
MODEL_LOAD = "model load (runtime, weights, tokenizer)"
ENCODE = "encode (MiniLM)"


class PhaseClock:
    """Exclusive wall time per named phase: nested phases are subtracted from the phase around them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.names: set[str] = set()  # the wrapped functions that were called
        self._stack: list[list[float]] = []  # [start, time spent in child phases]

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()
        self.names.clear()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        frame = [time.perf_counter(), 0.0]
        self._stack.append(frame)
        try:
            yield
        finally:
            self._stack.pop()
            elapsed = time.perf_counter() - frame[0]
            self.seconds[name] += elapsed - frame[1]
            self.calls[name] += 1
            if self._stack:
                self._stack[-1][1] += elapsed

    def wrap(self, name: str, func: Callable) -> Callable:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.names.add(func.__name__)
            with self.phase(name):
                return func(*args, **kwargs)

        return timed


def instrument(clock: PhaseClock) -> None:
    """Time the phases of `run_ingest` by wrapping the functions it calls (the engine is not changed)."""
    import ingest.fastpath as fastpath
    import ingest.pipeline as pipeline
    import ingest.prepare as prepare
    import ingest.vectors as vectors
    from assistant.embeddings import MiniLMEmbedder, OnnxMiniLMEmbedder, TorchMiniLMEmbedder
    from assistant.lexical import LexicalIndex
    from assistant.store import ChunkStore
    from ingest.manifest import Manifest

    OnnxMiniLMEmbedder._session = clock.wrap(MODEL_LOAD, OnnxMiniLMEmbedder._session)
    TorchMiniLMEmbedder._load = clock.wrap(MODEL_LOAD, TorchMiniLMEmbedder._load)
    MiniLMEmbedder._load_tokenizer = clock.wrap(MODEL_LOAD, MiniLMEmbedder._load_tokenizer)
    MiniLMEmbedder.count_tokens = clock.wrap("tokenize (chunk sizing)", MiniLMEmbedder.count_tokens)
    MiniLMEmbedder.embed_documents = clock.wrap(ENCODE, MiniLMEmbedder.embed_documents)
    MiniLMEmbedder.embed_with_tokens = clock.wrap(ENCODE, MiniLMEmbedder.embed_with_tokens)

    # Each name is wrapped in the module that calls it: wrapping a re-export would time nothing.
    for module, name, label in [
        (prepare, "load_file", "load file"),
        (prepare, "clean_document", "clean (repair, re-flow, sections)"),
        (prepare, "chunk_document", "chunk (sentences, packing)"),
        (fastpath, "file_fingerprint", "fingerprint files"),
        (pipeline, "file_fingerprint", "fingerprint files"),
        (vectors, "embedding_text", "context headers"),
    ]:
        setattr(module, name, clock.wrap(label, getattr(module, name)))
    MiniLMEmbedder.embed_with_tokens = clock.wrap("encode (MiniLM, tokens too)", MiniLMEmbedder.embed_with_tokens)
    for name in ["_connect", "open", "new_generation", "write", "publish", "prune", "records", "source_counts"]:
        setattr(ChunkStore, name, clock.wrap(f"store: {name.lstrip('_')}", getattr(ChunkStore, name)))
    ChunkStore.count = clock.wrap("store: count", ChunkStore.count)
    ChunkStore.all_chunks = clock.wrap("store: read all chunks (for BM25)", ChunkStore.all_chunks)
    # Class attributes that are plain functions are not bound on class access, so the bound
    # classmethods can be wrapped as they are.
    LexicalIndex.build = clock.wrap("BM25 build", LexicalIndex.build)
    LexicalIndex.load = clock.wrap("BM25 load", LexicalIndex.load)
    LexicalIndex.save = clock.wrap("BM25 save", LexicalIndex.save)
    Manifest.save = clock.wrap("manifest save", Manifest.save)


def bare_encode(encode: Callable[[list[str]], Any], batches: list[list[str]]) -> float:
    """Seconds for `encode` (the embedder's batch call, its model loaded) over `batches`."""
    started = time.perf_counter()
    for texts in batches:
        encode(texts)
    return time.perf_counter() - started


def _warm_encoder(settings: Any, with_tokens: bool) -> Callable[[list[str]], Any]:
    """The configured embedder's batch call (with token vectors or without), its model already loaded."""
    from assistant.embeddings import get_embedder

    embedder = get_embedder(settings)
    embedder.warm()
    return embedder.embed_with_tokens if with_tokens else embedder.embed_documents


def cli_nochange_seconds(index_dir: Path, corpus_dir: Path, embedder: str) -> tuple[float, float]:
    """Wall clock and CPU time (user + sys) of `assistant ingest` in a fresh process when nothing changed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["ASSISTANT_EMBEDDER"] = embedder
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--index-dir", str(index_dir), "--corpus-dir", str(corpus_dir)]
        + ["ingest", "--quiet"],
        check=True,
        capture_output=True,
        cwd=ROOT,
        env=env,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def nochange_row(index_dir: Path, corpus_dir: Path, embedder: str, runs: int = 3) -> str:
    """The best of `runs` fresh no-change `assistant ingest` processes, with every run and their CPU time."""
    timed = [cli_nochange_seconds(index_dir, corpus_dir, embedder) for _ in range(max(1, runs))]
    best = min(wall for wall, _ in timed)
    return (
        f"{'no-change `assistant ingest`, fresh process':<44} {best:>10.2f} s  "
        + _verdict(best < TARGET_NOCHANGE_S, f"target < {TARGET_NOCHANGE_S:.0f} s, best of {len(timed)}")
        + "; runs "
        + ", ".join(f"{w:.2f}" for w, _ in timed)
        + " s, CPU "
        + ", ".join(f"{c:.2f}" for _, c in timed)
        + " s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-dir", type=Path, default=None, help="Reports folder (default: corpus/).")
    parser.add_argument("--embedder", default=None, help="e.g. minilm-torch (default: the configured one).")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Where to write the table.")
    parser.add_argument(
        "--nochange-only",
        type=Path,
        default=None,
        metavar="INDEX_DIR",
        help="Only time fresh no-change `assistant ingest` runs against this existing, up-to-date index.",
    )
    args = parser.parse_args()
    if args.nochange_only is not None:
        from assistant.config import Settings

        settings = Settings.load(corpus_dir=args.corpus_dir, index_dir=args.nochange_only, embedder=args.embedder)
        load_before = os.getloadavg()
        row = nochange_row(settings.index_dir, settings.corpus_dir, settings.embedder)
        load = os.getloadavg()
        print(f"{row}\nload average before {load_before[0]:.2f}, after {load[0]:.2f} (1 min, {os.cpu_count()} CPUs)")
        return 0

    from assistant.config import Settings, prepare_runtime

    prepare_runtime()
    clock = PhaseClock()
    instrument(clock)

    from assistant.embeddings import get_embedder
    from assistant.store import ChunkStore
    from ingest.chunk import embedding_text
    from ingest.pipeline import run_ingest

    load_before = os.getloadavg()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        settings = Settings.load(corpus_dir=args.corpus_dir, index_dir=Path(tmp) / "index", embedder=args.embedder)
        print(f"Ingesting {settings.corpus_dir} into a fresh index in {tmp} ...", file=sys.stderr)
        embedder = get_embedder(settings)
        started = time.perf_counter()
        summary = run_ingest(settings, embedder=embedder, progress=False)
        whole = time.perf_counter() - started
        if not summary.ok:
            print("Ingest failed: " + "; ".join(f.reason for f in summary.failures), file=sys.stderr)
            return 1
        phases, calls = dict(clock.seconds), dict(clock.calls)
        # The pipeline asks for token vectors when the embedder gives them (late interaction): time that call.
        with_tokens = "embed_with_tokens" in clock.names

        # Exactly what the pipeline encoded: each stored chunk's embedding text, file by file, in order.
        store = ChunkStore(settings, embedder).open()
        chunks = store.all_chunks()
        by_file: dict[str, list[str]] = defaultdict(list)
        for chunk in sorted(chunks, key=lambda c: (c.source, c.ordinal)):
            by_file[chunk.source].append(embedding_text(chunk))
        texts = [t for source in sorted(by_file) for t in by_file[source]]
        size = settings.embed_batch_size
        print(f"Bare encode of {len(texts)} texts ...", file=sys.stderr)
        as_pipeline = [group[i : i + size] for group in by_file.values() for i in range(0, len(group), size)]
        # A fresh, warm embedder for each: the embedder reuses vectors it has computed recently.
        encode = _warm_encoder(settings, with_tokens)
        bare_one_call = bare_encode(encode, [texts])
        bare_pipeline_calls = bare_encode(_warm_encoder(settings, with_tokens), as_pipeline)

        print("Re-ingesting with nothing changed ...", file=sys.stderr)
        clock.reset()
        started = time.perf_counter()
        again = run_ingest(settings, progress=False)
        nochange = time.perf_counter() - started
        nochange_phases, nochange_calls = dict(clock.seconds), dict(clock.calls)
        nochange_cli = nochange_row(settings.index_dir, settings.corpus_dir, settings.embedder)
    load_after = os.getloadavg()

    model_load = phases.get(MODEL_LOAD, 0.0)
    encode_in_pipeline = phases.get(ENCODE, 0.0)
    n = len(chunks)
    ratio = whole / bare_one_call
    ratio_warm = (whole - model_load) / bare_one_call

    def row(label: str, value: str, note: str = "") -> None:
        lines.append(f"{label:<44} {value:>12}  {note}".rstrip())

    lines.append(f"Ingest benchmark, {datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs")
    lines.append(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    lines.append(f"embedder {settings.embedder} ({embedder.version}); bare encode: its own {encode.__name__}")
    lines.append("")
    row("files", str(summary.files))
    row("chunks", str(n), f"embedded {summary.chunks_embedded}")
    row("whole run_ingest (cold: imports, model load)", f"{whole:.1f} s", f"{n / whole:.1f} chunks/s")
    row("  of which model load", f"{model_load:.1f} s")
    row("  of which encode inside the pipeline", f"{encode_in_pipeline:.1f} s")
    row(f"bare encode, one call (batch {size})", f"{bare_one_call:.1f} s", f"{n / bare_one_call:.1f} chunks/s")
    row("bare encode, the pipeline's calls", f"{bare_pipeline_calls:.1f} s", f"{len(as_pipeline)} calls of ≤{size}")
    row("ratio whole ingest / bare encode", f"{ratio:.2f}", _verdict(ratio <= TARGET_RATIO, f"target ≤ {TARGET_RATIO}"))
    row("ratio without model load", f"{ratio_warm:.2f}", _verdict(ratio_warm <= TARGET_RATIO, f"≤ {TARGET_RATIO}"))
    row("no-change re-ingest, in process", f"{nochange:.2f} s", f"embedded {again.chunks_embedded}")
    lines.append(nochange_cli + ("" if again.chunks_embedded == 0 else f"; MISSED: embedded {again.chunks_embedded}"))
    lines.append("")
    lines.append("Where the whole ingest's time went (exclusive wall time; calls):")
    _phase_table(lines, phases, calls, whole)
    lines.append("")
    lines.append("No-change re-ingest, in process:")
    _phase_table(lines, nochange_phases, nochange_calls, nochange)

    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"Written to {args.out}", file=sys.stderr)
    return 0


def _verdict(ok: bool, target: str) -> str:
    return f"{'ok' if ok else 'MISSED'} ({target})"


def _phase_table(lines: list[str], phases: dict[str, float], calls: dict[str, int], total: float) -> None:
    accounted = sum(phases.values())
    for name, seconds in sorted(phases.items(), key=lambda kv: -kv[1]):
        if seconds >= 0.005:
            lines.append(f"  {name:<42} {seconds:>8.2f} s  {100 * seconds / total:5.1f} %  {calls[name]:>6} calls")
    rest = total - accounted
    lines.append(f"  {'other (discovery, bookkeeping)':<42} {rest:>8.2f} s  {100 * rest / total:5.1f} %")


if __name__ == "__main__":
    sys.exit(main())
