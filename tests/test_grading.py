"""The graders, through real `nbgrader autograde` on generated submissions.

For every graded function: the reference solution earns full marks, the released stub earns zero, and each
classic mistake in tests/mistakes.py loses points and shows its own hint in the autograded notebook and in the
feedback. Submissions are split over course copies graded side by side.
"""

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
from conftest import (
    ASSIGNMENT,
    COURSE_ID,
    ENV,
    NBGRADER,
    NOTEBOOKS,
    QUIZ_KEY,
    make_course,
    nbgrader,
    quiz_cell,
    submission,
)
from mistakes import CALLS, MISTAKES, NOTEBOOK_OF, REFERENCE
from nbgrader.api import Gradebook

# Separate course copies graded side by side. Kernels spend part of their time starting up and waiting, so one
# more worker than the 2 cores still helps (measured on 2 cores: 2 workers 55 s, 3 workers 47 s, 4 workers 47 s).
WORKERS = 3


def _packs(notebook):
    """The notebook's graded functions in groups where no member calls another, so their mistakes can share
    one submission without one mistake hiding another: fewer notebooks to execute, same coverage."""
    packs = []
    for function in [f for f in MISTAKES if NOTEBOOK_OF[f] == notebook]:
        for pack in packs:
            if not any(function in CALLS.get(g, []) or g in CALLS.get(function, []) for g in pack):
                pack.append(function)
                break
        else:
            packs.append([function])
    return packs


def _students():
    """{student id: {notebook: {grade_id: code}}} and {(function, mistake): student id}. Mistake student k of a
    pack submits only that notebook, with the k-th mistake of each function in the pack and the rest correct."""
    correct = {nb: {f: REFERENCE[f] for f in REFERENCE if NOTEBOOK_OF[f] == nb} for nb in NOTEBOOKS}
    complete = {nb: {**codes, **WRITTEN.get(nb, {})} for nb, codes in correct.items()}
    students = {"reference": complete, "stub": {nb: {} for nb in NOTEBOOKS}}
    # Ten right, three wrong letters, one lower case (still right), one not a letter: 11 points of 15.
    partial = QUIZ_KEY[:10] + "BBB" + QUIZ_KEY[13].lower() + "E"
    students["quiz-partial"] = {QUIZ: {"quiz_answers": quiz_cell(partial)}}
    student_of = {}
    for notebook in NOTEBOOKS:
        for p, pack in enumerate(_packs(notebook)):
            for k in range(max(len(MISTAKES[f]) for f in pack)):
                student = f"nb{notebook[:2]}-pack{p}-mistake{k}"
                codes = dict(correct[notebook])
                for function in pack:
                    if k < len(MISTAKES[function]):
                        mistake, (code, _) = list(MISTAKES[function].items())[k]
                        codes[function] = code
                        student_of[function, mistake] = student
                students[student] = {notebook: codes}
    return students, student_of


QUIZ = "08_end_of_lesson_check"


# Written answers, graded by hand: the reference student writes one, the stub leaves "YOUR ANSWER HERE".
# The quiz's answers are code, but like them they are not a function: the reference student gives every right one.
WRITTEN = {
    QUIZ: {"quiz_answers": quiz_cell(QUIZ_KEY)},
    "07_what_attention_weights_are_not": {
        "weights_are_not_thoughts": "Section 4 shows that which head attends 1 back changes with the seed, and "
        "section 5 that the same weights can carry different content; only the ablation tests a head's role."
    },
}
STUDENTS, STUDENT_OF = _students()


# Submissions that tamper with the notebook instead of answering (all on notebook 02, the fastest). They are
# graded in a course copy of their own: nbgrader exits 1 after a kernel dies, and that run must still grade the
# other students in it.
TAMPER_NOTEBOOK = "02_softmax"
WRONG_SOFTMAX = MISTAKES["softmax"]["no_max_subtraction"][0]


def _tests_deleted(nb):
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]


def _tests_edited(nb):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass  # all good here"


def _ids_duplicated(nb):
    for cell in nb.cells:
        cell.id = "same"


TAMPERED = {  # student: (solution code, what else the student did, points expected out of 3)
    "tamper-deleted-tests": (WRONG_SOFTMAX, _tests_deleted, 0),
    "tamper-edited-tests": (WRONG_SOFTMAX, _tests_edited, 0),
    "tamper-duplicate-ids": (REFERENCE["softmax"], _ids_duplicated, 3),
    "tamper-kernel-dies": ("import os\nos._exit(0)", lambda nb: None, 0),
}


