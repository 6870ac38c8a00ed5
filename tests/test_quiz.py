"""The end-of-lesson quiz: the lesson's 15 stems and right options word for word, distractors nobody would pick
rewritten as misconceptions; the key, the explanations and a reason per wrong option only in the hidden tests of
source/'s master notebook; instant feedback in self-study; right or wrong only after grading in a class release;
the saved score only from the graded cell."""

import json
import re
from html import escape

import numpy as np
import pytest
from conftest import QUIZ_KEY, RELEASE, ROOT, SOURCE

from helpers import progress, quiz
from helpers.checking import CheckFailure

KEY = quiz.course_key()
TESTS = quiz.course_tests()  # {number: (letter, explanation, {wrong letter: reason})}


@pytest.fixture
def class_release(monkeypatch):
    """The student package alone: no master notebook beside it."""
    monkeypatch.setattr(quiz, "MASTER", ROOT / "no-such-folder" / "08.ipynb")
    quiz.course_tests.cache_clear()
    yield
    quiz.course_tests.cache_clear()


@pytest.fixture
def saved(tmp_path, monkeypatch):
    """A progress file of this test's own, empty at the start."""
    monkeypatch.setenv(progress.ENV, str(tmp_path / "progress.json"))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def _wrong(number):
    return next(letter for letter in "ABCD" if letter != QUIZ_KEY[number - 1])


def _lesson_questions():
    """(question, [4 options]) from the lesson's check, as the lesson prints it."""
    lines = (ROOT / "tests" / "data" / "lesson-check.txt").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("15 questions")) + 1
    body = [line.strip() for line in lines[start:] if line.strip()]
    assert len(body) == 15 * 5
    return [(body[i], body[i + 1 : i + 5]) for i in range(0, len(body), 5)]


def test_stems_and_right_options_are_the_lessons_word_for_word():
    """The stems and each question's right option (at the same letter) are the lesson's word for word, and so are
    the distractors, except these, rewritten as misconceptions the course addresses (each hidden test says why
    its option is wrong, and where the course teaches it):

    2A. Dividing each score by the sum of all the scores
    2B. Dividing the scores by the square root of the key dimension
    4A. It returns the value whose key is closest to the query, even when no key matches exactly
    4C. Its weights can be any real numbers instead of only 0 or 1
    4D. Positions that are masked out still get a small share of the weight
    5A. The attention weights the model learned in training, the same for every input
    5D. The size of each value vector: larger values count more
    7C. Only because a causal mask can force some weights; without a mask the highest weights show the concept
    7D. Only single heads mislead; averaged over all heads, the weights show the concept
    8A. Attention needing fewer multiply-adds than a recurrent layer
    8B. The key/value cache, which lets a model generate every token of a text at once
    9B. Any token can be read, but distant tokens always get less weight
    10A. Softmax gives the most weight to neighbouring positions by default
    10B. The causal mask makes every head attend to the position after its own
    11B. A fixed ranking of the tokens by importance, learned in training and the same for every input
    11C. The information each position passes on to the output
    12A. It is complete: attention returns the value whose key best matches the query, like a dictionary
    12B. The keys are learned in training and stored in the model, as in a database
    12D. Attention can only read earlier positions, while a memory can be read anywhere
    13A. The value with the largest weight is returned and the others are dropped
    13C. Each is multiplied by its weight, and the sum is divided by the square root of the key dimension
    14B. Count the heads: the variant with more heads can learn more patterns, so it will win
    15B. The output would be the same up to a constant factor, which later layers undo
    15C. Masking would still work: forbidden scores are set to minus infinity and get weight 0
    """
    doc = test_stems_and_right_options_are_the_lessons_word_for_word.__doc__
    rewritten = {
        (int(n), letter): text for n, letter, text in re.findall(r"^ *(\d+)([A-D])\. (.+)$", doc, re.M)
    }
    assert len(rewritten) == 24
    lesson = _lesson_questions()
    assert [q for q, _ in quiz.QUESTIONS] == [q for q, _ in lesson]
    for number, ((_, options), (_, originals)) in enumerate(zip(quiz.QUESTIONS, lesson), start=1):
        for letter, option, original in zip("ABCD", options, originals):
            if letter == KEY[number][0]:
                # The key stays where the lesson has it: never at a letter the lesson gave a distractor we rewrote.
                assert option == original and (number, letter) not in rewritten, number
            elif (number, letter) in rewritten:
                assert option == rewritten[number, letter] != original, (number, letter)
            else:
                assert option == original, (number, letter)


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


