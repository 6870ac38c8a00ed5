"""What an instructor sets, read where nbgrader itself reads it, so that it is written once.

- the course id: ``c.CourseDirectory.course_id`` in ``nbgrader_config.py``, loaded by nbgrader's own loader
  (Jupyter's config path, the current folder, the course folder), as every ``nbgrader`` command loads it;
- the assignments: the folders of ``source/`` (nbgrader's ``source_directory``) that hold notebooks;
- the points of each graded part: the ``points`` of each graded cell's nbgrader metadata in ``source/`` (what
  the create-assignment toolbar writes, and what ``generate_assignment`` puts in the gradebook).

Tests, ``deploy/classroom.py`` and the guide's points derive from these. ``python -m helpers.grading.course``
prints them; ``--restate FILE...`` (run by ``make release``) rewrites the points that README.md and
docs/instructors.md state (their paragraphs that end "N in all") to what ``source/`` says.
"""

import argparse
import functools
import re
from pathlib import Path

import nbformat
from nbgrader.utils import is_grade

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def _coursedir(course):
    from nbgrader.apps.baseapp import NbGrader

    app = NbGrader()
    app.initialize(["--log-level=ERROR"], root=str(course))
    return app.coursedir


def course_id(course=ROOT):
    """The course id nbgrader uses in ``course`` (the folder with ``nbgrader_config.py``)."""
    return _coursedir(Path(course).resolve()).course_id


def _source(course):
    return Path(course).resolve() / _coursedir(Path(course).resolve()).source_directory


def assignments(course=ROOT):
    """The course's assignments, in order: the folders of ``source/`` with notebooks in them."""
    return sorted(p.name for p in _source(course).iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def points(course=ROOT, assignment=None):
    """{notebook: {grade_id: points}} of ``assignment`` (the only one if not given), read from ``source/``."""
    if assignment is None:
        (assignment,) = assignments(course)
    found = {}
    for path in sorted((_source(course) / assignment).glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        found[path.stem] = {
            c.metadata.nbgrader["grade_id"]: _number(c.metadata.nbgrader["points"])
            for c in cells
            if is_grade(c)
        }
    return found


def _number(value):
    return int(value) if float(value).is_integer() else float(value)


def notebook_points(course=ROOT, assignment=None):
    """{notebook: its points}."""
    return {notebook: sum(parts.values()) for notebook, parts in points(course, assignment).items()}


def total(course=ROOT, assignment=None):
    """The assignment's maximum score: nbgrader's ``max_score``."""
    return sum(notebook_points(course, assignment).values())


# A paragraph that states the points: "01: 8, 02: 4, ...; 81 in all" (or "01 has 8, ..."): each notebook by the
# two digits its name starts with.
_STATED = re.compile(r"\b(\d\d)(: | has )(\d+(?:\.\d+)?)\b")
_TOTAL = re.compile(r"\b\d+(?:\.\d+)?(\s+in\s+all)\b")


def restate(text, course=ROOT):
    """``text`` with the points of each paragraph that ends "N in all" set to those of ``source/``, and how many
    such paragraphs it holds. A text that states them right comes back unchanged."""
    by_prefix = {name[:2]: n for name, n in notebook_points(course).items()}
    paragraphs = text.split("\n\n")
    found = 0
    for i, paragraph in enumerate(paragraphs):
        if _TOTAL.search(paragraph) and _STATED.search(paragraph):
            found += 1
            paragraph = _STATED.sub(lambda m: f"{m[1]}{m[2]}{by_prefix.get(m[1], m[3])}", paragraph)
            paragraphs[i] = _TOTAL.sub(lambda m: f"{total(course)}{m[1]}", paragraph)
    return "\n\n".join(paragraphs), found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--restate", nargs="+", metavar="FILE", help="rewrite the points these files state")
    args = parser.parse_args(argv)
    if args.restate:
        for name in args.restate:
            path = Path(name)
            text, found = restate(path.read_text())
            if not found:
                raise SystemExit(f"{name}: no paragraph states the points")
            path.write_text(text)
        return
    print(f"course id: {course_id()}")
    for assignment in assignments():
        print(f"assignment {assignment}: {total(assignment=assignment)} points")
        for notebook, parts in points(assignment=assignment).items():
            print(f"  {notebook}: {sum(parts.values())}  " + ", ".join(f"{g} {p}" for g, p in parts.items()))


if __name__ == "__main__":
    main()
