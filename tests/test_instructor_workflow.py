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
    POINTS,
    QUIZ_KEY,
    ROOT,
    TOTAL,
    delete_test_cells,
    function_points,
    make_course,
    quiz_cell,
    quiz_points,
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
        expected[f"strong-{i}"] = function_points(SOFTMAX, "softmax") + quiz_points(QUIZ_KEY)
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
        expected[f"partial-{i}"] = quiz_points(QUIZ_KEY[:8] + "BBBBBBB")
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
    expected["quiz-only"] = quiz_points(QUIZ_KEY)
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
                grade.manual_score = POINTS[WRITTEN]["weights_are_not_thoughts"]  # full marks
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
        manual = POINTS[WRITTEN]["weights_are_not_thoughts"] if student == "strong-0" else 0
        assert float(rows[student]["raw_score"]) == points + manual, student
        assert float(rows[student]["max_score"]) == TOTAL  # source/'s points, whatever they are


def test_feedback_for_every_graded_notebook_with_the_hints(taught):
    course, _, _ = taught
    pages = list((course / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    assert len(pages) >= 20
    partial = (course / "feedback" / "partial-0" / ASSIGNMENT / f"{SOFTMAX}.html").read_text()
    assert "Subtract the max of each row first" in partial and "hidden=True" not in partial


README = ROOT / "README.md"


def _readme_block():
    """The README's instructor block, as written."""
    section = README.read_text().split("## For instructors (nbgrader)", 1)[1]
    return re.search(r"```\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def readme_term(tmp_path_factory):
    """The README's block run as one script in a fresh clone, on three students' downloaded files; then the
    rest of a term's files (a roster, nbgrader's log, a release and an exchange folder) written beside them."""
    clone = tmp_path_factory.mktemp("readme") / "attention-course"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    release = clone / "notebooks" / ASSIGNMENT
    archive = clone / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    work = {
        "strong": {SOFTMAX: {"softmax": REFERENCE["softmax"]}, QUIZ: {"quiz_answers": quiz_cell(QUIZ_KEY)}},
        "partial": {SOFTMAX: {"softmax": MISTAKES["softmax"]["no_max_subtraction"][0]}},
        "empty": {SOFTMAX: {}},
    }
    for student, notebooks in work.items():
        for notebook, codes in notebooks.items():
            (archive / f"{student}_{notebook}.ipynb").write_text(_notebook(release, notebook, codes))
    # Its .venv is this checkout's: a clone has none until `make grader`.
    script = _readme_block().replace("source .venv/bin/activate", f"source {ROOT}/.venv/bin/activate")
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=clone, capture_output=True, text=True, env=ENV
    )
    (clone / "roster.csv").write_text("id,first_name,last_name\nstrong,S,Trong\n")
    for folder in ("release", f"exchange/{COURSE_ID}/inbound", f"exchange/{COURSE_ID}/outbound"):
        (clone / folder).mkdir(parents=True, exist_ok=True)
        (clone / folder / "placeholder.ipynb").write_text("{}")
    (clone / "gradebook.db-journal").write_text("")
    return clone, run


def test_the_readme_block_works_as_written_on_a_fresh_clone(readme_term):
    clone, run = readme_term
    assert run.returncode == 0, run.stdout + run.stderr
    with Gradebook(f"sqlite:///{clone / 'gradebook.db'}", COURSE_ID) as gb:
        assert [a.name for a in gb.assignments] == [ASSIGNMENT], "the assignment is in the gradebook"
    rows = {row["student_id"]: row for row in csv.DictReader(open(clone / "grades.csv"))}
    assert {s: float(r["score"]) for s, r in rows.items()} == {"strong": 4 + 15, "partial": 0, "empty": 0}
    assert (clone / "feedback" / "strong" / ASSIGNMENT / f"{SOFTMAX}.html").exists()


def test_a_term_in_a_clone_leaves_git_status_clean(readme_term):
    clone, _ = readme_term
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored=no"], cwd=clone, capture_output=True, text=True
    )
    assert status.stdout == "", f"a term's files would be committed:\n{status.stdout}"
