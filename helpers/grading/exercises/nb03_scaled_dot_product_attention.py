"""Notebook 03, scaled dot-product attention: the exercise ``scaled_dot_product_attention``.

Its visible cases, its hidden cases and its classic mistakes (the scale, the mask, the softmax's axis), each
mistake a model of what a function with that mistake returns, and the hint a student sees for it.
:func:`_attention_with` (attention with one thing done differently) is reused by notebook 05's mistakes.
"""

import numpy as np

from helpers.checking import Case
from helpers.grading import reference as ref
from helpers.grading.exercises.common import Exercise, Mistake, _rng


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
        # Some row's largest score is a masked one, by hundreds: masking after the softmax then divides 0 by 0.
        Case(
            "scores of magnitude 1e3 with a causal mask",
            (
                30 * _rng(13).normal(size=(4, 4)),
                30 * _rng(14).normal(size=(4, 4)),
                _rng(15).normal(size=(4, 2)),
            ),
            {"mask": _causal(4)},
        ),
        # A mask that broadcasts (one padding row per sequence): indexing the scores with it fails, np.where does not.
        Case(
            "a batch of 2 sequences, each with its own padding mask (2, 1, n_k)",
            (r.normal(size=(2, 3, 4)), r.normal(size=(2, 5, 4)), r.normal(size=(2, 5, 2))),
            {"mask": np.array([[[True, True, True, True, False]], [[True, True, False, False, False]]])},
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
        # A finite fill (-100) outweighs an allowed score far below it: the first query sees only that one.
        Case(
            "a causal mask, the first query's one allowed score far below 0",
            (
                np.array([[-30.0, 0.0], [1.0, 2.0], [0.0, 1.0]]),
                np.array([[30.0, 0.0], [1.0, -1.0], [2.0, 0.5]]),
                r.normal(size=(3, 2)),
            ),
            {"mask": _causal(3)},
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


def _renormalised(Q, K, V, mask=None):
    """Softmax over every key, then the masked weights zeroed and each row divided by what is left."""
    weights = ref.softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1]))
    if mask is not None:
        weights = weights * mask
        with np.errstate(all="ignore"):
            weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ V, weights


def _additive_mask(Q, K, V, mask=None):
    """(~mask) * -inf added to the scores: 0 * -inf is nan at every allowed position."""
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        with np.errstate(all="ignore"):
            scores = scores + (~np.asarray(mask)) * -np.inf
    weights = ref.softmax(scores)
    return weights @ V, weights


def _scaled_after_softmax(Q, K, V, mask=None):
    _, weights = _attention_with(scale=lambda Q, K, V: 1.0)(Q, K, V, mask)
    weights = weights / np.sqrt(Q.shape[-1])
    return weights @ V, weights


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
            "scale_by_axis_1",
            "you scaled by sqrt(Q.shape[1]). Without a batch axis 1 is d_k, but with a batch it is the number of "
            "queries: count from the end, d_k = Q.shape[-1], whatever the number of batch axes.",
            _attention_with(scale=lambda Q, K, V: Q.shape[1]),
        ),
        Mistake(
            "scale_by_n",
            "you scaled by the number of positions. The scale is sqrt(d_k), with d_k = Q.shape[-1].",
            _attention_with(scale=lambda Q, K, V: K.shape[-2]),
        ),
        Mistake(
            "mask_after_softmax",
            "you applied the mask after the softmax, so the remaining weights no longer sum to 1, and the masked "
            "scores still sit in every row's denominator: a hidden (future) key still changes the other weights. "
            "Mask the scores (set them to -inf) before the softmax.",
            _attention_with(mask_after=True),
        ),
        Mistake(
            "mask_after_softmax_renormalised",
            "you masked after the softmax and divided by what was left. Exact on paper, but where a masked score "
            "is the largest of its row by hundreds, every allowed weight has already underflowed to 0, and 0 / 0 "
            "is nan. Mask the scores (-inf) before the softmax: the max is then taken over the allowed keys only.",
            _renormalised,
        ),
        Mistake(
            "additive_mask_times_inf",
            "an additive mask made as (~mask) * -inf holds 0 * -inf = nan at every allowed position, and nan "
            "spreads through the softmax. Build it without multiplying by inf (np.where(mask, 0.0, -np.inf)), "
            "or pick each score or -inf with np.where.",
            _additive_mask,
        ),
        Mistake(
            "finite_fill",
            "masked scores got a finite fill (-100?): exp(-100) is small but not 0, and against scores of "
            "magnitude 1e3 a fill of -100 is larger than the real scores, so masked keys take the weight. Fill "
            "with -np.inf: exp(-inf) is exactly 0.",
            _attention_with(mask_fill=-100.0),
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
            "scaled_after_softmax",
            "you divided the weights by sqrt(d_k) after the softmax, so they no longer sum to 1. The scale goes on "
            "the scores, before the softmax: it decides how peaked the weights are.",
            _scaled_after_softmax,
        ),
        Mistake(
            "weights_transposed",
            "you returned the weights transposed. Row i holds query i's weights over the keys, (..., n_q, n_k), "
            "each row summing to 1: return them as they come out of the softmax.",
            lambda Q, K, V, mask=None: (
                ref.scaled_dot_product_attention(Q, K, V, mask)[0],
                np.swapaxes(ref.scaled_dot_product_attention(Q, K, V, mask)[1], -1, -2),
            ),
        ),
        Mistake(
            "swapped_outputs",
            "you returned (weights, output). Return (output, weights).",
            lambda Q, K, V, mask=None: ref.scaled_dot_product_attention(Q, K, V, mask)[::-1],
        ),
    ],
)
