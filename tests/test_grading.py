"""The graders, through real autograding of generated submissions.

For every graded function: the reference solution earns full marks, the released stub earns zero, and each
classic mistake in tests/mistakes.py loses points and shows its own hint in the autograded notebook and in the
feedback. The class is graded by the parallel command (`python -m helpers.grading.autograde`); a sample of it is graded
again by plain `nbgrader autograde`, which must agree with it.
"""

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import cheats
import nbformat
import pytest
from conftest import (
    ASSIGNMENT,
    COURSE_ID,
    ENV,
    NBGRADER,
    NOTEBOOKS,
    POINTS,
    QUIZ,
    QUIZ_KEY,
    course_outside_tmp,
    function_points,
    make_clone_course,
    nbgrader,
    nbgrader_meta,
    quiz_cell,
    quiz_points,
    submission,
)
from mistakes import CALLS, FITS_WHILE_GRADING, MEMORY_MISTAKES, MISTAKES, NOTEBOOK_OF, REFERENCE
from nbgrader.api import Gradebook

from helpers import quiz


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
    # Ten right, three wrong letters, one lower case (still right), one not a letter.
    partial = QUIZ_PARTIAL
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
    # Right values, a whole score matrix in memory.
    for (function, mistake), (code, _) in GRADED_MEMORY_MISTAKES.items():
        notebook = NOTEBOOK_OF[function]
        students[f"memory-{function}-{mistake}"] = {notebook: {**correct[notebook], function: code}}
    return students, student_of


# Those the grading kernel's memory limit catches: one query at a time holds one row, which fits.
GRADED_MEMORY_MISTAKES = {key: code for key, code in MEMORY_MISTAKES.items() if key not in FITS_WHILE_GRADING}

QUIZ_PARTIAL = QUIZ_KEY[:10] + "BBB" + QUIZ_KEY[13].lower() + "E"


def _cheaters():
    """{student id: {notebook: {grade_id: code}}}: one student per way of using the course's solution, a paster,
    a replayer of the visible cases, three attacks on the grading itself, and three honest students, each
    submitting notebooks 01-06 (the honest rest of a notebook is the reference)."""

    def every_function(code_of):
        notebooks = {}
        for function in MISTAKES:
            code = code_of(function)
            if code:
                notebooks.setdefault(NOTEBOOK_OF[function], {})[function] = code
        for notebook, codes in notebooks.items():
            honest = {f: REFERENCE[f] for f in REFERENCE if NOTEBOOK_OF[f] == notebook and f not in codes}
            notebooks[notebook] = {**honest, **codes}
        return notebooks

    cheaters = {f"cheat-{v}": every_function(lambda f, v=v: cheats.variants(f).get(v)) for v in cheats.USING}
    cheaters["cheat-pasted"] = every_function(cheats.pasted)
    cheaters["cheat-replayed"] = every_function(cheats.replayed)
    cheaters["cheat-quiz-hook"] = {QUIZ: {"quiz_answers": cheats.QUIZ_HOOK}}
    cheaters["cheat-probe"] = {"01_queries_keys_values": {"similarity_scores": cheats.PATCHED_PROBE}}
    cheaters["cheat-reads-everything"] = {"02_softmax": {"softmax": cheats.READ_EVERYTHING}}
    cheaters["cheat-lookup-softmax"] = {"02_softmax": {"softmax": cheats.SOFTMAX_BY_LOOKUP}}
    cheaters["cheat-oracle-dos"] = {
        "04_self_attention_and_causal_masks": {
            **{f: REFERENCE[f] for f in REFERENCE if NOTEBOOK_OF[f] == "04_self_attention_and_causal_masks"},
            "self_attention": cheats.ORACLE_DOS,
        }
    }
    for variant in ("textbook", "own_names", "unusual"):
        cheaters[f"honest-{variant}"] = every_function(lambda f, v=variant: cheats.honest(f).get(v))
    return cheaters


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
CHEATERS = _cheaters()
STUDENTS.update(CHEATERS)


# A few students are also graded by plain `nbgrader autograde`, in a course of their own: the parallel command
# must give them the same grades, outputs and feedback.
SERIAL_SAMPLE = ["reference", "quiz-partial", "nb02-pack0-mistake0", "nb05-pack0-mistake1"]
PARALLEL_AUTOGRADE = [sys.executable, "-m", "helpers.grading.autograde", ASSIGNMENT]


