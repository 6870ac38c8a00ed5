"""The graders, through real `nbgrader autograde` on generated submissions.

For every graded function: the reference solution earns full marks, the released stub earns zero, and each
classic mistake in tests/mistakes.py loses points and shows its own hint in the autograded notebook and in the
feedback. Submissions are split over two course copies graded side by side (the machine has two cores).
"""

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
from conftest import ASSIGNMENT, ENV, NBGRADER, NOTEBOOKS, make_course, nbgrader
from mistakes import CALLS, MISTAKES, NOTEBOOK_OF, REFERENCE
from nbgrader.api import Gradebook

COURSE_ID = "attention-course"


def _submission(release_dir, notebook, codes):
    """The released notebook with the solution cells in ``codes`` ({grade_id: code}) filled in."""
    nb = nbformat.read(release_dir / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in codes:
            cell.source = codes[grade_id].strip()
    return nb


def _students():
    """{student id: {notebook: {grade_id: code}}}. A mistake student submits only the notebook it concerns,
    with every other function of that notebook correct, so the mistake is the only thing wrong."""
    students = {
        "reference": {nb: {f: REFERENCE[f] for f in REFERENCE if NOTEBOOK_OF[f] == nb} for nb in NOTEBOOKS},
        "stub": {nb: {} for nb in NOTEBOOKS},
    }
    for function, mistakes in MISTAKES.items():
        notebook = NOTEBOOK_OF[function]
        for mistake, (code, _) in mistakes.items():
            codes = {f: REFERENCE[f] for f in REFERENCE if NOTEBOOK_OF[f] == notebook}
            codes[function] = code
            students[f"{function}--{mistake}".replace("_", "-")] = {notebook: codes}
    return students


STUDENTS = _students()


def _autograde(course):
    # Plain nbgrader, as an instructor types it; --force so that reruns regrade.
    return subprocess.run(
        [*NBGRADER, "autograde", ASSIGNMENT], cwd=course, capture_output=True, text=True, env=ENV
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every student; return {student: {notebook: {grade_id: (score, max, output text)}}}."""
    base = make_course(tmp_path_factory.mktemp("grading") / "course0")
    courses = [base, base.parent / "course1"]
    shutil.copytree(base, courses[1])
    release = base / "notebooks" / ASSIGNMENT
    for i, (student, notebooks) in enumerate(sorted(STUDENTS.items())):
        folder = courses[i % 2] / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for notebook, codes in notebooks.items():
            nbformat.write(_submission(release, notebook, codes), folder / f"{notebook}.ipynb")
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(_autograde, courses))
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr

    results = {}
    for i, student in enumerate(sorted(STUDENTS)):
        course = courses[i % 2]
        results[student] = {}
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
            for notebook in STUDENTS[student]:
                path = course / "autograded" / student / ASSIGNMENT / f"{notebook}.ipynb"
                outputs = {
                    c.metadata["nbgrader"]["grade_id"]: _text(c)
                    for c in nbformat.read(path, as_version=4).cells
                    if c.metadata.get("nbgrader", {}).get("grade")
                }
                grades = gb.find_submission_notebook(notebook, ASSIGNMENT, student).grades
                results[student][notebook] = {g.name: (g.score, g.max_score, outputs[g.name]) for g in grades}
    results["_courses"] = {s: courses[i % 2] for i, s in enumerate(sorted(STUDENTS))}
    return results


def _text(cell):
    parts = []
    for output in cell.get("outputs", []):
        parts += [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
    return "\n".join(parts)


def test_reference_earns_full_marks(graded):
    for notebook, grades in graded["reference"].items():
        for grade_id, (score, max_score, output) in grades.items():
            assert max_score > 0
            assert score == max_score, f"{notebook}:{grade_id}\n{output}"


def test_stub_earns_zero(graded):
    for notebook, grades in graded["stub"].items():
        for grade_id, (score, _, _) in grades.items():
            assert score == 0, f"{notebook}:{grade_id}"
        visible = [output for grade_id, (_, _, output) in grades.items() if not grade_id.endswith("_hidden")]
        assert all("is not implemented yet" in output for output in visible)


@pytest.mark.parametrize(
    "function, mistake", [(f, m) for f in MISTAKES for m in MISTAKES[f]], ids=lambda value: value
)
def test_mistake_loses_points_and_shows_its_hint(graded, function, mistake):
    student = f"{function}--{mistake}".replace("_", "-")
    grades = graded[student][NOTEBOOK_OF[function]]
    ours = {g: v for g, v in grades.items() if g in (f"test_{function}", f"test_{function}_hidden")}
    assert len(ours) == 2
    assert sum(score for score, _, _ in ours.values()) < sum(m for _, m, _ in ours.values())
    _, hint = MISTAKES[function][mistake]
    assert hint in ours[f"test_{function}"][2], "the autograded test cell shows the same hint as the check"
    callers = {f for f, called in CALLS.items() if function in called}
    others = {
        g: v
        for g, v in grades.items()
        if g not in ours and g.removeprefix("test_").removesuffix("_hidden") not in callers
    }
    for grade_id, (score, max_score, _) in others.items():
        assert score == max_score, f"{grade_id}: a mistake in {function} must not cost points elsewhere"


def test_feedback_shows_the_hint(graded):
    function, mistake = "softmax", "no_max_subtraction"
    student = f"{function}--{mistake}".replace("_", "-")
    course = graded["_courses"][student]
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", student)
    html = (course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK_OF[function]}.html").read_text()
    assert "Subtract the max of each row first" in html
