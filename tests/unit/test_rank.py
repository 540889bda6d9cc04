"""The answer ranker's parts: what a question wants, each feature, the fitted model applied with numpy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ModelFileError
from assistant.plan import make_plan
from assistant.rank.features import FEATURES, Context, matrix, unit_text
from assistant.rank.model import MODEL_PATH, AnswerModel, Logistic, load_model
from assistant.units import Unit


@pytest.mark.parametrize(
    ("question", "want"),
    [
        ("How many employers signed the charter?", "number"),
        ("What share of firms trained their staff?", "number"),
        ("Why do employers get involved in engagement?", "cause"),
        ("What were the three models of engagement discussed?", "list"),
        ("Which organisations could coordinate the work?", "list"),
        ("How did the study define employer engagement?", "definition"),
        ("How can colleges engage small employers?", "advice"),
        ("What stops small firms training their staff?", "obstacle"),
        ("What did the SSDA study find about networks?", "findings"),
    ],
)
def test_plan_reads_what_would_answer(question: str, want: str):
    assert want in make_plan(question).wants


def test_plan_does_not_invent_wants():
    plan = make_plan("Employer networks in the north east")
    assert not plan.wants & {"number", "cause", "definition", "obstacle"}


def _unit(text: str, kind: str = "body", report: str = "r", section=("3 Barriers to engagement",), uid=0) -> Unit:
    return Unit(uid, f"{report}:{uid}", report, 0, 0, kind, text, section, 0)


def _features(
    question: str, units: list[Unit], cos: list[float], reports=(), terms=None, bm25=None, years=None
) -> dict:
    plan = make_plan(question, reports=tuple(reports))
    words = terms or [u.text.lower().replace(".", "").split() for u in units]
    texts = [
        unit_text(u, w, [s.lower() for s in " ".join(u.section).split()], 1) for u, w in zip(units, words, strict=True)
    ]
    ctx = Context(
        plan=plan,
        topic_terms=frozenset(question.lower().rstrip("?").split()),
        weight=lambda t: 2.0 if t == "barriers" else 1.0,
        passage_rank={units[0].chunk_id: 1},
        passage_late={units[0].chunk_id: 0.7},
        best_late=0.7,
        coverage=0.5,
        report_year=years or {},
    )
    rows = matrix(ctx, units, texts, np.asarray(cos), np.asarray(bm25 or [0.0] * len(units)), np.zeros(len(units)))
    return [dict(zip(FEATURES, row, strict=True)) for row in rows]


def test_meaning_features_are_relative_to_the_best_candidate():
    a, b = _features("what barriers", [_unit("one two three.", uid=0), _unit("four five six.", uid=1)], [0.8, 0.5])
    assert a["cos"] == pytest.approx(0.8) and a["cos_gap"] == 0 and b["cos_gap"] == pytest.approx(-0.3)
    assert a["cos_rank"] > b["cos_rank"] and a["q_best_cos"] == b["q_best_cos"] == pytest.approx(0.8)


def test_word_share_is_idf_weighted_and_headings_count():
    (f,) = _features("what barriers", [_unit("barriers everywhere.", section=("Other",))], [0.5])
    assert f["words"] == pytest.approx(2 / 3)  # "barriers" weighs 2, "what" 1
    (g,) = _features("what barriers", [_unit("nothing here.", section=("barriers",))], [0.5])
    assert g["words"] == 0 and g["heading"] == pytest.approx(2 / 3) and g["words_all"] == pytest.approx(2 / 3)


def test_what_is_wanted_meets_what_is_offered():
    units = [_unit("Nearly half had 12 vacancies to fill.", uid=0), _unit("They liked the college.", uid=1)]
    a, b = _features("How many vacancies were there?", units, [0.5, 0.5])
    assert a["want_number"] == 1 and b["want_number"] == 0 and a["offer_number"] == 1
    (c,) = _features("Tell me about vacancies", [units[0]], [0.5])
    assert c["want_number"] == 0 and c["offer_number"] == 1
    (d,) = _features("What stops small firms training?", [_unit("A lack of time is the main barrier.")], [0.5])
    assert d["want_obstacle"] == 1


def test_kind_report_and_passage_features():
    units = [
        _unit("The three approaches: sector partnerships, networks, brokerage.", kind="list", report="a", uid=0),
        _unit("These were rare in small towns and villages.", kind="dangling", report="b", uid=1),
    ]
    a, b = _features("What were the three approaches?", units, [0.5, 0.4], reports=["a"])
    assert a["kind_list"] == 1 and a["want_list"] == 1 and b["kind_dangling"] == 1
    assert a["named_report"] == 1 and a["other_report"] == 0 and b["other_report"] == 1
    assert a["passage_rank"] == 1 and a["passage_late"] == pytest.approx(0.7) and b["passage_rank"] == 0


def test_text_features():
    (f,) = _features(
        "what barriers", [_unit("Smith et al (2004) found this section of the report describes barriers.")], [0.5]
    )
    assert f["cited"] == 1
    (g,) = _features("what barriers", [_unit("This report describes the barriers firms face.")], [0.5])
    assert g["about_text"] == 1
    (h,) = _features("what", [_unit("A case.", section=("Case study 4: a bakery",))], [0.5])
    assert h["case_section"] == 1 and h["short"] == 1
    # About the literature, not the topic: the same test the quotable-sentence filter uses.
    (i,) = _features("what barriers", [_unit("A number of LSDA publications are concerned with barriers.")], [0.5])
    assert i["about_text"] == 1
    (j,) = _features("what barriers", [_unit("Small firms face barriers of time and cost.")], [0.5])
    assert j["about_text"] == 0


def test_a_year_asked_for_is_met_by_the_text_or_the_reports_year():
    units = [
        _unit("T Levels were to be first delivered in 2020.", report="a", uid=0),
        _unit("Nearly half of the firms had a vacancy.", report="b", uid=1),
    ]
    a, b = _features("How many students started in 2022?", units, [0.5, 0.4], years={"a": "2019", "b": "2008"})
    assert a["year_unmet"] == 1 and a["year_met"] == 0 and b["year_unmet"] == 1
    assert a["q_year_unmet"] == b["q_year_unmet"] == 1  # no candidate gives 2022
    c, d = _features(
        "What did the 2008 study find about vacancies?", units, [0.5, 0.4], years={"a": "2019", "b": "2008"}
    )
    assert d["year_met"] == 1 and c["year_unmet"] == 1 and c["q_year_unmet"] == d["q_year_unmet"] == 0
    (e,) = _features("How many students started?", units[:1], [0.5])
    assert e["year_met"] == e["year_unmet"] == e["q_year_unmet"] == 0  # no year asked: no signal


def test_model_matches_scikit_learn(tmp_path: Path):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(FEATURES)))
    y = (x[:, 0] + 0.5 * x[:, 3] + rng.normal(scale=0.3, size=200) > 0).astype(int)
    fitted = LogisticRegression().fit(x, y)
    unit = Logistic(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), fitted.coef_[0], float(fitted.intercept_[0]))
    model = AnswerModel(FEATURES, unit, unit, 0.5, 0.3, 0.5)
    assert np.allclose(model.probability(x), fitted.predict_proba(x)[:, 1])


def test_shipped_model_loads_and_is_calibrated_to_a_probability():
    model = load_model()
    assert model.features == FEATURES and 0.0 < model.abstain_below < 1.0
    assert 0.0 < model.points_at <= model.answers_at < 1.0  # further points favour recall
    p = model.probability(np.tile(model.unit.mean, (3, 1)))
    assert np.all((p > 0) & (p < 1))
    assert 0.0 < model.answerable(p, np.tile(model.unit.mean, (3, 1))[0]) < 1.0


def test_damaged_or_stale_model_file_is_a_clear_error(tmp_path: Path):
    broken = tmp_path / "model.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFileError, match="train_ranker"):
        load_model(broken)
    stale = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    stale["features"] = stale["features"][:-1]
    other = tmp_path / "stale.json"
    other.write_text(json.dumps(stale), encoding="utf-8")
    with pytest.raises(ModelFileError, match="other features"):
        load_model(other)


_SEEDED = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from assistant.plan import make_plan
from assistant.rank.features import FEATURES, Context, matrix, unit_text
from tests.unit.test_rank import _unit
words = "employers value short flexible courses near the workplace and local brokers".split()
units = [_unit(" ".join(words[: i + 3]) + ".", uid=i) for i in range(len(words) - 3)]
texts = [unit_text(u, u.text.rstrip(".").split(), ["courses"], 1) for u in units]
question = "why do employers value short flexible courses near local brokers"
ctx = Context(
    plan=make_plan(question), topic_terms=frozenset(question.split()), weight=lambda t: 1 / 3 + 0.1 * len(t),
    passage_rank={}, passage_late={}, best_late=0.5, coverage=0.5, report_year={},
)
rows = matrix(ctx, units, texts, np.full(len(units), 0.5), np.zeros(len(units)), np.zeros(len(units)))
print([float(x) for row in rows for x in row[[FEATURES.index(f) for f in ("words", "words_all", "heading")]]])
"""


def test_features_do_not_depend_on_string_hashing():
    """Word shares summed in a set's order differed in their last bits between runs (PYTHONHASHSEED)."""
    import os
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    found = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _SEEDED, root], capture_output=True, text=True, env=env, cwd=root)
        assert done.returncode == 0, done.stderr
        found.add(done.stdout)
    assert len(found) == 1