def _run(command, course):
    return subprocess.run(command, cwd=course, capture_output=True, text=True, env=ENV)


def _grades(course, students):
    """{student: {notebook: {grade_id: (score, max score, output text)}}}, and the written answers' state."""
    results, manual = {}, {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        for student in students:
            results[student] = {}
            for notebook in STUDENTS[student]:
                path = course / "autograded" / student / ASSIGNMENT / f"{notebook}.ipynb"
                outputs = {
                    c.metadata["nbgrader"]["grade_id"]: _text(c)
                    for c in nbformat.read(path, as_version=4).cells
                    if nbgrader_meta(c).get("grade")
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
    return results, manual


@pytest.fixture(scope="module")
def graded():
    """Grade every student with the parallel command, and a sample again with plain nbgrader, side by side, in
    courses that are git clones outside /tmp. Returns {student: {notebook: {grade_id: (score, max, output
    text)}}} plus a few "_" entries."""
    with course_outside_tmp() as folder:
        yield _grade_everyone(make_clone_course(folder / "parallel"))


def _grade_everyone(course):
    serial = course.parent / "serial"
    shutil.copytree(course, serial)
    release = course / "notebooks" / ASSIGNMENT
    for student, notebooks in STUDENTS.items():
        for target in [course, serial] if student in SERIAL_SAMPLE else [course]:
            folder = target / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True)
            for notebook, codes in notebooks.items():
                nbformat.write(submission(release, notebook, codes), folder / f"{notebook}.ipynb")
    with ThreadPoolExecutor(2) as pool:
        parallel = pool.submit(_run, [*PARALLEL_AUTOGRADE, "--jobs", "3"], course)
        plain = pool.submit(_run, [*NBGRADER, "autograde", ASSIGNMENT], serial)
        runs = [parallel.result(), plain.result()]
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr

    results, manual = _grades(course, STUDENTS)
    results["_manual"] = manual
    results["_serial"] = _grades(serial, SERIAL_SAMPLE)[0]
    results["_course"], results["_serial_course"] = course, serial
    results["_run"] = runs[0]
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


def test_quiz_scores_each_right_answer_its_points(graded):
    expected = {"reference": quiz_points(QUIZ_KEY), "quiz-partial": quiz_points(QUIZ_PARTIAL), "stub": 0}
    assert 0 < expected["quiz-partial"] < expected["reference"]
    for student, points in expected.items():
        grades = graded[student][QUIZ]
        assert sum(m for _, m, _ in grades.values()) == sum(POINTS[QUIZ].values())
        assert sum(s for s, _, _ in grades.values()) == points, student
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


@pytest.fixture(scope="module")
def feedback(graded):
    """nbgrader's feedback page for the softmax of the student who forgot the max subtraction, generated in the
    parallel course and in the plain nbgrader one: two pages."""
    student = STUDENT_OF["softmax", "no_max_subtraction"]
    assert student in SERIAL_SAMPLE
    pages = []
    for course in [graded["_course"], graded["_serial_course"]]:
        nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", student)
        pages.append((course / "feedback" / student / ASSIGNMENT / "02_softmax.html").read_text())
    return pages


def test_feedback_shows_the_hint(graded, feedback):
    html = feedback[0]
    assert "Subtract the max of each row first" in html
    student = STUDENT_OF["softmax", "no_max_subtraction"]
    graded_nb = (graded["_course"] / "autograded" / student / ASSIGNMENT / "02_softmax.ipynb").read_text()
    assert "hidden=True" in graded_nb, "autograde ran the hidden tests"
    assert "BEGIN HIDDEN TESTS" not in html and "hidden=True" not in html, (
        "but feedback does not show their code"
    )


def test_parallel_autograde_equals_plain_nbgrader(graded, feedback):
    for student in SERIAL_SAMPLE:
        assert graded[student] == graded["_serial"][student], student
    assert feedback[0] == feedback[1], "and so does the feedback built from it"


def test_parallel_autograde_reports_progress_and_a_summary(graded):
    out = graded["_run"].stdout
    assert f"Grading {len(STUDENTS)} students" in out
    assert f"[{sum(len(n) for n in STUDENTS.values()):>4}/" in out, (
        "the last progress line counts every notebook"
    )
    assert "Could not be graded" in out  # the cheaters' flags are listed, and nothing else
    table = out.split("Could not be graded", 1)[1].splitlines()[2:]
    assert table and all(line.split()[0].startswith("cheat-") for line in table if line.strip()), table


def _function_points(graded, student, functions=MISTAKES):
    got = most = 0
    for grades in graded[student].values():
        for grade_id, (score, max_score, _) in grades.items():
            if grade_id.removeprefix("test_").removesuffix("_hidden") in functions:
                got, most = got + score, most + max_score
    return got, most


@pytest.mark.parametrize(
    "function, variant",
    [(f, v) for f in MISTAKES for v in cheats.USING if v in cheats.variants(f)],
    ids=lambda value: value,
)
def test_using_the_course_solution_earns_nothing(graded, function, variant):
    grades = graded[f"cheat-{variant}"][NOTEBOOK_OF[function]]
    for grade_id in (f"test_{function}", f"test_{function}_hidden"):
        score, _, output = grades[grade_id]
        assert score == 0, f"{grade_id}\n{output}"
        assert "failed" in output or "Error" in output, output  # the check says what happened
    summary = graded["_run"].stdout
    if variant not in ("hidden_in_strings", "recompiled"):  # the text shows these: the instructor is told
        assert f"copy evidence: {function}:" in summary


def test_every_function_meets_at_least_five_ways_of_cheating():
    for function in MISTAKES:
        assert len(cheats.variants(function)) >= 5, function


def test_the_grading_kernel_holds_no_answer(graded):
    # The course's reference read and run while graded (issue 17's first attack), and the grader's requests
    # answered by a replaced handler: neither finds the solutions, so neither earns a point.
    assert _function_points(graded, "cheat-recompiled")[0] == 0
    assert _function_points(graded, "cheat-probe", {"similarity_scores"})[0] == 0


@pytest.mark.parametrize("function, mistake", sorted(GRADED_MEMORY_MISTAKES))
def test_right_values_in_too_much_memory_lose_the_hidden_points(graded, function, mistake):
    """While grading, the function runs in the kernel, out of the check's sight: its memory is put to the test by a
    hidden case whose whole score matrix does not fit in the grading kernel (the visible memory property measures
    only where the function runs in the check's own process, as in self-study)."""
    grades = graded[f"memory-{function}-{mistake}"][NOTEBOOK_OF[function]]
    score, max_score, output = grades[f"test_{function}_hidden"]
    assert max_score == POINTS[NOTEBOOK_OF[function]][f"test_{function}_hidden"] and score == 0, output
    assert "MemoryError" in output and GRADED_MEMORY_MISTAKES[function, mistake][1] in output, output
    visible = f"test_{function}"
    assert grades[visible][0] == POINTS[NOTEBOOK_OF[function]][visible], "its values are right"
    others = {g: s for g, s in grades.items() if function not in g}
    assert all(score == max_score for score, max_score, _ in others.values()), others


def test_a_replay_of_the_visible_cases_earns_at_most_their_points_and_is_named(graded):
    got, most = _function_points(graded, "cheat-replayed")
    visible = sum(POINTS[NOTEBOOK_OF[f]][f"test_{f}"] for f in MISTAKES)
    assert most == sum(function_points(NOTEBOOK_OF[f], f) for f in MISTAKES) and got <= visible, (got, most)
    summary = graded["_run"].stdout
    line = next(line for line in summary.splitlines() if " cheat-replayed " in line and "visible" in line)
    assert "passes every visible test and fails every hidden one" in line


def test_a_hook_that_reads_the_tests_scores_no_more_than_its_answers(graded):
    grades = graded["cheat-quiz-hook"][QUIZ]
    assert sum(s for s, _, _ in grades.values()) == quiz_points("A" * len(QUIZ_KEY))


def test_a_paste_earns_its_marks_and_is_reported_for_a_person(graded):
    got, most = _function_points(graded, "cheat-pasted")
    assert got == most, "correct code is never zeroed on a similarity"
    summary = graded["_run"].stdout
    lines = "\n".join(line for line in summary.splitlines() if line.split()[:1] == ["cheat-pasted"])
    for function in MISTAKES:
        reported = f"copy evidence: {function}:" in lines
        assert reported == cheats.paste_is_evidence(function), function
    course = graded["_course"]
    note = (course / "autograded" / "cheat-pasted" / ASSIGNMENT / "05_multi_head_attention.ipynb").read_text()
    assert "For the instructor" in note and "multi_head_attention" in note
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        flagged = gb.find_submission_notebook("05_multi_head_attention", ASSIGNMENT, "cheat-pasted").flagged
        honest = gb.find_submission_notebook("05_multi_head_attention", ASSIGNMENT, "reference").flagged
    assert flagged and not honest, "formgrader lists the notebook as flagged"
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", "cheat-pasted")
    html = (course / "feedback" / "cheat-pasted" / ASSIGNMENT / "05_multi_head_attention.html").read_text()
    assert "For the instructor" not in html, "the student's feedback does not accuse"


@pytest.mark.parametrize("variant", ["textbook", "own_names", "unusual"])
def test_honest_work_earns_full_marks_and_no_report(graded, variant):
    student = f"honest-{variant}"
    for grades in graded[student].values():
        for grade_id, (score, max_score, output) in grades.items():
            assert score == max_score, f"{grade_id}\n{output}"
    assert f" {student} " not in graded["_run"].stdout.split("Could not be graded", 1)[-1]


def test_what_a_kernel_can_read_never_reaches_the_feedback(graded):
    course = graded["_course"]
    student = "cheat-reads-everything"
    graded_nb = (course / "autograded" / student / ASSIGNMENT / "02_softmax.ipynb").read_text()
    printed = "".join(
        o.get("text", "") for c in nbformat.reads(graded_nb, as_version=4).cells for o in c.get("outputs", [])
    )
    assert "READ " in printed and "IMPORTED" not in printed, "it ran, and found no grading module"
    assert f"READ {course}/" not in printed.replace(f"READ {course}/autograded/{student}/", ""), (
        "of the course directory (a git clone: .git/, tests/, source/), only its own folder"
    )
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", student)
    html = (course / "feedback" / student / ASSIGNMENT / "02_softmax.html").read_text()
    # The masters' markers, solution lines, the quiz's explanations (the key travels with them), the gradebook.
    explanations = [explanation[:60] for _, explanation in quiz.course_key().values()]
    secrets = ["BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "shifted = x - np.max", "gradebook.db", *explanations]
    for secret in secrets:
        assert secret not in html and secret not in printed, secret
    for folder in ("autograded", "feedback"):
        assert not list((course / folder / student).rglob("stolen.txt")), f"a kernel's file reached {folder}/"
    assert grades_of(graded, student, "02_softmax") == (4, 4), "the function itself is honest and right"


def test_the_grader_hands_a_notebook_only_the_earlier_functions_the_course_gives_it(graded):
    # Notebook 01's soft lookup would compute notebook 02's softmax: while 02 is graded, the grader refuses it.
    assert grades_of(graded, "cheat-lookup-softmax", "02_softmax") == (0, 4)
    assert (
        "the grader computes only the earlier functions"
        in graded["cheat-lookup-softmax"]["02_softmax"]["test_softmax"][2]
    )


def test_a_request_too_large_for_the_grader_is_refused_before_it_is_computed(graded):
    # 9 KB of arrays that broadcast to 80^3 x 8 x 8 weights: refused from their shapes, at once.
    course = graded["_course"]
    notebook = (
        course / "autograded" / "cheat-oracle-dos" / ASSIGNMENT / "04_self_attention_and_causal_masks.ipynb"
    )
    assert "the grader said: MemoryError the inputs are too large" in notebook.read_text()
    earned, most = grades_of(graded, "cheat-oracle-dos", "04_self_attention_and_causal_masks")
    assert earned == most - 4, "the rest of the notebook is graded as usual"


def grades_of(graded, student, notebook):
    grades = graded[student][notebook]
    return sum(s for s, _, _ in grades.values()), sum(m for _, m, _ in grades.values())


def test_no_honest_student_is_flagged(graded):
    table = graded["_run"].stdout.split("Could not be graded", 1)[-1]
    for student in STUDENTS:
        if not student.startswith("cheat-"):
            assert f" {student} " not in table, student


def test_a_regrade_sets_the_copy_flag_anew(graded):
    # Last in this file: it regrades one notebook of the paster, now honest, with plain nbgrader.
    course, notebook = graded["_course"], "05_multi_head_attention"
    honest = course / "submitted" / "honest-own_names" / ASSIGNMENT / f"{notebook}.ipynb"
    shutil.copy(honest, course / "submitted" / "cheat-pasted" / ASSIGNMENT / f"{notebook}.ipynb")
    args = ["autograde", ASSIGNMENT, "--student", "cheat-pasted", "--notebook", notebook, "--force"]
    nbgrader(course, *args)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        assert not gb.find_submission_notebook(notebook, ASSIGNMENT, "cheat-pasted").flagged