def test_neither_key_nor_explanations_nor_reasons_ship_with_the_student_package():
    files = [p for p in (ROOT / "helpers").rglob("*") if p.is_file() and p.suffix in (".py", ".json", ".md")]
    assert QUIZ_KEY not in "".join(p.read_text() for p in files)
    student = "".join(p.read_text() for p in files if "grading" not in p.relative_to(ROOT / "helpers").parts)
    for _, explanation in KEY.values():
        assert explanation[:60] not in student, explanation
    released = "".join(path.read_text() for path in RELEASE.glob("*.ipynb"))
    everything = "".join(p.read_text() for p in files) + released
    for _, _, reasons in TESTS.values():
        for reason in reasons.values():
            assert reason[:60] not in everything, reason
    for path in RELEASE.glob("*.ipynb"):
        text = path.read_text()
        assert QUIZ_KEY not in text and "BEGIN SOLUTION" not in text and "grade_quiz_answer(\n" not in text


def _cited(text):
    """(notebook, section) for every "0N · section(s) a[-b][ and c]" in ``text``."""
    cited = []
    for notebook, first, last, also in re.findall(
        r"\b0([1-8]) · sections? (\d+)(?:-(\d+))?(?: and (\d+))?", text
    ):
        sections = range(int(first), int(last or first) + 1)
        cited += [(int(notebook), s) for s in [*sections, *([int(also)] if also else [])]]
    return cited


def _headings(notebook):
    (path,) = SOURCE.glob(f"0{notebook}_*.ipynb")
    return re.findall(
        r"^## (\d+)\. ", "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]), re.M
    )


@pytest.mark.parametrize("number", range(1, 16))
def test_every_wrong_option_has_a_short_reason_that_points_to_a_section(number):
    letter, explanation, reasons = TESTS[number]
    assert sorted(reasons) == sorted(set("ABCD") - {letter}), "one reason per wrong option, none for the key"
    assert len(set(reasons.values())) == 3 and explanation not in reasons.values()
    for reason in reasons.values():
        assert 40 <= len(reason) <= 300, reason
        assert _cited(reason), f"points back to where the course teaches it: {reason}"
    for notebook, section in _cited(" ".join([explanation, *reasons.values()])):
        assert str(section) in _headings(notebook), f"0{notebook} has no section {section}"


@pytest.mark.parametrize("number", range(1, 16))
def test_every_explanation_points_to_a_notebook(number):
    explanation = KEY[number][1]
    for notebook in re.findall(r"\b0([1-8]) ·", explanation):
        assert list(RELEASE.glob(f"0{notebook}_*.ipynb")), explanation
    assert re.search(r"\b0[1-8] · section", explanation), "points back to where the course teaches it"


def test_imprecise_options_are_called_out():
    for number in (10, 11):
        assert "imprecise" in KEY[number][1]
    # 5: distance plays no role only in plain attention; where position comes back in.
    assert "without a mask" in KEY[5][1] and "RoPE" in KEY[5][1]
    assert {(4, 2), (4, 3), (6, 5)} <= set(_cited(KEY[5][1]))
    # 10: in a causal language model the pattern would be a masking bug; B is definitely wrong (the mask's direction).
    assert "masking bug" in KEY[10][1] and "causal language model" in TESTS[10][2]["B"]
    assert "hides every later position" in TESTS[10][2]["B"]
    # 11: attention weights are activations, not the model's learned parameters.
    assert "half of it is wrong" in KEY[11][1] and "activations" in KEY[11][1]


def test_key_terms_tell_an_attention_weight_from_a_models_weights():
    master = json.loads((SOURCE / "08_end_of_lesson_check.ipynb").read_text())
    (terms,) = ["".join(c["source"]) for c in master["cells"] if "## 2. Key terms" in "".join(c["source"])]
    (row,) = [
        line for line in terms.splitlines() if line.startswith("| **attention weight ≠ a model's weights** |")
    ]
    assert "every input" in row and "[04, section 1]" in row and "[07, section 5]" in row


