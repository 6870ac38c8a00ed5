"""The checks students run after each exercise, with the classic mistakes each one can name.

Each ``check_<name>(fn)`` runs the visible cases (and a few property checks); ``check_<name>(fn, hidden=True)``
runs the extra cases of nbgrader's hidden tests.
"""

import ast
import functools
import inspect
import textwrap

import numpy as np

from helpers.checking import Case, Mistake, Spec, run_check
from helpers.grading import reference as ref
from helpers.grading.remote import RemoteFunction
from helpers.timing import attention_loop, best_time, random_qkv

LESSON_SCORES = np.array([2.0, 0.5, -1.0, 0.0])


def _rng(seed):
    return np.random.default_rng(seed)


def _shape_error(exc):
    text = str(exc)
    return isinstance(exc, ValueError | IndexError) and any(
        word in text for word in ("matmul", "shape", "broadcast", "mismatch", "axis", "dimension")
    )


def _not_distribution(w, axis=-1):
    """Describe how ``w`` fails to be non-negative weights summing to 1 along ``axis``, or None."""
    w = np.asarray(w, dtype=float)
    if not np.all(np.isfinite(w)):
        return "some weights are nan or inf"
    if np.any(w < 0):
        return "some weights are negative"
    sums = w.sum(axis=axis)
    if not np.allclose(sums, 1.0, rtol=1e-9, atol=1e-12):
        return f"weights along axis {axis} sum to {np.round(sums.ravel()[:3], 4)}..., not 1"
    return None


# --- notebook 01: similarity_scores and soft_lookup ---------------------------------------------------------


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


def _similarity_error_hint(case, exc):
    if _shape_error(exc):
        if np.ndim(case.args[0]) > 1:
            return (
                "with a batch, `keys @ query` treats the queries as a matrix. Use "
                "`np.einsum('...nd,...d->...n', keys, query)` or `(keys * query[..., None, :]).sum(axis=-1)`."
            )
        return "keys has one row per position, so the scores are `keys @ query` (one dot product per row)."
    return "read the error above: it names the line that failed."


def _cosine(query, keys):
    norms = np.linalg.norm(keys, axis=-1) * np.linalg.norm(query, axis=-1)[..., None]
    return ref.similarity_scores(query, keys) / norms


SIMILARITY_SCORES = Spec(
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
    properties=[],
    error_hint=_similarity_error_hint,
)


def check_similarity_scores(fn, hidden=False):
    """Check ``similarity_scores(query, keys) -> scores``: query ``(..., d)``, keys ``(..., n, d)``."""
    run_check(fn, SIMILARITY_SCORES, hidden)


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


def _lookup_error_hint(case, exc):
    if _shape_error(exc):
        return (
            "check the shapes: scores are (..., n), values are (..., n, d_v). The blend is "
            "`np.einsum('...n,...nv->...v', weights, values)` or `(weights[..., None] * values).sum(axis=-2)`."
        )
    return "read the error above: it names the line that failed."


def _lookup_with(weigh):
    """A soft lookup whose weights come from ``weigh(scores)`` instead of softmax."""

    def lookup(q, k, v):
        w = weigh(ref.similarity_scores(q, k))
        return np.einsum("...n,...nv->...v", w, v)

    return lookup


def _hard_lookup(q, k, v):
    best = np.argmax(ref.similarity_scores(q, k), axis=-1)
    return np.take_along_axis(v, best[..., None, None], axis=-2)[..., 0, :]


SOFT_LOOKUP = Spec(
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
            "you returned the weights. Return the blend of the values: weights @ values.",
            lambda q, k, v: ref.softmax(ref.similarity_scores(q, k)),
        ),
    ],
    properties=[],
    error_hint=_lookup_error_hint,
)


def check_soft_lookup(fn, hidden=False):
    """Check ``soft_lookup(query, keys, values) -> (..., d_v)``."""
    run_check(fn, SOFT_LOOKUP, hidden)


# --- notebook 02: softmax -----------------------------------------------------------------------------------


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
    ]


