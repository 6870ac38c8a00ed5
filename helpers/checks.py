"""The checks students run after each exercise, with the classic mistakes each one can name.

Each ``check_<name>(fn)`` runs the visible cases (and a few property checks); ``check_<name>(fn, hidden=True)``
runs the extra cases of nbgrader's hidden tests (and HIDDEN_PROPERTIES). The cases, their expected answers and
each known mistake's output are data (``check_data/<name>.json``); the properties below test what needs no answer
at all (weights sum to 1, a shift changes nothing, batched equals looped, the future cannot leak). Notebook 04's
and 06's properties and error hints live in :mod:`helpers.checks_nb04` and :mod:`helpers.checks_nb06`.
"""

import functools

import numpy as np

from helpers import checks_nb04, checks_nb06
from helpers.checking import (
    CheckFailure,
    Spec,
    case_from_data,
    distribution_hint,
    fixture,
    future_leaks,
    mask_index_error,
    mask_transposed_error,
    not_distribution,
    raises_clear_value_error,
    run_check,
    shape_error,
    stored,
)


def _hidden_cases(name):
    """The hidden cases of ``name``'s check, from the grading side: the one place where the checks reach
    :mod:`helpers.grading` (README.md beside this file, "The grading side").

    Looked up when a hidden check runs, never at import: the grading side imports the student package, not the
    other way round, and a class release has no :mod:`helpers.grading` at all, so there a hidden check says that
    it runs when the work is graded."""
    try:
        from helpers.grading.exercises import hidden_cases
    except ImportError:
        raise CheckFailure(
            f"the hidden cases of {name} run when your work is graded; run check_{name}({name}) now."
        ) from None
    return hidden_cases(name)


@functools.cache
def _spec(name):
    data = stored(name)
    return Spec(
        name=name,
        arg_names=ARG_NAMES[name],
        cases=functools.cache(lambda: [case_from_data(c) for c in data["cases"]]),
        hidden_cases=lambda: _hidden_cases(name),
        hints=data["hints"],
        properties=PROPERTIES[name],
        error_hint=ERROR_HINTS[name],
        returns=RETURNS.get(name, ()),
        hidden_properties=HIDDEN_PROPERTIES.get(name, []),
    )


def _rng(seed):
    return np.random.default_rng(seed)


def _similarity_error_hint(case, exc):
    if shape_error(exc):
        if np.ndim(case.args[0]) > 1 and "broadcast" in str(exc):
            # keys * query: numpy lines the two up from the last axis, so the batch axis meets the positions.
            return (
                "with a batch, `keys * query` lines the queries (batch, d) up against the keys (batch, n, d) "
                "from the right, so the batch axis of the queries meets the positions axis of the keys. Give each "
                "query a positions axis of length 1, (batch, 1, d), so that it broadcasts over its own n keys, "
                "then add up over the features."
            )
        if np.ndim(case.args[0]) > 1:
            return (
                "with a batch, `keys @ query` and np.dot treat the queries as a matrix. Each query needs one dot "
                "product with each of its own keys: multiply each key by its query element by element "
                "(broadcasting over the positions axis) and add up over the features, or say the same in np.einsum."
            )
        return "keys has one row per position, and each score is the dot product of one row with the query."
    return "read the error above: it names the line that failed."


def check_similarity_scores(fn, hidden=False):
    """Check ``similarity_scores(query, keys) -> scores``: query ``(..., d)``, keys ``(..., n, d)``."""
    run_check(fn, _spec("similarity_scores"), hidden)


def _lookup_error_hint(case, exc):
    if "einstein sum" in str(exc):
        return (
            "your np.einsum names the axes of one query only, so it stops at a batch: start the subscripts of "
            "each operand and of the result with '...', which stands for any batch axes."
        )
    if shape_error(exc) and np.ndim(case.args[0]) > 1:
        return (
            "with a batch the weights are (batch, n) and the values (batch, n, d_v): an index or axis counted "
            "from the front, like `[:, None]` or axis=0, lands on the batch axis. Count from the end: the weights "
            "need a trailing axis, (..., n, 1), and the blend adds up over axis -2."
        )
    if shape_error(exc):
        return (
            "check the shapes: the weights are (..., n), the values (..., n, d_v). The blend adds up, over the "
            "n positions, each value times its weight: give the weights a trailing axis so they broadcast "
            "against the values, or say it in np.einsum."
        )
    return "read the error above: it names the line that failed."


def check_soft_lookup(fn, hidden=False):
    """Check ``soft_lookup(query, keys, values) -> (..., d_v)``."""
    run_check(fn, _spec("soft_lookup"), hidden)


