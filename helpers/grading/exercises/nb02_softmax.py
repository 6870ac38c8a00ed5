"""Notebook 02, softmax: the exercise ``softmax`` (a stable softmax along any axis).

Its visible cases, its hidden cases and its classic mistakes (overflow, the wrong shift, the wrong axis, ...),
each mistake a model of what a function with that mistake returns, and the hint a student sees for it.
"""

import numpy as np

from helpers.checking import Case
from helpers.grading import reference as ref
from helpers.grading.exercises.common import Exercise, Mistake, _rng

LESSON_SCORES = np.array([2.0, 0.5, -1.0, 0.0])


def _softmax_cases():
    return [
        Case("the lesson's scores", (LESSON_SCORES,)),
        Case("equal scores", (np.array([1.0, 1.0, 1.0, 1.0]),)),
        Case("one softmax per row of a 2x3 array", (np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]),)),
        Case("a square 3x3 array", (np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0], [-1.0, 0.0, 1.0]]),)),
        Case("large scores (overflow test)", (np.array([1000.0, 1001.0, 1002.0]),)),
        Case("very negative scores (underflow test)", (np.array([-1000.0, -1001.0, -1002.0]),)),
        Case(
            "axis=0: one softmax per column", (np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 0.0]]),), {"axis": 0}
        ),
        # Any shift of a row leaves softmax unchanged in exact arithmetic; in float64 only the row's own max
        # keeps every exponent <= 0. These two catch the shifts that are exact on paper and overflow here.
        Case("a wide range of scores", (np.array([-3000.0, 0.0, 3000.0]),)),
        Case("rows on very different scales", (np.array([[0.0, 1.0, 2.0], [-2000.0, -2001.0, -2002.0]]),)),
    ]


def _softmax_hidden():
    r = _rng(103)
    return [
        Case("a single score", (np.array([3.0]),)),
        Case("a masked score (-inf gets weight 0)", (np.array([0.0, -np.inf, 1.0]),)),
        Case("a batch of shape (2, 3, 4, 5)", (r.normal(size=(2, 3, 4, 5)),)),
        Case("axis=1 of a 3-D array", (r.normal(size=(2, 4, 3)),), {"axis": 1}),
        Case("scores of magnitude 1e3 in a batch", (1e3 * r.normal(size=(3, 6)),)),
        Case("a wide range in every row of a batch", (3e3 * r.normal(size=(4, 5)),)),
        Case(
            "columns on very different scales (axis=0)",
            (np.array([[0.0, -3e3], [1.0, -3e3 - 1]]),),
            {"axis": 0},
        ),
    ]


def _naive_softmax(x, axis=-1):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _shift_by_min(x, axis=-1):
    e = np.exp(x - np.min(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _shift_by_global_max(x, axis=-1):
    e = np.exp(x - np.max(x))
    return e / e.sum(axis=axis, keepdims=True)


def _first_axis_instead(x, axis=-1):
    """Softmax over axis 0 where the last axis was asked for (the other axis mistake is `ignores_axis`)."""
    if np.ndim(x) < 2 or axis not in (-1, np.ndim(x) - 1):
        raise ValueError("not this mistake")
    return ref.softmax(x, axis=0)


SOFTMAX = Exercise(
    notebook="02_softmax",
    name="softmax",
    reference=ref.softmax,
    cases=_softmax_cases,
    hidden_cases=_softmax_hidden,
    mistakes=[
        Mistake(
            "shift_not_max",
            "you shifted each row before exp, which leaves softmax unchanged on paper, but not by its max. In "
            "float64 exp overflows to inf above about 709, and a shift that leaves some exponents positive "
            "(the min, the first score) does that on a wide row. Which shift makes every exponent <= 0?",
            _shift_by_min,
        ),
        Mistake(
            "global_max",
            "you subtracted one max for the whole array. A row far below it has every exp underflow to 0, "
            "and 0/0 is nan. Each row (each slice along `axis`) needs its own max.",
            _shift_by_global_max,
        ),
        Mistake(
            "no_max_subtraction",
            "np.exp overflowed (exp(1000) is inf in float64), or underflowed to 0/0. Subtract the max of each "
            "row first: softmax(x) == softmax(x - max(x)), and then every exponent is <= 0.",
            _naive_softmax,
        ),
        Mistake(
            "sum_over_everything",
            "you divided by the sum over the whole array. Each row (each slice along `axis`) is its own "
            "distribution: sum along `axis` with keepdims=True.",
            lambda x, axis=-1: np.exp(x - np.max(x)) / np.exp(x - np.max(x)).sum(),
        ),
        Mistake(
            "wrong_axis",
            "you normalised along the wrong axis. Use the `axis` argument for both the max and the sum.",
            _first_axis_instead,
        ),
        Mistake(
            "ignores_axis",
            "you ignored the `axis` argument (always axis=-1). Pass `axis` to np.max and np.sum.",
            lambda x, axis=-1: ref.softmax(x, axis=-1),
        ),
        Mistake(
            "no_keepdims",
            "without keepdims=True the sum of each row is broadcast along the wrong axis, so row i is divided "
            "by the sum of another row. Pass keepdims=True.",
            lambda x, axis=-1: (
                np.exp(x - np.max(x, axis=axis, keepdims=True))
                / np.exp(x - np.max(x, axis=axis, keepdims=True)).sum(axis=axis)
            ),
        ),
        Mistake(
            "clipped",
            "you clipped the scores instead of shifting them. Clipping changes the scores that pass the bound, "
            "so 1000, 1001 and 1002 all become the same and get equal weights. Subtract each row's max instead: "
            "softmax(x - max) equals softmax(x), and every exponent is <= 0.",
            lambda x, axis=-1: _naive_softmax(np.clip(x, -500.0, 500.0), axis),
        ),
        Mistake(
            "not_divided",
            "you returned the exponentials without dividing by their sum. Each row must be divided by the sum "
            "of its own exps, so that its weights sum to 1.",
            lambda x, axis=-1: np.exp(x - np.max(x, axis=axis, keepdims=True)),
        ),
        Mistake(
            "sum_along_last_axis",
            "you took the max along `axis` but the sum along the last axis. Both must run along `axis`: the max "
            "and the sum of the same slice.",
            lambda x, axis=-1: (
                np.exp(x - np.max(x, axis=axis, keepdims=True))
                / np.exp(x - np.max(x, axis=axis, keepdims=True)).sum(axis=-1, keepdims=True)
            ),
        ),
        Mistake(
            "sigmoid",
            "that is a sigmoid: each weight is squashed on its own, so the weights do not sum to 1. Softmax "
            "divides exp(x_i) by the sum of all exp(x_j).",
            lambda x, axis=-1: 1.0 / (1.0 + np.exp(-x)),
        ),
        Mistake(
            "divide_by_sum",
            "you divided the scores by their sum, without exp. Negative scores then give negative weights; "
            "exponentiate first.",
            lambda x, axis=-1: x / x.sum(axis=axis, keepdims=True),
        ),
    ],
)
