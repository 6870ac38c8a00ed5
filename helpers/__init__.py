"""The student package of attention-course: checks with hints, widgets, plots, the quiz, the tutor, progress.

Everything here ships to every student, in a class release too, so none of it holds a solution (see README.md
beside this file). The instructor's side (solutions, grading, the sandbox) is the subpackage
:mod:`helpers.grading`, which a class release leaves out.
"""

import os


def being_graded():
    """True while nbgrader executes a notebook (autograde or validate): build no widget, draw no figure."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))