def test_self_study_checks_say_right_or_wrong_at_once():
    answers = dict(zip(range(1, 16), QUIZ_KEY))
    for n in answers:
        quiz.check_quiz_answer(answers, n)
    assert quiz.score(answers, KEY) == 15
    answers[3] = "a"
    with pytest.raises(CheckFailure, match="question 3: A is not the best answer") as failure:
        quiz.check_quiz_answer(answers, 3)
    letter, explanation, reasons = TESTS[3]
    assert reasons["A"] in str(failure.value) and explanation in str(failure.value), (
        "why A is wrong, and why D"
    )
    assert not any(reasons[other] in str(failure.value) for other in "BC"), (
        "only the reason for the one picked"
    )
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
    wrong = _wrong(1)
    quiz.check_quiz_answer({1: wrong}, 1)  # scored by the hidden test, not here
    assert "scored when your work is graded" in capsys.readouterr().out
    with pytest.raises(CheckFailure, match="is not the best answer") as failure:
        quiz.grade_quiz_answer({1: wrong}, 1, *TESTS[1])
    assert TESTS[1][2][wrong] in str(failure.value), "the feedback after grading says why the pick is wrong"
    quiz.grade_quiz_answer({1: QUIZ_KEY[0]}, 1, *TESTS[1])
    assert KEY[1][1] in capsys.readouterr().out, "feedback explains right answers too"


def test_in_a_class_release_answers_are_collected_not_judged(class_release, saved, capsys):
    assert quiz.course_key() is None and quiz.course_tests() is None
    wrong = _wrong(1)
    quiz.check_quiz_answer({1: wrong}, 1)
    assert "scored when your work is graded" in capsys.readouterr().out
    widget = quiz.quiz_widget()
    rows, total = widget.children[:-1], widget.children[-1]
    rows[0].children[1].value = wrong
    assert "Your choice" in rows[0].children[2].value and "Right" not in rows[0].children[2].value
    assert "not the best" not in rows[0].children[2].value
    assert "Answered: 1" in total.value and "Score" not in total.value
    assert progress.load()["quiz"] is None, "neither a trial dict nor the widget saves anything"
    answers = {n: None for n in range(1, 16)} | {1: wrong, 2: "B"}  # the graded cell, two answered
    quiz.check_quiz_answer(answers, 2)
    assert progress.load()["quiz"] == {**progress.load()["quiz"], "correct": None, "total": 15, "answered": 2}
    assert "2 of 15 answered (scored when your work is graded)" in progress.summary_html()


def test_quiz_widget_gives_feedback_and_the_dict_to_copy():
    widget = quiz.quiz_widget()
    rows, total = widget.children[:-1], widget.children[-1]
    assert len(rows) == 15
    wrong = _wrong(1)
    rows[2].children[1].value = QUIZ_KEY[2]
    rows[0].children[1].value = wrong
    assert "✓ Right." in rows[2].children[2].value
    feedback = rows[0].children[2].value
    assert "is not the best answer" in feedback and "01 · section 6" in feedback
    reasons = TESTS[1][2]
    assert escape(reasons[wrong]) in feedback, "why the option picked is wrong"
    assert not any(escape(reasons[other]) in feedback for other in reasons if other != wrong)
    assert "Score: 1 / 15" in total.value and f"1: &#x27;{wrong}&#x27;" in total.value


def test_the_graded_cell_saves_the_quiz_score_as_grading_would_give_it(saved):
    answers = {n: None for n in range(1, 16)}  # the graded cell as released: every question, None
    answers.update({1: QUIZ_KEY[0], 2: _wrong(2)})
    quiz.check_quiz_answer(answers, 1)
    assert progress.load()["quiz"] == {**progress.load()["quiz"], "correct": 1, "total": 15, "answered": 2}
    with pytest.raises(CheckFailure):
        quiz.check_quiz_answer(answers, 2)  # a wrong answer is saved as wrong before the check fails
    answers.update(zip(range(1, 16), QUIZ_KEY))
    quiz.check_quiz_answer(answers, 7)  # any question's check saves all 15 as they stand
    assert progress.load()["quiz"]["correct"] == 15
    assert json.loads(progress.path().read_text())["checks"]["quiz"]["passed"]
    assert "Quiz score: 15 / 15" in progress.summary_html()


def test_trial_answers_never_overwrite_the_saved_score(saved):
    quiz.check_quiz_answer(dict(zip(range(1, 16), QUIZ_KEY)), 1)
    before = progress.path().read_text()
    quiz.check_quiz_answer({3: QUIZ_KEY[2]}, 3)  # a trial dict: only the questions it tries
    with pytest.raises(CheckFailure):
        quiz.check_quiz_answer({3: _wrong(3)}, 3)
    widget = quiz.quiz_widget()
    for row in widget.children[:-1]:
        row.children[1].value = _wrong(1)
    assert "Score: " in widget.children[-1].value
    assert progress.path().read_text() == before, "still 15 / 15, saved when the graded cell was checked"
