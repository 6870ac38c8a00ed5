"""Functions from earlier notebooks, for the notebooks that build on them: ``from helpers.earlier import softmax``.

Where each one comes from:

- **self-study** (the whole repository is installed, so :mod:`helpers.grading` is there): the course's own
  implementation;
- **grading**: the course's own implementation too, computed by the grader on the inputs the kernel sends
  (:func:`helpers.wire.ask_grader`): a sandboxed grading kernel has the student package alone, so it gets
  outputs, never code, and only of the functions of notebooks before the one being graded. A mistake in
  notebook 02 is then charged once, in notebook 02, and never again in notebook 03;
- **a class release** (the student package alone, which holds no solution): the student's own function, as it
  last passed its check (:func:`helpers.progress.record_check` keeps its code). Until it has, calling it says
  which notebook to finish first.
"""

import importlib.util
import os

import numpy as np

from helpers import progress, wire

# Set in a grading kernel by the grader's sandbox: earlier functions come from the grader.
FROM_GRADER_ENV = "ATTENTION_COURSE_EARLIER"

# Which notebook teaches each function (for the message shown before it is done): the graded functions of
# notebooks 01-05, which later notebooks build on.
TAUGHT_IN = {
    function: notebook
    for notebook, functions in progress.NOTEBOOK_CHECKS.items()
    if notebook < "06"
    for function in functions
}


class NotDoneYet(NotImplementedError):
    """An earlier notebook's function that the student has not passed yet (class release only)."""

    def _render_traceback_(self):
        return [f"\x1b[0;33mNot done yet\x1b[0m: {self}"]


def course_solutions_available():
    """True where the course's own implementations are installed (self-study, instructors), not in a class."""
    return importlib.util.find_spec("helpers.grading") is not None


def _from_student(name):
    """The student's ``name``, compiled from the code that passed its check, or None."""
    passed = progress.passed_function(name)
    if passed is None:
        return None
    source, defines = passed
    namespace = {"np": np, "numpy": np, **{other: _lazy(other) for other in TAUGHT_IN if other != name}}
    exec(compile(source, f"<your {name} from notebook {TAUGHT_IN[name][:2]}>", "exec"), namespace)
    return namespace.get(defines)


def _lazy(name):
    """``name``, looked up on its first call (a student may pass notebook 02 while notebook 03 is open) and
    kept from then on; importing it again picks up a newer version."""
    found = []

    def call(*args, **kwargs):
        if not found:
            found.append(_resolve(name))
        return found[0](*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Your `{name}` from notebook {TAUGHT_IN[name][:2]}."
    return call


def _from_grader(name):
    def call(*args, **kwargs):
        return wire.ask_grader(name, args, kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"`{name}` from notebook {TAUGHT_IN[name][:2]}, computed by the grader."
    return call


def _resolve(name):
    if course_solutions_available():
        from helpers.grading import reference

        return getattr(reference, name)
    if os.environ.get(FROM_GRADER_ENV) == "grader":
        return _from_grader(name)
    fn = _from_student(name)
    if fn is None:
        raise NotDoneYet(
            f"`{name}` comes from notebook {TAUGHT_IN[name]}: write it there and run its check "
            f"(check_{name}({name})); once it passes, this notebook uses your version."
        )
    return fn


def __getattr__(name):
    if name not in TAUGHT_IN:
        raise AttributeError(f"module 'helpers.earlier' has no attribute '{name}'")
    return _resolve(name) if course_solutions_available() else _lazy(name)