def _softmax_hidden():
    r = _rng(103)
    return [
        Case("a single score", (np.array([3.0]),)),
        Case("a masked score (-inf gets weight 0)", (np.array([0.0, -np.inf, 1.0]),)),
        Case("a batch of shape (2, 3, 4, 5)", (r.normal(size=(2, 3, 4, 5)),)),
        Case("axis=1 of a 3-D array", (r.normal(size=(2, 4, 3)),), {"axis": 1}),
        Case("scores of magnitude 1e3 in a batch", (1e3 * r.normal(size=(3, 6)),)),
    ]


def _softmax_error_hint(case, exc):
    if _shape_error(exc):
        return (
            "the max and the sum drop the axis they reduce, so they no longer line up with x. Pass "
            "`keepdims=True` to np.max and np.sum."
        )
    return "read the error above: it names the line that failed."


def _naive_softmax(x, axis=-1):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _first_axis_instead(x, axis=-1):
    """Softmax over axis 0 where the last axis was asked for (the other axis mistake is `ignores_axis`)."""
    if np.ndim(x) < 2 or axis not in (-1, np.ndim(x) - 1):
        raise ValueError("not this mistake")
    return ref.softmax(x, axis=0)


def _softmax_prop_distribution(fn):
    x = _rng(7).normal(size=(4, 3, 5))
    problem = _not_distribution(fn(x.copy()), axis=-1)
    if problem:
        return f"on a random (4, 3, 5) array, {problem}", "normalise along the last axis (axis=-1)."
    return None


def _softmax_prop_shift(fn):
    x = _rng(8).normal(size=(3, 5))
    if not np.allclose(fn(x + 50.0), fn(x.copy()), rtol=1e-9, atol=1e-12):
        return (
            "adding 50 to every score changed the result",
            "softmax(x + c) must equal softmax(x): only differences between scores matter.",
        )
    return None


def _softmax_prop_batched(fn):
    x = _rng(9).normal(size=(4, 6))
    looped = np.stack([fn(row.copy()) for row in x])
    if not np.allclose(fn(x.copy()), looped, rtol=1e-9, atol=1e-12):
        return (
            "softmax of a (4, 6) batch differs from applying it row by row",
            "each row is its own distribution: reduce along `axis` only, with keepdims=True.",
        )
    return None


