"""The checks students run after each exercise, with the classic mistakes each one can name.

Each ``check_<name>(fn)`` runs the visible cases (and a few property checks); ``check_<name>(fn, hidden=True)``
runs the extra cases of nbgrader's hidden tests.
"""

import numpy as np

from helpers import reference as ref
from helpers.checking import Case, Mistake, Spec, run_check

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
        Case("large scores", (30 * r.normal(size=6), 30 * r.normal(size=(5, 6)), r.normal(size=(5, 2)))),
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
