"""Scale benchmark: the real corpus and a synthetic one of 10,000+ chunks, in the embedded store and a Chroma server.

Prints, for each corpus and store: ingest time and throughput, index size on disk, query p50/p95
(`Assistant.ask`, extractive writer), peak memory, and whether BM25 was loaded or rebuilt when a
fresh process opened the index. Each step runs in its own process so peak memory is its own.

    .venv/bin/python bench/scale.py                       # 10,000 chunks, MiniLM: about 15-25 minutes
    .venv/bin/python bench/scale.py --chunks 2000 --embedder fake   # a quick look, a minute or so
    .venv/bin/python bench/scale.py --no-server           # the embedded store only

A benchmark that prints figures; never run as a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import pickle
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# First, even when PYTHONPATH names the repo too: bench/ingest.py must not shadow the `ingest` package.
sys.path[:] = [str(REPO)] + [p for p in sys.path if p not in (str(REPO), str(REPO / "bench"))]

from assistant.config import PROJECT_ROOT, Settings, prepare_runtime  # noqa: E402
from assistant.embeddings import Embedder, get_embedder, register_embedder  # noqa: E402

prepare_runtime()
CHROMA = Path(sys.executable).parent / "chroma"
TARGET_RATIO = 2.0  # p95 at 10k chunks may be at most twice the real corpus's p95


# -- embedders for the benchmark ---------------------------------------------------------------------


class HashEmbedder(Embedder):
    """A quick stand-in for `--embedder fake`: hashed bag of words, 384 dimensions, normalised."""

    name = "bench-fake"
    version = "bench-fake/1"
    dims = 384

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vector = [0.0] * self.dims
            for word in re.findall(r"[a-z]{3,}", text.lower()):
                vector[int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % self.dims] += 1.0
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            out.append([v / norm for v in vector])
        return out

    def token_ids(self, text: str) -> list[int]:
        return [int(hashlib.md5(w.encode()).hexdigest()[:8], 16) % 30_000 for w in text.lower().split()][:256]

    def embed_with_tokens(self, texts: list[str]):
        """Hashed one-hot rows, one per word (up to 256), so the index holds token vectors of a real size."""
        import numpy as np

        tokens = []
        for text in texts:
            ids = self.token_ids(text)
            rows = np.full((len(ids), self.dims), 0.01, dtype=np.float32)
            rows[np.arange(len(ids)), [i % self.dims for i in ids]] = 1.0
            tokens.append(rows / np.linalg.norm(rows, axis=1, keepdims=True))
        return np.asarray(self.embed_documents(texts), dtype=np.float32), tokens


class DiskCachedEmbedder(Embedder):
    """Wraps an embedder and keeps its vectors in a file, so the second store is not embedded again.

    Only used when a second store follows (the server): the cache holds every chunk's and unit's
    sentence vector, which `assistant ingest` itself never does, so it would inflate the first store's
    peak memory. Vectors are kept as float32 bytes (1.5 KB) rather than lists of floats (~12 KB each):
    as lists, 10,000 chunks and their units held about 550 MB and made the ingest peak a benchmark's.
    """

    def __init__(self, inner: Embedder, path: Path):
        self.inner, self.path = inner, path
        self.name, self.version, self.max_tokens = inner.name, inner.version, inner.max_tokens
        self.cache: dict[str, bytes] = pickle.loads(path.read_bytes()) if path.exists() else {}
        self.hits = 0

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def _keep(self, text: str, vector) -> None:
        self.cache[self._key(text)] = np.asarray(vector, dtype=np.float32).tobytes()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in texts if self._key(t) not in self.cache]
        if missing:
            for text, vector in zip(missing, self.inner.embed_documents(missing), strict=True):
                self._keep(text, vector)
        self.hits += len(texts) - len(missing)
        return [np.frombuffer(self.cache[self._key(t)], dtype=np.float32).tolist() for t in texts]

    def embed_with_tokens(self, texts: list[str]):
        # Token vectors are not cached (they would be gigabytes): the index is built as `assistant ingest`
        # builds it, token vectors included, and only the second store's sentence vectors are reused.
        vectors, tokens = self.inner.embed_with_tokens(texts)
        for text, vector in zip(texts, vectors, strict=True):
            self._keep(text, vector)
        return vectors, tokens

    def token_ids(self, text: str) -> list[int]:
        return self.inner.token_ids(text)

    def warm(self) -> None:
        self.inner.warm()

    def save(self) -> None:
        self.path.write_bytes(pickle.dumps(self.cache))


register_embedder("bench-fake", lambda settings: HashEmbedder())


# -- the synthetic corpus ----------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_SWAPS = {
    "employers": ["firms", "businesses", "companies", "organisations"],
    "colleges": ["providers", "training providers", "FE colleges", "institutions"],
    "small": ["micro", "small", "medium-sized", "local"],
    "engagement": ["engagement", "involvement", "partnership", "collaboration"],
    "training": ["training", "skills development", "workforce development", "learning"],
    "local": ["regional", "local", "sub-regional", "area-based"],
}
_SECTORS = ["construction", "retail", "care", "logistics", "hospitality", "engineering", "digital", "health"]
_PLACES = ["Leeds", "Bristol", "Norwich", "Derby", "Hull", "Plymouth", "Wigan", "Ipswich", "Sunderland", "Exeter"]


def real_sentences() -> list[str]:
    sentences: list[str] = []
    for path in sorted((PROJECT_ROOT / "corpus").glob("*.txt")):
        for paragraph in path.read_text(encoding="utf-8").split("\n\n"):
            text = " ".join(paragraph.split())
            sentences.extend(s for s in _SENTENCE.split(text) if 40 <= len(s) <= 400)
    return sentences


def vary(sentence: str, rng: random.Random, tag: str) -> str:
    """A sentence from the real corpus with words swapped, numbers changed and a unique case tag."""
    words = []
    for word in sentence.split():
        options = _SWAPS.get(word.lower().strip(",.;:"))
        words.append(rng.choice(options) if options and rng.random() < 0.5 else word)
    text = re.sub(r"\d+", lambda m: str(rng.randint(2, 999)), " ".join(words))
    return f"{text.rstrip('.')} in {rng.choice(_SECTORS)} around {rng.choice(_PLACES)} (case {tag})."


def make_corpus(folder: Path, chunks: int, tokens_per_word: float, chunk_tokens: int, seed: int = 11) -> int:
    """Write several hundred .txt reports holding about `chunks` chunks; returns the number of files."""
    rng = random.Random(seed)
    sentences = real_sentences()
    folder.mkdir(parents=True, exist_ok=True)
    files = max(300, chunks // 30)
    per_file_words = int(
        chunks / files * chunk_tokens * 0.65 / tokens_per_word
    )  # calibrated: chunks end early at sentence breaks
    for f in range(files):
        lines = [f"Synthetic evidence report {f:04d}: employer engagement in {rng.choice(_PLACES)}", ""]
        words = 0
        section = 0
        while words < per_file_words:
            if words // 600 >= section:  # a heading every ~600 words, as real reports have sections
                section += 1
                lines += ["", f"{section}. Findings on {rng.choice(_SECTORS)} employers", ""]
            paragraph = [vary(rng.choice(sentences), rng, f"{f}-{section}-{i}") for i in range(rng.randint(3, 6))]
            lines.append(" ".join(paragraph))
            lines.append("")
            words += sum(len(p.split()) for p in paragraph)
        (folder / f"synthetic-{f:04d}.txt").write_text("\n".join(lines), encoding="utf-8")
    return files


# -- one step, in its own process --------------------------------------------------------------------


def _settings(job: dict[str, Any]) -> Settings:
    return Settings.load(
        corpus_dir=job["corpus"],
        index_dir=job["index"],
        embedder=job["embedder"],
        chroma_url=job.get("chroma_url"),
    )


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_ingest(job: dict[str, Any]) -> dict[str, Any]:
    from ingest.pipeline import run_ingest

    settings = _settings(job)
    embedder = get_embedder(settings)
    if job["cache"]:  # a second store follows: keep the sentence vectors for it
        embedder = DiskCachedEmbedder(embedder, Path(job["cache"]))
    started = time.perf_counter()
    summary = run_ingest(settings, embedder=embedder, progress=False)
    seconds = time.perf_counter() - started
    if isinstance(embedder, DiskCachedEmbedder):
        embedder.save()
    return {
        "chunks": summary.total_chunks,
        "files": summary.files,
        "failures": [f.reason for f in summary.failures],
        "ingest_s": seconds,
        "reused_vectors": getattr(embedder, "hits", 0),
        "peak_mb": _peak_mb(),
    }


def worker_query(job: dict[str, Any]) -> dict[str, Any]:
    from assistant.chain import Assistant
    from assistant.lexical import LexicalIndex

    builds = {"n": 0}
    original = LexicalIndex.build.__func__

    def counting_build(cls, *args, **kwargs):
        builds["n"] += 1
        return original(cls, *args, **kwargs)

    LexicalIndex.build = classmethod(counting_build)  # type: ignore[method-assign]
    settings = _settings(job)
    started = time.perf_counter()
    assistant = Assistant.from_settings(settings)
    assistant.embedder.warm()
    open_s = time.perf_counter() - started
    questions = job["questions"]
    assistant.ask(questions[0])  # warm caches: the first question is not the steady state
    times = []
    for question in questions:
        t0 = time.perf_counter()
        assistant.ask(question)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "open_s": open_s,
        "p50_ms": times[len(times) // 2],
        "p95_ms": times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)],
        "bm25_rebuilds": builds["n"],
        "peak_mb": _peak_mb(),
    }


def run_worker(kind: str, job: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--worker", kind, json.dumps(job)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} step failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- Chroma server ------------------------------------------------------------------------------------


def start_server(path: Path, log: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    for _ in range(150):
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"chroma run did not start; see {log}")


def size_mb(*paths: Path) -> float:
    total = 0
    for path in paths:
        for file in path.rglob("*"):
            if file.is_file():
                total += file.stat().st_size
    return total / 1e6


# -- the run -----------------------------------------------------------------------------------------


def measure(label: str, corpus: Path, work: Path, args: argparse.Namespace, questions: list[str]) -> list[dict]:
    """Ingest `corpus` into each store, then query it from a fresh process; one row per store."""
    rows = []
    cache = work / f"vectors-{label}.pkl"
    stores = ["embedded"] + (["server"] if args.server else [])
    for store in stores:
        index = work / f"index-{label}-{store}"
        job: dict[str, Any] = {
            "corpus": str(corpus),
            "index": str(index),
            "embedder": args.embedder,
            "cache": str(cache) if args.server else None,
            "questions": questions,
        }
        server = None
        data = work / f"server-{label}"
        if store == "server":
            server, job["chroma_url"] = start_server(data, work / "chroma.log")
        try:
            print(f"  {label:>9} · {store:<8} ingesting…", flush=True)
            ingest = run_worker("ingest", job)
            print(f"  {label:>9} · {store:<8} querying…", flush=True)
            query = run_worker("query", job)
        finally:
            if server is not None:
                server.kill()
                server.wait()
        # The model files the index folder caches are not the index: counted apart.
        models = size_mb(index / "models") if (index / "models").exists() else 0.0
        on_disk = size_mb(index) - models + (size_mb(data) if store == "server" else 0.0)
        tokens = sum(size_mb(p) for p in index.glob("state/*/generations/*/tokens"))
        units = sum(size_mb(p) for p in index.glob("state/*/generations/*/units"))
        rows.append(
            {
                "corpus": label,
                "store": store,
                **ingest,
                "index_mb": on_disk,
                "tokens_mb": tokens,
                "units_mb": units,
                "ingest_peak_mb": ingest["peak_mb"],
                **{f"q_{k}": v for k, v in query.items()},
            }
        )
        print(f"  {label:>9} · {store:<8} {json.dumps(rows[-1])}", flush=True)  # each row as soon as it is known
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10_000, help="chunks in the synthetic corpus (about)")
    parser.add_argument("--embedder", choices=["minilm", "fake"], default="minilm")
    parser.add_argument("--questions", type=int, default=50, help="questions from evals/cases.jsonl")
    parser.add_argument(
        "--server",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure a Chroma server (`chroma run` on loopback)",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the corpus and indexes in this folder")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, job = args.worker[0], json.loads(args.worker[1])
        print(json.dumps({"ingest": worker_ingest, "query": worker_query}[kind](job)))
        return
    args.embedder = "bench-fake" if args.embedder == "fake" else "minilm"
    if args.server and not CHROMA.exists():
        print(f"No Chroma CLI at {CHROMA}: measuring the embedded store only.")
        args.server = False

    cases = (REPO / "evals" / "cases.jsonl").read_text().splitlines()
    questions = list(dict.fromkeys(json.loads(line)["question"] for line in cases if line.strip()))[: args.questions]
    work = args.keep or Path(tempfile.mkdtemp(prefix="assistant-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        settings = Settings.load(embedder=args.embedder)
        embedder = get_embedder(settings)
        sample = " ".join(real_sentences()[:200])
        tokens_per_word = embedder.count_tokens(sample) / len(sample.split())
        synthetic = work / "synthetic-corpus"
        started = time.perf_counter()
        files = make_corpus(synthetic, args.chunks, tokens_per_word, settings.chunk_tokens)
        print(f"Synthetic corpus: {files} files in {time.perf_counter() - started:.1f}s at {synthetic}")
        print(
            f"Embedder {args.embedder}; {len(questions)} questions; stores: embedded"
            f"{' + Chroma server' if args.server else ''}",
            flush=True,
        )

        rows = measure("real", PROJECT_ROOT / "corpus", work, args, questions)
        rows += measure("synthetic", synthetic, work, args, questions)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    report(rows, args)


def report(rows: list[dict], args: argparse.Namespace) -> None:
    header = (
        f"{'corpus':<10}{'store':<10}{'chunks':>8}{'ingest s':>10}{'chunks/s':>10}{'reused':>8}"
        f"{'index MB':>10}{'KB/chunk':>9}{'tok KB':>8}{'unit KB':>8}{'p50 ms':>9}{'p95 ms':>9}{'open s':>8}{'BM25':>10}"
        f"{'RSS ingest':>12}{'RSS query':>11}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        bm25 = "loaded" if r["q_bm25_rebuilds"] == 0 else f"rebuilt×{r['q_bm25_rebuilds']}"
        print(
            f"{r['corpus']:<10}{r['store']:<10}{r['chunks']:>8}{r['ingest_s']:>10.1f}"
            f"{r['chunks'] / max(r['ingest_s'], 1e-9):>10.1f}{r['reused_vectors']:>8}{r['index_mb']:>10.1f}"
            f"{r['index_mb'] * 1000 / max(r['chunks'], 1):>9.1f}{r['tokens_mb'] * 1000 / max(r['chunks'], 1):>8.1f}"
            f"{r.get('units_mb', 0.0) * 1000 / max(r['chunks'], 1):>8.1f}"
            f"{r['q_p50_ms']:>9.0f}{r['q_p95_ms']:>9.0f}{r['q_open_s']:>8.1f}{bm25:>10}"
            f"{r['ingest_peak_mb']:>10.0f}MB{r['q_peak_mb']:>9.0f}MB"
        )
        if r["failures"]:
            print(f"  {len(r['failures'])} file(s) failed, e.g. {r['failures'][0]}")
    print("\n'reused' = vectors taken from the first store's run (the second store is not embedded again),")
    print("so its ingest time is chunking + writing. 'BM25 loaded' = a fresh process opened the index")
    print("without rebuilding the lexical index. RSS = peak resident memory of that step's process.")
    print("index MB excludes the model files cached in the index folder; 'tok KB' / 'unit KB' = token vectors /")
    print("units (sentence vectors and their list) per chunk.")
    ok = True
    for store in {r["store"] for r in rows}:
        real = next(r for r in rows if r["corpus"] == "real" and r["store"] == store)
        big = next(r for r in rows if r["corpus"] == "synthetic" and r["store"] == store)
        ratio = big["q_p95_ms"] / max(real["q_p95_ms"], 1e-9)
        verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
        ok &= ratio <= TARGET_RATIO
        print(
            f"{store}: p95 at {big['chunks']:,} chunks is {ratio:.2f}× the real corpus's "
            f"({real['chunks']:,} chunks): {verdict} the ≤{TARGET_RATIO:.0f}× target."
        )
    rebuilt = [r for r in rows if r["q_bm25_rebuilds"]]
    print(
        "BM25: loaded from disk at every process start."
        if not rebuilt
        else f"BM25 was REBUILT at process start for {[(r['corpus'], r['store']) for r in rebuilt]}."
    )
    if not ok or rebuilt:
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