SOFTMAX = Spec(
    name="softmax",
    reference=ref.softmax,
    cases=_softmax_cases,
    hidden_cases=_softmax_hidden,
    mistakes=[
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
    properties=[_softmax_prop_distribution, _softmax_prop_shift, _softmax_prop_batched],
    error_hint=_softmax_error_hint,
)


def check_softmax(fn, hidden=False):
    """Check ``softmax(x, axis=-1)``: positive weights that sum to 1 along ``axis``, stable for large x."""
    run_check(fn, SOFTMAX, hidden)


# --- notebook 03: scaled dot-product attention --------------------------------------------------------------


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


def _attention_error_hint(case, exc):
    if _shape_error(exc):
        if np.ndim(case.args[0]) > 2:
            return (
                "for a batch, `K.T` reverses every axis, batch axes included. Swap only the last two: "
                "`np.swapaxes(K, -1, -2)`."
            )
        return "the scores are Q @ K^T: (n_q, d_k) @ (d_k, n_k). Did you forget to transpose K?"
    return "read the error above: it names the line that failed."


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


def _attention_prop_rows(fn):
    r = _rng(11)
    Q, K, V = r.normal(size=(2, 5, 4)), r.normal(size=(2, 6, 4)), r.normal(size=(2, 6, 3))
    mask = r.random((5, 6)) < 0.6
    mask[:, 0] = True  # every query may see at least one key
    _, w = fn(Q, K, V, mask=mask)
    problem = _not_distribution(w, axis=-1)
    if problem:
        return (
            f"on random inputs with a mask, {problem}",
            "apply softmax over the keys axis (-1) after masking.",
        )
    if np.any(np.asarray(w)[..., ~mask] != 0.0):
        return (
            "a masked position got a weight that is not exactly 0",
            "set masked scores to -np.inf before softmax (np.where(mask, scores, -np.inf)); exp(-inf) == 0.",
        )
    return None


def _attention_prop_batched(fn):
    r = _rng(12)
    Q, K, V = r.normal(size=(3, 4, 5)), r.normal(size=(3, 4, 5)), r.normal(size=(3, 4, 2))
    out, w = fn(Q, K, V, mask=_causal(4))
    for i in range(3):
        out_i, w_i = fn(Q[i], K[i], V[i], mask=_causal(4))
        if not (
            np.allclose(out[i], out_i, rtol=1e-9, atol=1e-12)
            and np.allclose(w[i], w_i, rtol=1e-9, atol=1e-12)
        ):
            return (
                f"sequence {i} of a batch gives a different result than on its own",
                "batch dimensions must not mix: use np.swapaxes(K, -1, -2) and reduce along the last axis only.",
            )
    return None


SCALED_DOT_PRODUCT_ATTENTION = Spec(
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
    properties=[_attention_prop_rows, _attention_prop_batched],
    error_hint=_attention_error_hint,
)


def check_scaled_dot_product_attention(fn, hidden=False):
    """Check ``scaled_dot_product_attention(Q, K, V, mask=None) -> (output, weights)``."""
    run_check(fn, SCALED_DOT_PRODUCT_ATTENTION, hidden)


# --- notebook 04: causal mask and self-attention ------------------------------------------------------------


def _causal_cases():
    return [Case(f"n = {n}", (n,)) for n in (4, 1, 2)]  # n = 4 first: it tells every mistake apart


def _causal_hidden():
    return [Case(f"n = {n}", (n,)) for n in (3, 7, 16)]


def _causal_prop_bool(fn):
    mask = np.asarray(fn(4))
    if mask.dtype != bool:
        return (
            f"causal_mask(4) has dtype {mask.dtype}, not bool",
            "return booleans (True = may attend), e.g. np.tril(np.ones((n, n), dtype=bool)); np.where and "
            "~mask treat 0/1 numbers differently from True/False.",
        )
    return None


CAUSAL_MASK = Spec(
    name="causal_mask",
    reference=ref.causal_mask,
    cases=_causal_cases,
    hidden_cases=_causal_hidden,
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
    properties=[_causal_prop_bool],
    error_hint=lambda case, exc: "build an (n, n) array: np.tril(np.ones((n, n), dtype=bool)).",
)


def check_causal_mask(fn, hidden=False):
    """Check ``causal_mask(n)``: boolean ``(n, n)``, True on and below the diagonal."""
    run_check(fn, CAUSAL_MASK, hidden)


def _weights(r, *shape):
    return r.normal(size=shape) / np.sqrt(shape[0])


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


def _self_attention_error_hint(case, exc):
    if _shape_error(exc):
        return (
            "weights multiply from the right: Q = X @ W_q, with X (..., n, d_model) and W_q (d_model, d_k)."
        )
    return "read the error above: it names the line that failed."


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


def _future_leaks(outputs, X):
    """Whether ``outputs(X)`` (one row per position) changes at earlier positions when only the last token does."""
    changed = X.copy()
    changed[-1] += 5.0
    return not np.allclose(outputs(X)[:-1], outputs(changed)[:-1], rtol=1e-12, atol=1e-12)


def _self_attention_prop_causal(fn):
    r = _rng(13)
    X = r.normal(size=(6, 4))
    W_q, W_k, W_v = _weights(r, 4, 4), _weights(r, 4, 4), _weights(r, 4, 3)
    if _future_leaks(lambda X: fn(X, W_q, W_k, W_v, mask=ref.causal_mask(6))[0], X):
        return (
            "with a causal mask, changing the last token changed the outputs of earlier positions",
            "earlier positions must not see later ones: pass the mask on to scaled_dot_product_attention.",
        )
    return None


SELF_ATTENTION = Spec(
    name="self_attention",
    reference=ref.self_attention,
    cases=_self_attention_cases,
    hidden_cases=_self_attention_hidden,
    mistakes=[
        Mistake(
            "no_projections",
            "you used X itself as queries, keys and values. Project first: Q = X @ W_q, K = X @ W_k, V = X @ W_v.",
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
            "the mask was ignored: pass it on, scaled_dot_product_attention(Q, K, V, mask).",
            _self_attention_with(use_mask=False),
        ),
    ],
    properties=[_self_attention_prop_causal],
    error_hint=_self_attention_error_hint,
)


def check_self_attention(fn, hidden=False):
    """Check ``self_attention(X, W_q, W_k, W_v, mask=None) -> (output, weights)``."""
    run_check(fn, SELF_ATTENTION, hidden)


# --- notebook 05: multi-head attention ----------------------------------------------------------------------


def _raises_clear_value_error(call, description, hint):
    """None if ``call`` raises a ValueError whose message says what is not divisible, else a failure."""
    try:
        call()
    except ValueError as exc:
        if "divisible" in str(exc):
            return None
        return f"{description} raised ValueError({str(exc)!r}), which does not say what is wrong", hint
    except Exception as exc:
        return f"{description} raised {type(exc).__name__}, not ValueError", hint
    return f"{description} did not raise ValueError", hint


DIVISIBLE_HINT = (
    "check `d_model % num_heads` first and raise a ValueError whose message says that d_model is not divisible "
    "by num_heads: otherwise numpy's reshape fails with a confusing message, or columns are silently dropped."
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


def _split_prop_divisible(fn):
    return _raises_clear_value_error(
        lambda: fn(np.zeros((3, 6)), 4), "split_heads(X with d_model=6, num_heads=4)", DIVISIBLE_HINT
    )


def _reshape_only(X, h):
    *batch, n, d = X.shape
    return X.reshape(*batch, h, n, d // h)


def _strided_heads(X, h):
    *batch, n, d = X.shape
    return np.moveaxis(X.reshape(*batch, n, d // h, h), -1, -3)


SPLIT_HEADS = Spec(
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
    properties=[_split_prop_divisible],
    error_hint=lambda case, exc: (
        "reshape the last axis into (num_heads, d_head) with d_head = d_model // num_heads."
    ),
)


def check_split_heads(fn, hidden=False):
    """Check ``split_heads(X, num_heads)``: ``(..., n, d_model)`` -> ``(..., num_heads, n, d_head)``."""
    run_check(fn, SPLIT_HEADS, hidden)


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


def _combine_prop_inverse(fn):
    X = _rng(14).normal(size=(2, 5, 12))
    if not np.array_equal(fn(ref.split_heads(X, 4)), X):
        return (
            "combine_heads(split_heads(X, 4)) does not give back X",
            "combine_heads must undo split_heads exactly: swap the heads and positions axes back, then reshape.",
        )
    return None


COMBINE_HEADS = Spec(
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
    properties=[_combine_prop_inverse],
    error_hint=lambda case, exc: "swap axes -3 and -2, then reshape to (..., n, num_heads * d_head).",
)


def check_combine_heads(fn, hidden=False):
    """Check ``combine_heads(X)``: ``(..., num_heads, n, d_head)`` -> ``(..., n, num_heads * d_head)``."""
    run_check(fn, COMBINE_HEADS, hidden)


def _mha_args(r, shape, d_model, scale=1.0):
    X = scale * r.normal(size=shape)
    return (X, *(scale * _weights(r, d_model, d_model) for _ in range(4)))


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


def _mha_error_hint(case, exc):
    if _shape_error(exc):
        return (
            "follow the shapes: X @ W (..., n, d_model) -> split_heads (..., h, n, d_head) -> attention per head -> "
            "combine_heads (..., n, d_model) -> @ W_o. A mask (..., n, n) needs a heads axis: np.expand_dims(mask, -3)."
        )
    return "read the error above: it names the line that failed."


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


def _mha_prop_divisible(fn):
    r = _rng(15)
    return _raises_clear_value_error(
        lambda: fn(*_mha_args(r, (3, 6), 6), 4),
        "multi_head_attention with d_model=6 and 4 heads",
        DIVISIBLE_HINT,
    )


def _mha_prop_causal(fn):
    X, *W = _mha_args(_rng(16), (6, 8), 8)
    if _future_leaks(lambda X: fn(X, *W, 2, mask=ref.causal_mask(6))[0], X):
        return (
            "with a causal mask, changing the last token changed the outputs of earlier positions",
            "apply the mask in every head, before the softmax.",
        )
    return None


MULTI_HEAD_ATTENTION = Spec(
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
    properties=[_mha_prop_divisible, _mha_prop_causal],
    error_hint=_mha_error_hint,
)


def check_multi_head_attention(fn, hidden=False):
    """Check ``multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None) -> (output, weights)``."""
    run_check(fn, MULTI_HEAD_ATTENTION, hidden)


# --- notebook 06: vectorised attention ----------------------------------------------------------------------

LOOP_NODES = (ast.For, ast.While, ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp)
LOOP_CALLS = {"vectorize", "apply_along_axis", "map"}


def _python_loop(fn):
    """Where ``fn``'s source loops in Python ("a `for` on line 3"), or None. None too if the source is unknown."""
    try:
        # While grading, ``fn`` is a proxy into the kernel and carries its cell's source (helpers.grading.remote).
        source = fn.source if isinstance(fn, RemoteFunction) and fn.source else inspect.getsource(fn)
        tree = ast.parse(textwrap.dedent(source))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, LOOP_NODES):
            kind = {ast.For: "`for`", ast.While: "`while`"}.get(type(node), "comprehension")
            return f"a {kind} on line {node.lineno} of the function"
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in LOOP_CALLS:
                return f"`{name}` on line {node.lineno} of the function (a loop in disguise)"
    return None


def _vectorized_prop_no_loops(fn):
    where = _python_loop(fn)
    if where:
        return (
            f"it still loops in Python: {where}",
            "replace the loops by whole-array operations: all scores at once are Q @ K^T (one matrix product), "
            "softmax runs along the last axis, and the weighted sums of the values are weights @ V.",
        )
    return None


@functools.cache
def _loop_seconds(n=256, d=16):
    """How long the given loop takes for n positions (measured once per session)."""
    return best_time(attention_loop, *random_qkv(n, d, seed=17), repeat=1)


def _vectorized_prop_speed(fn):
    # Wide margin on purpose: 4 times the positions (16 times the scores) must still beat the loop. A correct
    # vectorised answer is about 20 times faster than that even on a busy machine.
    seconds = best_time(fn, *random_qkv(512, 16, seed=18), repeat=1)
    if isinstance(fn, RemoteFunction):  # while grading: the call's own time in the kernel, not the transfer's
        seconds = fn.seconds
    if seconds > _loop_seconds():
        return (
            f"n = 512 took {seconds:.2f} s, longer than the loop needs for n = 256 ({_loop_seconds():.2f} s)",
            "something still runs once per position or per pair of positions: use matrix products.",
        )
    return None


VECTORIZED_ATTENTION = Spec(
    name="vectorized_attention",
    reference=ref.scaled_dot_product_attention,
    cases=_attention_cases,
    hidden_cases=_attention_hidden,
    mistakes=SCALED_DOT_PRODUCT_ATTENTION.mistakes,
    properties=[
        _vectorized_prop_no_loops,
        _attention_prop_rows,
        _attention_prop_batched,
        _vectorized_prop_speed,
    ],
    error_hint=_attention_error_hint,
)


def check_vectorized_attention(fn, hidden=False):
    """Check ``vectorized_attention(Q, K, V, mask=None)``: the loop's results, with no Python loop, and fast."""
    run_check(fn, VECTORIZED_ATTENTION, hidden)
