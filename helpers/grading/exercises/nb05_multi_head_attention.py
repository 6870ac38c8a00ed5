"""Notebook 05, multi-head attention: the exercises ``split_heads``, ``combine_heads``,
``multi_head_attention`` and ``grouped_query_attention``.

For each, its visible cases, its hidden cases and its classic mistakes, each mistake a model of what a function
with that mistake returns, and the hint a student sees for it. The attention inside each head of a mistaken
multi-head attention is notebook 03's, with one thing done differently (:func:`_attention_with`).
"""

import numpy as np

from helpers.checking import Case
from helpers.grading import reference as ref
from helpers.grading.exercises.common import Exercise, Mistake, _rng, _weights
from helpers.grading.exercises.nb03_scaled_dot_product_attention import _attention_with
from helpers.grading.exercises.nb04_self_attention_and_causal_masks import ALWAYS_CAUSAL, _padding


def _per_sequence_masks(lengths, n):
    """(batch, n, n): each sequence's own mask, causal and hiding its padding (its first `length` tokens are real)."""
    return ref.causal_mask(n) & _padding(lengths, n)


def _mha_args(r, shape, d_model, scale=1.0):
    X = scale * r.normal(size=shape)
    return (X, *(scale * _weights(r, d_model, d_model) for _ in range(4)))


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


_FIRST_AXIS = (
    "np.concatenate(X, ...) and np.hstack(X) take X apart along its first axis: the heads of one sequence, but "
    "the batch when there is one. Take the heads from axis -3 (X[..., h, :, :]), or swap axes -3 and -2 and "
    "reshape the last two into one."
)

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
        # np.concatenate(X) and np.hstack(X) both take X's first axis apart: two outputs, one mistake.
        Mistake("pieces_along_axis_0", _FIRST_AXIS, lambda X: np.concatenate(X, axis=-1)),
        Mistake("hstack", _FIRST_AXIS, lambda X: np.hstack(X)),
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
        Case(
            "a batch of 2 sequences, 2 heads, a causal padding mask per sequence (batch, n, n)",
            (*_mha_args(r, (2, 4, 4), 4), 2),
            {"mask": _per_sequence_masks([4, 2], 4)},
        ),
        Case(
            "a batch of 3 sequences, 2 heads, a mask per sequence",
            (*_mha_args(r, (3, 4, 4), 4), 2),
            {"mask": _per_sequence_masks([4, 1, 3], 4)},
        ),
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
        Case(
            "4 sequences, 4 heads, a mask per sequence",
            (*_mha_args(r, (4, 5, 8), 8), 4),
            {"mask": _per_sequence_masks([5, 3, 1, 4], 5)},
        ),
    ]


