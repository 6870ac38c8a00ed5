"""Autograde a whole class in parallel: ``python -m helpers.grading.autograde ASSIGNMENT [--jobs N]``.

Does what ``nbgrader autograde ASSIGNMENT`` does, with the configuration nbgrader itself would load (its own
loader reads the same files and command-line options, so the same sandbox and trusted verdicts of
:mod:`helpers.grading.grader`) and into the same gradebook, but:

- grades several submissions at once, one process per core by default;
- grades each notebook on its own, in long-lived worker processes forked from one that has already imported
  nbgrader, so a notebook that crashes, hangs or is not a notebook at all costs only that notebook, never the
  student's other notebooks (plain nbgrader drops the student's remaining notebooks) and never anyone else's;
- kills a notebook's grading that outlives its time budget, and scores such a notebook zero (a notebook that
  cannot be graded never keeps the points of an earlier run);
- prints progress while it runs and ends with a table of who could not be graded and why;
- ``--student ID`` and ``--notebook NAME`` (nbgrader's options, patterns allowed) regrade exactly what they name,
  already graded or not, and touch no one else's files.

Notebooks of one student are graded one after the other (nbgrader's per-student set-up is not safe to run twice
at once); different students run side by side. The exit status is 1 when any notebook could not be graded.
"""

import argparse
import fnmatch
import multiprocessing
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps.api import NbGraderAPI
from nbgrader.apps.autogradeapp import AutogradeApp
from nbgrader.converters import Autograde
from nbgrader.utils import capture_log, temp_attrs

from helpers.grading import sandbox
from helpers.grading.grader import TAMPERING
from helpers.grading.integrity import COPY_EVIDENCE

# Ways a notebook's grading can fail, recognised in nbgrader's log, and what to tell the instructor.
REASONS = [
    ("Kernel died", "the kernel died (os._exit, a crash, or the memory limit)"),
    ("NotJSONError", "the file is not a notebook (not valid JSON)"),
    ("Notebook does not appear to be JSON", "the file is not a notebook (not valid JSON)"),
    ("ValidationError", "the file is not a valid notebook"),
    ("UnresponsiveKernelError", "the kernel stopped responding"),
]
SLACK_SECONDS = 120  # on top of the notebook's own time budget: start-up, saving, a slow machine


@dataclass
class Student:
    name: str
    notebooks: list  # the assignment's notebooks this student submitted
    missing: list
    unexpected: list  # other .ipynb files: misnamed notebooks, which nbgrader ignores
    failures: dict = field(default_factory=dict)  # notebook -> reason
    flags: dict = field(default_factory=dict)  # notebook -> [what the instructor should look at]
    seconds: dict = field(default_factory=dict)  # notebook -> wall time its grading took (once it is done)


def load_config(argv, app_class=AutogradeApp):
    """The configuration ``nbgrader autograde ARGV`` runs with, built by nbgrader's own loader: the
    ``nbgrader_config.py`` (or ``.json``) of every folder of Jupyter's config path (jupyter_core's, so
    system-wide, the environment's and the user's, ``JUPYTER_CONFIG_DIR`` and ``JUPYTER_CONFIG_PATH``
    included), of the current folder and of the course folder, then the command-line options
    (``--Class.trait=value`` and nbgrader's own, such as ``--student``), which win."""
    app = app_class()
    app.initialize(list(argv))
    return app.config


def _api(config):
    api = NbGraderAPI(config=config)
    # Several processes share the gradebook: wait for its lock instead of failing at once.
    if api.coursedir.db_url.startswith("sqlite:") and "timeout=" not in api.coursedir.db_url:
        api.coursedir.db_url += ("&" if "?" in api.coursedir.db_url else "?") + "timeout=120"
    return api


def _notebook_seconds(api):
    return float(api.config.get("TrustedExecute", {}).get("notebook_seconds", 300))


def _grade_notebook(api, assignment, student, notebook):
    """nbgrader's own Autograde converter, for one notebook of one student."""
    try:
        with temp_attrs(api.coursedir, assignment_id=assignment, student_id=student, notebook_id=notebook):
            result = capture_log(Autograde(coursedir=api.coursedir, parent=api))
    except Exception:  # report anything to the parent, which decides
        result = {"success": False, "log": "", "error": traceback.format_exc()}
    texts = {key: str(result.get(key, ""))[-20_000:] for key in ("log", "error")}
    return {"success": result.get("success") is True, **texts}


