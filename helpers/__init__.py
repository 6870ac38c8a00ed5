"""Shared code for the attention-course notebooks: reference maths, checks with hints, widgets and plots.

Modules:
- ``reference``: the course's functions, written once, following the conventions in README.md;
- ``checking`` and ``checks``: the checks students run, and the mistakes they diagnose;
- ``plots`` and ``widgets``: figures, sliders and the friendly guard around unfinished student code.
"""

import os


def grading():
    """True while nbgrader executes a notebook (autograde or validate): build no widget, draw no figure."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))
