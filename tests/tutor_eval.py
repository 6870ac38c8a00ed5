"""The tutor against questions it was not written for: precision and recall of `grounded`.

Three sets in tests/data/, each written before a change to the tutor and measured once, fresh, after it; each was
then read answer by answer, so it steered what came next. ``tutor_eval.json`` (development) came first;
``tutor_heldout.json`` measured the rewrite of the retrieval (precision 0.86, recall 0.55 when first run);
``tutor_heldout_2.json`` measured the rule for tables of terms (0.65, 0.39 when first run; 0.71, 0.39 after
two faults it showed were fixed: "blockchain" read as "blocked", "verify" as checking an explanation).

precision: of the answers marked grounded, the share whose first cited section is one that answers the question
(an out-of-scope question answered as grounded counts against it). recall: of the in-scope questions, the share
answered as grounded with such a section first. Used by tests/test_tutor.py and `make bench`.
"""

import json
from pathlib import Path

from helpers import tutor

DATA = Path(__file__).parent / "data"
SETS = {
    "held apart, second": json.loads((DATA / "tutor_heldout_2.json").read_text()),
    "held apart, first": json.loads((DATA / "tutor_heldout.json").read_text()),
    "development": json.loads((DATA / "tutor_eval.json").read_text()),
}
EVAL = SETS["held apart, second"]


def evaluate(questions=EVAL):
    right, grounded, wrong = 0, 0, []
    for item in questions["in_scope"]:
        answer = tutor.ask(item["q"])
        if answer.grounded:
            grounded += 1
            if any(a in answer.sources[0] for a in item["answers"]):
                right += 1
            else:
                wrong.append((item["q"], answer.sources[0]))
        else:
            wrong.append((item["q"], "declined"))
    for question in questions["out_of_scope"]:
        answer = tutor.ask(question)
        if answer.grounded:
            grounded += 1
            wrong.append((question, answer.sources[0]))
    return {
        "precision": right / grounded if grounded else 1.0,
        "recall": right / len(questions["in_scope"]),
        "in_scope": len(questions["in_scope"]),
        "out_of_scope": len(questions["out_of_scope"]),
        "wrong": wrong,
    }


if __name__ == "__main__":
    for name, questions in SETS.items():
        result = evaluate(questions)
        print(name, {k: v for k, v in result.items() if k != "wrong"})
        for question, got in result["wrong"]:
            print(f"  {question!r} -> {got}")
