"""The fitted answer scorer: a logistic regression over FEATURES, applied with numpy from a small JSON file.

`evals/train_ranker.py` fits it (scikit-learn) on `evals/train.jsonl` and chooses its thresholds on a dev
split of that file; the eval sets are never used. Answering needs only numpy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.errors import ModelFileError

MODEL_PATH = Path(__file__).with_name("model.json")


QUESTION_FEATURES = ("best_logit", "second_logit", "q_best_cos", "q_late", "q_coverage", "q_year_unmet")


@dataclass(frozen=True)
class Logistic:
    """sigmoid(((x - mean) / scale) . coef + intercept), row by row."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0)
        z = ((np.asarray(rows, dtype=np.float64) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    @classmethod
    def from_dict(cls, data: dict) -> Logistic:
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
        )


@dataclass(frozen=True)
class AnswerModel:
    """Two fitted logistic regressions: does a unit answer the question (over FEATURES), and can the
    question be answered at all (over QUESTION_FEATURES, from its best units and its retrieval)."""

    features: tuple[str, ...]
    unit: Logistic
    question: Logistic
    # A unit at least this likely answers: it may lead, be a point, or correct a premise (chosen on dev).
    answers_at: float
    # A unit at least this likely is worth showing as a further point (chosen on dev, favouring recall).
    points_at: float
    # A question less likely than this to be answerable is not covered by the reports (chosen on dev).
    abstain_below: float

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """P(the unit answers) for each row of features (columns in `features` order)."""
        return self.unit(rows)

    def answerable(self, probabilities: np.ndarray, first_row: np.ndarray) -> float:
        """P(the reports answer the question), from its units' probabilities (best first) and the best row."""
        return float(self.question(question_row(probabilities, first_row, self.features)[None, :])[0])

    @classmethod
    def from_dict(cls, data: dict) -> AnswerModel:
        return cls(
            features=tuple(data["features"]),
            unit=Logistic.from_dict(data["unit"]),
            question=Logistic.from_dict(data["question"]),
            answers_at=float(data["answers_at"]),
            points_at=float(data["points_at"]),
            abstain_below=float(data["abstain_below"]),
        )


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def question_row(probabilities: np.ndarray, first_row: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """QUESTION_FEATURES of a question: its two best units' log-odds and the retrieval's signals."""
    ordered = np.sort(np.asarray(probabilities))[::-1]
    best = float(ordered[0]) if len(ordered) else 0.0
    second = float(ordered[1]) if len(ordered) > 1 else 0.0
    col = {name: i for i, name in enumerate(features)}
    signals = [float(first_row[col[n]]) if len(first_row) else 0.0 for n in QUESTION_FEATURES[2:]]
    return np.array([_logit(best), _logit(second), *signals])


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> AnswerModel:
    """The fitted model shipped with the code (raises `ModelFileError` when it is missing or damaged)."""
    from assistant.rank.features import FEATURES

    try:
        model = AnswerModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(
            f"The answer model {path} cannot be read ({exc}). Restore it from git "
            "(`git checkout -- assistant/rank/model.json`) or refit it: `python evals/train_ranker.py`."
        ) from exc
    if model.features != FEATURES:
        raise ModelFileError(
            f"The answer model {path} was fitted on other features than this code computes. "
            "Refit it: `python evals/train_ranker.py`."
        )
    return model