def _worker(config, assignment, conn):
    """A grading process: notebooks in, results out, until told to stop. Staying alive keeps what nbgrader
    builds on first use (validators, compiled queries), which costs ~0.4 s of CPU per notebook otherwise."""
    api = _api(config)  # the configuration is loaded once, by the parent, and forked with it
    while (task := conn.recv()) is not None:
        conn.send(_grade_notebook(api, assignment, *task))


class _Worker:
    def __init__(self, context, config, assignment):
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_worker, args=(config, assignment, theirs), daemon=True)
        self.process.start()
        theirs.close()
        self.task = self.started = None

    def give(self, student, notebook):
        self.task, self.started = (student, notebook), time.monotonic()
        self.conn.send((student.name, notebook))

    def stop(self, kill=False):
        if kill:
            self.process.kill()
        else:
            self.conn.send(None)
        self.process.join()
        self.conn.close()


def _flags(log):
    """What the grader flagged in one notebook's log, once each: tampering, copy evidence."""
    found = []
    for line in log.splitlines():
        for marker in (TAMPERING, COPY_EVIDENCE):
            if marker in line:
                flag = f"{marker.lower()}: {line.split(marker, 1)[1].strip(': ')}"
                if flag not in found:
                    found.append(flag)
    return found


def _reason(result):
    text = f"{result.get('log', '')}\n{result.get('error', '')}"
    for needle, reason in REASONS:
        if needle in text:
            return reason
    lines = [line for line in text.splitlines() if line.strip()]
    return "nbgrader failed: " + (lines[-1].strip() if lines else "no message")


def _zero(api, assignment, student, notebook):
    """Score a notebook that could not be graded zero, as nbgrader does for a missing one."""
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        try:
            submitted = gb.find_submission_notebook(notebook, assignment, student)
        except MissingEntry:
            gb.update_or_create_student(student)
            gb.update_or_create_submission(assignment, student)
            submitted = gb.find_submission_notebook(notebook, assignment, student)
        for grade in submitted.grades:
            grade.auto_score, grade.needs_manual_grade = 0, False
        gb.db.commit()


def _students(api, assignment):
    """The submissions to grade, chosen as nbgrader chooses them: ``CourseDirectory.student_id`` and
    ``notebook_id`` (``--student``, ``--notebook``: names or glob patterns) and ``student_id_exclude``. With a
    notebook named, a student who did not submit it is left alone, as nbgrader does."""
    coursedir = api.coursedir
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        expected = [nb.name for nb in gb.find_assignment(assignment).notebooks]
    selected = [nb for nb in expected if fnmatch.fnmatchcase(nb, coursedir.notebook_id)]
    excluded = set(coursedir.student_id_exclude.split(","))
    submitted = Path(coursedir.root) / coursedir.submitted_directory
    students = []
    for folder in sorted(submitted.glob(f"{coursedir.student_id}/{assignment}")):
        files = {p.stem for p in folder.glob("*.ipynb")}
        notebooks = [nb for nb in selected if nb in files]
        if folder.parent.name in excluded or (coursedir.notebook_id != "*" and not notebooks):
            continue
        students.append(
            Student(
                name=folder.parent.name,
                notebooks=notebooks,
                missing=[nb for nb in selected if nb not in files],
                unexpected=sorted(files - set(expected)),
            )
        )
    return students


class CannotGrade(Exception):
    """Grading cannot start; the message says what is wrong and how to fix it, in one line."""


def preflight(api, assignment):
    """What stops grading before it starts, as one line each: no gradebook, an unknown assignment, nothing
    submitted, no sandbox."""
    root = Path(api.coursedir.root)
    db = api.coursedir.db_url
    db_file = db.removeprefix("sqlite:///").split("?")[0] if db.startswith("sqlite:///") else None
    if db_file and not (root / db_file).exists():
        raise CannotGrade(
            f"no gradebook yet ({db_file} in {root}): run "
            f"`nbgrader generate_assignment {assignment}` from the course root first, or run this command there"
        )
    with Gradebook(db, api.coursedir.course_id) as gb:
        known = [a.name for a in gb.assignments]
    if assignment not in known:
        raise CannotGrade(
            f"the gradebook has no assignment {assignment!r} (it has: {', '.join(known) or 'none'}): check the "
            f"name, or run `nbgrader generate_assignment {assignment}` first"
        )
    submitted = root / api.coursedir.submitted_directory
    if not any(submitted.glob(f"*/{assignment}")):
        raise CannotGrade(
            f"nothing submitted for {assignment!r} in {submitted}/<student>/{assignment}/: run `nbgrader collect "
            f"{assignment}` (exchange) or `nbgrader zip_collect {assignment}` (downloaded files) first"
        )
    if os.environ.get(sandbox.DISABLE_ENV) != "off" and not sandbox.available():
        raise CannotGrade(
            "bubblewrap (bwrap) is missing or cannot create namespaces here, so student code cannot be "
            f"sandboxed: install it (sudo apt-get install bubblewrap), or set {sandbox.DISABLE_ENV}=off to grade "
            "without a sandbox, only for submissions you trust"
        )


