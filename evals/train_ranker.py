"""Fit the answer ranker on `evals/train.jsonl` and write `assistant/rank/model.json`.

    .venv/bin/python evals/train_ranker.py              # fit, choose on dev, write the model file
    .venv/bin/python evals/train_ranker.py --out /tmp/model.json --fraction 0.5   # a learning-curve point

Every training question goes through the real engine on the current index (`assistant ingest` first):
its plan, its retrieval and the candidate units with their features. A unit is labelled an answer when it
holds one of the question's answer sentences (for a false premise: one of the sentences that contradict
the claim, ranked for the claim). A logistic regression is fitted on the train split; its regularisation
and the abstention threshold are chosen on the dev split (one question in five, by a hash of its id).
`evals/cases.jsonl` and `evals/heldout.jsonl` are not read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from assistant.config import Settings, prepare_runtime  # noqa: E402
from assistant.rank.features import FEATURES  # noqa: E402
from assistant.rank.model import MODEL_PATH, Logistic, question_row  # noqa: E402
from evals.train import TRAIN_PATH, TrainQuestion, answers_unit, load_train  # noqa: E402

GRID_C = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
MAX_FALSE_ABSTENTION = 0.03  # on dev: at most this share of answerable questions may be refused
LEADS = ("body", "joined", "list")


@dataclass
class Rows:
    """Features, labels and which question each row belongs to."""

    x: np.ndarray
    y: np.ndarray
    question: np.ndarray  # index into the questions list
    leads: np.ndarray  # the unit may lead an answer


def extract(questions: list[TrainQuestion], settings: Settings) -> Rows:
    """Every training question's candidate units, with features and labels, through the real engine."""
    from assistant.chain import Assistant

    assistant = Assistant.from_settings(settings)
    xs, ys, qs, ls = [], [], [], []
    for i, q in enumerate(questions):
        understood = assistant.understand(assistant.check_question(q.question), rank=False)
        plan, found = understood.plan, understood.found
        if q.kind == "false_premise" and understood.claim_plan is not None:
            plan, found = understood.claim_plan, understood.claim_found
        units, x = understood.ranker.candidates(plan, found)
        xs.append(x)
        ys.append(np.array([answers_unit(q.answers, u.text, u.report) for u in units], dtype=np.int8))
        qs.append(np.full(len(units), i))
        ls.append(np.array([u.kind in LEADS for u in units], dtype=bool))
    return Rows(np.vstack(xs), np.concatenate(ys), np.concatenate(qs), np.concatenate(ls))


def _fit(x: np.ndarray, y: np.ndarray, c: float, balanced: bool = False) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced" if balanced else None)
    model.fit((x - scaler.mean_) / scale, y)
    return {
        "mean": [round(float(v), 6) for v in scaler.mean_],
        "scale": [round(float(v), 6) for v in scale],
        "coef": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
    }


def _best_threshold(p: np.ndarray, y: np.ndarray, beta: float) -> tuple[float, float]:
    """The probability threshold with the best F-beta of "answers" (and that score)."""
    best, threshold = -1.0, 0.5
    positives = float(y.sum())
    for t in np.unique(np.round(p, 4)):
        predicted = p >= t
        tp = float((predicted & (y == 1)).sum())
        score = (1 + beta**2) * tp / max(1.0, beta**2 * positives + predicted.sum())
        if score > best:
            best, threshold = score, float(t)
    return threshold, best


def _leads_answer(rows: Rows, p: np.ndarray, q: int) -> bool:
    """Whether the question's likeliest unit that may lead is an answer."""
    lead = (rows.question == q) & rows.leads
    return bool(lead.any() and rows.y[lead][np.argmax(p[lead])] == 1)


