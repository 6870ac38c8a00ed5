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
            "you applied the mask after the softmax, so the remaining weights no longer sum to 1, and the masked "
            "scores still sit in every row's denominator: a hidden (future) key still changes the other weights. "
            "Mask the scores (set them to -inf) before the softmax.",
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
