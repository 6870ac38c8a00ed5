"""The end-of-lesson quiz: the lesson's 15 questions word for word, an answer key worked out from the lesson and
kept out of plain text, and explanations that point back to the notebooks."""

import json
import re

import pytest
from conftest import QUIZ_KEY, RELEASE, ROOT

from helpers import quiz
from helpers.checking import CheckFailure

# Worked out from the lesson page, one reason each (the explanations in helpers/quiz.py say more):
KEY = {
    1: "A",  # the query is compared with keys to score them
    2: "D",  # softmax makes weights positive and summing to 1
    3: "D",  # softmax keeps the order: score 2.0 gets the most weight
    4: "B",  # soft = a blend over several positions
    5: "C",  # query-key similarity decides the weights
    6: "D",  # values are the content that is blended
    7: "B",  # weights are weights, not the model's reasoning
    8: "C",  # parallel attention over all positions
    9: "A",  # any position can attend to any other, whatever the distance
    10: "C",  # a learned, useful positional pattern (the option's wording is loose; see the explanation)
    11: "D",  # they govern how information flows (they are computed, not parameters; see the explanation)
    12: "C",  # soft rather than hard, and learned rather than stored
    13: "D",  # multiplied by their weights and summed
    14: "A",  # cannot be reliably predicted
    15: "D",  # negative weights, no proper blend
}


def _lesson_questions():
    """(question, [4 options]) from the lesson's check, as the lesson prints it."""
    lines = (ROOT / "tests" / "data" / "lesson-check.txt").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("15 questions")) + 1
    body = [line.strip() for line in lines[start:] if line.strip()]
    assert len(body) == 15 * 5
    return [(body[i], body[i + 1 : i + 5]) for i in range(0, len(body), 5)]


def test_the_key_other_tests_use_is_this_one():
    assert "".join(KEY[n] for n in range(1, 16)) == QUIZ_KEY


def test_questions_are_the_lessons_word_for_word():
    assert [(q, list(o)) for q, o in quiz.QUESTIONS] == _lesson_questions()


@pytest.mark.parametrize("number", range(1, 16))
def test_exactly_one_option_is_right_and_it_is_the_key(number):
    assert [letter for letter in "ABCD" if quiz.is_correct(number, letter)] == [KEY[number]]


def test_key_is_not_in_plain_text():
    source = (ROOT / "helpers" / "quiz.py").read_text()
    assert QUIZ_KEY not in source
    for path in RELEASE.glob("*.ipynb"):
        text = path.read_text()
        assert QUIZ_KEY not in text and "BEGIN SOLUTION" not in text


@pytest.mark.parametrize("number", range(1, 16))
def test_every_explanation_points_to_a_notebook(number):
    explanation = quiz.EXPLANATIONS[number - 1]
    for notebook in re.findall(r"\b0([1-8]) ·", explanation):
        assert list(RELEASE.glob(f"0{notebook}_*.ipynb")), explanation
    assert re.search(r"\b0[1-8] · section", explanation), "points back to where the course teaches it"


def test_imprecise_options_are_called_out():
    for number in (10, 11):
        assert "imprecise" in quiz.EXPLANATIONS[number - 1]


def test_quiz_checks():
    answers = dict(KEY)
    for n in KEY:
        quiz.check_quiz_answer(answers, n)
    assert quiz.score(answers) == 15
    answers[3] = "A"
    with pytest.raises(CheckFailure, match="question 3: A is not the best answer"):
        quiz.check_quiz_answer(answers, 3)
    answers[4] = None
    with pytest.raises(CheckFailure, match="no answer yet"):
        quiz.check_quiz_answer(answers, 4)
    answers[5] = 3
    with pytest.raises(CheckFailure, match="use one of the letters"):
        quiz.check_quiz_answer(answers, 5)
    assert quiz.score(answers) == 12
    assert quiz.is_correct(1, " a ")  # lower case and spaces are forgiven


def test_quiz_widget_gives_feedback_and_the_dict_to_copy():
    widget = quiz.quiz_widget()
    rows, total = widget.children[:-1], widget.children[-1]
    assert len(rows) == 15
    rows[2].children[1].value = "D"
    rows[0].children[1].value = "B"
    assert "✓ Right." in rows[2].children[2].value
    assert (
        "is not the best answer" in rows[0].children[2].value
        and "01 · section 6" in rows[0].children[2].value
    )
    assert "Score: 1 / 15" in total.value and "1: &#x27;B&#x27;" in total.value


def test_quiz_records_progress():
    from helpers import progress

    quiz.check_quiz_answer(dict(KEY), 1)
    assert progress.load()["quiz"]["correct"] == 15
    assert json.loads(progress.path().read_text())["checks"]["quiz"]["passed"]