def _mha_with(
    split=ref.split_heads,
    combine=ref.combine_heads,
    use_w_o=True,
    heads_axis=True,
    always_causal=False,
    average_weights=False,
    **attention_changes,
):
    """Multi-head attention with one part done differently; each default is the correct choice, and
    ``attention_changes`` go to :func:`_attention_with` for the attention inside each head."""
    attend = _attention_with(**attention_changes)

    def mha(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
        Q, K, V = (split(X @ W, num_heads) for W in (W_q, W_k, W_v))
        if mask is None and always_causal:
            mask = ref.causal_mask(X.shape[-2])
        if mask is not None and heads_axis:
            mask = np.expand_dims(mask, -3)
        heads, weights = attend(Q, K, V, mask)
        out = combine(heads)
        return (out @ W_o if use_w_o else out), (weights.mean(axis=-3) if average_weights else weights)

    return mha


def _w_o_per_head(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    """Every head's output times the same first d_head rows of W_o, the heads then added up."""
    Q, K, V = (ref.split_heads(X @ W, num_heads) for W in (W_q, W_k, W_v))
    mask = None if mask is None else np.expand_dims(mask, -3)
    heads, weights = ref.scaled_dot_product_attention(Q, K, V, mask)
    return (heads @ W_o[: heads.shape[-1]]).sum(axis=-3), weights


def _split_then_project(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    """X split into heads first, each head projected by the top-left d_head x d_head corner of W_q, W_k, W_v."""
    heads_of_x = ref.split_heads(X, num_heads)
    d = heads_of_x.shape[-1]
    Q, K, V = (heads_of_x @ W[:d, :d] for W in (W_q, W_k, W_v))
    mask = None if mask is None else np.expand_dims(mask, -3)
    heads, weights = ref.scaled_dot_product_attention(Q, K, V, mask)
    return ref.combine_heads(heads) @ W_o, weights


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
        Mistake(
            "mask_without_heads_axis",
            "each sequence's mask (batch, n, n) must apply to every head of that sequence: give it a heads axis, "
            "np.expand_dims(mask, -3), so that it broadcasts to (batch, num_heads, n, n). Without it numpy lines the "
            "batch axis up with the heads axis: with as many sequences as heads, sequence i's mask lands on head i "
            "of every sequence.",
            _mha_with(heads_axis=False),
        ),
        Mistake(
            "weights_averaged",
            "you returned the weights averaged over the heads (PyTorch's average_attn_weights=True). Return every "
            "head's own weights, (..., num_heads, n, n): each head attends in its own way, and the average hides "
            "it.",
            _mha_with(average_weights=True),
        ),
        Mistake("always_causal", ALWAYS_CAUSAL, _mha_with(always_causal=True)),
        Mistake(
            "w_o_per_head",
            "every head's output met the same first d_head rows of W_o. W_o mixes the heads: combine them first, "
            "(..., n, d_model), then multiply by all of W_o, so that head h's columns meet rows h*d_head:(h+1)*d_head.",
            _w_o_per_head,
        ),
        Mistake(
            "split_before_projecting",
            "you split X into heads before projecting it. Project first, with all of W_q (and W_k, W_v): each "
            "head's query mixes all d_model features of its token. Then split_heads cuts the projections into heads.",
            _split_then_project,
        ),
    ],
)


def _gqa_args(r, shape, d_model, num_heads, num_kv_heads, scale=1.0):
    width = num_kv_heads * (d_model // num_heads)
    X = scale * r.normal(size=shape)
    W_q, W_o = scale * _weights(r, d_model, d_model), _weights(r, d_model, d_model)
    W_k, W_v = scale * _weights(r, d_model, width), _weights(r, d_model, width)
    return (X, W_q, W_k, W_v, W_o, num_heads, num_kv_heads)


def _gqa_cases():
    r = _rng(9)
    return [
        Case("n=4, d_model=8: 4 query heads share 2 key/value heads", _gqa_args(r, (4, 8), 8, 4, 2)),
        Case(
            "a batch of 2, causal: 6 query heads in 2 groups of 3",
            _gqa_args(r, (2, 5, 12), 12, 6, 2),
            {"mask": ref.causal_mask(5)},
        ),
        Case("one key/value head for all: multi-query attention", _gqa_args(r, (3, 8), 8, 4, 1)),
        Case("one key/value head per query head: multi-head attention", _gqa_args(r, (3, 4), 4, 2, 2)),
        Case(
            "a batch of 4 sequences, 4 query heads, 2 key/value heads, a mask per sequence (batch, n, n)",
            _gqa_args(r, (4, 4, 8), 8, 4, 2),
            {"mask": _per_sequence_masks([4, 2, 3, 1], 4)},
        ),
        Case(
            "a batch of 3 sequences, 4 query heads, a mask per sequence",
            _gqa_args(r, (3, 4, 8), 8, 4, 2),
            {"mask": _per_sequence_masks([4, 1, 3], 4)},
        ),
    ]


def _gqa_hidden():
    r = _rng(109)
    return [
        Case(
            "two batch dimensions, 8 query heads, 2 key/value heads, causal",
            _gqa_args(r, (2, 2, 5, 16), 16, 8, 2),
            {"mask": ref.causal_mask(5)},
        ),
        Case(
            "scores of magnitude 1e3", _gqa_args(r, (4, 8), 8, 4, 2, scale=6.0), {"mask": ref.causal_mask(4)}
        ),
        Case("one token, 8 query heads, 4 key/value heads", _gqa_args(r, (1, 8), 8, 8, 4)),
        Case(
            "2 sequences, 2 query heads sharing 1 key/value head, a mask per sequence",
            _gqa_args(r, (2, 5, 8), 8, 2, 1),
            {"mask": _per_sequence_masks([5, 2], 5)},
        ),
        Case("4 tokens, no mask, 4 query heads, 2 key/value heads", _gqa_args(r, (4, 8), 8, 4, 2)),
    ]


def _gqa_with(
    kv_head_of=None, values="v", use_w_o=True, use_mask=True, heads_axis=True, always_causal=False, scale=None
):
    """Grouped-query attention with one thing done differently; ``kv_head_of(h, num_heads, num_kv_heads)`` says
    which key/value head query head h reads (by default h // group, the correct one)."""

    def gqa(X, W_q, W_k, W_v, W_o, num_heads, num_kv_heads, mask=None):
        group = num_heads // num_kv_heads
        which = [
            h // group if kv_head_of is None else kv_head_of(h, num_heads, num_kv_heads)
            for h in range(num_heads)
        ]
        Q = ref.split_heads(X @ W_q, num_heads)
        K = ref.split_heads(X @ W_k, num_kv_heads)[..., which, :, :]
        V = ref.split_heads(X @ (W_k if values == "k" else W_v), num_kv_heads)[..., which, :, :]
        if mask is None and always_causal:
            mask = ref.causal_mask(X.shape[-2])
        if mask is not None and use_mask and heads_axis:
            mask = np.expand_dims(mask, -3)
        attend = ref.scaled_dot_product_attention if scale is None else _attention_with(scale=scale)
        heads, weights = attend(Q, K, V, mask if use_mask else None)
        out = ref.combine_heads(heads)
        return (out @ W_o if use_w_o else out), weights

    return gqa


GROUPED_QUERY_ATTENTION = Exercise(
    notebook="05_multi_head_attention",
    name="grouped_query_attention",
    reference=ref.grouped_query_attention,
    cases=_gqa_cases,
    hidden_cases=_gqa_hidden,
    mistakes=[
        Mistake(
            "groups_interleaved",
            "query head h must read key/value head h // (num_heads // num_kv_heads), so that neighbouring query "
            "heads share one. Yours deals the key/value heads out in turn (h % num_kv_heads), as np.tile does; "
            "np.repeat keeps each key/value head's copies together.",
            _gqa_with(kv_head_of=lambda h, heads, kv: h % kv),
        ),
        Mistake(
            "first_kv_head_only",
            "every query head read the first key/value head. Each group of num_heads // num_kv_heads query heads "
            "has a key/value head of its own.",
            _gqa_with(kv_head_of=lambda h, heads, kv: 0),
        ),
        Mistake(
            "values_from_keys",
            "the values came from W_k. Values have their own projection, W_v, split into num_kv_heads heads "
            "like the keys.",
            _gqa_with(values="k"),
        ),
        Mistake(
            "no_w_o",
            "you forgot the output projection: multiply the combined heads by W_o.",
            _gqa_with(use_w_o=False),
        ),
        Mistake(
            "mask_ignored",
            "the mask was not applied: give it a heads axis (np.expand_dims(mask, -3)) and pass it to "
            "scaled_dot_product_attention.",
            _gqa_with(use_mask=False),
        ),
        Mistake(
            "mask_without_heads_axis",
            "each sequence's mask (batch, n, n) must apply to every query head of that sequence: give it a heads "
            "axis, np.expand_dims(mask, -3), so that it broadcasts against the scores (batch, num_heads, n, n). "
            "Without it numpy lines the batch axis up with the heads axis, and with as many sequences as query "
            "heads, sequence i's mask lands on query head i.",
            _gqa_with(heads_axis=False),
        ),
        Mistake(
            "kv_head_by_num_kv_heads",
            "query head h reads key/value head h // (num_heads // num_kv_heads), dividing by the number of query "
            "heads that share one. h // num_kv_heads divides by the number of key/value heads instead: right only "
            "where the two happen to be equal, and elsewhere it reads the wrong head or one past the last.",
            _gqa_with(kv_head_of=lambda h, heads, kv: h // kv),
        ),
        Mistake(
            "scale_by_d_model",
            "you scaled by sqrt(d_model). Each head attends with its own d_k = d_head = d_model // num_heads: "
            "divide by sqrt(d_head).",
            _gqa_with(scale=lambda Q, K, V: Q.shape[-1] * Q.shape[-3]),  # d_head * num_heads = d_model
        ),
        Mistake("always_causal", ALWAYS_CAUSAL, _gqa_with(always_causal=True)),
    ],
)