def _warn_about_extensions(api, config, assignment, out):
    """Name the ids in the extensions file that are not in the gradebook, where the late step reads it."""
    from helpers.grading.lms_collect import AssignLatePenaltiesWithExtensions

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        roster = {student.id for student in gb.students}
    step = AssignLatePenaltiesWithExtensions(config=config)
    path, unknown = step.unknown_ids(api.coursedir.root, assignment, roster)
    if unknown:
        print(
            f"Warning: {path} names {', '.join(unknown)}, not in the gradebook: no extension for them.",
            file=out,
        )


def run(assignment, config, jobs=None, out=sys.stdout):
    """Grade the submissions of ``assignment`` that ``config`` (:func:`load_config`) selects; return the
    students (with their failures)."""
    api = _api(config)
    preflight(api, assignment)
    students = _students(api, assignment)
    if not students:
        raise CannotGrade(
            f"no submission of {assignment!r} matches --student {api.coursedir.student_id!r} --notebook "
            f"{api.coursedir.notebook_id!r} in {api.coursedir.submitted_directory}/: check the names"
        )
    _warn_about_extensions(api, config, assignment, out)
    budget = _notebook_seconds(api) + SLACK_SECONDS
    jobs = jobs or os.cpu_count() or 1
    # A student's notebooks are graded one after another, so the longest chains start first (no long tail).
    queue = [(s, nb) for s in sorted(students, key=lambda s: -len(s.notebooks)) for nb in s.notebooks]
    total = len(queue)
    print(f"Grading {len(students)} students, {total} notebooks, {jobs} at a time.", file=out, flush=True)
    started = time.monotonic()
    context = multiprocessing.get_context("fork")
    workers = [_Worker(context, config, assignment) for _ in range(min(jobs, max(total, 1)))]
    finished = 0

    def finish(student, notebook, failure):
        nonlocal finished
        finished += 1
        if failure:
            student.failures[notebook] = failure
            _zero(api, assignment, student.name, notebook)
        if len(student.seconds) == len(student.notebooks):
            failed = sum(bool(s.failures) for s in students)
            note = (
                "ok" if not student.failures else f"{len(student.failures)} notebook(s) could not be graded"
            )
            print(
                f"[{finished:>4}/{total} notebooks] {student.name}: {note} · students with failures so far: {failed}",
                file=out,
                flush=True,
            )

    while queue or any(w.task for w in workers):
        busy = {w.task[0].name for w in workers if w.task}
        for worker in workers:
            if worker.task:
                continue
            task = next((t for t in queue if t[0].name not in busy), None)
            if task is None:
                break
            queue.remove(task)
            busy.add(task[0].name)
            worker.give(*task)
        active = [w for w in workers if w.task]
        ready = wait([w.conn for w in active] + [w.process.sentinel for w in active], timeout=1.0)
        now = time.monotonic()
        for i, worker in enumerate(workers):
            if not worker.task:
                continue
            (student, notebook), seconds = worker.task, now - worker.started
            if worker.conn in ready and worker.conn.poll():
                result = worker.conn.recv()
                failure = None if result["success"] else _reason(result)
                flags = _flags(result["log"])
                if flags:
                    student.flags[notebook] = flags
                worker.task = None
            elif worker.process.sentinel in ready or seconds > budget:
                failure = (
                    f"grading took longer than {budget:.0f} s and was stopped"
                    if seconds > budget
                    else "the grading process itself died"
                )
                worker.stop(kill=True)
                workers[i] = _Worker(context, config, assignment)
            else:
                continue
            student.seconds[notebook] = seconds
            finish(student, notebook, failure)
    for worker in workers:
        worker.stop()

    for student in students:  # nothing to grade: zero, as nbgrader does for missing notebooks
        if not student.notebooks:
            for notebook in student.missing:
                _zero(api, assignment, student.name, notebook)
    _find_replays(api, assignment, students)
    _summary(students, time.monotonic() - started, jobs, out)
    return students


