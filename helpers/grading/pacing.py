"""Weekly pacing: the course as one assignment per notebook, or per group of notebooks, each with its deadline.

``python -m helpers.grading.pacing pacing.csv``, from the root of a term's course directory (not the public
clone), with a plan such as::

    assignment,notebooks,duedate
    week1,01 02,2025-02-07 17:00:00 Europe/Berlin
    week2,03 04,2025-02-14 17:00:00 Europe/Berlin
    week3,05 06 07 08,2025-02-28 17:00:00 Europe/Berlin

moves the masters into ``source/<assignment>/`` (each notebook named by its number or its name, each exactly
once, the notebooks of an assignment following those of the one before: a notebook builds on earlier ones),
then runs nbgrader's own commands for each assignment, printing them: ``nbgrader db assignment add NAME
--duedate=...`` and ``nbgrader generate_assignment NAME --force``. An assignment the plan no longer has (the
course's single ``attention``) is removed from the gradebook (``nbgrader db assignment remove``) and its release
folder deleted. Nothing changes once students have handed in an assignment the plan would change.

Everything after works per assignment with the commands of docs/instructors.md: collect, autograde, feedback,
export (one column per assignment), the LMS files. While students work, ``helpers.earlier`` gives a later
notebook the student's own earlier functions, as they last passed their checks (the progress file is the
student's, whichever assignment's folder a notebook is in); while grading, the grader's, so a mistake is
charged once, in the assignment that teaches it.
"""

import argparse
import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

from nbgrader.api import Gradebook

from helpers.grading import course

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # a folder name that nbgrader's globs and the LMS files keep


class PlanError(ValueError):
    """The plan cannot be carried out; the message says why, naming the row."""


def read_plan(path, notebooks):
    """[(assignment, [notebook names], due date or "")] from the plan at ``path``, checked against the
    course's ``notebooks`` (names without .ipynb, in order)."""
    by_prefix = {name[:2]: name for name in notebooks}
    plan, seen = [], {}
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        missing = {"assignment", "notebooks"} - set(reader.fieldnames or [])
        if missing:
            raise PlanError(
                f"{path}: no column {', '.join(sorted(missing))} (columns: assignment,notebooks,duedate)"
            )
        for line, row in enumerate(reader, 2):
            name = (row.get("assignment") or "").strip()
            if not NAME.fullmatch(name):
                raise PlanError(
                    f"{path}, line {line}: {name!r} is not an assignment name (letters, digits, - and _)"
                )
            if name in (a for a, _, _ in plan):
                raise PlanError(f"{path}, line {line}: {name} is planned twice")
            chosen = []
            for word in (row.get("notebooks") or "").replace(",", " ").split():
                stem = word.removesuffix(".ipynb")
                notebook = by_prefix.get(word) or (stem if stem in notebooks else None)
                if notebook is None:
                    raise PlanError(f"{path}, line {line}: {word} is none of the course's notebooks")
                if notebook in seen:
                    raise PlanError(f"{path}, line {line}: {notebook} is already in {seen[notebook]}")
                seen[notebook] = name
                chosen.append(notebook)
            if not chosen:
                raise PlanError(f"{path}, line {line}: {name} has no notebooks")
            plan.append((name, sorted(chosen), (row.get("duedate") or "").strip()))
    if left := [n for n in notebooks if n not in seen]:
        raise PlanError(f"{path}: no assignment has {', '.join(left)}")
    order = [n for _, chosen, _ in plan for n in chosen]
    if order != sorted(notebooks):
        raise PlanError(
            f"{path}: each assignment's notebooks must follow the previous assignment's (a notebook builds on "
            f"the ones before it); in the plan's order they are {', '.join(n[:2] for n in order)}"
        )
    return plan


def _nbgrader(root, *args):
    command = [sys.executable, "-m", "nbgrader", *args]
    print("$ nbgrader " + " ".join(f'"{a}"' if " " in a else a for a in args), flush=True)
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def _in_gradebook(root):
    """{assignment: whether anyone has handed it in} for the assignments the gradebook knows ({} without one)."""
    if not (root / "gradebook.db").exists():
        return {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course.course_id(root)) as gb:
        return {assignment.name: bool(assignment.submissions) for assignment in gb.assignments}


def pace(root, plan_path):
    """Carry out the plan in the course directory ``root``."""
    root = Path(root).resolve()
    if (root / "helpers" / "grading").is_dir() and (root / "tests").is_dir():
        raise PlanError(
            "this is the course's repository, one assignment for self-study: pace a course directory of your own "
            "(docs/instructors.md, 'A course directory of your own for a term')"
        )
    source = root / "source"
    now = {a: sorted(p.stem for p in (source / a).glob("*.ipynb")) for a in course.assignments(root)}
    notebooks = sorted(n for names in now.values() for n in names)
    if len(set(notebooks)) != len(notebooks):
        raise PlanError("source/ holds a notebook twice: keep one copy of each, then pace again")
    plan = read_plan(plan_path, notebooks)
    wanted = {name: chosen for name, chosen, _ in plan}
    changed = [a for a in sorted(set(now) | set(wanted)) if now.get(a) != wanted.get(a)]
    known = _in_gradebook(root)
    if handed := [a for a in changed if known.get(a)]:
        raise PlanError(
            f"students have handed in {', '.join(handed)}, which this plan changes: pace a term before its first "
            "collection (a due date alone moves with nbgrader db assignment add)"
        )
    for name, chosen, _ in plan:
        for notebook in chosen:
            (old,) = [a for a, names in now.items() if notebook in names]
            if old != name:
                (source / name).mkdir(exist_ok=True)
                shutil.move(source / old / f"{notebook}.ipynb", source / name / f"{notebook}.ipynb")
    for gone in sorted(set(now) - set(wanted)):
        if not any((source / gone).iterdir()):
            (source / gone).rmdir()
        release = root / "notebooks" / gone
        if release.is_dir():
            shutil.rmtree(release)
            print(f"removed notebooks/{gone}/, the release of {gone}")
        if gone in known:
            _nbgrader(root, "db", "assignment", "remove", gone)
    for name, _, due in plan:
        _nbgrader(root, "db", "assignment", "add", name, *([f"--duedate={due}"] if due else []))
        _nbgrader(root, "generate_assignment", name, "--force")
    for name, chosen, due in plan:
        print(f"{name}: {', '.join(chosen)}; {course.total(root, name)} points; due {due or 'not set'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("plan", help="CSV file: assignment,notebooks,duedate")
    args = parser.parse_args(argv)
    try:
        pace(Path.cwd(), args.plan)
    except PlanError as error:
        raise SystemExit(f"Not paced: {error}") from None


if __name__ == "__main__":
    main()
