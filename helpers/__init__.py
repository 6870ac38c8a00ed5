"""The student package of attention-course: checks with hints, widgets, plots, the quiz, the tutor, progress.

Everything here ships to every student, in a class release too, so none of it holds a solution (see README.md
beside this file). The instructor's side (solutions, grading, the sandbox) is the subpackage
:mod:`helpers.grading`, which a class release leaves out.
"""

import os
from pathlib import Path


def being_graded():
    """True while nbgrader executes a notebook (autograde or validate): build no widget, draw no figure."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def master_notebook(name):
    """Where the master of notebook ``name`` is in a clone (``source/<assignment>/``, whichever assignment holds
    it: the course's one, or a week of a paced course); a path that does not exist where there are no masters
    (a class release)."""
    source = Path(__file__).resolve().parents[1] / "source"
    found = sorted(source.glob(f"*/{name}"))
    return found[0] if found else source / "attention" / name