REPLAY = "passes every visible test and fails every hidden one"


def _find_replays(api, assignment, students):
    """Name each student whose graded functions (two or more) all pass their visible tests and all fail their
    hidden ones: what a function that replays the visible cases' stored answers earns. Evidence for a person:
    an honest function with one bug can do it too, two or more at once rarely."""
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        for student in students:
            try:
                submission = gb.find_submission(assignment, student.name)
            except MissingEntry:
                continue
            scores = {g.name: (g.score, g.max_score) for nb in submission.notebooks for g in nb.grades}
            visible_passed = [
                name.removeprefix("test_")
                for name, (score, most) in scores.items()
                if not name.endswith("_hidden") and f"{name}_hidden" in scores and most and score == most
            ]
            hidden_failed = [f for f in visible_passed if scores[f"test_{f}_hidden"][0] == 0]
            any_hidden_passed = any(
                score for name, (score, _) in scores.items() if name.endswith("_hidden") and score
            )
            if len(visible_passed) >= 2 and hidden_failed == visible_passed and not any_hidden_passed:
                functions = ", ".join(visible_passed)
                student.flags["(all)"] = [
                    f"{REPLAY} ({functions}): a replay of the visible cases looks like this"
                ]


def _summary(students, seconds, jobs, out):
    rows = []
    for s in students:
        rows += [(s.name, nb, reason) for nb, reason in s.failures.items()]
        rows += [(s.name, nb, f"graded, but {flag}") for nb, flags in s.flags.items() for flag in flags]
        if not s.notebooks and not s.unexpected:
            rows.append(
                (
                    s.name,
                    "(all)",
                    "the submitted folder is empty: scored 0; did collect or zip_collect get the files?",
                )
            )
        if s.unexpected:
            rows += [
                (s.name, f"{nb}.ipynb", "not a notebook of this assignment (misnamed?): ignored")
                for nb in s.unexpected
            ]
            rows += [(s.name, nb, "missing: scored 0") for nb in s.missing]
    graded = sum(len(s.notebooks) - len(s.failures) for s in students)
    times = sorted(t for s in students for t in s.seconds.values())
    each = f"; per notebook {times[len(times) // 2]:.1f} s median, {times[-1]:.1f} s max" if times else ""
    print(
        f"\nGraded {graded} notebooks of {len(students)} students in {seconds:.1f} s ({jobs} jobs{each}).",
        file=out,
    )
    if not rows:
        print("Every submitted notebook was graded.", file=out)
        return
    print("Could not be graded, or needs a look (scored 0 where it could not be graded):", file=out)
    widths = [max(len(str(r[i])) for r in rows + [("student", "notebook", "")]) for i in range(2)]
    print(f"  {'student':<{widths[0]}}  {'notebook':<{widths[1]}}  why", file=out)
    for name, notebook, reason in rows:
        print(f"  {name:<{widths[0]}}  {notebook:<{widths[1]}}  {reason}", file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m helpers.grading.autograde",
        description=__doc__.split("\n")[0],
        allow_abbrev=False,
        epilog="Any other option goes to nbgrader, as `nbgrader autograde` takes it (--Class.trait=value, "
        "--course-dir=PATH, ...); configuration files are read as nbgrader reads them.",
    )
    parser.add_argument("assignment")
    parser.add_argument(
        "--jobs", "-j", type=int, default=None, help="notebooks graded at once (default: cores)"
    )
    parser.add_argument("--force", action="store_true", help="regrade notebooks that were already autograded")
    parser.add_argument("--student", help="regrade this student only (an id, or a pattern such as 'a*')")
    parser.add_argument("--notebook", help="regrade this notebook only (a name without .ipynb, or a pattern)")
    args, nbgrader_args = parser.parse_known_args(argv)
    for option in ("student", "notebook"):
        if getattr(args, option) is not None:
            nbgrader_args.append(f"--{option}={getattr(args, option)}")
    if args.force or args.student is not None or args.notebook is not None:
        nbgrader_args.append("--force")  # what is named is regraded, even if it was graded before
    config = load_config([args.assignment, *nbgrader_args])
    try:
        students = run(args.assignment, config, jobs=args.jobs)
    except CannotGrade as problem:
        print(f"Cannot grade: {problem}.", file=sys.stderr)
        return 2
    return 1 if any(s.failures for s in students) else 0


if __name__ == "__main__":
    sys.exit(main())
