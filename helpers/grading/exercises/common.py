"""What every notebook's exercises are made of: :class:`Exercise`, :class:`Mistake`, and the random inputs
their cases are drawn from.

The inputs are drawn here, on the grading side, from seeds of their own: the student package's property checks
(:mod:`helpers.checks`) draw theirs the same way, but neither side imports the other's.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Mistake:
    """A classic mistake: ``model`` computes what a function with this mistake returns on the same inputs."""

    name: str
    hint: str
    model: object


@dataclass(frozen=True)
class Exercise:
    notebook: str
    name: str
    reference: object
    cases: object  # () -> [Case(name, args, kwargs)]: the visible cases
    hidden_cases: object  # () -> the same, for the hidden tests
    mistakes: list
    # rng -> cases on fresh random inputs; by default each hidden case with its numbers drawn anew
    fresh: object = field(default=None)
    # () -> cases with their expected answers, run by the grader only: too big for a student's machine
    graded_only: object = field(default=None)


def _rng(seed):
    return np.random.default_rng(seed)


def _weights(r, *shape):
    """A random projection matrix of ``shape``, scaled so that projected vectors keep their size."""
    return r.normal(size=shape) / np.sqrt(shape[0])