def _question_rows(rows: Rows, p: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """QUESTION_FEATURES for each question, as the chain computes them from its ranking."""
    out = []
    for q in ids:
        mask = np.flatnonzero(rows.question == q)
        if not len(mask):
            out.append(question_row(np.zeros(0), np.zeros(0), FEATURES))
            continue
        best = mask[np.argmax(p[mask])]
        out.append(question_row(p[mask], rows.x[best], FEATURES))
    return np.vstack(out)


def fit(questions: list[TrainQuestion], rows: Rows, fraction: float = 1.0) -> dict:
    """Fit on the train split, choose on dev: the unit model's C (by how often the lead is an answer, then log
    loss), the unit thresholds (best F1 and F2 of "answers" on dev), the question model, and the abstention threshold
    on P(answerable): the highest that refuses at most MAX_FALSE_ABSTENTION of dev's answerable questions)."""
    dev_ids = np.array([i for i, q in enumerate(questions) if q.dev])
    train_ids = np.array([i for i, q in enumerate(questions) if not q.dev])
    if fraction < 1.0:  # a learning-curve point: a share of the train split, in the order of their id hashes
        by_hash = sorted(train_ids, key=lambda i: hashlib.sha1(questions[i].id.encode()).hexdigest())
        train_ids = np.array(sorted(by_hash[: max(1, int(round(fraction * len(train_ids))))]))
    train, dev = np.isin(rows.question, train_ids), np.isin(rows.question, dev_ids)
    answerable = np.array([i for i in dev_ids if not questions[i].expect_abstain])
    scored = []
    for c in GRID_C:
        params = _fit(rows.x[train], rows.y[train], c)
        p = Logistic.from_dict(params)(rows.x)
        lead = np.mean([_leads_answer(rows, p, i) for i in answerable])
        eps = 1e-9
        loss = -float(np.mean(rows.y[dev] * np.log(p[dev] + eps) + (1 - rows.y[dev]) * np.log(1 - p[dev] + eps)))
        scored.append((lead, -loss, -c, c, params))
    lead, neg_loss, _, c, unit = max(scored, key=lambda s: s[:3])
    p = Logistic.from_dict(unit)(rows.x)

    # The unit thresholds: where "this unit answers" is best balanced on dev (F1, for leads and premises),
    # and where recall counts twice as much as precision (F2, for the further points of an answer).
    answers_at, best_f1 = _best_threshold(p[dev], rows.y[dev], beta=1.0)
    points_at, _ = _best_threshold(p[dev], rows.y[dev], beta=2.0)

    # The question model: answerable or not, from each question's best units and retrieval signals.
    y_question = np.array([not q.expect_abstain for q in questions], dtype=np.int8)
    question = _fit(_question_rows(rows, p, train_ids), y_question[train_ids], 1.0, balanced=True)
    q_dev = dict(zip(dev_ids, Logistic.from_dict(question)(_question_rows(rows, p, dev_ids)), strict=True))
    in_scope = sorted(float(q_dev[i]) for i in answerable)
    allowed = int(np.floor(MAX_FALSE_ABSTENTION * len(in_scope)))
    # The highest threshold that refuses at most `allowed` of dev's answerable questions.
    abstain_below = in_scope[allowed] - 1e-6 if in_scope else 0.5
    abstains = {i: float(q_dev[i]) < abstain_below for i in dev_ids}
    out_of_scope = [i for i in dev_ids if questions[i].expect_abstain]
    return {
        "features": list(FEATURES),
        "unit": unit,
        "question": question,
        "answers_at": round(answers_at, 6),
        "points_at": round(points_at, 6),
        "abstain_below": round(float(abstain_below), 6),
        "fitted": {
            "train_questions": int(len(train_ids)),
            "dev_questions": int(len(dev_ids)),
            "rows": int(train.sum()),
            "positives": int(rows.y[train].sum()),
            "C": c,
            "dev_lead_answers": round(float(lead), 4),
            "dev_log_loss": round(float(-neg_loss), 4),
            "dev_unit_f1": round(best_f1, 4),
            "dev_false_abstention": round(float(np.mean([abstains[i] for i in answerable])), 4),
            "dev_out_of_scope_abstention": round(float(np.mean([abstains[i] for i in out_of_scope])), 4)
            if out_of_scope
            else None,
            "dev_answer_among_candidates": round(
                float(np.mean([rows.y[rows.question == i].any() for i in answerable])), 4
            ),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=TRAIN_PATH)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the train split to fit on")
    parser.add_argument("--rows", type=Path, default=None, help="save the extracted rows here, or reuse them")
    args = parser.parse_args(argv)
    prepare_runtime()
    settings = Settings.load(index_dir=args.index_dir)
    try:
        questions = load_train(args.train)
    except (OSError, ValueError) as exc:
        print(f"Cannot read the training questions: {exc}", file=sys.stderr)
        return 2
    if args.rows is not None and args.rows.exists():
        saved = np.load(args.rows)
        rows = Rows(saved["x"], saved["y"], saved["question"], saved["leads"])
    else:
        rows = extract(questions, settings)
        if args.rows is not None:
            np.savez(args.rows, x=rows.x, y=rows.y, question=rows.question, leads=rows.leads)
    model = fit(questions, rows, args.fraction)
    args.out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(model["fitted"], indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
