"""How late-interaction re-ranking changes retrieval: hit@1, hit@5 and MRR for several fusion weights.

Run: .venv/bin/python bench/late_interaction.py   (uses the index in .index/; prints a table)
Weight 0.0 is the hybrid list alone; a weight w fuses the IDF-weighted MaxSim rank (w) with the
hybrid rank (1 - w) by reciprocal rank, as assistant/retrieval.py does with LATE_WEIGHT.
"""

from __future__ import annotations

from unittest import mock

from assistant.config import Settings, prepare_runtime


def main() -> None:
    prepare_runtime()
    import assistant.retrieval as retrieval
    from assistant.chain import Assistant
    from assistant.conversation import resolve
    from assistant.question import read_question
    from evals.cases import load_cases
    from evals.metrics import evidence_rank
    from evals.runner import EVALS_DIR

    assistant = Assistant.from_settings(Settings.load())
    print(f"{'cases':<15} {'late weight':>11} {'hit@1':>6} {'hit@5':>6} {'MRR':>6}")
    for name in ("cases.jsonl", "heldout.jsonl"):
        cases = [c for c in load_cases(EVALS_DIR / name) if c.evidence and not c.expect_abstain]
        for weight in (0.0, 0.3, 0.5, 0.7):
            with mock.patch.object(retrieval, "LATE_WEIGHT", weight):
                hit1 = hit5 = mrr = 0.0
                for case in cases:
                    reading = read_question(case.question)
                    query = reading.ask if reading.override else case.question
                    plan = assistant.retriever.plan(query, question=case.question)
                    found = resolve(plan, list(case.history), assistant.retriever, 12).found
                    rank = evidence_rank(case, found.passages)
                    if rank:
                        hit1 += rank == 1
                        hit5 += rank <= 5
                        mrr += 1 / rank
            n = len(cases)
            print(f"{name:<15} {weight:>11.1f} {hit1 / n:6.3f} {hit5 / n:6.3f} {mrr / n:6.3f}")


if __name__ == "__main__":
    main()