def _softmax_error_hint(case, exc):
    if shape_error(exc):
        return (
            "the max and the sum drop the axis they reduce, so they no longer line up with x. Pass "
            "`keepdims=True` to np.max and np.sum."
        )
    return "read the error above: it names the line that failed."


def _softmax_prop_distribution(fn):
    x = _rng(7).normal(size=(4, 3, 5))
    problem = not_distribution(fn(x.copy()), axis=-1)
    if problem:
        return (
            f"on a random (4, 3, 5) array, {problem}",
            distribution_hint(problem, "normalise along the last axis (axis=-1)."),
        )
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


def check_softmax(fn, hidden=False):
    """Check ``softmax(x, axis=-1)``: positive weights that sum to 1 along ``axis``, stable for large x."""
    run_check(fn, _spec("softmax"), hidden)


def _attention_error_hint(case, exc):
    if mask_index_error(exc):
        return mask_index_error(exc)
    if mask_transposed_error(case, exc):
        return mask_transposed_error(case, exc)
    if shape_error(exc):
        if np.ndim(case.args[0]) > 2:
            return (
                "for a batch, `K.T` reverses every axis, batch axes included, and np.dot pairs every sequence "
                "with every other one, (batch, n_q, batch, n_k). Use `@` (np.matmul), which pairs the sequences "
                "one to one, and swap only the last two axes of K: `np.swapaxes(K, -1, -2)`."
            )
        return "the scores are Q @ K^T: (n_q, d_k) @ (d_k, n_k). Did you forget to transpose K?"
    return "read the error above: it names the line that failed."


def _attention_prop_rows(fn):
    r = _rng(11)
    Q, K, V = r.normal(size=(2, 5, 4)), r.normal(size=(2, 6, 4)), r.normal(size=(2, 6, 3))
    mask = r.random((5, 6)) < 0.6
    mask[:, 0] = True  # every query may see at least one key
    _, w = fn(Q, K, V, mask=mask)
    problem = not_distribution(w, axis=-1)
    if problem:
        return (
            f"on random inputs with a mask, {problem}",
            distribution_hint(problem, "apply softmax over the keys axis (-1) after masking."),
        )
    if np.any(np.asarray(w)[..., ~mask] != 0.0):
        return (
            "a masked position got a weight that is not exactly 0",
            "give masked scores -inf before the softmax (np.where picks from two arrays by a mask): "
            "exp(-inf) == 0.",
        )
    return None


def _attention_prop_batched(fn):
    r = _rng(12)
    Q, K, V = r.normal(size=(3, 4, 5)), r.normal(size=(3, 4, 5)), r.normal(size=(3, 4, 2))
    mask = r.random((4, 4)) < 0.6
    mask[:, 0] = True  # every query may see at least one key
    out, w = fn(Q, K, V, mask=mask)
    for i in range(3):
        out_i, w_i = fn(Q[i], K[i], V[i], mask=mask)
        if not (
            np.allclose(out[i], out_i, rtol=1e-9, atol=1e-12)
            and np.allclose(w[i], w_i, rtol=1e-9, atol=1e-12)
        ):
            return (
                f"sequence {i} of a batch gives a different result than on its own",
                "batch dimensions must not mix: use np.swapaxes(K, -1, -2) and reduce along the last axis only.",
            )
    return None


def check_scaled_dot_product_attention(fn, hidden=False):
    """Check ``scaled_dot_product_attention(Q, K, V, mask=None) -> (output, weights)``."""
    run_check(fn, _spec("scaled_dot_product_attention"), hidden)


def check_causal_mask(fn, hidden=False):
    """Check ``causal_mask(n)``: boolean ``(n, n)``, True on and below the diagonal."""
    run_check(fn, _spec("causal_mask"), hidden)


def check_positional_encoding(fn, hidden=False):
    """Check ``positional_encoding(n, d)``: ``(n, d)``, sines in the even columns, cosines in the odd ones."""
    run_check(fn, _spec("positional_encoding"), hidden)


def check_rotary_embedding(fn, hidden=False):
    """Check ``rotary_embedding(X, positions, base=10000.0)``: each pair (2i, 2i + 1) turned by p * base^(-2i/d)."""
    run_check(fn, _spec("rotary_embedding"), hidden)


def check_cross_attention(fn, hidden=False):
    """Check ``cross_attention(X, memory, W_q, W_k, W_v, mask=None) -> (output, weights)``."""
    run_check(fn, _spec("cross_attention"), hidden)


def _weights(r, *shape):
    return r.normal(size=shape) / np.sqrt(shape[0])


