"""Which compact token vectors keep late interaction's ranking: hit@5 and MRR of retrieval per variant.

    .venv/bin/python bench/token_options.py INDEX                 # the training questions (train.jsonl)
    .venv/bin/python bench/token_options.py INDEX --sets eval     # cases.jsonl and heldout.jsonl (report only)

INDEX is any index of the corpus (`assistant ingest`; opening one of an older version makes its
token vectors again, as the assistant does). The chunks' token vectors are embedded again here at
full size (a minute or so) and kept in memory. Each variant is made from those rows: projected onto
a basis fitted, as ingest fits it, on a spread sample of 64 chunks, with or without re-normalising
the projected rows, and quantised to int8 ("full 384" is the layout of TOKENS_VERSION 2). The
question's tokens go through the same basis. Retrieval then runs as the assistant runs it (question
reading, conversation resolution, hybrid pool, late re-rank) with the variant's scores; a hit is a
passage holding one of the question's answer sentences. Choose on the training questions only: the
eval sets are printed for the record, never to choose. Also prints bytes per chunk and the time of
the late re-rank of 30 passages. A benchmark that prints figures; never run as a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO)] + [p for p in sys.path if p not in (str(REPO), str(REPO / "bench"))]

from assistant.config import Settings, prepare_runtime  # noqa: E402

VARIANTS = {  # name: (dims, re-normalised, residual: (centroids, bits, decoded rows re-normalised) or None for int8)
    "full 384": (None, False, None),
    "128": (128, False, None),
    "128 re-normalised": (128, True, None),
    "96 re-normalised": (96, True, None),
    "160 re-normalised": (160, True, None),
    "192 re-normalised": (192, True, None),
    # Residual compression (TOKENS_VERSION 4): a centroid id and `bits` a dimension per token.
    "192 c1024 2b": (192, True, (1024, 2, False)),
    "192 c1024 2b renorm": (192, True, (1024, 2, True)),
    "192 c256 2b renorm": (192, True, (256, 2, True)),
    "192 c4096 2b renorm": (192, True, (4096, 2, True)),
    "192 c1024 1b renorm": (192, True, (1024, 1, True)),
    "128 c1024 4b renorm": (128, True, (1024, 4, True)),
    "128 c1024 4b": (128, True, (1024, 4, False)),
    "160 c1024 4b renorm": (160, True, (1024, 4, True)),
}
SAMPLE = 64  # chunks the basis is fitted on, as ingest/vectors.py _BASIS_SAMPLE


def _variant(rows: dict[str, np.ndarray], dims: int | None, normalise: bool, residual, folder: Path):
    """Token vectors of `rows` projected onto a basis fitted on a spread sample of chunks, in `folder`.

    With `residual` (centroids, bits, re-normalise decoded rows) the centroids and buckets are fitted
    on the same sample, as ingest fits them; without, rows are int8 with a scale each.
    """
    from assistant.late import TokenVectors
    from assistant.matrices import CompactMatrix, MatrixWriter, fit_basis
    from assistant.residual import ResidualMatrix, ResidualWriter, fit_codebook

    ids = sorted(rows)
    step = max(1, len(ids) // SAMPLE)
    sample = np.concatenate([rows[c] for c in ids[::step][:SAMPLE]])
    basis = None if dims is None else fit_basis(sample, dims)
    source_dims = next(iter(rows.values())).shape[1]
    ranges = {}
    if residual is None:
        writer = MatrixWriter(folder, "rows", source_dims, basis, normalise)
    else:
        centroids, bits, renormalise = residual
        writer = ResidualWriter(
            folder, "rows", source_dims, fit_codebook(sample, basis, centroids, bits, normalise, renormalise)
        )
    with writer:
        for cid in ids:
            ranges[cid] = writer.append(rows[cid])
    matrix = (CompactMatrix if residual is None else ResidualMatrix).load(folder, "rows")
    assert matrix is not None
    return TokenVectors(matrix, ranges)


def _bytes_per_chunk(vectors, n: int) -> float:
    """Stored bytes per chunk: the rows, and the basis and codebook shared by all of them."""
    matrix = vectors._matrix
    if hasattr(matrix, "nbytes"):
        return matrix.nbytes / n
    basis = 0 if matrix.basis is None else matrix.basis.nbytes
    return (matrix.codes.size + 4 * len(matrix.scales) + basis) / n


def _rerank_ms(vectors, ids: list[str]) -> tuple[float, float]:
    """Median and p95 time to score 20 question tokens against 30 random passages (as Retriever does)."""
    rng = np.random.default_rng(0)
    times = []
    for _ in range(600):  # the first half warms the page cache (a serving index is warm), the second is timed
        query = rng.normal(size=(20, vectors.source_dims)).astype(np.float32)
        query /= np.linalg.norm(query, axis=1, keepdims=True)
        pool = [ids[i] for i in rng.choice(len(ids), 30, replace=False)]
        started = time.perf_counter()
        projected = vectors.project(query)
        for cid in pool:
            vectors.best(projected, cid)
        times.append((time.perf_counter() - started) * 1000)
    times = sorted(times[300:])
    return times[len(times) // 2], times[int(0.95 * len(times))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path)
    parser.add_argument("--sets", choices=("train", "eval"), default="train")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), help="names from: " + ", ".join(VARIANTS))
    args = parser.parse_args()
    settings = Settings.load(index_dir=args.index)
    prepare_runtime()
    from assistant.chain import Assistant
    from assistant.conversation import resolve
    from assistant.late import LateScorer
    from assistant.question import read_question
    from evals.cases import load_cases
    from evals.metrics import evidence_rank
    from evals.runner import EVALS_DIR
    from evals.train import as_cases, load_train

    assistant = Assistant.from_settings(settings)
    retriever = assistant.retriever
    lexical = retriever.lexical
    base_scorer = retriever.late
    assert base_scorer is not None, "the embedder gives no token vectors"
    embedder = retriever.store.embedder
    rows: dict[str, np.ndarray] = {}
    chunks = sorted(lexical.chunks, key=lambda c: c.chunk_id)
    for start in range(0, len(chunks), 32):
        batch = chunks[start : start + 32]
        _, tokens = embedder.embed_with_tokens([c.embedding_text() for c in batch])
        rows.update({c.chunk_id: np.asarray(t, dtype=np.float32) for c, t in zip(batch, tokens, strict=True)})
    ids = sorted(rows)
    if args.sets == "train":
        questions = load_train()
        sets = {
            "train split": as_cases([q for q in questions if not q.dev]),
            "dev split": as_cases([q for q in questions if q.dev]),
        }
    else:
        sets = {name: load_cases(EVALS_DIR / name) for name in ("cases.jsonl", "heldout.jsonl")}
    sets = {n: [c for c in cases if c.evidence and not c.expect_abstain] for n, cases in sets.items()}
    print(f"{len(ids)} chunks; questions: " + ", ".join(f"{n} {len(c)}" for n, c in sets.items()))
    header = f"{'variant':<20} {'set':<14} {'hit@1':>6} {'hit@5':>6} {'MRR':>6} {'KB/chunk':>9}"
    print(header + f" {'re-rank p50/p95 ms':>19}")
    with tempfile.TemporaryDirectory(prefix="token-options-") as tmp:
        for name in args.variants:
            dims, normalise, residual = VARIANTS[name]
            vectors = _variant(rows, dims, normalise, residual, Path(tmp) / name.replace(" ", "-"))
            scorer = LateScorer(vectors, base_scorer.idf, base_scorer.unseen_idf)
            retriever._late = (lexical, scorer)
            p50, p95 = _rerank_ms(vectors, ids)
            size = _bytes_per_chunk(vectors, len(ids)) / 1000
            for set_name, cases in sets.items():
                hit1 = hit5 = mrr = 0.0
                for case in cases:
                    reading = read_question(case.question)
                    query = reading.ask if reading.override else case.question
                    plan = retriever.plan(query, question=case.question)
                    found = resolve(plan, list(case.history), retriever, 12).found
                    rank = evidence_rank(case, found.passages)
                    if rank:
                        hit1 += rank == 1
                        hit5 += rank <= 5
                        mrr += 1 / rank
                n = max(1, len(cases))
                print(
                    f"{name:<20} {set_name:<14} {hit1 / n:6.3f} {hit5 / n:6.3f} {mrr / n:6.3f} {size:9.1f} "
                    f"{p50:9.2f} / {p95:.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