def _autograde(course):
    # Plain nbgrader, as an instructor types it; --force so that reruns regrade.
    return subprocess.run(
        [*NBGRADER, "autograde", ASSIGNMENT], cwd=course, capture_output=True, text=True, env=ENV
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every student; return {student: {notebook: {grade_id: (score, max, output text)}}}."""
    base = make_course(tmp_path_factory.mktemp("grading") / "course0")
    courses = [base] + [base.parent / f"course{i}" for i in range(1, WORKERS)]
    for course in courses[1:]:
        shutil.copytree(base, course)
    release = base / "notebooks" / ASSIGNMENT
    for i, (student, notebooks) in enumerate(sorted(STUDENTS.items())):
        folder = courses[i % WORKERS] / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for notebook, codes in notebooks.items():
            nbformat.write(submission(release, notebook, codes), folder / f"{notebook}.ipynb")
    tamper_course = base.parent / "tampered"
    shutil.copytree(base, tamper_course)
    for student, (code, tamper, _) in TAMPERED.items():
        nb = submission(release, TAMPER_NOTEBOOK, {"softmax": code})
        tamper(nb)
        folder = tamper_course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        # Raw JSON, as the student's file holds it: nbformat.write would validate and repair the duplicate ids.
        (folder / f"{TAMPER_NOTEBOOK}.ipynb").write_text(json.dumps(nb))
    with ThreadPoolExecutor(WORKERS + 1) as pool:
        runs = list(pool.map(_autograde, [*courses, tamper_course]))
    for run in runs[:-1]:
        assert run.returncode == 0, run.stdout + run.stderr

    results, manual = {}, {}
    for i, student in enumerate(sorted(STUDENTS)):
        course = courses[i % WORKERS]
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
                results[student][notebook] = {
                    g.name: (g.score, g.max_score, outputs[g.name])
                    for g in grades
                    if g.cell.cell_type == "code"
                }
                manual[student, notebook] = {
                    g.name: (g.auto_score, g.needs_manual_grade)
                    for g in grades
                    if g.cell.cell_type == "markdown"
                }
    results["_manual"] = manual
    with Gradebook(f"sqlite:///{tamper_course / 'gradebook.db'}", COURSE_ID) as gb:
        results["_tampered"] = {
            student: sum(
                g.score for g in gb.find_submission_notebook(TAMPER_NOTEBOOK, ASSIGNMENT, student).grades
            )
            for student in TAMPERED
        }
    results["_tamper_run"] = runs[-1]
    results["_tamper_course"] = tamper_course
    results["_courses"] = {s: courses[i % WORKERS] for i, s in enumerate(sorted(STUDENTS))}
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


def test_quiz_scores_one_point_per_right_answer(graded):
    for student, expected in [("reference", 15), ("quiz-partial", 11), ("stub", 0)]:
        grades = graded[student][QUIZ]
        assert sum(m for _, m, _ in grades.values()) == 15
        assert sum(s for s, _, _ in grades.values()) == expected, student
    wrong = graded["quiz-partial"][QUIZ]["test_quiz_question_11"][2]
    assert "is not the best answer" in wrong and "07 · section 5" in wrong, (
        "feedback explains and points back"
    )


def test_written_answers_wait_for_the_instructor(graded):
    for notebook, answers in WRITTEN.items():
        for grade_id in answers:
            if grade_id == "quiz_answers":
                continue
            assert graded["_manual"]["reference", notebook][grade_id] == (None, True), (
                "an answer needs a human"
            )
            assert graded["_manual"]["stub", notebook][grade_id] == (0, False), "no answer earns zero at once"


def test_stub_earns_zero(graded):
    for notebook, grades in graded["stub"].items():
        for grade_id, (score, _, _) in grades.items():
            assert score == 0, f"{notebook}:{grade_id}"
        visible = [output for grade_id, (_, _, output) in grades.items() if not grade_id.endswith("_hidden")]
        assert all("is not implemented yet" in output or "has no answer yet" in output for output in visible)


@pytest.mark.parametrize(
    "function, mistake", [(f, m) for f in MISTAKES for m in MISTAKES[f]], ids=lambda value: value
)
def test_mistake_loses_points_and_shows_its_hint(graded, function, mistake):
    student = STUDENT_OF[function, mistake]
    grades = graded[student][NOTEBOOK_OF[function]]
    ours = {g: v for g, v in grades.items() if g in (f"test_{function}", f"test_{function}_hidden")}
    assert len(ours) == 2
    assert sum(score for score, _, _ in ours.values()) < sum(m for _, m, _ in ours.values())
    _, hint = MISTAKES[function][mistake]
    assert hint in ours[f"test_{function}"][2], "the autograded test cell shows the same hint as the check"
    # Functions that are correct in this submission, and do not call a wrong one, keep their full marks.
    wrong = {f for (f, _), s in STUDENT_OF.items() if s == student}
    affected = wrong | {f for f, called in CALLS.items() if wrong & set(called)}
    for grade_id, (score, max_score, _) in grades.items():
        if grade_id.removeprefix("test_").removesuffix("_hidden") not in affected:
            assert score == max_score, (
                f"{grade_id}: a mistake in {sorted(wrong)} must not cost points elsewhere"
            )


def test_feedback_shows_the_hint(graded):
    function, mistake = "softmax", "no_max_subtraction"
    student = STUDENT_OF[function, mistake]
    course = graded["_courses"][student]
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", student)
    html = (course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK_OF[function]}.html").read_text()
    assert "Subtract the max of each row first" in html
    graded_nb = (course / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK_OF[function]}.ipynb").read_text()
    assert "hidden=True" in graded_nb, "autograde ran the hidden tests"
    assert "BEGIN HIDDEN TESTS" not in html and "hidden=True" not in html, (
        "but feedback does not show their code"
    )


@pytest.mark.parametrize("student", TAMPERED)
def test_tampering_earns_nothing(graded, student):
    # Deleted and edited test cells are restored from the source; duplicate cell ids are repaired; a kernel
    # that dies scores zero, never a pass.
    assert graded["_tampered"][student] == TAMPERED[student][2]


def test_a_dead_kernel_is_reported_and_does_not_stop_the_run(graded):
    run = graded["_tamper_run"]
    assert "Kernel died" in run.stderr + run.stdout
    assert run.returncode == 1  # nbgrader reports the failure; the others were still graded (test above)


def test_duplicate_ids_reached_nbgrader_unrepaired(graded):
    # Otherwise the test above would prove nothing about nbgrader's repair.
    folder = graded["_tamper_course"] / "submitted" / "tamper-duplicate-ids" / ASSIGNMENT
    submitted = json.loads((folder / f"{TAMPER_NOTEBOOK}.ipynb").read_text())
    assert {cell["id"] for cell in submitted["cells"]} == {"same"}
