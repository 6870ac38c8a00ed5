"""The end-of-lesson quiz: the lesson's 15 questions word for word; the key and explanations only in the hidden
tests of source/'s master notebook; instant feedback in self-study; recorded answers (right or wrong only after
grading) in a class release."""

import json
import re

import numpy as np
import pytest
from conftest import QUIZ_KEY, RELEASE, ROOT, SOURCE

from helpers import progress, quiz
from helpers.checking import CheckFailure

KEY = quiz.course_key()


@pytest.fixture
def class_release(monkeypatch):
    """The student package alone: no master notebook beside it."""
    monkeypatch.setattr(quiz, "MASTER", ROOT / "no-such-folder" / "08.ipynb")
    quiz.course_key.cache_clear()
    yield
    quiz.course_key.cache_clear()


def _lesson_questions():
    """(question, [4 options]) from the lesson's check, as the lesson prints it."""
    lines = (ROOT / "tests" / "data" / "lesson-check.txt").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("15 questions")) + 1
    body = [line.strip() for line in lines[start:] if line.strip()]
    assert len(body) == 15 * 5
    return [(body[i], body[i + 1 : i + 5]) for i in range(0, len(body), 5)]


def test_questions_are_the_lessons_word_for_word():
    assert [(q, list(o)) for q, o in quiz.QUESTIONS] == _lesson_questions()


def test_the_key_is_one_letter_per_question_in_the_masters_hidden_tests():
    assert sorted(KEY) == list(range(1, 16)) and all(letter in "ABCD" for letter, _ in KEY.values())
    master = (SOURCE / "08_end_of_lesson_check.ipynb").read_text()
    assert master.count("grade_quiz_answer(") == 15  # one hidden test per question


def test_the_masters_own_answers_are_the_key():
    # The source notebook's solution cell and its hidden tests agree (the reference student scores 15).
    master = json.loads((SOURCE / "08_end_of_lesson_check.ipynb").read_text())
    solution = next(
        "".join(c["source"]) for c in master["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
    )
    assert f'"{QUIZ_KEY}"' in solution


def test_question_3_by_computing_it():
    # An independent check of one key entry: softmax of the lesson's scores, largest weight.
    scores = np.array([2.0, 0.5, -1.0, 0.0])
    weights = np.exp(scores) / np.exp(scores).sum()
    options = quiz.QUESTIONS[2][1]
    winner = f"Token {int(np.argmax(weights)) + 1}"
    assert options[LETTER_INDEX[KEY[3][0]]].startswith(winner)
    assert f"{weights.max():.2f}" in KEY[3][1]


LETTER_INDEX = {letter: i for i, letter in enumerate("ABCD")}


def test_neither_key_nor_explanations_ship_with_the_student_package():
    files = [p for p in (ROOT / "helpers").rglob("*") if p.is_file() and p.suffix in (".py", ".json", ".md")]
    assert QUIZ_KEY not in "".join(p.read_text() for p in files)
    student = "".join(p.read_text() for p in files if "grading" not in p.relative_to(ROOT / "helpers").parts)
    for _, explanation in KEY.values():
        assert explanation[:60] not in student, explanation
    for path in RELEASE.glob("*.ipynb"):
        text = path.read_text()
        assert QUIZ_KEY not in text and "BEGIN SOLUTION" not in text and "grade_quiz_answer(\n" not in text


@pytest.mark.parametrize("number", range(1, 16))
def test_every_explanation_points_to_a_notebook(number):
    explanation = KEY[number][1]
    for notebook in re.findall(r"\b0([1-8]) ·", explanation):
        assert list(RELEASE.glob(f"0{notebook}_*.ipynb")), explanation
    assert re.search(r"\b0[1-8] · section", explanation), "points back to where the course teaches it"


def test_imprecise_options_are_called_out():
    for number in (10, 11):
        assert "imprecise" in KEY[number][1]


def test_self_study_checks_say_right_or_wrong_at_once():
    answers = dict(zip(range(1, 16), QUIZ_KEY))
    for n in answers:
        quiz.check_quiz_answer(answers, n)
    assert quiz.score(answers, KEY) == 15
    answers[3] = "A"
    with pytest.raises(CheckFailure, match="question 3: A is not the best answer"):
        quiz.check_quiz_answer(answers, 3)
    answers[4] = None
    with pytest.raises(CheckFailure, match="no answer yet"):
        quiz.check_quiz_answer(answers, 4)
    answers[5] = 3
    with pytest.raises(CheckFailure, match="use one of the letters"):
        quiz.check_quiz_answer(answers, 5)
    assert quiz.score(answers, KEY) == 12
    assert quiz.is_correct(1, f" {QUIZ_KEY[0].lower()} ", KEY)  # lower case and spaces are forgiven


def test_while_graded_the_visible_check_only_asks_for_a_letter(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    wrong = next(letter for letter in "ABCD" if letter != QUIZ_KEY[0])
    quiz.check_quiz_answer({1: wrong}, 1)  # scored by the hidden test, not here
    assert "scored when your work is graded" in capsys.readouterr().out
    with pytest.raises(CheckFailure, match="is not the best answer"):
        quiz.grade_quiz_answer({1: wrong}, 1, *KEY[1])
    quiz.grade_quiz_answer({1: QUIZ_KEY[0]}, 1, *KEY[1])
    assert KEY[1][1] in capsys.readouterr().out, "feedback explains right answers too"


def test_in_a_class_release_answers_are_recorded_not_judged(class_release, capsys):
    assert quiz.course_key() is None
    wrong = next(letter for letter in "ABCD" if letter != QUIZ_KEY[0])
    quiz.check_quiz_answer({1: wrong}, 1)
    assert "scored when your work is graded" in capsys.readouterr().out
    widget = quiz.quiz_widget()
    rows, total = widget.children[:-1], widget.children[-1]
    rows[0].children[1].value = wrong
    assert "Recorded" in rows[0].children[2].value and "Right" not in rows[0].children[2].value
    assert "not the best" not in rows[0].children[2].value
    assert "Answered: 1" in total.value and "Score" not in total.value
    assert progress.load()["quiz"] == {**progress.load()["quiz"], "correct": None, "answered": 1}
    assert "scored when your work is graded" in progress.summary_html()


def test_quiz_widget_gives_feedback_and_the_dict_to_copy():
    widget = quiz.quiz_widget()
    rows, total = widget.children[:-1], widget.children[-1]
    assert len(rows) == 15
    wrong = next(letter for letter in "ABCD" if letter != QUIZ_KEY[0])
    rows[2].children[1].value = QUIZ_KEY[2]
    rows[0].children[1].value = wrong
    assert "✓ Right." in rows[2].children[2].value
    assert (
        "is not the best answer" in rows[0].children[2].value
        and "01 · section 6" in rows[0].children[2].value
    )
    assert "Score: 1 / 15" in total.value and f"1: &#x27;{wrong}&#x27;" in total.value


def test_quiz_records_progress():
    quiz.check_quiz_answer(dict(zip(range(1, 16), QUIZ_KEY)), 1)
    assert progress.load()["quiz"]["correct"] == 15
    assert json.loads(progress.path().read_text())["checks"]["quiz"]["passed"]
