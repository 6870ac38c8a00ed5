"""Regrading one student or one notebook: `python -m helpers.grading.autograde attention --student ID` (and
`--notebook NAME`) regrades exactly that and leaves every other autograded file as it was; the command reads
nbgrader's configuration as nbgrader does, a user-level nbgrader_config.py included.

Two students, three notebooks: ada (02 right, 07 written) and bob (02 as released)."""

import subprocess
import sys

import nbformat
import pytest
from conftest import ASSIGNMENT, COURSE_ID, ENV, NBGRADER, make_course, submission
from mistakes import REFERENCE
from nbgrader.api import Gradebook

SOFTMAX, WRITTEN = "02_softmax", "07_what_attention_weights_are_not"
AUTOGRADE = [sys.executable, "-m", "helpers.grading.autograde", ASSIGNMENT]
TRUNCATED = "... Output truncated ..."  # nbgrader's LimitOutput, past max_lines


def _run(command, course, env=None):
    return subprocess.run(
        command, cwd=course, capture_output=True, text=True, env={**ENV, **(env or {})}, timeout=300
    )


def _files(course, student, notebook="*"):
    """{path: (mtime in ns, content)} of a student's autograded files."""
    folder = course / "autograded" / student / ASSIGNMENT
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.glob(f"{notebook}.ipynb")}


def _score(course, student):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        return gb.find_submission(ASSIGNMENT, student).score


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("regrade") / "course")
    release = course / "notebooks" / ASSIGNMENT
    work = {
        "ada": {
            SOFTMAX: {"softmax": REFERENCE["softmax"]},
            WRITTEN: {"weights_are_not_thoughts": "An answer."},
        },
        "bob": {SOFTMAX: {}},
    }
    for student, notebooks in work.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for notebook, codes in notebooks.items():
            nbformat.write(submission(release, notebook, codes), folder / f"{notebook}.ipynb")
    run = _run(AUTOGRADE, course)
    assert run.returncode == 0, run.stdout + run.stderr
    return course


def test_student_regrades_that_student_alone(course):
    ada, bob = _files(course, "ada"), _files(course, "bob")
    run = _run([*AUTOGRADE, "--student", "bob"], course)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Grading 1 students, 1 notebooks" in run.stdout
    assert _files(course, "ada") == ada, "ada's autograded files are untouched"
    (path,) = bob
    assert path.stat().st_mtime_ns > bob[path][0], "bob's notebook was graded again, though graded before"


def test_notebook_regrades_that_notebook_alone(course):
    others = {**_files(course, "ada", SOFTMAX), **_files(course, "bob")}
    (written,) = _files(course, "ada", WRITTEN).items()
    run = _run([*AUTOGRADE, "--notebook", WRITTEN], course)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Grading 1 students, 1 notebooks" in run.stdout  # bob has no 07: left alone, as nbgrader does
    assert {**_files(course, "ada", SOFTMAX), **_files(course, "bob")} == others
    assert written[0].stat().st_mtime_ns > written[1][0]


def test_a_selection_that_matches_nothing_says_so(course):
    for option in (["--student", "carol"], ["--student", "ada", "--CourseDirectory.student_id_exclude=ada"]):
        run = _run([*AUTOGRADE, *option], course)
        assert run.returncode == 2, run.stdout + run.stderr
        assert run.stderr.startswith("Cannot grade: no submission of 'attention' matches"), run.stderr


def test_a_user_config_file_counts_as_it_does_for_nbgrader(course, tmp_path):
    """A user-level nbgrader_config.py (JUPYTER_CONFIG_DIR) that cuts outputs to 2 lines: nbgrader autograde
    honours it, and so does the course's command; neither does without it."""
    bob = course / "autograded" / "bob" / ASSIGNMENT / f"{SOFTMAX}.ipynb"
    assert TRUNCATED not in bob.read_text()
    (tmp_path / "nbgrader_config.py").write_text("c.LimitOutput.max_lines = 2\n")
    user = {"JUPYTER_CONFIG_DIR": str(tmp_path)}

    plain = _run([*NBGRADER, "autograde", ASSIGNMENT, "--student", "bob", "--force"], course, user)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    by_nbgrader, score = bob.read_text(), _score(course, "bob")
    assert TRUNCATED in by_nbgrader

    ours = _run([*AUTOGRADE, "--student", "bob"], course, user)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert bob.read_text().count(TRUNCATED) == by_nbgrader.count(TRUNCATED)
    assert _score(course, "bob") == score
