"""The exercises behind the checks: cases, hidden cases and classic mistakes, computed with the course's own
implementations. Instructor side: a class release never holds this file.

Students' checks (:mod:`helpers.checks`) run on data made here: each visible case with its expected answer and
what each known mistake returns on it, in ``helpers/check_data/<function>.json``. Regenerate it after changing a
case, a mistake or a hint (``make release`` does), and commit it: a test keeps it in step with this file.

    python -m helpers.grading.exercises helpers/check_data

Hidden cases are never written out: :func:`hidden_cases` computes them when nbgrader grades, the fixed ones and
as many again on fresh random inputs (:func:`fresh_inputs`), which no stored answer can pass.
"""

import contextlib
import copy
import hashlib
import hmac
import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.checking import Case, encode
from helpers.checks import _mha_args, _rng, _weights
from helpers.grading import reference as ref


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


LESSON_SCORES = np.array([2.0, 0.5, -1.0, 0.0])


def _similarity_cases():
    r = _rng(1)
    return [
        Case(
            "one query, three keys", (np.array([1.0, 0.0]), np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
        ),
        Case(
            "longer vectors, d=3 and n=4",
            (np.array([1.0, 2.0, -1.0]), r.integers(-3, 4, (4, 3)).astype(float)),
        ),
        Case(
            "a batch of 2 queries, each with its own 4 keys",
            (r.normal(size=(2, 3)), r.normal(size=(2, 4, 3))),
        ),
    ]


def _similarity_hidden():
    r = _rng(101)
    return [
        Case("a single key", (r.normal(size=5), r.normal(size=(1, 5)))),
        Case("random, d=6 and n=9", (r.normal(size=6), r.normal(size=(9, 6)))),
        Case("two batch dimensions", (r.normal(size=(2, 3, 4)), r.normal(size=(2, 3, 7, 4)))),
        Case("large vectors", (100 * r.normal(size=8), 100 * r.normal(size=(5, 8)))),
    ]


def _cosine(query, keys):
    norms = np.linalg.norm(keys, axis=-1) * np.linalg.norm(query, axis=-1)[..., None]
    return ref.similarity_scores(query, keys) / norms


SIMILARITY_SCORES = Exercise(
    notebook="01_queries_keys_values",
    name="similarity_scores",
    reference=ref.similarity_scores,
    cases=_similarity_cases,
    hidden_cases=_similarity_hidden,
    mistakes=[
        Mistake(
            "cosine",
            "you normalised the vectors (cosine similarity). Here the score is the plain dot product "
            "query . key, so a longer key gets a larger score.",
            _cosine,
        ),
        Mistake(
            "distance",
            "you computed a distance. The similarity score is the dot product query . key: "
            "large when they point the same way, not small.",
            lambda q, k: np.linalg.norm(k - q[..., None, :], axis=-1),
        ),
        Mistake(
            "negative_distance",
            "you computed a (negative) distance. The similarity score is the dot product query . key.",
            lambda q, k: -np.linalg.norm(k - q[..., None, :], axis=-1),
        ),
        Mistake(
            "softmaxed",
            "you returned weights (after softmax). Return the raw scores; `soft_lookup` turns them into weights.",
            lambda q, k: ref.softmax(ref.similarity_scores(q, k)),
        ),
        Mistake(
            "scaled",
            "you divided by sqrt(d). That scaling belongs to scaled dot-product attention (notebook 03); "
            "here return the plain dot products.",
            lambda q, k: ref.similarity_scores(q, k) / np.sqrt(np.shape(q)[-1]),
        ),
        Mistake(
            "no_sum",
            "you multiplied element by element but did not add up: a dot product is sum_i q_i * k_i, "
            "so sum over the last (feature) axis.",
            lambda q, k: k * q[..., None, :],
        ),
        Mistake(
            "sum_wrong_axis",
            "you summed over the positions axis. Sum over the features (the last axis), one score per key.",
            lambda q, k: (k * q[..., None, :]).sum(axis=-2),
        ),
    ],
)


def _lookup_cases():
    keys = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    values = np.array([[10.0, 0.0], [0.0, 10.0], [5.0, 5.0]])
    r = _rng(2)
    return [
        Case("a query that matches key 0 best", (np.array([2.0, 0.0]), keys, values)),
        Case("a query halfway between keys 0 and 1", (np.array([1.0, 1.0]), keys, values)),
        Case(
            "values wider than keys (d=3, d_v=5)",
            (r.normal(size=3), r.normal(size=(4, 3)), r.normal(size=(4, 5))),
        ),
        Case(
            "a batch of 2 queries with their own keys and values",
            (r.normal(size=(2, 3)), r.normal(size=(2, 4, 3)), r.normal(size=(2, 4, 2))),
        ),
    ]


def _lookup_hidden():
    r = _rng(102)
    return [
        Case("one key and value", (r.normal(size=4), r.normal(size=(1, 4)), r.normal(size=(1, 3)))),
        # Notebook 01's softmax is the plain formula (notebook 02 makes it stable): scores stay well below 709.
        Case("scores in the tens", (3 * r.normal(size=6), 3 * r.normal(size=(5, 6)), r.normal(size=(5, 2)))),
        Case(
            "two batch dimensions",
            (r.normal(size=(3, 2, 4)), r.normal(size=(3, 2, 6, 4)), r.normal(size=(3, 2, 6, 5))),
        ),
    ]


def _lookup_with(weigh):
    """A soft lookup whose weights come from ``weigh(scores)`` instead of softmax."""

    def lookup(q, k, v):
        w = weigh(ref.similarity_scores(q, k))
        return np.einsum("...n,...nv->...v", w, v)

    return lookup


def _hard_lookup(q, k, v):
    best = np.argmax(ref.similarity_scores(q, k), axis=-1)
    return np.take_along_axis(v, best[..., None, None], axis=-2)[..., 0, :]


SOFT_LOOKUP = Exercise(
    notebook="01_queries_keys_values",
    name="soft_lookup",
    reference=ref.soft_lookup,
    cases=_lookup_cases,
    hidden_cases=_lookup_hidden,
    mistakes=[
        Mistake(
            "no_softmax",
            "you used the raw scores as weights. Turn the scores into weights with `softmax` first, so they "
            "are positive and sum to 1.",
            _lookup_with(lambda s: s),
        ),
        Mistake(
            "hard_lookup",
            "that is the hard lookup: you returned the single best-matching value. A soft lookup blends all "
            "values, each weighted by softmax of its score.",
            _hard_lookup,
        ),
        Mistake(
            "uniform_average",
            "you averaged the values equally. The weights must come from how similar the query is to each key.",
            lambda q, k, v: np.mean(v, axis=-2),
        ),
        Mistake(
            "blended_keys",
            "you blended the keys. Keys are only for matching; the output is a blend of the values.",
            lambda q, k, v: np.einsum("...n,...nv->...v", ref.softmax(ref.similarity_scores(q, k)), k),
        ),
        Mistake(
            "divide_by_sum",
            "you normalised by dividing the scores by their sum. With negative scores that gives negative or "
            "huge weights; softmax makes every weight positive.",
            _lookup_with(lambda s: s / s.sum(axis=-1, keepdims=True)),
        ),
        Mistake(
            "softmax_wrong_axis",
            "softmax ran over the wrong axis: normalise over the keys (the last axis), once per query.",
            _lookup_with(lambda s: ref.softmax(s, axis=0)),
        ),
        Mistake(
            "returned_weights",
            "you returned the weights. Return the blend of the values, each weighted by its weight.",
            lambda q, k, v: ref.softmax(ref.similarity_scores(q, k)),
        ),
    ],
)


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


def _causal(n):
    return np.tril(np.ones((n, n), dtype=bool))


def _attention_cases():
    r = _rng(3)
    mask = np.array([[True, True, False], [True, True, True]])
    return [
        Case(
            "2 queries, 3 keys, d_k=2",
            (np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.eye(3)),
        ),
        Case(
            "d_k=16, so the scaling matters",
            (r.normal(size=(3, 16)), r.normal(size=(3, 16)), r.normal(size=(3, 4))),
        ),
        Case(
            "d_v differs from d_k, n_q differs from n_k",
            (r.normal(size=(2, 4)), r.normal(size=(5, 4)), r.normal(size=(5, 2))),
        ),
        Case(
            "a mask: query 0 may not see key 2",
            (r.normal(size=(2, 4)), r.normal(size=(3, 4)), r.normal(size=(3, 3))),
            {"mask": mask},
        ),
        Case(
            "a causal mask on 4 tokens",
            (r.normal(size=(4, 8)), r.normal(size=(4, 8)), r.normal(size=(4, 3))),
            {"mask": _causal(4)},
        ),
        Case(
            "a batch of 2 sequences sharing one causal mask",
            (r.normal(size=(2, 3, 4)), r.normal(size=(2, 3, 4)), r.normal(size=(2, 3, 5))),
            {"mask": _causal(3)},
        ),
        Case(
            "scores of magnitude 1e3",
            (30 * r.normal(size=(3, 4)), 30 * r.normal(size=(3, 4)), r.normal(size=(3, 2))),
        ),
    ]


def _attention_hidden():
    r = _rng(104)
    return [
        Case("a single query and key", (r.normal(size=(1, 3)), r.normal(size=(1, 3)), r.normal(size=(1, 2)))),
        Case(
            "two batch dimensions with a causal mask",
            (r.normal(size=(2, 3, 5, 8)), r.normal(size=(2, 3, 5, 8)), r.normal(size=(2, 3, 5, 8))),
            {"mask": _causal(5)},
        ),
        Case(
            "a per-sequence mask of shape (2, 1, 4)",
            (r.normal(size=(2, 3, 6)), r.normal(size=(2, 4, 6)), r.normal(size=(2, 4, 3))),
            {"mask": np.array([[[True, True, True, False]], [[True, False, True, True]]])},
        ),
        Case(
            "scores of magnitude 1e3 with a mask",
            (40 * r.normal(size=(4, 5)), 40 * r.normal(size=(4, 5)), r.normal(size=(4, 4))),
            {"mask": _causal(4)},
        ),
    ]


def _attention_with(scale=None, mask_fill=-np.inf, mask_after=False, axis=-1, invert=False):
    """Scaled dot-product attention with one thing done differently; each default is the correct choice."""

    def attention(Q, K, V, mask=None):
        d = Q.shape[-1] if scale is None else scale(Q, K, V)
        scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(d)
        if mask is not None and invert:
            mask = ~np.asarray(mask)
        if mask is not None and not mask_after:
            scores = np.where(mask, scores, mask_fill)
        weights = ref.softmax(scores, axis=axis)
        if mask is not None and mask_after:
            weights = weights * mask
        return weights @ V, weights

    return attention


def _no_softmax(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    return scores @ V, scores


SCALED_DOT_PRODUCT_ATTENTION = Exercise(
    notebook="03_scaled_dot_product_attention",
    name="scaled_dot_product_attention",
    reference=ref.scaled_dot_product_attention,
    cases=_attention_cases,
    hidden_cases=_attention_hidden,
    mistakes=[
        Mistake(
            "no_scaling",
            "you forgot to scale: divide the scores Q @ K^T by sqrt(d_k) before the softmax.",
            _attention_with(scale=lambda Q, K, V: 1.0),
        ),
        Mistake(
            "scale_by_d_k",
            "you divided by d_k. Divide by its square root, sqrt(d_k).",
            _attention_with(scale=lambda Q, K, V: Q.shape[-1] ** 2),
        ),
        Mistake(
            "scale_by_d_v",
            "you scaled by sqrt(d_v). The scale comes from the query/key dimension d_k = Q.shape[-1].",
            _attention_with(scale=lambda Q, K, V: V.shape[-1]),
        ),
        Mistake(
            "scale_by_n",
            "you scaled by the number of positions. The scale is sqrt(d_k), with d_k = Q.shape[-1].",
            _attention_with(scale=lambda Q, K, V: K.shape[-2]),
        ),
        Mistake(
            "mask_after_softmax",
            "you applied the mask after the softmax, so the remaining weights no longer sum to 1. Mask the "
            "scores (set them to -inf) before the softmax.",
            _attention_with(mask_after=True),
        ),
        Mistake(
            "mask_inverted",
            "your mask is inverted: True means 'may attend'. Keep the scores where the mask is True.",
            _attention_with(invert=True),
        ),
        Mistake(
            "mask_fill_zero",
            "you set masked scores to 0, but exp(0) = 1 still gives them weight. Set them to -np.inf.",
            _attention_with(mask_fill=0.0),
        ),
        Mistake(
            "softmax_wrong_axis",
            "softmax ran over the queries axis. Each query's weights over the keys must sum to 1: axis=-1.",
            _attention_with(axis=-2),
        ),
        Mistake(
            "no_softmax",
            "you used the scaled scores as weights without softmax.",
            _no_softmax,
        ),
        Mistake(
            "swapped_outputs",
            "you returned (weights, output). Return (output, weights).",
            lambda Q, K, V, mask=None: ref.scaled_dot_product_attention(Q, K, V, mask)[::-1],
        ),
    ],
)


def _causal_cases():
    return [Case(f"n = {n}", (n,)) for n in (4, 1, 2)]  # n = 4 first: it tells every mistake apart


def _causal_hidden():
    return [Case(f"n = {n}", (n,)) for n in (3, 7, 16)]


def _causal_fresh(rng):
    return [Case(f"n = {n} (drawn at random)", (int(n),)) for n in rng.integers(1, 41, size=3)]


def _encoding_cases():
    return [
        Case("n = 4 positions, d = 4", (4, 4)),
        Case("one position (sin 0 = 0, cos 0 = 1)", (1, 6)),
        Case("n = 3, d = 2: a single frequency", (3, 2)),
        Case("n = 6, d = 8", (6, 8)),
    ]


def _encoding_hidden():
    return [
        Case("n = 50, d = 16", (50, 16)),
        Case("n = 10, d = 64", (10, 64)),
        Case("n = 2, d = 128", (2, 128)),
    ]


def _encoding_fresh(rng):
    sizes = zip(rng.integers(1, 61, size=3), 2 * rng.integers(1, 33, size=3))
    return [Case(f"n = {n}, d = {d} (drawn at random)", (int(n), int(d))) for n, d in sizes]


def _encoding_with(columns=None, first_position=0, exponent=None, cos_first=False, multiply=False):
    """The reference with one thing changed, for the mistakes below."""

    def encoding(n, d):
        p = np.arange(first_position, first_position + n)[:, None]
        j = np.arange(d)
        pair = j - j % 2 if exponent is None else exponent(j)
        rate = 10000.0 ** (pair / d)
        angles = p * rate if multiply else p / rate
        sin_column = (j % 2 == 0) if columns is None else columns(j, d)
        if cos_first:
            sin_column = ~sin_column
        return np.where(sin_column, np.sin(angles), np.cos(angles))

    return encoding


CAUSAL_MASK = Exercise(
    notebook="04_self_attention_and_causal_masks",
    name="causal_mask",
    reference=ref.causal_mask,
    cases=_causal_cases,
    hidden_cases=_causal_hidden,
    fresh=_causal_fresh,
    mistakes=[
        Mistake(
            "no_diagonal",
            "a position may attend to itself: keep the diagonal (np.tril with k=0, not k=-1).",
            lambda n: np.tril(np.ones((n, n), dtype=bool), k=-1),
        ),
        Mistake(
            "upper_triangle",
            "True above the diagonal lets each position see the future. Row i (a query) may attend to columns "
            "0..i: that is the lower triangle, np.tril.",
            lambda n: np.triu(np.ones((n, n), dtype=bool)),
        ),
        Mistake(
            "inverted",
            "your mask is inverted: True means 'may attend', so the past and the diagonal are True and the "
            "future is False.",
            lambda n: ~np.tril(np.ones((n, n), dtype=bool)),
        ),
        Mistake(
            "one_ahead",
            "with k=1 each position may see one token ahead. Use k=0: the diagonal and below.",
            lambda n: np.tril(np.ones((n, n), dtype=bool), k=1),
        ),
        Mistake(
            "diagonal_only",
            "each position may attend to every earlier position, not only to itself.",
            lambda n: np.eye(n, dtype=bool),
        ),
        Mistake(
            "all_true",
            "every entry is True, so nothing is masked: the future must be False.",
            lambda n: np.ones((n, n), dtype=bool),
        ),
    ],
)


POSITIONAL_ENCODING = Exercise(
    notebook="04_self_attention_and_causal_masks",
    name="positional_encoding",
    reference=ref.positional_encoding,
    cases=_encoding_cases,
    hidden_cases=_encoding_hidden,
    fresh=_encoding_fresh,
    mistakes=[
        Mistake(
            "sin_cos_swapped",
            "your even columns hold cosines and your odd columns sines. Look at position 0: which of sin 0 and "
            "cos 0 is 0? The formula puts that one in the even columns.",
            _encoding_with(cos_first=True),
        ),
        Mistake(
            "halves_not_interleaved",
            "you put all the sines first and all the cosines after. In the formula they alternate: column 2i "
            "is a sine and column 2i + 1 the cosine of the same angle.",
            _encoding_with(columns=lambda j, d: j < d // 2, exponent=lambda j: 2 * (j % (len(j) // 2))),
        ),
        Mistake(
            "exponent_per_column",
            "each pair of columns (2i, 2i + 1) shares one frequency, 10000^(2i/d). You used a new frequency for "
            "every column.",
            _encoding_with(exponent=lambda j: j),
        ),
        Mistake(
            "positions_from_one",
            "positions count from 0: the first row is sin 0, cos 0, ... = 0, 1, 0, 1.",
            _encoding_with(first_position=1),
        ),
        Mistake(
            "multiplied_by_the_rate",
            "the angle is the position divided by 10000^(2i/d), so that later columns turn more slowly. You "
            "multiplied.",
            _encoding_with(multiply=True),
        ),
    ],
)


def _self_attention_cases():
    r = _rng(4)
    square = (r.normal(size=(4, 4)), _weights(r, 4, 4), _weights(r, 4, 4), _weights(r, 4, 4))
    return [
        # Square first: a transposed or left-multiplied weight runs there and is named, rather than crashing.
        Case("4 tokens, square projections (d_model = d_k = d_v = 4)", square),
        Case(
            "5 tokens, d_model=4, d_k=3, d_v=2",
            (r.normal(size=(5, 4)), _weights(r, 4, 3), _weights(r, 4, 3), _weights(r, 4, 2)),
        ),
        Case(
            "a causal mask",
            (r.normal(size=(5, 6)), _weights(r, 6, 4), _weights(r, 6, 4), _weights(r, 6, 3)),
            {"mask": ref.causal_mask(5)},
        ),
        Case(
            "a batch of 2 sequences with a causal mask",
            (r.normal(size=(2, 4, 6)), _weights(r, 6, 4), _weights(r, 6, 4), _weights(r, 6, 4)),
            {"mask": ref.causal_mask(4)},
        ),
    ]


def _self_attention_hidden():
    r = _rng(105)
    return [
        Case("one token", (r.normal(size=(1, 3)), _weights(r, 3, 2), _weights(r, 3, 2), _weights(r, 3, 2))),
        Case(
            "two batch dimensions, causal",
            (r.normal(size=(2, 3, 6, 8)), _weights(r, 8, 4), _weights(r, 8, 4), _weights(r, 8, 5)),
            {"mask": ref.causal_mask(6)},
        ),
        Case(
            "scores of magnitude 1e3",
            (30 * r.normal(size=(5, 4)), 30 * _weights(r, 4, 4), _weights(r, 4, 4), _weights(r, 4, 2)),
            {"mask": ref.causal_mask(5)},
        ),
    ]


def _self_attention_with(q="q", k="k", v="v", use_mask=True, transpose=False):
    """Self-attention built from the projections named: "q", "k", "v" use W_q, W_k, W_v; "x" uses X itself."""

    def attention(X, W_q, W_k, W_v, mask=None):
        weights = {"q": W_q, "k": W_k, "v": W_v}

        def project(which):
            if which == "x":
                return X
            W = weights[which]
            return X @ (W.T if transpose else W)

        return ref.scaled_dot_product_attention(
            project(q), project(k), project(v), mask if use_mask else None
        )

    return attention


def _padding(lengths, n_k):
    """(batch, 1, n_k): True for each sequence's real tokens, False for its padding."""
    return (np.arange(n_k) < np.asarray(lengths)[:, None])[:, None, :]


def _cross_cases():
    r = _rng(6)
    return [
        # Different lengths first: queries or keys from the wrong sequence cannot pass unnoticed there.
        Case(
            "3 target tokens reading 5 source tokens",
            (
                r.normal(size=(3, 4)),
                r.normal(size=(5, 4)),
                _weights(r, 4, 4),
                _weights(r, 4, 4),
                _weights(r, 4, 2),
            ),
        ),
        Case(
            "a padding mask: the last 2 source tokens are padding",
            (
                r.normal(size=(2, 4)),
                r.normal(size=(6, 4)),
                _weights(r, 4, 3),
                _weights(r, 4, 3),
                _weights(r, 4, 3),
            ),
            {"mask": np.array([[True, True, True, True, False, False]])},
        ),
        Case(
            "a batch of 2 with their own padding",
            (
                r.normal(size=(2, 3, 4)),
                r.normal(size=(2, 5, 4)),
                _weights(r, 4, 2),
                _weights(r, 4, 2),
                _weights(r, 4, 3),
            ),
            {"mask": _padding([5, 2], 5)},
        ),
    ]


def _cross_hidden():
    r = _rng(106)
    return [
        Case(
            "one target token",
            (r.normal(size=(1, 3)), r.normal(size=(4, 3)), *(_weights(r, 3, 2) for _ in "qkv")),
        ),
        Case(
            "two batch dimensions with padding",
            (r.normal(size=(2, 2, 3, 4)), r.normal(size=(2, 2, 6, 4)), *(_weights(r, 4, 4) for _ in "qkv")),
            {"mask": _padding([6, 1], 6)[:, None]},
        ),
        Case(
            "scores of magnitude 1e3",
            (30 * r.normal(size=(4, 4)), 30 * r.normal(size=(7, 4)), *(_weights(r, 4, 4) for _ in "qkv")),
        ),
    ]


def _cross_with(q="x", k="m", v="m", use_mask=True):
    """Cross-attention with each role's sequence named: "x" the target X, "m" the memory."""

    def attention(X, memory, W_q, W_k, W_v, mask=None):
        source = {"x": X, "m": memory}
        return ref.scaled_dot_product_attention(
            source[q] @ W_q, source[k] @ W_k, source[v] @ W_v, mask if use_mask else None
        )

    return attention


CROSS_ATTENTION = Exercise(
    notebook="04_self_attention_and_causal_masks",
    name="cross_attention",
    reference=ref.cross_attention,
    cases=_cross_cases,
    hidden_cases=_cross_hidden,
    mistakes=[
        Mistake(
            "roles_swapped",
            "the queries came from the memory and the keys and values from X. The one who asks is the decoder's "
            "token (X); what it reads is the encoder's output (memory).",
            _cross_with("m", "x", "x"),
        ),
        Mistake(
            "self_attention_instead",
            "that is self-attention on X: memory was never used. Which sequence do the keys and values describe?",
            _cross_with("x", "x", "x"),
        ),
        Mistake(
            "mask_ignored",
            "the mask was not passed on: padding got weight. Give the mask to scaled_dot_product_attention.",
            _cross_with(use_mask=False),
        ),
    ],
)


SELF_ATTENTION = Exercise(
    notebook="04_self_attention_and_causal_masks",
    name="self_attention",
    reference=ref.self_attention,
    cases=_self_attention_cases,
    hidden_cases=_self_attention_hidden,
    mistakes=[
        Mistake(
            "no_projections",
            "you used X itself as queries, keys and values. Project first: each role has its own matrix (W_q, W_k, "
            "W_v), multiplied from the right.",
            _self_attention_with("x", "x", "x"),
        ),
        Mistake(
            "transposed_weights",
            "you multiplied by the transposed matrices. Use them as they are: X @ W_q, with W_q of shape "
            "(d_model, d_k).",
            _self_attention_with(transpose=True),
        ),
        Mistake(
            "left_multiplied",
            "weights multiply from the right: Q = X @ W_q, not W_q @ X (each row of X is one token).",
            lambda X, W_q, W_k, W_v, mask=None: ref.scaled_dot_product_attention(
                W_q @ X, W_k @ X, W_v @ X, mask
            ),
        ),
        Mistake(
            "values_from_keys",
            "the values came from W_k. Values have their own projection: V = X @ W_v.",
            _self_attention_with(v="k"),
        ),
        Mistake(
            "keys_from_queries",
            "the keys came from W_q. Keys have their own projection: K = X @ W_k.",
            _self_attention_with(k="q"),
        ),
        Mistake(
            "queries_and_keys_swapped",
            "queries and keys are swapped: Q = X @ W_q asks, K = X @ W_k is matched against.",
            _self_attention_with(q="k", k="q"),
        ),
        Mistake(
            "mask_ignored",
            "the mask was ignored: scaled_dot_product_attention takes it as its fourth argument.",
            _self_attention_with(use_mask=False),
        ),
    ],
)


def _split_cases():
    return [
        Case("one sequence: n=3, d_model=4, 2 heads", (np.arange(12.0).reshape(3, 4), 2)),
        Case("4 heads of size 2 (n=2, d_model=8)", (np.arange(16.0).reshape(2, 8), 4)),
        Case("a batch of 2 sequences, 3 heads", (_rng(5).normal(size=(2, 4, 6)), 3)),
        Case("one head", (_rng(6).normal(size=(3, 5)), 1)),
    ]


def _split_hidden():
    r = _rng(106)
    return [
        Case("two batch dimensions", (r.normal(size=(2, 3, 5, 12)), 4)),
        Case("as many heads as features", (r.normal(size=(4, 6)), 6)),
    ]


def _reshape_only(X, h):
    *batch, n, d = X.shape
    return X.reshape(*batch, h, n, d // h)


def _strided_heads(X, h):
    *batch, n, d = X.shape
    return np.moveaxis(X.reshape(*batch, n, d // h, h), -1, -3)


SPLIT_HEADS = Exercise(
    notebook="05_multi_head_attention",
    name="split_heads",
    reference=ref.split_heads,
    cases=_split_cases,
    hidden_cases=_split_hidden,
    mistakes=[
        Mistake(
            "reshape_without_transpose",
            "you reshaped straight to (..., num_heads, n, d_head). That mixes positions: rows of X are cut into "
            "pieces that land in other positions. Reshape to (..., n, num_heads, d_head) first, then swap the "
            "n and num_heads axes.",
            _reshape_only,
        ),
        Mistake(
            "no_transpose",
            "the heads axis must come before the positions: (..., num_heads, n, d_head). Swap axes -3 and -2.",
            lambda X, h: X.reshape(*X.shape[:-1], h, X.shape[-1] // h),
        ),
        Mistake(
            "strided_heads",
            "head h must take the contiguous columns h*d_head:(h+1)*d_head, but yours takes every num_heads-th "
            "column. Reshape the last axis to (num_heads, d_head), in that order.",
            _strided_heads,
        ),
        Mistake(
            "heads_and_width_swapped",
            "you made d_head heads of size num_heads. The last axis splits into (num_heads, d_head).",
            lambda X, h: ref.split_heads(X, X.shape[-1] // h),
        ),
    ],
)


def _combine_cases():
    return [
        Case("2 heads, n=3, d_head=2", (np.arange(12.0).reshape(2, 3, 2),)),
        Case("4 heads of size 2, n=2", (np.arange(16.0).reshape(4, 2, 2),)),
        Case("a batch of 2, 3 heads", (_rng(7).normal(size=(2, 3, 4, 2)),)),
    ]


def _combine_hidden():
    r = _rng(107)
    return [
        Case("two batch dimensions", (r.normal(size=(2, 3, 4, 5, 3)),)),
        Case("one head", (r.normal(size=(1, 4, 6)),)),
    ]


COMBINE_HEADS = Exercise(
    notebook="05_multi_head_attention",
    name="combine_heads",
    reference=ref.combine_heads,
    cases=_combine_cases,
    hidden_cases=_combine_hidden,
    mistakes=[
        Mistake(
            "reshape_without_transpose",
            "you reshaped (..., num_heads, n, d_head) straight to (..., n, d_model), which mixes positions. Swap "
            "the num_heads and n axes first, then reshape.",
            lambda X: X.reshape(*X.shape[:-3], X.shape[-2], X.shape[-3] * X.shape[-1]),
        ),
        Mistake(
            "interleaved_heads",
            "the heads are interleaved column by column. Head h's d_head columns must sit together, at "
            "h*d_head:(h+1)*d_head: move the heads axis next to the features, in the order (num_heads, d_head).",
            lambda X: np.moveaxis(X, -3, -1).reshape(*X.shape[:-3], X.shape[-2], X.shape[-3] * X.shape[-1]),
        ),
        Mistake(
            "summed_heads",
            "you added the heads together. Heads are concatenated side by side: the result has num_heads * d_head "
            "features.",
            lambda X: X.sum(axis=-3),
        ),
        Mistake(
            "averaged_heads",
            "you averaged the heads. Heads are concatenated side by side, not averaged.",
            lambda X: X.mean(axis=-3),
        ),
        Mistake(
            "heads_reversed",
            "the heads come out in reverse order: head 0 must fill the first d_head columns.",
            lambda X: ref.combine_heads(X[..., ::-1, :, :]),
        ),
    ],
)


def _mha_cases():
    r = _rng(8)
    return [
        Case("n=4, d_model=4, 2 heads", (*_mha_args(r, (4, 4), 4), 2)),
        Case("n=5, d_model=8, 4 heads, causal", (*_mha_args(r, (5, 8), 8), 4), {"mask": ref.causal_mask(5)}),
        Case(
            "a batch of 2, d_model=6, 3 heads, causal",
            (*_mha_args(r, (2, 4, 6), 6), 3),
            {"mask": ref.causal_mask(4)},
        ),
        Case("one head is plain self-attention plus W_o", (*_mha_args(r, (3, 4), 4), 1)),
    ]


def _mha_hidden():
    r = _rng(108)
    return [
        Case(
            "two batch dimensions, 4 heads, causal",
            (*_mha_args(r, (2, 2, 5, 8), 8), 4),
            {"mask": ref.causal_mask(5)},
        ),
        Case(
            "scores of magnitude 1e3", (*_mha_args(r, (4, 6), 6, scale=6.0), 2), {"mask": ref.causal_mask(4)}
        ),
        Case("as many heads as features", (*_mha_args(r, (3, 4), 4), 4)),
    ]


def _mha_with(split=ref.split_heads, combine=ref.combine_heads, use_w_o=True, **attention_changes):
    """Multi-head attention with one part done differently; each default is the correct choice, and
    ``attention_changes`` go to :func:`_attention_with` for the attention inside each head."""
    attend = _attention_with(**attention_changes)

    def mha(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
        Q, K, V = (split(X @ W, num_heads) for W in (W_q, W_k, W_v))
        heads, weights = attend(Q, K, V, None if mask is None else np.expand_dims(mask, -3))
        out = combine(heads)
        return (out @ W_o if use_w_o else out), weights

    return mha


MULTI_HEAD_ATTENTION = Exercise(
    notebook="05_multi_head_attention",
    name="multi_head_attention",
    reference=ref.multi_head_attention,
    cases=_mha_cases,
    hidden_cases=_mha_hidden,
    mistakes=[
        Mistake(
            "no_w_o",
            "you forgot the output projection: multiply the combined heads by W_o.",
            _mha_with(use_w_o=False),
        ),
        Mistake(
            "scale_by_d_model",
            "you scaled by sqrt(d_model). Each head attends with its own d_k = d_head = d_model // num_heads, so "
            "divide by sqrt(d_head).",
            _mha_with(scale=lambda Q, K, V: Q.shape[-1] * Q.shape[-3]),  # d_head * num_heads = d_model
        ),
        Mistake(
            "split_without_transpose",
            "split_heads reshaped straight to (..., num_heads, n, d_head), which mixes positions. Reshape to "
            "(..., n, num_heads, d_head), then swap axes -3 and -2.",
            _mha_with(split=_reshape_only, combine=lambda X: X.reshape(*X.shape[:-3], X.shape[-2], -1)),
        ),
        Mistake(
            "combine_without_transpose",
            "the heads were combined without swapping the heads and positions axes back first, which mixes "
            "positions. Use combine_heads.",
            _mha_with(combine=lambda X: X.reshape(*X.shape[:-3], X.shape[-2], -1)),
        ),
        Mistake(
            "combine_interleaved",
            "the heads were combined in the wrong order: interleaved column by column instead of head 0's "
            "columns, then head 1's, and so on. Use combine_heads.",
            _mha_with(combine=lambda X: np.moveaxis(X, -3, -1).reshape(*X.shape[:-3], X.shape[-2], -1)),
        ),
        Mistake(
            "softmax_wrong_axis",
            "softmax ran over the wrong axis: each query's weights over the keys (the last axis) must sum to 1.",
            _mha_with(axis=-2),
        ),
    ],
)


def _window(n, radius):
    """Local attention: each position attends to the positions at most ``radius`` away."""
    i = np.arange(n)
    return np.abs(i[:, None] - i[None, :]) <= radius


def _chain(n):
    """Each position attends only to the one before it: a recurrent network's path, one hop per step."""
    return np.eye(n, k=-1, dtype=bool)


def _with_global_token(mask):
    """Position 0 attends to every position and every position to it (Longformer's global tokens)."""
    mask = mask.copy()
    mask[0, :] = mask[:, 0] = True
    return mask


def _path_cases():
    return [
        Case("full attention, n = 6", (np.ones((6, 6), dtype=bool),)),
        Case("only the diagonal, n = 4: no position reaches another", (np.eye(4, dtype=bool),)),
        Case("every other position but not itself, n = 5", (~np.eye(5, dtype=bool),)),
        Case("a previous-token chain, n = 6 (mask[i, i - 1] only)", (_chain(6),)),
        Case("a local window of radius 2, n = 9", (_window(9, 2),)),
        Case("causal, n = 5: a later position never reaches an earlier one", (ref.causal_mask(5),)),
        Case(
            "a local window of radius 1 and one global token, n = 10", (_with_global_token(_window(10, 1)),)
        ),
        Case("a previous-token chain, n = 70", (_chain(70),)),
    ]


def _path_hidden():
    r = _rng(113)
    blocks = np.zeros((8, 8), dtype=bool)
    blocks[:3, :3], blocks[3:, 3:] = ref.causal_mask(3), ref.causal_mask(5)
    strided = _window(20, 2) | (np.arange(20)[None, :] % 5 == 0)
    ring = np.roll(np.eye(7, dtype=bool), -1, axis=1)
    return [
        Case("a single position", (np.ones((1, 1), dtype=bool),)),
        Case("two documents side by side, causal within each, n = 8", (blocks,)),
        Case("a local window of radius 2 and every 5th position as a summary, n = 20", (strided,)),
        Case("a causal local window of radius 3, n = 30", (_window(30, 3) & ref.causal_mask(30),)),
        Case("a ring: the first position attends to the last, n = 7", (ring,)),
        Case("a sparse random pattern, n = 12", (r.random((12, 12)) < 0.15,)),
        Case("a denser random pattern, n = 16", (r.random((16, 16)) < 0.3,)),
        Case("a local window of radius 1, n = 100", (_window(100, 1),)),
    ]


def _path_fresh(rng):
    cases = []
    for n, density in zip(rng.integers(2, 25, size=4), rng.uniform(0.05, 0.5, size=4)):
        cases.append(
            Case(f"a random pattern, n = {n}, density {density:.2f}", (rng.random((n, n)) < density,))
        )
    return cases


def _hop(step, reach):
    """Who holds whose information one hop later: some position attended to held it."""
    return (step.astype(np.int64) @ reach.astype(np.int64)) > 0


def _hops(mask, residual=True, stop_when_all=False):
    """max_path_length's loop, with two classic mistakes to switch on: forgetting that a position keeps what
    it holds (no residual: start from the mask itself, one hop), and waiting until every pair is connected
    (which never happens under a causal mask: bounded here at n hops, where a student's loop would hang)."""
    n = mask.shape[-1]
    step = mask | np.eye(n, dtype=bool) if residual else mask
    reach, hops = (np.eye(n, dtype=bool), 0) if residual else (mask.copy(), 1)
    while hops < n:
        if stop_when_all and reach.all():
            return hops
        wider = reach | _hop(step, reach)
        if not stop_when_all and np.array_equal(wider, reach):
            return hops
        reach, hops = wider, hops + 1
    return hops


def _path_counts(mask):
    """Counting paths in int64 until the number of connected pairs stops growing: on a long chain the counts
    wrap around past 2^63 and the loop stops at a wrong hop."""
    n = mask.shape[-1]
    step = mask.astype(np.int64) + np.eye(n, dtype=np.int64)
    paths, hops = np.eye(n, dtype=np.int64), 0
    while True:
        more = step @ paths
        if np.count_nonzero(more > 0) == np.count_nonzero(paths > 0):
            return hops
        paths, hops = more, hops + 1


def _first_to_last(mask):
    """Hops between the first and the last position only (whichever way they are connected)."""
    n = mask.shape[-1]
    step, reach = mask | np.eye(n, dtype=bool), np.eye(n, dtype=bool)
    for hops in range(n):
        if reach[0, -1] or reach[-1, 0]:
            return hops
        reach = _hop(step, reach)
    return 0


MAX_PATH_LENGTH = Exercise(
    notebook="06_parallelism_and_scale",
    name="max_path_length",
    reference=ref.max_path_length,
    cases=_path_cases,
    hidden_cases=_path_hidden,
    fresh=_path_fresh,
    mistakes=[  # the overflow first: on the long chain it is the only mistake left to name
        Mistake(
            "path_counts_overflow",
            "multiplying integer matrices counts the paths between two positions, and on a long chain those "
            "counts pass 2^63 and wrap around (numpy does not warn). Only whether a pair is connected matters: "
            "keep booleans, or compare with 0 after every hop.",
            _path_counts,
        ),
        Mistake(
            "no_residual",
            "after a hop, does position i still hold its own information when mask[i, i] is False? In a "
            "transformer the residual connection keeps it: every position reaches itself in 0 hops, before any "
            "hop is taken.",
            lambda mask: _hops(mask, residual=False),
        ),
        Mistake(
            "counted_the_last_hop",
            "you counted one hop too many: the last hop you took connected no new pair. Count only the hops "
            "after which some pair is connected that was not before.",
            lambda mask: ref.max_path_length(mask) + 1,
        ),
        Mistake(
            "until_all_connected",
            "under this mask some pairs are never connected (with a causal mask the first position never hears "
            "from the last), so waiting until every pair is connected cannot work. Stop when a hop adds no new "
            "pair.",
            lambda mask: _hops(mask, stop_when_all=True),
        ),
        Mistake(
            "first_and_last_only",
            "the farthest pair is not always the first and the last position (here a global token links those "
            "two in one hop). Take the longest path over every pair that is connected at all.",
            _first_to_last,
        ),
    ],
)


EXERCISES = {
    e.name: e
    for e in (
        SIMILARITY_SCORES,
        SOFT_LOOKUP,
        SOFTMAX,
        SCALED_DOT_PRODUCT_ATTENTION,
        CAUSAL_MASK,
        POSITIONAL_ENCODING,
        SELF_ATTENTION,
        CROSS_ATTENTION,
        SPLIT_HEADS,
        COMBINE_HEADS,
        MULTI_HEAD_ATTENTION,
        MAX_PATH_LENGTH,
    )
}


def _outcome(fn, case):
    """What ``fn`` returns on ``case`` (on copies of its inputs), or None if it raises."""
    try:
        with np.errstate(all="ignore"):
            return fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
    except Exception:
        return None


def _materialise(exercise, cases):
    """Cases with their expected answers and every mistake's output (a mistake that raises is left out)."""
    done = []
    for case in cases:
        mistakes = {m.name: _outcome(m.model, case) for m in exercise.mistakes}
        done.append(
            Case(
                case.name,
                case.args,
                case.kwargs,
                exercise.reference(*case.args, **case.kwargs),
                {name: out for name, out in mistakes.items() if out is not None},
            )
        )
    return done


KEY_FILE = ".grading-key"  # in the course root: makes each student's fresh inputs unpredictable, repeatable
_fresh_seed = None  # what the grader's current test is about (assignment/student/notebook), or None


@contextlib.contextmanager
def fresh_inputs(about):
    """Draw the fresh random inputs of hidden checks run inside from a seed made of ``about`` and the course's
    grading key: the same for a regrade of the same student's notebook, unknowable without the key."""
    global _fresh_seed
    previous, _fresh_seed = _fresh_seed, about
    try:
        yield
    finally:
        _fresh_seed = previous


def _grading_key():
    path = Path.cwd() / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as file:
        file.write(secrets.token_bytes(32))
    return path.read_bytes()


def _fresh_rng(name):
    if _fresh_seed is None:  # self-study: new inputs every time
        return np.random.default_rng()
    digest = hmac.new(_grading_key(), f"{_fresh_seed}/{name}".encode(), hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def _redrawn(value, rng):
    """``value`` with every finite float drawn anew at its scale; masks, sizes and infinities kept."""
    if isinstance(value, tuple):
        return tuple(_redrawn(v, rng) for v in value)
    if not (isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)):
        return value
    finite = np.isfinite(value)
    scale = (
        float(np.std(value[finite])) if finite.sum() > 1 else float(np.abs(value[finite]).max(initial=1.0))
    )
    drawn = rng.normal(size=value.shape) * max(scale, 1e-3)
    return np.where(finite, drawn, value).astype(value.dtype)


def _fresh_cases(exercise, rng):
    if exercise.fresh:
        return exercise.fresh(rng)
    return [
        Case(
            f"{case.name}, with numbers drawn at random",
            tuple(_redrawn(a, rng) for a in case.args),
            {k: _redrawn(v, rng) for k, v in case.kwargs.items()},
        )
        for case in exercise.hidden_cases()
    ]


def hidden_cases(name):
    """The hidden cases of ``name``'s check, ready to run (grading time only): the fixed ones, then as many
    again on fresh random inputs."""
    exercise = EXERCISES[name]
    return _materialise(exercise, exercise.hidden_cases() + _fresh_cases(exercise, _fresh_rng(name)))


def case_data(case):
    """One case (with its expected answer and mistakes' outputs) as JSON-ready data."""
    return {
        "name": case.name,
        "args": [encode(a) for a in case.args],
        "kwargs": {k: encode(v) for k, v in case.kwargs.items()},
        "expected": encode(case.expected),
        "mistakes": {k: encode(v) for k, v in case.mistakes.items()},
    }


def check_data(name):
    """Everything a student's check of ``name`` needs, as JSON-ready data."""
    exercise = EXERCISES[name]
    return {
        "function": name,
        "notebook": exercise.notebook,
        "hints": {m.name: m.hint for m in exercise.mistakes},
        "cases": [case_data(c) for c in _materialise(exercise, exercise.cases())],
    }


def fixtures():
    """Inputs that the property checks need and may not compute themselves (that would be a solution)."""
    X = _rng(14).normal(size=(2, 5, 12))
    return {
        "causal_mask_6": encode(ref.causal_mask(6)),
        "split_heads_input": encode(X),
        "split_heads_4": encode(ref.split_heads(X, 4)),
    }


def write(folder):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {f"{name}.json": check_data(name) for name in EXERCISES} | {"fixtures.json": fixtures()}
    for file, data in files.items():
        (folder / file).write_text(json.dumps(data, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "check_data")
