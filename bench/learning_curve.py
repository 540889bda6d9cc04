"""Learning curve of the answer ranker: training questions used against held-out lead answers.

    .venv/bin/python bench/learning_curve.py            # needs the index (`assistant ingest`)

Each point fits the models on the first share of the train split (`evals/train_ranker.py --fraction`),
chooses its thresholds on the same dev split, and scores `evals/heldout.jsonl` with that model. The
held-out set is only measured here, never used to choose.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from assistant.config import Settings, prepare_runtime  # noqa: E402
from evals.runner import EVALS_DIR, evaluate  # noqa: E402
from evals.train import load_train  # noqa: E402
from evals.train_ranker import extract, fit  # noqa: E402

FRACTIONS = (0.125, 0.25, 0.5, 1.0)


def main() -> int:
    prepare_runtime()
    settings = Settings.load()
    questions = load_train()
    rows = extract(questions, settings)
    console = Console(stderr=True)
    print("| training questions | dev lead answers | held-out lead answers | held-out coverage | held-out abstention |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        for fraction in FRACTIONS:
            model = fit(questions, rows, fraction)
            path = Path(folder) / f"model-{fraction}.json"
            path.write_text(json.dumps(model), encoding="utf-8")
            report = evaluate(
                settings.model_copy(update={"answer_model": path}),
                EVALS_DIR / "heldout.jsonl",
                console=console,
                conversations_path=None,
            )
            m = report["metrics"]
            print(
                f"| {model['fitted']['train_questions']} | {model['fitted']['dev_lead_answers']:.3f} "
                f"| {m['lead_answers']:.3f} | {m['coverage']:.3f} | {m['abstention']:.3f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
