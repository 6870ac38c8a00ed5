"""The tutor against a held-apart evaluation set (tests/data/tutor_eval.json): precision and recall of `grounded`.

precision: of the answers marked grounded, the share whose first cited section is one that answers the question
(an out-of-scope question answered as grounded counts against it). recall: of the in-scope questions, the share
answered as grounded with such a section first. Used by tests/test_tutor.py and `make bench`.
"""

import json
from pathlib import Path

from helpers import tutor

EVAL = json.loads((Path(__file__).parent / "data" / "tutor_eval.json").read_text())


def evaluate():
    right, grounded, wrong = 0, 0, []
    for item in EVAL["in_scope"]:
        answer = tutor.ask(item["q"])
        if answer.grounded:
            grounded += 1
            if any(a in answer.sources[0] for a in item["answers"]):
                right += 1
            else:
                wrong.append((item["q"], answer.sources[0]))
        else:
            wrong.append((item["q"], "declined"))
    for question in EVAL["out_of_scope"]:
        answer = tutor.ask(question)
        if answer.grounded:
            grounded += 1
            wrong.append((question, answer.sources[0]))
    return {
        "precision": right / grounded if grounded else 1.0,
        "recall": right / len(EVAL["in_scope"]),
        "in_scope": len(EVAL["in_scope"]),
        "out_of_scope": len(EVAL["out_of_scope"]),
        "wrong": wrong,
    }


if __name__ == "__main__":
    result = evaluate()
    print({k: v for k, v in result.items() if k != "wrong"})
    for question, got in result["wrong"]:
        print(f"  {question!r} -> {got}")
