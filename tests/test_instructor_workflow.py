"""The instructor's guide, run command by command on a simulated class of 20 students.

docs/instructors.md is the script: every ```sh block after the set-up section is run in order, in a fresh
course, exactly as written. Between autograde and feedback the instructor grades the written answers by hand
(formgrader in real life, the gradebook API here).
"""

import csv
import re
import subprocess
import zipfile

import nbformat
import pytest
from conftest import (
    ASSIGNMENT,
    COURSE_ID,
    ENV,
    QUIZ_KEY,
    ROOT,
    delete_test_cells,
    make_course,
    quiz_cell,
    submission,
)
from mistakes import MISTAKES, REFERENCE
from nbgrader.api import Gradebook

GUIDE = ROOT / "docs" / "instructors.md"
SOFTMAX, QUIZ, WRITTEN = "02_softmax", "08_end_of_lesson_check", "07_what_attention_weights_are_not"


def _guide_commands():
    """The commands of sections 2 to 7, in order."""
    text = GUIDE.read_text()
    after_setup = text.split("## 2.", 1)[1]
    return [
        line for block in re.findall(r"```sh\n(.*?)```", after_setup, re.S) for line in block.splitlines()
    ]


def _notebook(release, name, codes=None, tamper=None):
    nb = submission(release, name, codes)
    if tamper:
        tamper(nb)
    return nbformat.writes(nb)


def _class(release):
    """{file name in the archive: content} and {student: expected autograded points}."""
    files, expected = {}, {}
    right, wrong = REFERENCE["softmax"], MISTAKES["softmax"]["no_max_subtraction"][0]
    for i in range(6):  # complete work: softmax and the whole quiz right
        files[f"strong-{i}_{SOFTMAX}.ipynb"] = _notebook(release, SOFTMAX, {"softmax": right})
        files[f"strong-{i}_{QUIZ}.ipynb"] = _notebook(release, QUIZ, {"quiz_answers": quiz_cell(QUIZ_KEY)})
        expected[f"strong-{i}"] = 4 + 15
    files[f"strong-0_{WRITTEN}.ipynb"] = _notebook(
        release,
        WRITTEN,
        {"weights_are_not_thoughts": "Section 4: the head that attends 1 back changes with the seed."},
    )
    for i, mistake in enumerate(
        list(MISTAKES["softmax"])[:5]
    ):  # partly right: a classic mistake, half the quiz
        files[f"partial-{i}_{SOFTMAX}.ipynb"] = _notebook(
            release, SOFTMAX, {"softmax": MISTAKES["softmax"][mistake][0]}
        )
        files[f"partial-{i}_{QUIZ}.ipynb"] = _notebook(
            release, QUIZ, {"quiz_answers": quiz_cell(QUIZ_KEY[:8] + "BBBBBBB")}
        )
        expected[f"partial-{i}"] = 8 + sum(QUIZ_KEY[n] == "B" for n in range(8, 15))
    for i in range(4):  # empty: the release as it was handed out
        files[f"empty-{i}_{SOFTMAX}.ipynb"] = _notebook(release, SOFTMAX)
        expected[f"empty-{i}"] = 0
    files[f"syntax-error_{SOFTMAX}.ipynb"] = _notebook(
        release, SOFTMAX, {"softmax": "def softmax(x, axis=-1)\n  return x"}
    )
    expected["syntax-error"] = 0
    files[f"corrupt-json_{SOFTMAX}.ipynb"] = '{"cells": [ this is not json'
    expected["corrupt-json"] = 0
    files[f"deleted-tests_{SOFTMAX}.ipynb"] = _notebook(
        release,
        SOFTMAX,
        {"softmax": wrong},
        delete_test_cells,
    )
    expected["deleted-tests"] = 0
    files[f"kernel-dies_{SOFTMAX}.ipynb"] = _notebook(release, SOFTMAX, {"softmax": "import os\nos._exit(3)"})
    expected["kernel-dies"] = 0
    files[f"quiz-only_{QUIZ}.ipynb"] = _notebook(release, QUIZ, {"quiz_answers": quiz_cell(QUIZ_KEY)})
    expected["quiz-only"] = 15
    files[f"misnamed {SOFTMAX}.ipynb"] = _notebook(release, SOFTMAX, {"softmax": right})  # no id: skipped
    return files, expected


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("class") / "course")
    files, expected = _class(course / "notebooks" / ASSIGNMENT)
    archive = course / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    zipped = {name: text for name, text in files.items() if name.startswith("strong-1")}
    with zipfile.ZipFile(archive / "batch-from-lms.zip", "w") as bundle:  # some platforms hand out zips
        for name, text in zipped.items():
            bundle.writestr(name, text)
    for name, text in files.items():
        if name not in zipped:
            (archive / name).write_text(text)

    runs = {}
    for command in _guide_commands():
        runs[command] = subprocess.run(
            command, shell=True, cwd=course, capture_output=True, text=True, env=ENV
        )
        if "autograde attention" in command:
            with Gradebook(
                f"sqlite:///{course / 'gradebook.db'}", COURSE_ID
            ) as gb:  # by hand, as in formgrader
                grade = gb.find_grade("weights_are_not_thoughts", WRITTEN, ASSIGNMENT, "strong-0")
                grade.manual_score = 2
                gb.db.commit()
    return course, runs, expected


def test_the_guide_has_every_step():
    commands = _guide_commands()
    for step in ["generate_assignment", "zip_collect", "autograde", "generate_feedback", "export"]:
        assert any(step in c for c in commands), step


def test_every_command_ran(taught):
    _, runs, _ = taught
    for command, run in runs.items():
        if "autograde attention" in command:
            # Two submissions cannot be graded (a dead kernel, a file that is not a notebook): the summary names
            # them and why, and the command exits 1 after grading everyone else.
            table = run.stdout.split("Could not be graded", 1)[1]
            assert run.returncode == 1, run.stdout + run.stderr
            assert "kernel-dies" in table and "the kernel died" in table
            assert "corrupt-json" in table and "not a notebook" in table
        else:
            assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"


def test_collect_found_20_students_and_skipped_the_misnamed_file(taught):
    course, runs, expected = taught
    assert len(expected) == 20
    assert sorted(p.name for p in (course / "submitted").iterdir()) == sorted(expected)
    assert "misnamed" in runs["nbgrader zip_collect attention"].stderr


def test_grades_are_right_for_everyone(taught):
    course, _, expected = taught
    rows = {row["student_id"]: row for row in csv.DictReader(open(course / "grades.csv"))}
    assert set(rows) == set(expected)
    for student, points in expected.items():
        manual = 2 if student == "strong-0" else 0
        assert float(rows[student]["raw_score"]) == points + manual, student
        assert float(rows[student]["max_score"]) == 65


def test_feedback_for_every_graded_notebook_with_the_hints(taught):
    course, _, _ = taught
    pages = list((course / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    assert len(pages) >= 20
    partial = (course / "feedback" / "partial-0" / ASSIGNMENT / f"{SOFTMAX}.html").read_text()
    assert "Subtract the max of each row first" in partial and "hidden=True" not in partial