def check_self_attention(fn, hidden=False):
    """Check ``self_attention(X, W_q, W_k, W_v, mask=None) -> (output, weights)``."""
    run_check(fn, _spec("self_attention"), hidden)


DIVISIBLE_HINT = (
    "check `d_model % num_heads` first and raise a ValueError whose message says that d_model is not divisible "
    "by num_heads: otherwise numpy's reshape fails with a confusing message, or columns are silently dropped."
)


def _split_prop_divisible(fn):
    return raises_clear_value_error(
        lambda: fn(np.zeros((3, 6)), 4), "split_heads(X with d_model=6, num_heads=4)", DIVISIBLE_HINT
    )


def check_split_heads(fn, hidden=False):
    """Check ``split_heads(X, num_heads)``: ``(..., n, d_model)`` -> ``(..., num_heads, n, d_head)``."""
    run_check(fn, _spec("split_heads"), hidden)


def _combine_prop_inverse(fn):
    X = fixture("split_heads_input")
    if not np.array_equal(fn(fixture("split_heads_4")), X):
        return (
            "combine_heads(split_heads(X, 4)) does not give back X",
            "combine_heads must undo split_heads exactly: swap the heads and positions axes back, then reshape.",
        )
    return None


def check_combine_heads(fn, hidden=False):
    """Check ``combine_heads(X)``: ``(..., num_heads, n, d_head)`` -> ``(..., n, num_heads * d_head)``."""
    run_check(fn, _spec("combine_heads"), hidden)


def _mha_args(r, shape, d_model, scale=1.0):
    X = scale * r.normal(size=shape)
    return (X, *(scale * _weights(r, d_model, d_model) for _ in range(4)))


def _mha_error_hint(case, exc):
    if shape_error(exc):
        return (
            "follow the shapes: X @ W (..., n, d_model) -> split_heads (..., h, n, d_head) -> attention per head -> "
            "combine_heads (..., n, d_model) -> @ W_o. A mask (..., n, n) needs a heads axis: np.expand_dims(mask, -3)."
        )
    return "read the error above: it names the line that failed."


def _mha_prop_divisible(fn):
    r = _rng(15)
    return raises_clear_value_error(
        lambda: fn(*_mha_args(r, (3, 6), 6), 4),
        "multi_head_attention with d_model=6 and 4 heads",
        DIVISIBLE_HINT,
    )


def _mha_prop_causal(fn):
    X, *W = _mha_args(_rng(16), (6, 8), 8)
    if future_leaks(lambda X: fn(X, *W, 2, mask=fixture("causal_mask_6"))[0], X):
        return (
            "with a causal mask, changing the last token changed the outputs of earlier positions",
            "apply the mask in every head, before the softmax.",
        )
    return None


def check_multi_head_attention(fn, hidden=False):
    """Check ``multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None) -> (output, weights)``."""
    run_check(fn, _spec("multi_head_attention"), hidden)


def _gqa_args(r, n, d_model, num_heads, num_kv_heads):
    width = num_kv_heads * (d_model // num_heads)
    return (r.normal(size=(n, d_model)), _weights(r, d_model, d_model), _weights(r, d_model, width),
            _weights(r, d_model, width), _weights(r, d_model, d_model), num_heads, num_kv_heads)  # fmt: skip


def _gqa_error_hint(case, exc):
    if isinstance(exc, IndexError) and "out of bounds" in str(exc):  # a key/value head past the last
        return stored("grouped_query_attention")["hints"]["kv_head_by_num_kv_heads"]
    # Every case's numbers divide: a "not divisible" here comes from splitting the narrow keys into num_heads heads.
    if isinstance(exc, ValueError) and "divisible" in str(exc) and "num_kv_heads" not in str(exc):
        return (
            "only the queries have num_heads heads. X @ W_k and X @ W_v are num_kv_heads * d_head wide, so split "
            "them into num_kv_heads heads: split into num_heads, the width does not divide (or the heads come "
            "out too narrow)."
        )
    if shape_error(exc):
        return (
            "follow the shapes: X @ W_k and X @ W_v are num_kv_heads * d_head wide, so split them into "
            "num_kv_heads heads, (..., num_kv_heads, n, d_head); split into num_heads, their heads are too narrow "
            "to meet the queries'. Then each must serve num_heads // num_kv_heads query heads: copy each along "
            "the heads axis (-3) so that there are num_heads of them, in the right order, before attending."
        )
    return "read the error above: it names the line that failed."


def _gqa_prop_divisible(fn):
    return raises_clear_value_error(
        lambda: fn(*_gqa_args(_rng(18), 3, 12, 4, 3)),
        "grouped_query_attention with 4 query heads and 3 key/value heads",
        "check `num_heads % num_kv_heads` and raise a ValueError whose message says that num_heads is not "
        "divisible by num_kv_heads: 4 query heads cannot share 3 key/value heads in equal groups.",
    )


def _gqa_prop_causal(fn):
    X, *rest = _gqa_args(_rng(19), 6, 8, 4, 2)
    if future_leaks(lambda X: fn(X, *rest, mask=fixture("causal_mask_6"))[0], X):
        return (
            "with a causal mask, changing the last token changed the outputs of earlier positions",
            "apply the mask in every head, before the softmax.",
        )
    return None


def check_grouped_query_attention(fn, hidden=False):
    """Check ``grouped_query_attention(X, W_q, W_k, W_v, W_o, num_heads, num_kv_heads, mask=None)``."""
    run_check(fn, _spec("grouped_query_attention"), hidden)


def check_decode_step(fn, hidden=False):
    """Check ``decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v) -> (output_t, k_cache, v_cache)``."""
    run_check(fn, _spec("decode_step"), hidden)


def check_blockwise_attention(fn, hidden=False):
    """Check ``blockwise_attention(Q, K, V, block_size, mask=None)``: attention's output, one block of keys at a
    time."""
    run_check(fn, _spec("blockwise_attention"), hidden)


def check_max_path_length(fn, hidden=False):
    """Check ``max_path_length(mask)``: the most hops any connected pair of positions needs."""
    run_check(fn, _spec("max_path_length"), hidden)


def _split_error_hint(case, exc):
    if shape_error(exc) or "reshape" in str(exc):
        if np.ndim(case.args[0]) > 2:
            return (
                "with a batch X is (..., n, d_model): a reshape to (n, num_heads, d_head) or a transpose of axes "
                "(1, 0, 2) counts from the front and leaves the batch out. Keep the batch axes in front, "
                "(*batch, n, num_heads, d_head), and swap axes counted from the end (-3 and -2)."
            )
    return "reshape the last axis into (num_heads, d_head) with d_head = d_model // num_heads."


def _combine_error_hint(case, exc):
    return "swap axes -3 and -2, then reshape to (..., n, num_heads * d_head)."


ARG_NAMES = {
    "similarity_scores": ["query", "keys"],
    "soft_lookup": ["query", "keys", "values"],
    "softmax": ["x", "axis"],
    "scaled_dot_product_attention": ["Q", "K", "V", "mask"],
    "split_heads": ["X", "num_heads"],
    "combine_heads": ["X"],
    "multi_head_attention": ["X", "W_q", "W_k", "W_v", "W_o", "num_heads", "mask"],
    "grouped_query_attention": ["X", "W_q", "W_k", "W_v", "W_o", "num_heads", "num_kv_heads", "mask"],
}
PROPERTIES = {
    "similarity_scores": [],
    "soft_lookup": [],
    "softmax": [_softmax_prop_distribution, _softmax_prop_shift, _softmax_prop_batched],
    "scaled_dot_product_attention": [_attention_prop_rows, _attention_prop_batched],
    "split_heads": [_split_prop_divisible],
    "combine_heads": [_combine_prop_inverse],
    "multi_head_attention": [_mha_prop_divisible, _mha_prop_causal],
    "grouped_query_attention": [_gqa_prop_divisible, _gqa_prop_causal],
}
ERROR_HINTS = {
    "similarity_scores": _similarity_error_hint,
    "soft_lookup": _lookup_error_hint,
    "softmax": _softmax_error_hint,
    "scaled_dot_product_attention": _attention_error_hint,
    "split_heads": _split_error_hint,
    "combine_heads": _combine_error_hint,
    "multi_head_attention": _mha_error_hint,
    "grouped_query_attention": _gqa_error_hint,
}
for module in (checks_nb04, checks_nb06):
    ARG_NAMES |= module.ARG_NAMES
    PROPERTIES |= module.PROPERTIES
    ERROR_HINTS |= module.ERROR_HINTS

# Properties that the hidden check runs too: a softmax off by a hair passes every case's tolerance.
HIDDEN_PROPERTIES = {"softmax": [_softmax_prop_distribution]}

# What each function that returns several values returns, by name, for the checks' messages.
_ATTENTION = ("the output", "the weights")
RETURNS = {
    name: _ATTENTION
    for name in (
        "scaled_dot_product_attention",
        "self_attention",
        "cross_attention",
        "multi_head_attention",
        "grouped_query_attention",
    )  # fmt: skip
} | {"decode_step": ("the output", "the keys' cache", "the values' cache")}
